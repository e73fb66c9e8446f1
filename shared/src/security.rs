//! Secrets at rest and between services.
//!
//! `SecretBox` seals what must be readable again (signing keys, client secrets, SMTP passwords)
//! with AES-256-GCM under the key-encryption key; each sealed value is bound to a context string
//! (e.g. `signing-key:<kid>`), so a ciphertext copied to another row does not open there.
//! `InternalCaller` admits a request to an `/internal` route only with the service token,
//! compared in constant time.

use std::io::Write;
use std::path::Path;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use aes_gcm::aead::{Aead, KeyInit, Payload as AeadPayload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::config::{DatabaseTarget, Secret, ServiceKind, Settings};
use crate::error::{ErrorInfo, Plain};
use crate::http_client::SERVICE_TOKEN_HEADER;

const SEALED_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const KEK_FILE: &str = "key-encryption.key";

#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    #[error("security.key_encryption_key: {0}")]
    KeyEncryptionKey(String),
    #[error("sealed value cannot be opened (wrong key, wrong context or corrupted)")]
    Unseal,
}

/// Random bytes from the operating system's CSPRNG (through rand's thread RNG), base64url.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Constant-time equality of two secrets.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Root of derived MAC keys: HMAC-SHA256(key-encryption key, "idp:mac-keys"), so a
    /// derived key never equals the encryption key itself.
    mac_root: std::sync::Arc<Vec<u8>>,
}

/// HMAC-SHA256 (josekit's, a maintained implementation).
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use josekit::jws::{HS256, JwsSigner};
    HS256
        .signer_from_bytes(key)
        .and_then(|signer| signer.sign(message))
        .expect("HMAC-SHA256 accepts any key and message")
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8]) -> Result<SecretBox, SecurityError> {
        let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| {
            SecurityError::KeyEncryptionKey("must be 32 bytes (base64 encoded)".into())
        })?;
        Ok(SecretBox {
            cipher,
            mac_root: std::sync::Arc::new(hmac_sha256(key, b"idp:mac-keys")),
        })
    }

    /// A 256-bit key for MACs, bound to `context` (e.g. `refresh-token:<tenant>`): every
    /// replica derives the same key from the configured key-encryption key.
    pub fn mac_key(&self, context: &str) -> Vec<u8> {
        hmac_sha256(&self.mac_root, context.as_bytes())
    }

    /// The configured key, or in the embedded mode one generated once and kept (mode 0600)
    /// beside the SQLite files. With PostgreSQL the key must be configured: a generated one
    /// would differ per replica.
    pub fn from_settings(settings: &Settings) -> Result<SecretBox, SecurityError> {
        if let Some(key) = &settings.security.key_encryption_key {
            let bytes = STANDARD
                .decode(key.expose().trim())
                .or_else(|_| URL_SAFE_NO_PAD.decode(key.expose().trim()))
                .map_err(|_| SecurityError::KeyEncryptionKey("is not base64".into()))?;
            return Self::from_key(&bytes);
        }
        let embedded = ServiceKind::SERVICES.iter().all(|k| {
            matches!(
                settings.database_target(*k),
                Ok(DatabaseTarget::Sqlite { .. })
            )
        });
        if !embedded {
            return Err(SecurityError::KeyEncryptionKey(
                "is required when the database is PostgreSQL (32 random bytes, base64)".into(),
            ));
        }
        let key = load_or_create_key_file(&settings.data_dir)?;
        Self::from_key(&key)
    }

    pub fn seal(&self, plaintext: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                AeadPayload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecurityError> {
        let raw = sealed
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b| STANDARD.decode(b).ok())
            .filter(|raw| raw.len() > NONCE_LEN)
            .ok_or(SecurityError::Unseal)?;
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                AeadPayload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecurityError::Unseal)
    }
}

fn load_or_create_key_file(dir: &Path) -> Result<Vec<u8>, SecurityError> {
    let fail =
        |e: std::io::Error| SecurityError::KeyEncryptionKey(format!("{}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let path = dir.join(KEK_FILE);
    let mut key = vec![0u8; 32];
    rand::rng().fill_bytes(&mut key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(STANDARD.encode(&key).as_bytes())
                .and_then(|_| file.sync_all())
                .map_err(fail)?;
            Ok(key)
        }
        // Another process of this installation created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            for _ in 0..50 {
                let text = std::fs::read_to_string(&path).map_err(fail)?;
                if let Ok(key) = STANDARD.decode(text.trim())
                    && key.len() == 32
                {
                    return Ok(key);
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(SecurityError::KeyEncryptionKey(format!(
                "{} is not a 32-byte base64 key",
                path.display()
            )))
        }
        Err(e) => Err(fail(e)),
    }
}

/// The token a service expects on its `/internal` routes (registered as app data).
#[derive(Clone)]
pub struct ServiceToken(pub Option<Secret>);

/// Extractor: the request came from another service of the platform.
#[derive(Debug)]
pub struct InternalCaller;

impl FromRequest for InternalCaller {
    type Error = Plain<ErrorInfo>;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<ServiceToken>>()
            .and_then(|t| t.0.clone());
        let presented = req.headers().get(SERVICE_TOKEN_HEADER);
        let ok = match (expected, presented) {
            (Some(expected), Some(presented)) => {
                secrets_equal(expected.expose().as_bytes(), presented.as_bytes())
            }
            _ => false,
        };
        std::future::ready(if ok {
            Ok(InternalCaller)
        } else {
            Err(Plain(ErrorInfo::new(
                actix_web::http::StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "internal route: service credential missing or wrong",
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let a = SecretBox::from_key(&[7u8; 32]).unwrap();
        let b = SecretBox::from_key(&[8u8; 32]).unwrap();
        let sealed = a.seal(b"-----BEGIN PRIVATE KEY-----", "signing-key:k1");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(
            a.open(&sealed, "signing-key:k1").unwrap(),
            b"-----BEGIN PRIVATE KEY-----"
        );
        assert!(a.open(&sealed, "signing-key:k2").is_err(), "other context");
        assert!(b.open(&sealed, "signing-key:k1").is_err(), "other key");
        assert_eq!(
            a.mac_key("refresh-token:acme"),
            a.clone().mac_key("refresh-token:acme")
        );
        assert_ne!(
            a.mac_key("refresh-token:acme"),
            a.mac_key("refresh-token:other")
        );
        assert_ne!(
            a.mac_key("refresh-token:acme"),
            b.mac_key("refresh-token:acme")
        );
        assert_eq!(a.mac_key("x").len(), 32);
        assert!(a.open("v1:AAAA", "x").is_err());
        assert!(a.open("plain", "x").is_err());
        // A fresh nonce each time.
        assert_ne!(a.seal(b"x", "c"), a.seal(b"x", "c"));
    }

    #[test]
    fn keys_must_be_32_bytes() {
        assert!(SecretBox::from_key(&[0u8; 16]).is_err());
    }

    #[test]
    fn the_embedded_key_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings::for_test(dir.path());
        let first = SecretBox::from_settings(&settings).unwrap();
        let second = SecretBox::from_settings(&settings).unwrap();
        let sealed = first.seal(b"secret", "ctx");
        assert_eq!(second.open(&sealed, "ctx").unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEK_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn postgres_requires_a_configured_key() {
        let mut settings = Settings::for_test("/nonexistent");
        settings.database.url = Some(Secret::new("postgres://x@localhost/db"));
        assert!(SecretBox::from_settings(&settings).is_err());
        settings.security.key_encryption_key = Some(Secret::new(STANDARD.encode([1u8; 32])));
        assert!(SecretBox::from_settings(&settings).is_ok());
    }

    #[test]
    fn secrets_compare_in_full() {
        assert!(secrets_equal(b"abc", b"abc"));
        assert!(!secrets_equal(b"abc", b"abd"));
        assert!(!secrets_equal(b"abc", b"abcd"));
        assert_eq!(random_token(32).len(), 43);
    }
}
