//! Signing keys: generated with josekit per tenant and algorithm, the private half sealed at
//! rest, the public half kept as the JWK that JWKS publishes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use idp_shared::security::{SecretBox, random_token};
use josekit::jwk::alg::ed::EdCurve;
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{ES256, EdDSA, JwsSigner, PS256, RS256};

use crate::store::SigningKeyRow;

/// The algorithms a tenant may sign with (`defaultSignatureAlgorithm`). Never `none`, never
/// an HMAC: verifiers hold only public keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl Algorithm {
    pub fn parse(name: &str) -> Option<Algorithm> {
        Some(match name {
            "RS256" => Algorithm::Rs256,
            "PS256" => Algorithm::Ps256,
            "ES256" => Algorithm::Es256,
            "EdDSA" => Algorithm::EdDsa,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    pub const ALL: [Algorithm; 4] = [
        Algorithm::Rs256,
        Algorithm::Ps256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ];
}

fn sealing_context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// Generates a key pair (CPU-bound: call it on the blocking pool) and the row that stores it.
pub fn generate(
    tenant: &str,
    algorithm: Algorithm,
    secrets: &SecretBox,
    now: i64,
    active_from: i64,
) -> Result<SigningKeyRow, josekit::JoseError> {
    let kid = random_token(24);
    let (private_pem, mut public_jwk, public_der) = match algorithm {
        Algorithm::Rs256 => parts(&RS256.generate_key_pair(2048)?),
        Algorithm::Ps256 => parts(&PS256.generate_key_pair(2048)?),
        Algorithm::Es256 => parts(&ES256.generate_key_pair()?),
        Algorithm::EdDsa => parts(&EdDSA.generate_key_pair(EdCurve::Ed25519)?),
    };
    public_jwk.set_key_id(&kid);
    public_jwk.set_algorithm(algorithm.name());
    public_jwk.set_key_use("sig");
    Ok(SigningKeyRow {
        private_key_sealed: secrets.seal(&private_pem, &sealing_context(&kid)),
        public_jwk: serde_json::Value::Object(public_jwk.as_ref().clone()).to_string(),
        public_key_der: STANDARD.encode(public_der),
        kid,
        tenant: tenant.to_owned(),
        algorithm: algorithm.name().to_owned(),
        created_at: now,
        active_from,
        retired_at: None,
    })
}

fn parts(pair: &impl KeyPair) -> (Vec<u8>, Jwk, Vec<u8>) {
    (
        pair.to_pem_private_key(),
        pair.to_jwk_public_key(),
        pair.to_der_public_key(),
    )
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("unknown signing algorithm {0}")]
    Algorithm(String),
    #[error(transparent)]
    Sealed(#[from] idp_shared::security::SecurityError),
    #[error(transparent)]
    Jose(#[from] josekit::JoseError),
}

/// A signer for a stored key: its private half unsealed, in memory only.
pub fn signer(row: &SigningKeyRow, secrets: &SecretBox) -> Result<Box<dyn JwsSigner>, KeyError> {
    let pem = secrets.open(&row.private_key_sealed, &sealing_context(&row.kid))?;
    let algorithm = Algorithm::parse(&row.algorithm)
        .ok_or_else(|| KeyError::Algorithm(row.algorithm.clone()))?;
    Ok(match algorithm {
        Algorithm::Rs256 => Box::new(RS256.signer_from_pem(&pem)?),
        Algorithm::Ps256 => Box::new(PS256.signer_from_pem(&pem)?),
        Algorithm::Es256 => Box::new(ES256.signer_from_pem(&pem)?),
        Algorithm::EdDsa => Box::new(EdDSA.signer_from_pem(&pem)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsVerifier;

    fn verifier(alg: Algorithm, jwk: &Jwk) -> Box<dyn JwsVerifier> {
        match alg {
            Algorithm::Rs256 => Box::new(RS256.verifier_from_jwk(jwk).unwrap()),
            Algorithm::Ps256 => Box::new(PS256.verifier_from_jwk(jwk).unwrap()),
            Algorithm::Es256 => Box::new(ES256.verifier_from_jwk(jwk).unwrap()),
            Algorithm::EdDsa => Box::new(EdDSA.verifier_from_jwk(jwk).unwrap()),
        }
    }

    #[test]
    fn every_algorithm_makes_a_key_that_signs_and_verifies_with_its_published_jwk() {
        let secrets = SecretBox::from_key(&[3u8; 32]).unwrap();
        for alg in Algorithm::ALL {
            let row = generate("acme", alg, &secrets, 1, 1).unwrap();
            assert!(
                !row.private_key_sealed.contains("PRIVATE KEY"),
                "{alg:?} sealed"
            );
            let jwk: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&row.public_jwk).unwrap();
            assert_eq!(jwk["kid"], row.kid.as_str());
            assert_eq!(jwk["alg"], alg.name());
            assert_eq!(jwk["use"], "sig");
            assert!(
                !jwk.contains_key("d"),
                "{alg:?}: no private part in the JWK"
            );
            let jwk = Jwk::from_map(jwk).unwrap();
            let signature = signer(&row, &secrets).unwrap().sign(b"hello").unwrap();
            let check = verifier(alg, &jwk);
            assert!(check.verify(b"hello", &signature).is_ok(), "{alg:?}");
            assert!(
                check.verify(b"hellO", &signature).is_err(),
                "{alg:?}: tampered"
            );
        }
    }

    #[test]
    fn a_key_sealed_under_another_key_encryption_key_does_not_sign() {
        let row = generate(
            "acme",
            Algorithm::Es256,
            &SecretBox::from_key(&[3u8; 32]).unwrap(),
            1,
            1,
        )
        .unwrap();
        assert!(signer(&row, &SecretBox::from_key(&[4u8; 32]).unwrap()).is_err());
    }

    #[test]
    fn only_asymmetric_algorithms_parse() {
        assert_eq!(Algorithm::parse("ES256"), Some(Algorithm::Es256));
        for bad in ["none", "HS256", "rs256", ""] {
            assert_eq!(Algorithm::parse(bad), None, "{bad}");
        }
    }
}
