//! A riskbit as the API speaks it, and every check on what clients send. Pure functions: the
//! routes call them before anything is stored, so bad input changes nothing.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::Error;
use crate::store::RiskbitRow;

/// The operations a riskbit may prescribe for a device in its range.
pub const OPERATIONS: [&str; 3] = ["OK", "MEDIUM", "HIGH_RISK"];
const MAX_RATING_LEVEL_CHARS: usize = 64;
const MAX_RISK_NAME_CHARS: usize = 200;
const MAX_RISK_NAMES: usize = 100;
/// A bulk request is one transaction; this keeps it short.
pub const MAX_BULK_ITEMS: usize = 1000;
/// What the seed's bulk reply says whatever was rejected.
pub const BULK_MESSAGE: &str = "Add riskbits request completed successfully";

/// The device platforms a riskbit names risks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Android,
    Ios,
}

impl Platform {
    pub const ALL: [Platform; 2] = [Platform::Android, Platform::Ios];

    /// `android` or `ios`, in any case.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("android") {
            Ok(Platform::Android)
        } else if text.eq_ignore_ascii_case("ios") {
            Ok(Platform::Ios)
        } else if text.is_empty() {
            Err("platform is required: \"android\" or \"ios\"".into())
        } else {
            Err(format!(
                "unknown platform {text:?}: use \"android\" or \"ios\""
            ))
        }
    }

    /// How the platform is stored in the verification index.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Android => "android",
            Platform::Ios => "ios",
        }
    }

    /// The API field that lists this platform's risk names.
    pub fn field(self) -> &'static str {
        match self {
            Platform::Android => "riskAndroid",
            Platform::Ios => "riskIOS",
        }
    }
}

/// A score range `low-high`, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreRange {
    pub low: i32,
    pub high: i32,
}

impl ScoreRange {
    /// `"986-999"`; leading zeros and spaces around the numbers are accepted.
    pub fn parse(text: &str) -> Result<ScoreRange, String> {
        let malformed = || {
            format!(
                "score {text:?} is not a range \"low-high\" of whole numbers from 0 to {}, \
                 e.g. \"986-999\"",
                i32::MAX
            )
        };
        let (low, high) = text.split_once('-').ok_or_else(malformed)?;
        let low = parse_bound(low).ok_or_else(malformed)?;
        let high = parse_bound(high).ok_or_else(malformed)?;
        if low > high {
            return Err(format!(
                "score {text:?} starts above its end: write the lower number first"
            ));
        }
        Ok(ScoreRange { low, high })
    }

    pub fn contains(self, score: i32) -> bool {
        self.low <= score && score <= self.high
    }
}

impl fmt::Display for ScoreRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.low, self.high)
    }
}

/// A whole number in `0..=i32::MAX` written in decimal digits only (no sign, no exponent).
fn parse_bound(text: &str) -> Option<i32> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.len() > 10 {
        return None;
    }
    let value: u64 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    i32::try_from(value).ok()
}

/// A device score to verify: a JSON whole number or a string of digits.
pub fn parse_score(value: &Value) -> Result<i32, String> {
    let score = match value {
        Value::Number(n) => n.as_u64().and_then(|n| i32::try_from(n).ok()),
        Value::String(s) => parse_bound(s),
        _ => None,
    };
    score.ok_or_else(|| {
        format!(
            "score must be a whole number from 0 to {}, got {value}",
            i32::MAX
        )
    })
}

/// A platform's comma-separated risk names (`JBreak[1](40001),JBreak[1](101)`): trimmed,
/// duplicates dropped, order kept. Absent or blank means none; an empty name between commas
/// is an error, since it is almost always a typing slip.
pub fn parse_risk_names(platform: Platform, text: Option<&str>) -> Result<Vec<String>, String> {
    let field = platform.field();
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = Vec::new();
    for name in text.split(',') {
        let name = name.trim();
        if name.is_empty() {
            return Err(format!(
                "{field} lists an empty risk name: separate names with single commas"
            ));
        }
        if name.chars().count() > MAX_RISK_NAME_CHARS {
            return Err(format!(
                "{field}: a risk name has at most {MAX_RISK_NAME_CHARS} characters"
            ));
        }
        if name.chars().any(char::is_control) {
            return Err(format!("{field}: risk names contain no control characters"));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    if names.len() > MAX_RISK_NAMES {
        return Err(format!("{field} lists at most {MAX_RISK_NAMES} risk names"));
    }
    Ok(names)
}

/// A risk percentage: `0.80%`, `41.77` or `9.5%`, from 0 to 100. Kept as written.
pub fn check_risk(text: &str) -> Result<String, String> {
    let text = text.trim();
    let number = text.strip_suffix('%').unwrap_or(text).trim_end();
    let plain_decimal = number.bytes().any(|b| b.is_ascii_digit())
        && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.bytes().filter(|b| *b == b'.').count() <= 1;
    match number.parse::<f64>() {
        Ok(value) if plain_decimal && (0.0..=100.0).contains(&value) => Ok(text.to_owned()),
        _ => Err(format!(
            "risk {text:?} is not a percentage from 0 to 100, e.g. \"0.80%\""
        )),
    }
}

fn check_rating_level(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("ratingLevel is required".into());
    }
    if text.chars().count() > MAX_RATING_LEVEL_CHARS {
        return Err(format!(
            "ratingLevel has at most {MAX_RATING_LEVEL_CHARS} characters"
        ));
    }
    if text.chars().any(char::is_control) {
        return Err("ratingLevel contains no control characters".into());
    }
    Ok(text.to_owned())
}

fn check_operation(text: &str) -> Result<String, String> {
    let upper = text.trim().to_ascii_uppercase();
    if OPERATIONS.contains(&upper.as_str()) {
        Ok(upper)
    } else if upper.is_empty() {
        Err("operation is required: OK, MEDIUM or HIGH_RISK".into())
    } else {
        Err(format!(
            "unknown operation {:?}: use OK, MEDIUM or HIGH_RISK",
            text.trim()
        ))
    }
}

/// What a client sends to create or replace a riskbit (the seed's fields).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskbitInput {
    /// Ignored on create (the service names riskbits); must match the path on update.
    pub id: Option<String>,
    #[serde(rename = "ratingLevel")]
    pub rating_level: Option<String>,
    pub score: Option<String>,
    pub risk: Option<String>,
    #[serde(rename = "riskAndroid")]
    pub risk_android: Option<String>,
    #[serde(rename = "riskIOS")]
    pub risk_ios: Option<String>,
    pub operation: Option<String>,
    /// Optional; when given it must be the path's realm.
    #[serde(rename = "realmId")]
    pub realm_id: Option<String>,
}

/// A riskbit that passed every check, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Riskbit {
    pub rating_level: String,
    pub score: ScoreRange,
    pub risk: String,
    pub risk_android: Vec<String>,
    pub risk_ios: Vec<String>,
    pub operation: String,
}

impl Riskbit {
    pub fn risk_names(&self, platform: Platform) -> &[String] {
        match platform {
            Platform::Android => &self.risk_android,
            Platform::Ios => &self.risk_ios,
        }
    }
}

impl RiskbitInput {
    /// Every check of a riskbit sent for realm `realm`; the first failure is the answer.
    pub fn validate(&self, realm: &str) -> Result<Riskbit, Error> {
        if self.realm_id.as_deref().is_some_and(|r| r != realm) {
            return Err(Error::RealmMismatch);
        }
        let required = |value: &Option<String>, field: &str| {
            value
                .as_deref()
                .filter(|v| !v.trim().is_empty())
                .map(str::to_owned)
                .ok_or_else(|| Error::Invalid(format!("{field} is required")))
        };
        let rating_level = check_rating_level(&required(&self.rating_level, "ratingLevel")?)
            .map_err(Error::Invalid)?;
        let score = ScoreRange::parse(&required(&self.score, "score")?).map_err(Error::Invalid)?;
        let risk = check_risk(&required(&self.risk, "risk")?).map_err(Error::Invalid)?;
        let risk_android = parse_risk_names(Platform::Android, self.risk_android.as_deref())
            .map_err(Error::Invalid)?;
        let risk_ios =
            parse_risk_names(Platform::Ios, self.risk_ios.as_deref()).map_err(Error::Invalid)?;
        let operation =
            check_operation(self.operation.as_deref().unwrap_or("")).map_err(Error::Invalid)?;
        Ok(Riskbit {
            rating_level,
            score,
            risk,
            risk_android,
            risk_ios,
            operation,
        })
    }
}

/// A riskbit as the API returns it. An empty risk-name list is `null`, as in the seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Representation {
    pub id: String,
    #[serde(rename = "ratingLevel")]
    pub rating_level: String,
    pub score: String,
    pub risk: String,
    #[serde(rename = "riskAndroid")]
    pub risk_android: Option<String>,
    #[serde(rename = "riskIOS")]
    pub risk_ios: Option<String>,
    pub operation: String,
    #[serde(rename = "realmId")]
    pub realm_id: String,
}

impl From<RiskbitRow> for Representation {
    fn from(row: RiskbitRow) -> Self {
        Representation {
            score: ScoreRange {
                low: row.score_low,
                high: row.score_high,
            }
            .to_string(),
            id: row.id,
            rating_level: row.rating_level,
            risk: row.risk,
            risk_android: row.risk_android,
            risk_ios: row.risk_ios,
            operation: row.operation,
            realm_id: row.tenant,
        }
    }
}

/// The outcome of checking a bulk request: the riskbits to add (with the key their rejection
/// would be reported under, should the store refuse them) and the items already refused.
#[derive(Debug, Default)]
pub struct BulkPlan {
    pub valid: Vec<(String, Riskbit)>,
    pub rejected: Vec<(String, String)>,
}

impl BulkPlan {
    /// The `data` of the bulk reply: each rejected item's key and why.
    pub fn rejections(&self) -> Map<String, Value> {
        self.rejected
            .iter()
            .map(|(key, reason)| (key.clone(), Value::String(reason.clone())))
            .collect()
    }
}

/// How a bulk item is named in the reply: its position (from 0) and, when it has one, its
/// rating level, so a person finds it in what they sent.
pub fn item_key(index: usize, item: &Value) -> String {
    match item.get("ratingLevel").and_then(Value::as_str) {
        Some(level) if !level.trim().is_empty() => {
            let level: String = level.trim().chars().take(MAX_RATING_LEVEL_CHARS).collect();
            format!("item {index} (ratingLevel {level})")
        }
        _ => format!("item {index}"),
    }
}

/// Checks a bulk body: it must be an array (else nothing is added); each item is checked on
/// its own, and a rating level given twice in one request is added once.
pub fn plan_bulk(body: &Value, realm: &str) -> Result<BulkPlan, Error> {
    let Value::Array(items) = body else {
        return Err(Error::Invalid(
            "the body must be a JSON array of riskbits".into(),
        ));
    };
    if items.len() > MAX_BULK_ITEMS {
        return Err(Error::Invalid(format!(
            "at most {MAX_BULK_ITEMS} riskbits per request"
        )));
    }
    let mut plan = BulkPlan::default();
    let mut levels = HashSet::new();
    for (index, item) in items.iter().enumerate() {
        let key = item_key(index, item);
        let checked = match item {
            Value::Object(_) => RiskbitInput::deserialize(item)
                .map_err(|e| Error::Invalid(format!("not a riskbit: {e}")))
                .and_then(|input| input.validate(realm)),
            _ => Err(Error::Invalid("not a JSON object".into())),
        };
        match checked {
            Ok(riskbit) if !levels.insert(riskbit.rating_level.clone()) => {
                let reason = format!(
                    "ratingLevel {} appears earlier in this request",
                    riskbit.rating_level
                );
                plan.rejected.push((key, reason));
            }
            Ok(riskbit) => plan.valid.push((key, riskbit)),
            Err(e) => plan.rejected.push((key, e.to_string())),
        }
    }
    Ok(plan)
}

/// What `POST .../verify` asks: a risk name on a platform and/or a device score.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyInput {
    #[serde(rename = "riskName")]
    pub risk_name: Option<String>,
    pub platform: Option<String>,
    pub score: Option<Value>,
}

/// A checked verify request.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifyQuery {
    pub platform: Platform,
    pub risk_name: Option<String>,
    pub score: Option<i32>,
}

impl VerifyInput {
    pub fn validate(&self) -> Result<VerifyQuery, Error> {
        let platform =
            Platform::parse(self.platform.as_deref().unwrap_or("")).map_err(Error::Invalid)?;
        let risk_name = match self.risk_name.as_deref().map(str::trim) {
            Some("") => return Err(Error::Invalid("riskName must not be empty".into())),
            Some(name) => Some(name.to_owned()),
            None => None,
        };
        let score = match &self.score {
            None | Some(Value::Null) => None,
            Some(value) => Some(parse_score(value).map_err(Error::Invalid)?),
        };
        if risk_name.is_none() && score.is_none() {
            return Err(Error::Invalid(
                "riskName is required (or a score to look up)".into(),
            ));
        }
        Ok(VerifyQuery {
            platform,
            risk_name,
            score,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn score_ranges_parse_with_both_ends_included() {
        let r = ScoreRange::parse("986-999").unwrap();
        assert_eq!((r.low, r.high), (986, 999));
        assert!(r.contains(986) && r.contains(999) && !r.contains(985) && !r.contains(1000));
        assert_eq!(ScoreRange::parse("001-003").unwrap().to_string(), "1-3");
        assert_eq!(ScoreRange::parse(" 5 - 5 ").unwrap().to_string(), "5-5");
        assert_eq!(
            ScoreRange::parse("0-2147483647").unwrap().high,
            i32::MAX,
            "the largest bound"
        );
        for bad in [
            "",
            "986",
            "986-",
            "-999",
            "-5-10",
            "5-10-20",
            "a-b",
            "1.5-2",
            "1e3-2000",
            "+1-2",
            "0-2147483648",
            "0-99999999999999999999",
            "10-5",
        ] {
            let err = ScoreRange::parse(bad).unwrap_err();
            assert!(err.contains("score"), "{bad}: {err}");
        }
        assert!(
            ScoreRange::parse("10-5")
                .unwrap_err()
                .contains("lower number first")
        );
    }

    #[test]
    fn device_scores_are_whole_numbers_or_digit_strings() {
        assert_eq!(parse_score(&json!(928)), Ok(928));
        assert_eq!(parse_score(&json!("0500")), Ok(500));
        for bad in [
            json!(-1),
            json!(1.5),
            json!("12a"),
            json!(""),
            json!(true),
            json!(2_147_483_648_u64),
        ] {
            assert!(parse_score(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn platforms_are_android_or_ios_in_any_case() {
        assert_eq!(Platform::parse("android"), Ok(Platform::Android));
        assert_eq!(Platform::parse(" ANDROID "), Ok(Platform::Android));
        assert_eq!(Platform::parse("iOS"), Ok(Platform::Ios));
        assert!(Platform::parse("windows").unwrap_err().contains("windows"));
        assert!(Platform::parse("").unwrap_err().contains("required"));
        assert!(Platform::parse("i os").is_err());
    }

    #[test]
    fn risk_name_lists_split_on_commas() {
        let names = parse_risk_names(
            Platform::Ios,
            Some("JBreak[400], JBreak[5455],CodeInjection[6][7],JBreak[400]"),
        )
        .unwrap();
        assert_eq!(
            names,
            ["JBreak[400]", "JBreak[5455]", "CodeInjection[6][7]"],
            "trimmed, duplicates dropped, order kept"
        );
        // The seed's own unbalanced name is a name like any other.
        assert_eq!(
            parse_risk_names(Platform::Android, Some("Manipulation[2](9")).unwrap(),
            ["Manipulation[2](9"]
        );
        assert!(
            parse_risk_names(Platform::Android, None)
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_risk_names(Platform::Android, Some("  "))
                .unwrap()
                .is_empty()
        );
        for bad in ["a,,b", "a,", ",a", " , "] {
            let err = parse_risk_names(Platform::Android, Some(bad)).unwrap_err();
            assert!(
                err.contains("riskAndroid") && err.contains("empty"),
                "{bad}: {err}"
            );
        }
        assert!(parse_risk_names(Platform::Ios, Some("a\u{0}b")).is_err());
        assert!(parse_risk_names(Platform::Ios, Some(&"x".repeat(201))).is_err());
        let many = (0..101)
            .map(|i| format!("r{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_risk_names(Platform::Ios, Some(&many)).is_err());
    }

    #[test]
    fn risks_are_percentages() {
        for ok in ["0.80%", "41.77", "9.5%", "100", "0", " 3.10% "] {
            assert!(check_risk(ok).is_ok(), "{ok}");
        }
        assert_eq!(check_risk(" 3.10% ").unwrap(), "3.10%");
        for bad in [
            "", "%", "abc", "-1%", "100.5", "1e1", "NaN", "inf", "1.2.3", ".",
        ] {
            assert!(check_risk(bad).is_err(), "{bad}");
        }
    }

    fn seed_item() -> RiskbitInput {
        RiskbitInput {
            rating_level: Some("E".into()),
            score: Some("949-961".into()),
            risk: Some("4.38%".into()),
            risk_android: Some("JBreak[1](300)".into()),
            risk_ios: Some("JBreak[400]".into()),
            operation: Some("ok".into()),
            realm_id: Some("aaiqa".into()),
            ..RiskbitInput::default()
        }
    }

    #[test]
    fn a_riskbit_is_checked_field_by_field() {
        let riskbit = seed_item().validate("aaiqa").unwrap();
        assert_eq!(riskbit.operation, "OK");
        assert_eq!(riskbit.risk_names(Platform::Ios), ["JBreak[400]"]);
        assert_eq!(
            riskbit.score,
            ScoreRange {
                low: 949,
                high: 961
            }
        );

        let without_realm = RiskbitInput {
            realm_id: None,
            ..seed_item()
        };
        assert!(
            without_realm.validate("aaiqa").is_ok(),
            "realmId is optional"
        );
        assert!(matches!(
            seed_item().validate("malda"),
            Err(Error::RealmMismatch)
        ));
        let cases: Vec<(RiskbitInput, &str)> = vec![
            (
                RiskbitInput {
                    rating_level: None,
                    ..seed_item()
                },
                "ratingLevel is required",
            ),
            (
                RiskbitInput {
                    score: Some("949to961".into()),
                    ..seed_item()
                },
                "score",
            ),
            (
                RiskbitInput {
                    risk: None,
                    ..seed_item()
                },
                "risk is required",
            ),
            (
                RiskbitInput {
                    operation: Some("DENY".into()),
                    ..seed_item()
                },
                "unknown operation",
            ),
            (
                RiskbitInput {
                    operation: None,
                    ..seed_item()
                },
                "operation is required",
            ),
            (
                RiskbitInput {
                    risk_ios: Some("a,,b".into()),
                    ..seed_item()
                },
                "riskIOS lists an empty risk name",
            ),
        ];
        for (input, expected) in cases {
            let err = input.validate("aaiqa").unwrap_err().to_string();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn bulk_requests_add_what_is_valid_and_say_why_the_rest_is_not() {
        let body = json!([
            {"ratingLevel": "A", "score": "986-999", "risk": "0.80%", "operation": "OK",
             "realmId": "aaiqa", "riskAndroid": "", "riskIOS": ""},
            {"ratingLevel": "K", "score": "492-638", "risk": "41.77", "operation": "HIGH_RISK",
             "realmId": "malda"},
            {"ratingLevel": "A", "score": "1-2", "risk": "1%", "operation": "OK"},
            "not an object",
            {"ratingLevel": "Z", "score": 5, "risk": "1%", "operation": "OK"},
            {"ratingLevel": "Y", "score": "1-2", "risk": "1%", "operation": "OK", "colour": 1},
        ]);
        let plan = plan_bulk(&body, "aaiqa").unwrap();
        assert_eq!(plan.valid.len(), 1);
        assert_eq!(plan.valid[0].0, "item 0 (ratingLevel A)");
        let rejections = plan.rejections();
        assert_eq!(rejections.len(), 5, "{rejections:?}");
        assert_eq!(
            rejections["item 1 (ratingLevel K)"],
            "Mismatch in realm specified in path param and request body"
        );
        assert!(
            rejections["item 2 (ratingLevel A)"]
                .as_str()
                .unwrap()
                .contains("earlier in this request")
        );
        assert_eq!(rejections["item 3"], "not a JSON object");
        assert!(
            rejections["item 4 (ratingLevel Z)"]
                .as_str()
                .unwrap()
                .contains("invalid type")
        );
        assert!(
            rejections["item 5 (ratingLevel Y)"]
                .as_str()
                .unwrap()
                .contains("unknown field `colour`")
        );

        for not_a_list in [json!({"ratingLevel": "A"}), json!("A"), json!(null)] {
            assert!(plan_bulk(&not_a_list, "aaiqa").is_err(), "{not_a_list}");
        }
        let too_many = Value::Array(vec![json!({}); MAX_BULK_ITEMS + 1]);
        assert!(plan_bulk(&too_many, "aaiqa").is_err());
        assert!(plan_bulk(&json!([]), "aaiqa").unwrap().valid.is_empty());
    }

    #[test]
    fn verify_needs_a_platform_and_a_name_or_a_score() {
        let input = |v: Value| serde_json::from_value::<VerifyInput>(v).unwrap().validate();
        let q = input(json!({"riskName": " JBreak[400] ", "platform": "IOS"})).unwrap();
        assert_eq!(q.platform, Platform::Ios);
        assert_eq!(q.risk_name.as_deref(), Some("JBreak[400]"));
        assert_eq!(q.score, None);
        let q = input(json!({"platform": "android", "score": "928"})).unwrap();
        assert_eq!((q.risk_name, q.score), (None, Some(928)));
        for (bad, expected) in [
            (json!({"riskName": "x"}), "platform is required"),
            (
                json!({"riskName": "x", "platform": "symbian"}),
                "unknown platform",
            ),
            (
                json!({"riskName": "  ", "platform": "ios"}),
                "riskName must not be empty",
            ),
            (json!({"platform": "ios"}), "riskName is required"),
            (json!({"platform": "ios", "score": "high"}), "score must be"),
        ] {
            let err = input(bad.clone()).unwrap_err().to_string();
            assert!(err.contains(expected), "{bad}: {err}");
        }
    }
}
