//! Step 1: every rule about an account request that can be checked without AWS.
//!
//! AFT checks almost nothing before it runs (its module has no validation blocks); these rules
//! are what Organizations, Service Catalog, SSM and AFT's own code would reject later, moved to
//! plan time. Each problem names the field it concerns so the resource can point at it.

use std::collections::BTreeMap;

use super::request::CT_KEYS;
use crate::aws::organizations::OuRef;
use crate::validation;

/// The part of a request a problem is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// The `control_tower_parameters` map as a whole.
    CtParams,
    /// One key of `control_tower_parameters`.
    CtParam(String),
    /// The `account_tags` map as a whole.
    Tags,
    /// One key of `account_tags`.
    Tag(String),
    /// One key of `custom_fields`.
    CustomField(String),
    /// `account_customizations_name`.
    CustomizationsName,
    /// `parking_organizational_unit`.
    ParkingOu,
}

/// One rule a request breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: Field,
    pub summary: String,
    pub detail: String,
}

fn problem(field: Field, summary: &str, detail: impl Into<String>) -> Problem {
    Problem { field, summary: summary.to_string(), detail: detail.into() }
}

/// The known parts of a request, as the resource has them at plan time (unknown values are absent).
#[derive(Clone, Debug, Default)]
pub struct Draft {
    /// `None` when the whole map is unknown.
    pub control_tower_parameters: Option<BTreeMap<String, Option<String>>>,
    pub account_tags: Option<BTreeMap<String, Option<String>>>,
    pub custom_fields: Option<BTreeMap<String, Option<String>>>,
    pub account_customizations_name: Option<String>,
    pub parking_organizational_unit: Option<String>,
}

pub const MAX_TAGS: usize = 50;

fn tag_chars_ok(s: &str) -> bool {
    s.chars().all(|c| c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c))
}

fn closest_key(k: &str) -> Option<&'static str> {
    CT_KEYS
        .iter()
        .copied()
        .find(|c| c.eq_ignore_ascii_case(k))
        .or_else(|| CT_KEYS.iter().copied().min_by_key(|c| edit_distance(c, k)).filter(|c| edit_distance(c, k) <= 3))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push((prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn check_name(key: &str, v: &str, max: usize, out: &mut Vec<Problem>) {
    let n = v.chars().count();
    if v.trim().is_empty() {
        out.push(problem(
            Field::CtParam(key.into()),
            &format!("Empty {key}"),
            format!("{key} must not be empty or blank."),
        ));
    } else if n > max {
        out.push(problem(
            Field::CtParam(key.into()),
            &format!("{key} too long"),
            format!("{key} is {n} characters; at most {max} are allowed."),
        ));
    } else if !v.chars().all(|c| (' '..='~').contains(&c)) {
        out.push(problem(
            Field::CtParam(key.into()),
            &format!("Invalid {key}"),
            format!("{v:?} may contain only printable ASCII characters."),
        ));
    }
}

/// Checks a draft request; returns every problem found.
pub fn check(d: &Draft) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(ct) = &d.control_tower_parameters {
        for key in CT_KEYS {
            if !ct.contains_key(key) {
                out.push(problem(
                    Field::CtParam(key.into()),
                    &format!("Missing {key}"),
                    format!(
                        "control_tower_parameters must set {key}; AFT requires all six keys: {}.",
                        CT_KEYS.join(", ")
                    ),
                ));
            }
        }
        for (key, value) in ct {
            if !CT_KEYS.contains(&key.as_str()) {
                let hint = closest_key(key).map(|c| format!(" Did you mean {c}?")).unwrap_or_default();
                out.push(problem(
                    Field::CtParam(key.clone()),
                    "Unknown control_tower_parameters key",
                    format!(
                        "{key:?} is not an AFT Control Tower parameter.{hint} The keys are {}.",
                        CT_KEYS.join(", ")
                    ),
                ));
                continue;
            }
            let Some(v) = value else { continue };
            match key.as_str() {
                "AccountEmail" | "SSOUserEmail" => {
                    if let Err(e) = validation::email(v) {
                        out.push(problem(Field::CtParam(key.clone()), &format!("Invalid {key}"), e));
                    }
                }
                "AccountName" => check_name(key, v, 50, &mut out),
                "SSOUserFirstName" | "SSOUserLastName" => check_name(key, v, 50, &mut out),
                "ManagedOrganizationalUnit" => {
                    if let Err(e) = OuRef::parse(v) {
                        out.push(problem(Field::CtParam(key.clone()), "Invalid ManagedOrganizationalUnit", e));
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(tags) = &d.account_tags {
        if tags.len() > MAX_TAGS {
            out.push(problem(
                Field::Tags,
                "Too many account tags",
                format!("{} tags; Organizations allows {MAX_TAGS}.", tags.len()),
            ));
        }
        for (k, v) in tags {
            let f = || Field::Tag(k.clone());
            if k.is_empty() || k.chars().count() > 128 {
                out.push(problem(f(), "Invalid tag key", format!("Tag keys must be 1 to 128 characters ({k:?}).")));
            } else if k.to_ascii_lowercase().starts_with("aws:") {
                out.push(problem(
                    f(),
                    "Reserved tag key",
                    format!("{k:?}: keys beginning with \"aws:\" are reserved for AWS."),
                ));
            } else if !tag_chars_ok(k) {
                out.push(problem(
                    f(),
                    "Invalid tag key",
                    format!("{k:?} may contain only letters, digits, spaces and _ . : / = + - @."),
                ));
            }
            if let Some(v) = v {
                if v.chars().count() > 256 {
                    out.push(problem(
                        f(),
                        "Invalid tag value",
                        format!("The value of {k:?} is longer than 256 characters."),
                    ));
                } else if !tag_chars_ok(v) {
                    out.push(problem(
                        f(),
                        "Invalid tag value",
                        format!("The value of {k:?} may contain only letters, digits, spaces and _ . : / = + - @."),
                    ));
                }
            }
        }
    }
    if let Some(cf) = &d.custom_fields {
        for (k, v) in cf {
            let f = || Field::CustomField(k.clone());
            if k.is_empty() || k.len() > 900 || !k.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                out.push(problem(
                    f(),
                    "Invalid custom field key",
                    format!("{k:?} becomes the SSM parameter /aft/account-request/custom-fields/{k}: use 1 to 900 of a-z A-Z 0-9 _ . -"),
                ));
            }
            if let Some(v) = v {
                if v.is_empty() {
                    out.push(problem(
                        f(),
                        "Empty custom field",
                        format!("The value of {k:?} is empty; SSM parameters need a value."),
                    ));
                } else if v.len() > 4096 {
                    out.push(problem(
                        f(),
                        "Custom field too long",
                        format!("The value of {k:?} exceeds 4096 bytes (an SSM standard parameter)."),
                    ));
                }
            }
        }
    }
    if let Some(n) = &d.account_customizations_name
        && (n.len() > 128 || !n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)))
    {
        out.push(problem(
            Field::CustomizationsName,
            "Invalid account_customizations_name",
            format!(
                "{n:?} names a folder of the account customizations repository: use up to 128 of a-z A-Z 0-9 _ . -"
            ),
        ));
    }
    if let Some(p) = &d.parking_organizational_unit
        && let Err(e) = OuRef::parse(p)
    {
        out.push(problem(Field::ParkingOu, "Invalid parking_organizational_unit", e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(pairs: &[(&str, &str)]) -> Option<BTreeMap<String, Option<String>>> {
        Some(pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect())
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("AccountEmail", "a@example.com"),
            ("AccountName", "Sandbox A"),
            ("ManagedOrganizationalUnit", "Sandbox"),
            ("SSOUserEmail", "owner@example.com"),
            ("SSOUserFirstName", "Ada"),
            ("SSOUserLastName", "Lovelace"),
        ]
    }

    #[test]
    fn a_good_request_passes() {
        assert_eq!(check(&Draft { control_tower_parameters: ct(&good()), ..Default::default() }), vec![]);
    }

    #[test]
    fn typo_key_is_reported_with_a_suggestion_and_missing_key_too() {
        let mut p = good();
        p.retain(|(k, _)| *k != "SSOUserEmail");
        p.push(("SSOUserEmial", "x@example.com"));
        let probs = check(&Draft { control_tower_parameters: ct(&p), ..Default::default() });
        assert!(
            probs.iter().any(|x| x.field == Field::CtParam("SSOUserEmail".into()) && x.summary.starts_with("Missing"))
        );
        let typo = probs.iter().find(|x| x.field == Field::CtParam("SSOUserEmial".into())).unwrap();
        assert!(typo.detail.contains("Did you mean SSOUserEmail?"), "{}", typo.detail);
    }

    #[test]
    fn tags_and_custom_fields() {
        let tags = Some([("aws:x".to_string(), Some("1".to_string())), ("ok".into(), Some("v".into()))].into());
        let cf = Some([("bad key".to_string(), Some("v".to_string())), ("k".into(), Some(String::new()))].into());
        let probs = check(&Draft { account_tags: tags, custom_fields: cf, ..Default::default() });
        assert_eq!(probs.len(), 3, "{probs:?}");
    }

    #[test]
    fn unknown_values_are_not_judged() {
        let mut m: BTreeMap<String, Option<String>> = ct(&good()).unwrap();
        m.insert("AccountEmail".into(), None);
        assert!(check(&Draft { control_tower_parameters: Some(m), ..Default::default() }).is_empty());
    }
}
