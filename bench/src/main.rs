//! `idp-bench`: starts the release binary with fresh embedded storage (or PostgreSQL + Redis),
//! seeds it through its own admin API, drives each hot path with a bounded closed-loop load
//! from this process, and prints requests/s, p50, p99 and the platform's CPU-seconds per
//! request, beside reference points measured in the same run on the same machine (one core's
//! bcrypt, RSA-2048 and P-256 signing rates). Writes `bench.csv` and `bench.svg` too.
//!
//! Loopback only; every scenario is bounded by `--seconds` and `--max-requests`.

mod load;
mod peer;
mod platform;
mod processes;
mod reference;
mod report;
mod seed;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Benchmarks the identity provider's hot paths")]
pub struct Args {
    /// The all-in-one binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/idp")]
    pub idp: PathBuf,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Requests in flight at once (closed loop).
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Upper bound on requests per scenario.
    #[arg(long, default_value_t = 200_000)]
    pub max_requests: usize,
    /// Scenarios to run (comma-separated); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// PostgreSQL URL: run on PostgreSQL + Redis instead of the embedded storage.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Redis URL (with --database-url, and shared by the parts of --parts).
    #[arg(long, default_value = "redis://127.0.0.1:6379/0")]
    pub redis_url: String,
    /// Users to seed for the user list, search, count and report scenarios (e.g. 100000 on
    /// PostgreSQL); 0 skips them.
    #[arg(long, default_value_t = 0)]
    pub users: usize,
    /// Also run the client_credentials load against node-oidc-provider (installed with npm
    /// into a temp dir) with ES256 JWT access tokens.
    #[arg(long)]
    pub peer: bool,
    /// Also start every part as its own process (release binaries beside --idp, sharing the
    /// Redis of --redis-url) for cold start and idle memory per part.
    #[arg(long)]
    pub parts: bool,
    /// Where bench.csv and bench.svg go.
    #[arg(long, default_value = "target/bench")]
    pub out: PathBuf,
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), String> {
    let args = Args::parse();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "machine: {cores} cores, {}; load: {} in flight, {} s per scenario",
        report::cpu_model(),
        args.concurrency,
        args.seconds
    );

    let references = reference::measure();
    let mut platform = platform::Platform::start(&args).await?;
    println!(
        "platform: ready in {} ms, idle RSS {:.1} MiB",
        platform.ready_after.as_millis(),
        platform.rss_mib()
    );
    let mut seeded = seed::seed(&platform).await?;
    // nginx in front of the same svc-users, where Debian's nginx is installed.
    let nginx = match &seeded.users_service {
        Some(users) => processes::nginx(users).await,
        None => None,
    };
    seeded.nginx = nginx.as_ref().map(|n| n.url.clone());
    if let Some(n) = &nginx {
        seeded.fronts.push((n.url.clone(), n.pid()));
    }
    let proxy = processes::proxy_gateway(
        &args.idp,
        &platform.services,
        &platform.gateway,
        &platform.service_token,
    )
    .await?;
    seeded.proxy_gateway = Some(proxy.url.clone());
    seeded.fronts.push((proxy.url.clone(), proxy.pid()));
    if nginx.is_none() {
        println!("nginx: not installed (apt-get install nginx), its comparison is skipped");
    }
    if args.users > 0 {
        let started = std::time::Instant::now();
        seed::seed_users(
            &seeded,
            args.users,
            args.concurrency,
            args.database_url.as_deref(),
        )
        .await?;
        println!(
            "seeded {} users in {:.1} s",
            args.users,
            started.elapsed().as_secs_f64()
        );
    }
    let idle_rss = platform.rss_mib();

    let mut results = Vec::new();
    for scenario in load::scenarios(&seeded, args.users) {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == scenario.name) {
            continue;
        }
        let result = load::run(
            &platform,
            &seeded,
            &scenario,
            args.concurrency,
            Duration::from_secs(args.seconds),
            args.max_requests,
        )
        .await?;
        report::print_row(&result);
        results.push(result);
    }
    let loaded_rss = platform.rss_mib();
    drop(nginx);
    drop(proxy);
    if args.peer {
        let peer = peer::start().await?;
        let scenario = load::Scenario {
            name: "peer-oidc-provider-client_credentials-es256",
            call: load::Call::PeerClientCredentials {
                url: peer.url.clone(),
            },
        };
        let mut result = load::drive_peer(
            &peer,
            &scenario,
            args.concurrency,
            Duration::from_secs(args.seconds),
            args.max_requests,
        )
        .await;
        result.name = scenario.name;
        report::print_row(&result);
        results.push(result);
    }
    platform.stop();
    if let Some(url) = &args.database_url {
        platform.drop_schemas(url);
    }

    report::print_summary(&results, &references, cores, idle_rss, loaded_rss);
    if args.parts {
        // The load runs leave the disk busy writing back their databases, and a cold start is
        // mostly migrations' fsyncs: measured after that settles, as a rollout would meet it.
        let _ = std::process::Command::new("sync").status();
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!("\nparts as separate processes (cold start = spawn to /health/ready):");
        for part in processes::cold_starts(&args.idp, &args.redis_url).await? {
            println!(
                "  {:<13} cold start {:>6.0} ms   idle RSS {:>5.1} MiB",
                part.name, part.ready_ms, part.idle_rss_mib
            );
        }
    }
    report::write_files(&args.out, &results, &references)
        .map_err(|e| format!("cannot write results: {e}"))?;
    println!(
        "wrote {}/bench.csv and {}/bench.svg",
        args.out.display(),
        args.out.display()
    );
    Ok(())
}
