//! Time-based one-time passwords (RFC 6238) with Keycloak's realm OTP policy: the parameters
//! a credential was made with travel in its credentialData, the look-around window and code
//! reuse are read from the realm at each check, as Keycloak does.

use idp_shared::realms::setting_i64;
use serde_json::{Value, json};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// The parameters of one OTP credential (Keycloak's OTPCredentialData).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpParams {
    pub digits: u8,
    pub period_secs: u64,
    pub algorithm: Algorithm,
}

impl Default for OtpParams {
    /// Keycloak's defaults: HmacSHA1, 6 digits, 30 seconds.
    fn default() -> Self {
        OtpParams {
            digits: 6,
            period_secs: 30,
            algorithm: Algorithm::SHA1,
        }
    }
}

/// A realm's OTP policy (Keycloak's `otpPolicy*` fields and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpPolicy {
    /// What new credentials are made with.
    pub params: OtpParams,
    /// Steps accepted either side of the current one.
    pub look_around: u16,
    pub code_reusable: bool,
    /// `otpPolicyType` is "totp" (HOTP is not supported).
    pub time_based: bool,
}

fn algorithm_from_keycloak(name: &str) -> Option<Algorithm> {
    match name {
        "HmacSHA1" => Some(Algorithm::SHA1),
        "HmacSHA256" => Some(Algorithm::SHA256),
        "HmacSHA512" => Some(Algorithm::SHA512),
        _ => None,
    }
}

fn algorithm_to_keycloak(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::SHA256 => "HmacSHA256",
        Algorithm::SHA512 => "HmacSHA512",
        _ => "HmacSHA1",
    }
}

fn digits_of(value: i64) -> u8 {
    // Keycloak offers 6 or 8; anything else falls back to its default.
    if value == 8 { 8 } else { 6 }
}

impl OtpPolicy {
    pub fn from_realm(realm: &Value) -> OtpPolicy {
        OtpPolicy {
            params: OtpParams {
                digits: digits_of(setting_i64(realm, "otpPolicyDigits", 6)),
                period_secs: setting_i64(realm, "otpPolicyPeriod", 30).clamp(1, 600) as u64,
                algorithm: realm["otpPolicyAlgorithm"]
                    .as_str()
                    .and_then(algorithm_from_keycloak)
                    .unwrap_or(Algorithm::SHA1),
            },
            look_around: setting_i64(realm, "otpPolicyLookAheadWindow", 1).clamp(0, 10) as u16,
            code_reusable: realm["otpPolicyCodeReusable"].as_bool().unwrap_or(false),
            time_based: realm["otpPolicyType"].as_str().unwrap_or("totp") == "totp",
        }
    }
}

impl OtpParams {
    /// Keycloak's credentialData text for these parameters.
    pub fn credential_data(&self) -> String {
        json!({
            "subType": "totp",
            "digits": self.digits,
            "counter": 0,
            "period": self.period_secs,
            "algorithm": algorithm_to_keycloak(self.algorithm),
        })
        .to_string()
    }

    /// The parameters stored with a credential; Keycloak's defaults for what is missing.
    pub fn from_credential_data(data: Option<&str>) -> OtpParams {
        let value: Value = data
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or(Value::Null);
        let defaults = OtpParams::default();
        OtpParams {
            digits: value["digits"].as_i64().map_or(defaults.digits, digits_of),
            period_secs: value["period"]
                .as_u64()
                .map_or(defaults.period_secs, |p| p.clamp(1, 600)),
            algorithm: value["algorithm"]
                .as_str()
                .and_then(algorithm_from_keycloak)
                .unwrap_or(defaults.algorithm),
        }
    }

    fn totp(&self, secret: &[u8], look_around: u16) -> Result<Totp, String> {
        Builder::new()
            .with_algorithm(self.algorithm)
            .with_digits(self.digits)
            .with_step_duration(self.period_secs)
            .with_skew(look_around)
            .with_secret(Secret::from(secret.to_vec()))
            .build()
            .map_err(|e| e.to_string())
    }

    /// The time step a code belongs to, if it is valid at `unix_secs` (within the window).
    pub fn matching_step(
        &self,
        secret: &[u8],
        look_around: u16,
        code: &str,
        unix_secs: u64,
    ) -> Option<u64> {
        self.totp(secret, look_around).ok()?.check(code, unix_secs)
    }

    /// The code of the step holding `unix_secs` (what an authenticator app shows).
    pub fn code_at(&self, secret: &[u8], unix_secs: u64) -> Result<String, String> {
        Ok(self.totp(secret, 0)?.generate(unix_secs).to_string())
    }
}

/// Decodes a base32 seed as authenticator apps show it (case, spaces and padding ignored)
/// and checks RFC 4226's minimum of 128 bits.
pub fn secret_from_base32(text: &str) -> Result<Vec<u8>, String> {
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if cleaned.is_empty() || cleaned.len() > 256 {
        return Err("secret must be 1-256 base32 characters".into());
    }
    let bytes = Secret::try_from_base32(&cleaned)
        .map_err(|_| "secret is not base32 (RFC 4648: A-Z, 2-7)".to_owned())?
        .as_ref()
        .to_vec();
    if bytes.len() < 16 {
        return Err(format!(
            "secret has {} bits; at least 128 are required (RFC 4226)",
            bytes.len() * 8
        ));
    }
    Ok(bytes)
}

/// The cache key remembering that a credential's step was used (a code is accepted once).
pub fn used_step_key(tenant: &str, credential_id: &str, step: u64) -> String {
    format!("otp:used:{tenant}:{credential_id}:{step}")
}

/// How long a used step must be remembered: until no window can accept it again.
pub fn used_step_ttl(params: &OtpParams, look_around: u16) -> std::time::Duration {
    std::time::Duration::from_secs(params.period_secs * (2 * u64::from(look_around) + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 appendix B: the SHA1 seed "12345678901234567890", 8 digits.
    const RFC_SEED: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors_hold() {
        let params = OtpParams {
            digits: 8,
            ..OtpParams::default()
        };
        assert_eq!(params.code_at(RFC_SEED, 59).unwrap(), "94287082");
        assert_eq!(params.code_at(RFC_SEED, 1_111_111_109).unwrap(), "07081804");
        assert_eq!(params.code_at(RFC_SEED, 2_000_000_000).unwrap(), "69279037");
    }

    #[test]
    fn codes_match_within_the_window_only() {
        let params = OtpParams::default();
        let now = 1_700_000_000;
        let code = params.code_at(RFC_SEED, now).unwrap();
        assert_eq!(code.len(), 6);
        let step = now / 30;
        assert_eq!(params.matching_step(RFC_SEED, 1, &code, now), Some(step));
        assert_eq!(
            params.matching_step(RFC_SEED, 1, &code, now + 30),
            Some(step)
        );
        assert_eq!(
            params.matching_step(RFC_SEED, 1, &code, now - 30),
            Some(step)
        );
        assert_eq!(params.matching_step(RFC_SEED, 1, &code, now + 90), None);
        assert_eq!(params.matching_step(RFC_SEED, 0, &code, now + 30), None);
        assert_eq!(params.matching_step(RFC_SEED, 1, "12345", now), None);
        assert_eq!(params.matching_step(RFC_SEED, 1, "+12345", now), None);
    }

    #[test]
    fn keycloak_policy_and_credential_data_are_read() {
        let policy = OtpPolicy::from_realm(&json!({}));
        assert_eq!(policy.params, OtpParams::default());
        assert_eq!(policy.look_around, 1);
        assert!(!policy.code_reusable && policy.time_based);
        let policy = OtpPolicy::from_realm(&json!({"otpPolicyDigits": 8,
            "otpPolicyAlgorithm": "HmacSHA256", "otpPolicyPeriod": 60, "otpPolicyType": "hotp"}));
        assert_eq!(policy.params.digits, 8);
        assert_eq!(policy.params.algorithm, Algorithm::SHA256);
        assert!(!policy.time_based);
        let data = policy.params.credential_data();
        assert!(data.contains("\"algorithm\":\"HmacSHA256\""), "{data}");
        assert_eq!(OtpParams::from_credential_data(Some(&data)), policy.params);
        assert_eq!(OtpParams::from_credential_data(None), OtpParams::default());
    }

    #[test]
    fn seeds_are_base32_of_at_least_128_bits() {
        let seed = secret_from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!(seed, RFC_SEED);
        assert!(secret_from_base32("GEZDGNBVGY3TQOJQ").is_err(), "80 bits");
        assert!(secret_from_base32("not base32!").is_err());
        assert!(secret_from_base32("").is_err());
    }
}
