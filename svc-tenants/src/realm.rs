//! The realm representation: Keycloak's field names and defaults, what a tenant stores of it,
//! and the checks a write must pass.

use serde_json::{Map, Value, json};

/// Fields kept in columns of `tenants`, not in `tenant_attributes`.
pub const COLUMN_FIELDS: [&str; 4] = ["id", "realm", "enabled", "notBefore"];

/// Fields that are not the tenant's to store here: derived at read time, owned by another
/// service, kept elsewhere (`attributes` are the settings rows, `defaultRole` is a role), or
/// Keycloak import payloads that have their own routes.
pub const NOT_STORED: [&str; 15] = [
    "userCount",
    "realmCreationStatus",
    "attributes",
    "defaultRole",
    "settings",
    "smtpServer",
    "users",
    "clients",
    "roles",
    "groups",
    "clientScopes",
    "identityProviders",
    "components",
    "federatedUsers",
    "scopeMappings",
];

/// Largest representation a tenant may store (its JSON text).
pub const MAX_REPRESENTATION_BYTES: usize = 64 * 1024;

/// Keycloak's defaults for a new realm (the fields the platform reads, and the common ones the
/// admin tools show). Anything else a client sends is kept as sent.
pub fn defaults() -> Map<String, Value> {
    let v = json!({
        "displayName": null,
        "displayNameHtml": null,
        "defaultSignatureAlgorithm": "RS256",
        "revokeRefreshToken": false,
        "refreshTokenMaxReuse": 0,
        "accessTokenLifespan": 300,
        "accessTokenLifespanForImplicitFlow": 900,
        "ssoSessionIdleTimeout": 1800,
        "ssoSessionMaxLifespan": 36000,
        "ssoSessionIdleTimeoutRememberMe": 0,
        "ssoSessionMaxLifespanRememberMe": 0,
        "offlineSessionIdleTimeout": 2592000,
        "offlineSessionMaxLifespanEnabled": false,
        "offlineSessionMaxLifespan": 5184000,
        "clientSessionIdleTimeout": 0,
        "clientSessionMaxLifespan": 0,
        "clientOfflineSessionIdleTimeout": 0,
        "clientOfflineSessionMaxLifespan": 0,
        "accessCodeLifespan": 60,
        "accessCodeLifespanUserAction": 300,
        "accessCodeLifespanLogin": 1800,
        "actionTokenGeneratedByAdminLifespan": 43200,
        "actionTokenGeneratedByUserLifespan": 300,
        "oauth2DeviceCodeLifespan": 600,
        "oauth2DevicePollingInterval": 5,
        "sslRequired": "external",
        "registrationAllowed": false,
        "registrationEmailAsUsername": false,
        "rememberMe": false,
        "verifyEmail": false,
        "loginWithEmailAllowed": true,
        "duplicateEmailsAllowed": false,
        "resetPasswordAllowed": false,
        "editUsernameAllowed": false,
        // Keycloak ships with brute-force protection off; a safe default here is on, with
        // Keycloak's own numbers (30 failures, waits from 60 s to 15 min).
        "bruteForceProtected": true,
        "permanentLockout": false,
        "maxTemporaryLockouts": 0,
        "maxFailureWaitSeconds": 900,
        "minimumQuickLoginWaitSeconds": 60,
        "waitIncrementSeconds": 60,
        "quickLoginCheckMilliSeconds": 1000,
        "maxDeltaTimeSeconds": 43200,
        "failureFactor": 30,
        "passwordPolicy": null,
        "requiredCredentials": ["password"],
        "otpPolicyType": "totp",
        "otpPolicyAlgorithm": "HmacSHA1",
        "otpPolicyInitialCounter": 0,
        "otpPolicyDigits": 6,
        "otpPolicyLookAheadWindow": 1,
        "otpPolicyPeriod": 30,
        "loginTheme": null,
        "accountTheme": null,
        "adminTheme": null,
        "emailTheme": null,
        "eventsEnabled": false,
        "eventsListeners": ["jboss-logging"],
        "adminEventsEnabled": false,
        "adminEventsDetailsEnabled": false,
        "internationalizationEnabled": false,
        "supportedLocales": [],
        "defaultLocale": null,
        "browserFlow": "browser",
        "registrationFlow": "registration",
        "directGrantFlow": "direct grant",
        "resetCredentialsFlow": "reset credentials",
        "clientAuthenticationFlow": "clients",
        "dockerAuthenticationFlow": "docker auth",
        "browserSecurityHeaders": {
            "contentSecurityPolicyReportOnly": "",
            "xContentTypeOptions": "nosniff",
            "referrerPolicy": "no-referrer",
            "xRobotsTag": "none",
            "xFrameOptions": "SAMEORIGIN",
            "contentSecurityPolicy": "frame-src 'self'; frame-ancestors 'self'; object-src 'none';",
            "xXSSProtection": "1; mode=block",
            "strictTransportSecurity": "max-age=31536000; includeSubDomains"
        },
        "userManagedAccessAllowed": false,
        "attributes": {},
    });
    match v {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Fields whose default is null but whose value, when set, is a string.
const STRING_FIELDS: [&str; 8] = [
    "displayName",
    "displayNameHtml",
    "passwordPolicy",
    "loginTheme",
    "accountTheme",
    "adminTheme",
    "emailTheme",
    "defaultLocale",
];

/// The signature algorithms a tenant may choose (see svc-auth).
pub const SIGNATURE_ALGORITHMS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks the fields a write sets: a field with a default keeps its JSON type (or is null
/// where the default is null), numbers of lifetimes and counters are whole and not negative,
/// and the signature algorithm is one we sign with. Returns the fields to store.
pub fn check_fields(fields: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let defaults = defaults();
    let mut out = Map::new();
    for (key, value) in fields {
        if COLUMN_FIELDS.contains(&key.as_str()) || NOT_STORED.contains(&key.as_str()) {
            continue;
        }
        if let Some(default) = defaults.get(key)
            && !default.is_null()
            && !value.is_null()
            && kind(default) != kind(value)
        {
            return Err(format!(
                "{key} must be a {}, not a {}",
                kind(default),
                kind(value)
            ));
        }
        if STRING_FIELDS.contains(&key.as_str()) && !value.is_null() && !value.is_string() {
            return Err(format!("{key} must be a string, not a {}", kind(value)));
        }
        // Keycloak's realm counters and lifetimes are 32-bit integers; larger values would
        // only overflow the arithmetic of whoever reads them.
        if let (Some(Value::Number(_)), Value::Number(n)) = (defaults.get(key), value)
            && n.as_u64().is_none_or(|n| n > i32::MAX as u64)
        {
            return Err(format!(
                "{key} must be a whole number from 0 to {}",
                i32::MAX
            ));
        }
        if key == "defaultSignatureAlgorithm"
            && !value
                .as_str()
                .is_some_and(|a| SIGNATURE_ALGORITHMS.contains(&a))
        {
            return Err(format!(
                "defaultSignatureAlgorithm must be one of {}",
                SIGNATURE_ALGORITHMS.join(", ")
            ));
        }
        out.insert(key.clone(), value.clone());
    }
    let size = Value::Object(out.clone()).to_string().len();
    if size > MAX_REPRESENTATION_BYTES {
        return Err(format!(
            "the realm representation is {size} bytes; at most {MAX_REPRESENTATION_BYTES} are stored"
        ));
    }
    Ok(out)
}

/// Longest setting name, and longest JSON text of one setting's value.
pub const MAX_SETTING_NAME: usize = 255;
pub const MAX_SETTING_VALUE: usize = 8 * 1024;

/// Checks key-value settings (the realm's `attributes`): names of 1-255 characters without
/// control characters, values that are strings, numbers or booleans (`null` removes the key).
/// Returns each key with its new value, `None` for a removal.
pub fn check_settings(fields: &Map<String, Value>) -> Result<Vec<(String, Option<Value>)>, String> {
    let mut out = Vec::with_capacity(fields.len());
    let mut total = 0;
    for (key, value) in fields {
        if key.is_empty()
            || key.chars().count() > MAX_SETTING_NAME
            || key.chars().any(char::is_control)
        {
            return Err(format!(
                "setting names have 1 to {MAX_SETTING_NAME} characters and no control characters"
            ));
        }
        match value {
            Value::Null => out.push((key.clone(), None)),
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                crate::mail::check_setting(key, value)?;
                let size = value.to_string().len();
                if size > MAX_SETTING_VALUE {
                    return Err(format!(
                        "setting {key:?} is {size} bytes; at most {MAX_SETTING_VALUE} are stored"
                    ));
                }
                total += size + key.len();
                out.push((key.clone(), Some(value.clone())));
            }
            _ => {
                return Err(format!(
                    "setting {key:?} must be a string, number or boolean, not a {}",
                    kind(value)
                ));
            }
        }
    }
    if total > MAX_REPRESENTATION_BYTES {
        return Err(format!(
            "the settings are {total} bytes; at most {MAX_REPRESENTATION_BYTES} are stored at once"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_their_types() {
        let good = json!({"accessTokenLifespan": 600, "loginTheme": "kobilv2", "customThing": [1]});
        let stored = check_fields(good.as_object().unwrap()).unwrap();
        let largest = json!({"accessTokenLifespan": i32::MAX});
        assert!(check_fields(largest.as_object().unwrap()).is_ok());
        assert_eq!(stored["accessTokenLifespan"], 600);
        assert_eq!(stored["customThing"], json!([1]));

        for bad in [
            json!({"accessTokenLifespan": "600"}),
            json!({"accessTokenLifespan": -1}),
            json!({"accessTokenLifespan": 1.5}),
            json!({"accessTokenLifespan": 2_147_483_648_u64}),
            json!({"failureFactor": u64::MAX}),
            json!({"bruteForceProtected": "yes"}),
            json!({"loginTheme": 5}),
            json!({"passwordPolicy": ["length(8)"]}),
            json!({"defaultSignatureAlgorithm": "HS256"}),
            json!({"defaultSignatureAlgorithm": "none"}),
        ] {
            assert!(check_fields(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn columns_and_foreign_fields_are_not_stored_as_attributes() {
        let fields = json!({"realm": "x", "enabled": false, "userCount": 3, "smtpServer": {"password": "p"}});
        assert!(
            check_fields(fields.as_object().unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn settings_are_scalars_with_sane_names() {
        let ok = json!({"UserProperty": "id", "n": 5, "b": true, "gone": null});
        let checked = check_settings(ok.as_object().unwrap()).unwrap();
        assert_eq!(checked.len(), 4);
        assert!(checked.contains(&("gone".to_owned(), None)));
        for bad in [
            json!({"": "x"}),
            json!({"a": {"b": 1}}),
            json!({"a": [1]}),
            json!({"a\n": "x"}),
            json!({"a": "x".repeat(MAX_SETTING_VALUE)}),
        ] {
            assert!(check_settings(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn huge_representations_are_refused() {
        let fields = json!({"displayName": "x".repeat(MAX_REPRESENTATION_BYTES)});
        assert!(check_fields(fields.as_object().unwrap()).is_err());
    }
}
