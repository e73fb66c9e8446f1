//! The results: a table on stdout, the ratios the project's targets are stated in, and
//! `bench.csv` plus a bar chart `bench.svg`.

use std::fmt::Write as _;
use std::path::Path;

use crate::load::Outcome;
use crate::reference::References;

pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub fn print_row(o: &Outcome) {
    println!(
        "{:<26} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  cpu {:>6.3} ms/req  ({} ok, {} errors)",
        o.name,
        o.per_second(),
        o.p50_ms,
        o.p99_ms,
        o.cpu_ms_per_request(),
        o.requests,
        o.errors
    );
}

fn find<'a>(results: &'a [Outcome], name: &str) -> Option<&'a Outcome> {
    results.iter().find(|o| o.name == name)
}

pub fn print_summary(
    results: &[Outcome],
    refs: &References,
    cores: usize,
    idle_rss: f64,
    loaded_rss: f64,
) {
    println!("\nratios (same machine, same run):");
    if let Some(p) = find(results, "password-rs256") {
        let limit = refs.bcrypt_per_core * cores as f64;
        println!(
            "  password grants {:.1}/s = {:.0}% of the bcrypt limit ({cores} cores x {:.1}/s)",
            p.per_second(),
            100.0 * p.per_second() / limit,
            refs.bcrypt_per_core
        );
    }
    for (name, per_core, what) in [
        ("client_credentials-rs256", refs.rs256_per_core, "RS256"),
        ("client_credentials-es256", refs.es256_per_core, "ES256"),
    ] {
        if let Some(o) = find(results, name) {
            // Cores the platform actually used for this scenario.
            let used = (o.cpu_seconds / o.seconds).max(0.01);
            println!(
                "  {name}: {:.0}/s = {:.0}% of one core's {what} signing rate ({:.0}/s) per core used ({used:.2})",
                o.per_second(),
                100.0 * o.per_second() / (per_core * used),
                per_core
            );
        }
    }
    for (refresh, cc) in [
        ("refresh-rs256", "client_credentials-rs256"),
        ("refresh-es256", "client_credentials-es256"),
    ] {
        if let (Some(r), Some(c)) = (find(results, refresh), find(results, cc)) {
            println!(
                "  {refresh}: {:.0}% of client_credentials",
                100.0 * r.per_second() / c.per_second()
            );
        }
    }
    if let (Some(g), Some(d)) = (
        find(results, "get-user-via-gateway"),
        find(results, "get-user-direct"),
    ) {
        println!(
            "  gateway: {:.0}% of the direct throughput, +{:.2} ms at p50",
            100.0 * g.per_second() / d.per_second(),
            g.p50_ms - d.p50_ms
        );
        if let Some(p) = find(results, "get-user-via-gateway-proxy") {
            println!(
                "  gateway process proxying over HTTP: {:.0}% of the direct throughput, +{:.2} ms at p50",
                100.0 * p.per_second() / d.per_second(),
                p.p50_ms - d.p50_ms
            );
            if let Some(n) = find(results, "get-user-via-nginx") {
                println!(
                    "  gateway proxy vs nginx: {:.0}% of nginx's proxied throughput; added p50 {:.2} ms vs nginx's {:.2} ms",
                    100.0 * p.per_second() / n.per_second(),
                    p.p50_ms - d.p50_ms,
                    n.p50_ms - d.p50_ms
                );
            }
        }
    }
    if let (Some(ours), Some(peer)) = (
        find(results, "client_credentials-es256"),
        find(results, "peer-oidc-provider-client_credentials-es256"),
    ) {
        println!(
            "  client_credentials ES256: {:.1}x node-oidc-provider's {:.0}/s",
            ours.per_second() / peer.per_second(),
            peer.per_second()
        );
    }
    println!("  all-in-one RSS: idle {idle_rss:.1} MiB, after load {loaded_rss:.1} MiB");
}

pub fn write_files(dir: &Path, results: &[Outcome], refs: &References) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut csv = String::from(
        "scenario,requests,errors,seconds,requests_per_second,p50_ms,p99_ms,cpu_ms_per_request\n",
    );
    for o in results {
        let _ = writeln!(
            csv,
            "{},{},{},{:.3},{:.1},{:.3},{:.3},{:.4}",
            o.name,
            o.requests,
            o.errors,
            o.seconds,
            o.per_second(),
            o.p50_ms,
            o.p99_ms,
            o.cpu_ms_per_request()
        );
    }
    let _ = writeln!(
        csv,
        "reference-bcrypt-cost10-per-core,,,,{:.1},,,",
        refs.bcrypt_per_core
    );
    let _ = writeln!(
        csv,
        "reference-rs256-sign-per-core,,,,{:.1},,,",
        refs.rs256_per_core
    );
    let _ = writeln!(
        csv,
        "reference-es256-sign-per-core,,,,{:.1},,,",
        refs.es256_per_core
    );
    std::fs::write(dir.join("bench.csv"), csv)?;
    std::fs::write(dir.join("bench.svg"), chart(results))
}

/// A horizontal bar chart of requests per second, one bar per scenario.
fn chart(results: &[Outcome]) -> String {
    let max = results.iter().map(Outcome::per_second).fold(1.0, f64::max);
    let (bar_x, width, row) = (230.0, 520.0, 28.0);
    let height = 40.0 + row * results.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"820\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\
         <text x=\"10\" y=\"20\" font-weight=\"bold\">requests per second</text>"
    );
    for (i, o) in results.iter().enumerate() {
        let y = 32.0 + row * i as f64;
        let w = width * o.per_second() / max;
        let _ = write!(
            svg,
            "<text x=\"10\" y=\"{ty}\">{name}</text><rect x=\"{bar_x}\" y=\"{y}\" width=\"{w:.1}\" height=\"18\" fill=\"#3b6ea5\"/>\
             <text x=\"{tx:.1}\" y=\"{ty}\">{rate:.0}</text>",
            ty = y + 14.0,
            name = o.name,
            tx = bar_x + w + 6.0,
            rate = o.per_second()
        );
    }
    svg.push_str("</svg>\n");
    svg
}
