//! Names that travel in URL paths between services.

/// Tenant (realm) names: letters, digits, `_`, `-` and `.` (not first), 1-100 characters. This
/// keeps every name safe in a URL path and covers realm names in practice.
pub fn check_tenant_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid realm name {name:?}: use 1-100 letters, digits, '_', '-' or '.' (not first)"
        ))
    }
}

/// Milliseconds since the Unix epoch: what every stored time and the API use. Call it at the
/// edge (handlers, start-up) and pass the value down, so logic stays testable.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_are_url_safe() {
        for ok in ["master", "acme", "acme-prod", "a.b_c", "T1"] {
            assert!(check_tenant_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "a/b",
            "a b",
            "ä",
            &"x".repeat(101),
            "a%2f",
            "..",
        ] {
            assert!(check_tenant_name(bad).is_err(), "{bad}");
        }
    }
}
