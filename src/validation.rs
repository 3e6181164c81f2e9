//! Pure checks shared by the provider block, resources and data sources.
//!
//! Each returns `Err(detail)` with a sentence a user can act on; callers attach the attribute path.

use std::time::Duration;

/// An AWS account id: exactly 12 digits.
pub fn account_id(s: &str) -> Result<(), String> {
    if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!("{s:?} is not an AWS account id (12 digits)."))
    }
}

/// An email address as AWS Organizations accepts it: 6–64 characters of 7-bit ASCII, one `@`,
/// a non-empty local part, and a domain with a dot that neither starts nor ends with one.
pub fn email(s: &str) -> Result<(), String> {
    if s.len() < 6 || s.len() > 64 {
        return Err(format!("{s:?} must be 6 to 64 characters long (it is {}).", s.len()));
    }
    if !s.is_ascii() || s.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return Err(format!("{s:?} must be 7-bit ASCII without spaces."));
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} must contain exactly one @."));
    };
    if local.is_empty() {
        return Err(format!("{s:?} has nothing before the @."));
    }
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') || domain.contains("..") {
        return Err(format!("The domain of {s:?} must contain a dot and no empty labels."));
    }
    if !domain.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
        return Err(format!("The domain of {s:?} may contain only letters, digits, dots and hyphens."));
    }
    Ok(())
}

/// A Terraform-style duration such as `90s`, `5m`, `1h30m`.
pub fn duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration; use a number with a unit, e.g. \"30s\", \"5m\" or \"1h30m\".");
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0.001
            }
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad()),
        };
        let n: f64 = num.parse().map_err(|_| bad())?;
        total += n * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    // A deadline is `now + duration`: a value the clock cannot hold would overflow (and panic).
    if !total.is_finite() || total > MAX_DURATION.as_secs_f64() {
        return Err(format!("{s:?} is longer than the longest duration allowed, 8760h (one year)."));
    }
    Ok(Duration::from_secs_f64(total))
}

/// The longest duration any timeout or interval may have.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

/// An IAM role or other entity name: 1–64 characters of `\w+=,.@-`.
pub fn iam_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 64 {
        return Err(format!("{s:?} must be 1 to 64 characters long."));
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)) {
        return Err(format!("{s:?} may contain only letters, digits and _+=,.@-"));
    }
    Ok(())
}

/// An IAM role ARN.
pub fn role_arn(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && account_id(parts[4]).is_ok()
        && parts[5].strip_prefix("role/").is_some_and(|r| !r.is_empty());
    if ok { Ok(()) } else { Err(format!("{s:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/Name).")) }
}

/// The account and the role name (without its path) of a role ARN, as an assumed-role session
/// ARN names them (`arn:aws:sts::<account>:assumed-role/<name>/<session>`).
pub fn role_arn_parts(s: &str) -> Option<(String, String)> {
    role_arn(s).ok()?;
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let name = parts[5].rsplit('/').next().filter(|n| !n.is_empty())?;
    Some((parts[4].to_string(), name.to_string()))
}

/// An ARN of the given service (`sns`, `states`, `codestar-connections`, ...).
pub fn service_arn(s: &str, service: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == service
        && account_id(parts[4]).is_ok()
        && !parts[5].is_empty();
    if ok { Ok(()) } else { Err(format!("{s:?} is not an ARN of service {service}.")) }
}

/// An AWS region name such as `us-east-1`.
pub fn region(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if ok { Ok(()) } else { Err(format!("{s:?} is not an AWS region name (e.g. us-east-1).")) }
}

/// An http(s) URL.
pub fn url(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix("http://").or_else(|| s.strip_prefix("https://"));
    match rest {
        Some(r) if !r.is_empty() && !r.starts_with('/') && !r.contains(' ') => Ok(()),
        _ => Err(format!("{s:?} is not an http:// or https:// URL.")),
    }
}

/// An organizational unit id (`ou-xxxx-xxxxxxxx`) or root id (`r-xxxx`).
pub fn ou_id(s: &str) -> Result<(), String> {
    let ok = if let Some(rest) = s.strip_prefix("ou-") {
        let mut p = rest.split('-');
        matches!((p.next(), p.next(), p.next()), (Some(a), Some(b), None)
            if (4..=32).contains(&a.len()) && (8..=32).contains(&b.len())
            && a.chars().chain(b.chars()).all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
    } else if let Some(rest) = s.strip_prefix("r-") {
        (4..=32).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    } else {
        false
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{s:?} is not an organizational unit id (ou-xxxx-xxxxxxxx) or root id (r-xxxx)."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arn_parts_name_the_account_and_the_role_without_its_path() {
        assert_eq!(
            role_arn_parts("arn:aws:iam::111122223333:role/AWSAFTAdmin"),
            Some(("111122223333".into(), "AWSAFTAdmin".into()))
        );
        assert_eq!(
            role_arn_parts("arn:aws:iam::111122223333:role/aft/AWSAFTAdmin"),
            Some(("111122223333".into(), "AWSAFTAdmin".into()))
        );
        assert_eq!(role_arn_parts("arn:aws:iam::111122223333:user/ci"), None);
    }

    #[test]
    fn emails() {
        assert!(email("a@example.com").is_ok());
        for bad in [
            "",
            "a@b.c",
            "no-at.example.com",
            "a@@example.com",
            "a@example",
            "a@.example.com",
            "@example.com",
            "a b@example.com",
            "ä@example.com",
            "a@example..com",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email(&format!("{}@example.com", "x".repeat(60))).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "5", "m", "5x", "1h5"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
        assert_eq!(duration("8760h").unwrap(), MAX_DURATION);
        // too large for the clock: errors, never a panic in `Duration` or `Instant + Duration`
        for huge in ["99999999999999999999s", "3000000000000000h", "8760h1s"] {
            let e = duration(huge).unwrap_err();
            assert!(e.contains("longest duration allowed"), "{huge}: {e}");
        }
    }

    #[test]
    fn ids_and_arns() {
        assert!(account_id("123456789012").is_ok());
        assert!(account_id("12345678901").is_err());
        assert!(role_arn("arn:aws:iam::123456789012:role/AWSAFTAdmin").is_ok());
        assert!(role_arn("arn:aws:iam::123456789012:user/x").is_err());
        assert!(service_arn("arn:aws:sns:us-east-1:123456789012:aft-notifications", "sns").is_ok());
        assert!(service_arn("arn:aws:sqs:us-east-1:123456789012:q", "sns").is_err());
        assert!(ou_id("ou-ab12-cdefgh34").is_ok());
        assert!(ou_id("r-ab12").is_ok());
        assert!(ou_id("ou-ab12").is_err());
        assert!(region("us-east-1").is_ok());
        assert!(region("useast1").is_err());
        assert!(url("http://127.0.0.1:5000").is_ok());
        assert!(url("127.0.0.1:5000").is_err());
        assert!(iam_name("AWSAFT-Session").is_ok());
        assert!(iam_name("bad name").is_err());
    }
}
