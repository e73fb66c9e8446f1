//! A tenant's password policy, parsed from Keycloak's `passwordPolicy` string such as
//! `length(12) and passwordHistory(3) and forceExpiredPasswordChange(90) and notUsername()`.

use serde_json::Value;

/// bcrypt reads at most 72 bytes; longer passwords are refused rather than silently cut.
pub const MAX_PASSWORD_BYTES: usize = 72;
/// bcrypt cost when the policy names none (OWASP's floor for bcrypt).
pub const DEFAULT_BCRYPT_COST: u32 = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub digits: usize,
    pub lower_case: usize,
    pub upper_case: usize,
    pub special_chars: usize,
    pub not_username: bool,
    pub not_email: bool,
    /// How many earlier passwords may not be reused.
    pub history: usize,
    /// Days a password lives; 0 = forever.
    pub expire_days: i64,
    pub bcrypt_cost: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 1,
            max_length: MAX_PASSWORD_BYTES,
            digits: 0,
            lower_case: 0,
            upper_case: 0,
            special_chars: 0,
            not_username: false,
            not_email: false,
            history: 0,
            expire_days: 0,
            bcrypt_cost: DEFAULT_BCRYPT_COST,
        }
    }
}

impl PasswordPolicy {
    /// The policy of a realm representation; unknown or malformed terms are ignored (the
    /// realm was validated when it was stored), numbers are clamped to sane bounds.
    pub fn from_realm(realm: &Value) -> PasswordPolicy {
        realm["passwordPolicy"]
            .as_str()
            .map(PasswordPolicy::parse)
            .unwrap_or_default()
    }

    pub fn parse(text: &str) -> PasswordPolicy {
        let mut policy = PasswordPolicy::default();
        for term in text.split(" and ") {
            let term = term.trim();
            let (name, arg) = match term.split_once('(') {
                Some((name, rest)) => (name.trim(), rest.trim_end_matches(')').trim()),
                None => (term, ""),
            };
            let number = |default: usize| arg.parse::<usize>().unwrap_or(default).min(1024);
            match name {
                "length" => policy.min_length = number(8),
                "maxLength" => policy.max_length = number(64).clamp(1, MAX_PASSWORD_BYTES),
                "digits" => policy.digits = number(1),
                "lowerCase" => policy.lower_case = number(1),
                "upperCase" => policy.upper_case = number(1),
                "specialChars" => policy.special_chars = number(1),
                "notUsername" => policy.not_username = true,
                "notEmail" => policy.not_email = true,
                "passwordHistory" => policy.history = number(3).min(100),
                "forceExpiredPasswordChange" => policy.expire_days = number(365).min(36_500) as i64,
                // Our extension: Keycloak's hashIterations means PBKDF2 rounds, not bcrypt cost.
                "bcryptCost" => policy.bcrypt_cost = (number(10) as u32).clamp(4, 15),
                _ => {}
            }
        }
        policy
    }

    /// Checks a new password; the message says what is missing, never the password.
    pub fn check(
        &self,
        password: &str,
        username: Option<&str>,
        email: Option<&str>,
    ) -> Result<(), String> {
        if password.is_empty() {
            return Err("the password is empty".into());
        }
        if password.len() > MAX_PASSWORD_BYTES || password.chars().count() > self.max_length {
            return Err(format!(
                "the password is longer than {} characters ({MAX_PASSWORD_BYTES} bytes)",
                self.max_length
            ));
        }
        if password.chars().count() < self.min_length {
            return Err(format!(
                "the password needs at least {} characters",
                self.min_length
            ));
        }
        let count = |f: fn(&char) -> bool| password.chars().filter(f).count();
        let classes = [
            (self.digits, count(char::is_ascii_digit), "digits"),
            (
                self.lower_case,
                count(|c| c.is_lowercase()),
                "lower-case letters",
            ),
            (
                self.upper_case,
                count(|c| c.is_uppercase()),
                "upper-case letters",
            ),
            (
                self.special_chars,
                count(|c| !c.is_alphanumeric() && !c.is_whitespace()),
                "special characters",
            ),
        ];
        for (needed, found, what) in classes {
            if found < needed {
                return Err(format!("the password needs at least {needed} {what}"));
            }
        }
        if self.not_username
            && username.is_some_and(|u| !u.is_empty() && password.eq_ignore_ascii_case(u))
        {
            return Err("the password may not be the username".into());
        }
        if self.not_email
            && email.is_some_and(|e| !e.is_empty() && password.eq_ignore_ascii_case(e))
        {
            return Err("the password may not be the email address".into());
        }
        Ok(())
    }

    /// Days until a password set at `changed_at` (ms) expires; negative once expired; None
    /// when passwords do not expire.
    pub fn remaining_days(&self, changed_at: i64, now: i64) -> Option<i64> {
        if self.expire_days == 0 {
            return None;
        }
        let expires = changed_at + self.expire_days * 86_400_000;
        Some((expires - now).div_euclid(86_400_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keycloak_policy_strings_are_read() {
        let p = PasswordPolicy::parse(
            "length(12) and maxLength(40) and digits(2) and upperCase and notUsername(undefined) \
             and passwordHistory(3) and forceExpiredPasswordChange(90) and bcryptCost(4) and hashAlgorithm(pbkdf2)",
        );
        assert_eq!(p.min_length, 12);
        assert_eq!(p.max_length, 40);
        assert_eq!(p.digits, 2);
        assert_eq!(p.upper_case, 1);
        assert!(p.not_username);
        assert_eq!(p.history, 3);
        assert_eq!(p.expire_days, 90);
        assert_eq!(p.bcrypt_cost, 4);
        assert_eq!(
            PasswordPolicy::from_realm(&json!({})),
            PasswordPolicy::default()
        );
        assert_eq!(
            PasswordPolicy::parse("maxLength(500) and bcryptCost(99)").max_length,
            MAX_PASSWORD_BYTES
        );
        assert_eq!(PasswordPolicy::parse("bcryptCost(99)").bcrypt_cost, 15);
    }

    #[test]
    fn passwords_are_checked_against_every_term() {
        let p = PasswordPolicy::parse("length(8) and digits(1) and notUsername");
        assert!(p.check("", None, None).is_err());
        assert!(p.check("short1", None, None).is_err());
        assert!(p.check("longenough", None, None).is_err());
        assert!(p.check("longenough1", None, None).is_ok());
        assert!(p.check("Alice12345", Some("alice12345"), None).is_err());
        assert!(
            p.check(&"a1".repeat(37), None, None).is_err(),
            "over 72 bytes"
        );
        assert!(
            PasswordPolicy::default()
                .check(&"é".repeat(40), None, None)
                .is_err(),
            "80 bytes although 40 characters"
        );
    }

    #[test]
    fn expiry_counts_down_and_goes_negative() {
        let p = PasswordPolicy::parse("forceExpiredPasswordChange(10)");
        let day = 86_400_000;
        assert_eq!(p.remaining_days(0, 3 * day), Some(7));
        assert_eq!(p.remaining_days(0, 12 * day), Some(-2));
        assert_eq!(PasswordPolicy::default().remaining_days(0, day), None);
    }
}
