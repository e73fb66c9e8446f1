//! The user security report (`user-security-resources`): one entry per user with its last
//! login, last password change and the days its password has left. Pure functions; the time
//! is a parameter.

use serde_json::{Value, json};

use crate::model::User;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// The days of the realm's `forceExpiredPasswordChange(days)` (read as svc-login reads it:
/// 365 when the number is malformed, at most 36 500), None when the policy has none or 0.
pub fn expiry_days(realm: &Value) -> Option<i64> {
    let policy = realm["passwordPolicy"].as_str()?;
    policy.split(" and ").find_map(|term| {
        let (name, arg) = term.trim().split_once('(')?;
        if name.trim() != "forceExpiredPasswordChange" {
            return None;
        }
        let days = arg
            .trim_end_matches(')')
            .trim()
            .parse::<i64>()
            .unwrap_or(365)
            .min(36_500);
        (days > 0).then_some(days)
    })
}

/// Whole days until a password changed at `changed_at` expires; negative once expired
/// (rounded down, so an expired password never reads 0 days).
pub fn remaining_days(changed_at: i64, expiry_days: i64, now: i64) -> i64 {
    let expires_at = changed_at.saturating_add(expiry_days.saturating_mul(DAY_MS));
    expires_at.saturating_sub(now).div_euclid(DAY_MS)
}

/// One entry of the report. `facts` is svc-login's entry for the user (absent when it never
/// logged in nor had a password).
pub fn entry(user: &User, facts: Option<&Value>, expiry_days: Option<i64>, now: i64) -> Value {
    let row = &user.row;
    let last_login = facts.and_then(|f| f["lastLoginTimestamp"].as_i64());
    let last_change = facts.and_then(|f| f["lastPasswordChangeTimestamp"].as_i64());
    let remaining = match (last_change, expiry_days) {
        (Some(changed), Some(days)) => Some(remaining_days(changed, days, now)),
        _ => None,
    };
    let totp = facts.and_then(|f| f["totp"].as_bool()).unwrap_or(false);
    json!({
        "userid": row.id,
        "username": row.username,
        "email": row.email,
        "enabled": row.enabled,
        "lastLoginTimestamp": last_login,
        "lastPasswordChangeTimestamp": last_change,
        "passwordExpiryRemainingDays": remaining,
        "firstName": row.first_name,
        "lastName": row.last_name,
        "emailVerified": row.email_verified,
        "attributes": user.attributes,
        "createdTimestamp": row.created_timestamp,
        "totp": totp,
        "requiredActions": user.required_actions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::UserInput;

    #[test]
    fn the_policy_gives_the_expiry() {
        let realm = |p: &str| json!({ "passwordPolicy": p });
        assert_eq!(
            expiry_days(&realm("length(8) and forceExpiredPasswordChange(90)")),
            Some(90)
        );
        assert_eq!(
            expiry_days(&realm("forceExpiredPasswordChange(x)")),
            Some(365)
        );
        assert_eq!(expiry_days(&realm("forceExpiredPasswordChange(0)")), None);
        assert_eq!(expiry_days(&realm("length(8)")), None);
        assert_eq!(expiry_days(&json!({})), None);
    }

    #[test]
    fn remaining_days_go_negative_once_expired() {
        let changed = 1_000 * DAY_MS;
        assert_eq!(remaining_days(changed, 90, changed), 90);
        assert_eq!(remaining_days(changed, 90, changed + 5 * DAY_MS + 1), 84);
        assert_eq!(remaining_days(changed, 90, changed + 90 * DAY_MS + 1), -1);
        assert_eq!(remaining_days(changed, 90, changed + 100 * DAY_MS), -10);
    }

    #[test]
    fn entries_carry_the_seed_fields() {
        let user = UserInput::parse(&json!({"username": "u1", "enabled": true}))
            .unwrap()
            .into_new_user("t", 5)
            .unwrap();
        let facts =
            json!({"lastLoginTimestamp": 7, "lastPasswordChangeTimestamp": 0, "totp": true});
        let e = entry(&user, Some(&facts), Some(1), DAY_MS / 2);
        assert_eq!(e["userid"], json!(user.row.id));
        assert_eq!(e["lastLoginTimestamp"], 7);
        assert_eq!(e["passwordExpiryRemainingDays"], 0);
        assert_eq!(e["totp"], true);
        assert_eq!(e["createdTimestamp"], 5);
        let none = entry(&user, None, Some(1), 0);
        assert!(none["lastLoginTimestamp"].is_null());
        assert!(none["passwordExpiryRemainingDays"].is_null());
        assert_eq!(none["totp"], false);
    }
}
