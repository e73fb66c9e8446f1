//! Reference points measured in this run, on one core: what the hardware allows for the work
//! each hot path cannot avoid (a bcrypt hash, an RSA-2048 or P-256 signature).

use std::time::{Duration, Instant};

use josekit::jws::{ES256, RS256};
use josekit::jwt::{self, JwtPayload};

#[derive(Debug, Clone)]
pub struct References {
    /// bcrypt hashes per second on one core at cost 10 (the default).
    pub bcrypt_per_core: f64,
    /// RS256 JWT signatures per second on one core (RSA-2048).
    pub rs256_per_core: f64,
    /// ES256 JWT signatures per second on one core (P-256).
    pub es256_per_core: f64,
}

/// Operations per second of `work` on this core: the best of several windows of `budget`
/// each. On a shared machine a neighbour only ever slows a window down, so the best one is the
/// closest to what the core can do (the reference must not flatter the ratios beside it).
fn rate(budget: Duration, mut work: impl FnMut()) -> f64 {
    work(); // warm-up
    (0..WINDOWS)
        .map(|_| {
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < budget {
                work();
                n += 1;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .fold(0.0, f64::max)
}

/// Windows per reference point.
const WINDOWS: usize = 5;

pub fn measure() -> References {
    let budget = Duration::from_millis(500);
    let bcrypt_per_core = rate(budget, || {
        let _ = bcrypt::hash("reference-password", 10);
    });
    let rsa = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).expect("RSA key");
    let rs = RS256
        .signer_from_der(rsa.to_der_private_key())
        .expect("RS256 signer");
    let ec = ES256.generate_key_pair().expect("P-256 key");
    let es = ES256
        .signer_from_der(ec.to_der_private_key())
        .expect("ES256 signer");
    let mut payload = JwtPayload::new();
    payload.set_subject("reference");
    let header = josekit::jws::JwsHeader::new();
    let rs256_per_core = rate(budget, || {
        let _ = jwt::encode_with_signer(&payload, &header, &rs);
    });
    let es256_per_core = rate(budget, || {
        let _ = jwt::encode_with_signer(&payload, &header, &es);
    });
    let refs = References {
        bcrypt_per_core,
        rs256_per_core,
        es256_per_core,
    };
    println!(
        "reference (one core): bcrypt cost 10 {:.1}/s, RS256 sign {:.0}/s, ES256 sign {:.0}/s",
        refs.bcrypt_per_core, refs.rs256_per_core, refs.es256_per_core
    );
    refs
}
