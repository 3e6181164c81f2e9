//! Organizations lookups: accounts by id or email, parents, tags, and OU resolution.
//! Not-found is a value (`None`), not an error.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use aws_sdk_organizations::Client;
use aws_sdk_organizations::types::{Account, ChildType};

use super::{AwsError, AwsResultExt};

/// What AFT records about an account.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountInfo {
    pub id: String,
    pub arn: String,
    pub email: String,
    pub name: String,
    /// The account's `State` (`PENDING_ACTIVATION`, `ACTIVE`, `SUSPENDED`, `PENDING_CLOSURE`,
    /// `CLOSED`), or its legacy `Status` when the answer has no `State`.
    pub status: String,
    /// `CREATED` or `INVITED`.
    pub joined_method: String,
    /// As AFT formats it: `2021-06-15 13:57:35.129000+00:00`.
    pub joined_date: String,
}

impl From<&Account> for AccountInfo {
    fn from(a: &Account) -> Self {
        AccountInfo {
            id: a.id().unwrap_or_default().to_string(),
            arn: a.arn().unwrap_or_default().to_string(),
            email: a.email().unwrap_or_default().to_string(),
            name: a.name().unwrap_or_default().to_string(),
            // `State` replaces `Status` (retired by AWS on 2026-09-09); either is read
            status: a
                .state()
                .map(|s| s.as_str().to_string())
                .or_else(|| a.status().map(|s| s.as_str().to_string()))
                .unwrap_or_default(),
            joined_method: a.joined_method().map(|s| s.as_str().to_string()).unwrap_or_default(),
            joined_date: a.joined_timestamp().map(python_datetime).unwrap_or_default(),
        }
    }
}

/// Formats a timestamp the way AFT stores it: Python's `str(datetime)` of what boto3 makes of
/// the answer. AWS sends an epoch number (`1623765455.129`); boto3 builds the datetime with
/// `datetime.fromtimestamp`, which rounds the fraction to microseconds half-to-even, and `str`
/// prints no fraction at all when it is zero (`…:36+00:00`). The SDK keeps the same number as
/// seconds and truncated nanoseconds, so the float is rebuilt and rounded the same way.
pub fn python_datetime(t: &aws_smithy_types::DateTime) -> String {
    let f = t.as_secs_f64();
    let mut secs = f.floor();
    let mut micros = ((f - secs) * 1e6).round_ties_even();
    if micros >= 1e6 {
        secs += 1.0;
        micros -= 1e6;
    }
    match time::OffsetDateTime::from_unix_timestamp(secs as i64) {
        Ok(dt) => {
            let fraction = if micros == 0.0 { String::new() } else { format!(".{:06}", micros as u32) };
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}{fraction}+00:00",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            )
        }
        Err(_) => String::new(),
    }
}

/// Describes an account; `None` when it does not exist.
pub async fn describe_account(c: &Client, id: &str) -> Result<Option<AccountInfo>, AwsError> {
    match c.describe_account().account_id(id).send().await.aws("organizations:DescribeAccount") {
        Ok(out) => Ok(out.account().map(AccountInfo::from)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.in_account(id)),
    }
}

/// Every account of the organization (paged `ListAccounts`).
pub async fn list_accounts(c: &Client) -> Result<Vec<AccountInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = c.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("organizations:ListAccounts")?;
        out.extend(page.accounts().iter().map(AccountInfo::from));
    }
    Ok(out)
}

/// The account with this email, compared ignoring case as AFT does; `None` when absent.
pub async fn find_account_by_email(c: &Client, email: &str) -> Result<Option<AccountInfo>, AwsError> {
    Ok(list_accounts(c).await?.into_iter().find(|a| a.email.eq_ignore_ascii_case(email)))
}

/// The organization's accounts by email, listed once by a provider process and shared by all
/// its creations and lookups (one value per process: `Context::memo`).
///
/// Organizations has no lookup by email. Paging the whole organization before each
/// CreateAccount made the creates of a fleet of N cost on the order of N² / 20 pages (97,401 of
/// the 196,899 calls of a 2,500-account apply). One listing serves every lookup of the process
/// instead, with the accounts the process creates added as it goes. An account another
/// principal creates after the listing is not in it: Organizations then refuses the
/// CreateAccount with `EMAIL_ALREADY_EXISTS`, and that failure looks again in a listing that
/// started after it (`vend::create_with_organizations`). Data sources and imports by email use it
/// too: one listing per plan, not one per instance. A lookup that needs a newer listing
/// ([`Freshness::After`]) waits for whichever listing is being read and shares it when it
/// started late enough, so concurrent creates page the organization once, not once each.
#[derive(Default)]
pub struct AccountsByEmail {
    listing: tokio::sync::Mutex<Option<Listing>>,
}

/// One listing of the organization: account ids by email (lowercase: AFT compares emails
/// ignoring case, as Organizations does).
struct Listing {
    started: Instant,
    ids: HashMap<String, String>,
}

/// How recent the listing behind a lookup must be.
#[derive(Clone, Copy, Debug)]
pub enum Freshness {
    /// Any listing of this process, with the accounts it created since.
    Process,
    /// A listing that started after this moment.
    After(Instant),
}

impl AccountsByEmail {
    /// The account with this email as the organization describes it now (a listed account is
    /// described again: its state may have changed since); `None` when absent.
    pub async fn find(&self, org: &Client, email: &str, fresh: Freshness) -> Result<Option<AccountInfo>, AwsError> {
        let key = email.to_ascii_lowercase();
        let id = {
            let mut listing = self.listing.lock().await;
            let stale = match (&*listing, fresh) {
                (None, _) => true,
                (Some(l), Freshness::After(t)) => l.started < t,
                (Some(_), Freshness::Process) => false,
            };
            if stale {
                let started = Instant::now();
                let accounts = list_accounts(org).await?;
                let ids = accounts.into_iter().map(|a| (a.email.to_ascii_lowercase(), a.id)).collect();
                *listing = Some(Listing { started, ids });
            }
            listing.as_ref().and_then(|l| l.ids.get(&key).cloned())
        };
        let Some(id) = id else { return Ok(None) };
        match describe_account(org, &id).await? {
            Some(a) if a.email.eq_ignore_ascii_case(email) => Ok(Some(a)),
            // it left the organization (or its email changed) since the listing
            _ => Ok(None),
        }
    }

    /// Adds an account this process created, so its later lookups find it without a listing.
    pub async fn record(&self, account: &AccountInfo) {
        if let Some(l) = self.listing.lock().await.as_mut() {
            l.ids.insert(account.email.to_ascii_lowercase(), account.id.clone());
        }
    }
}

/// How many times a read that cannot be empty is made before an empty answer is an error.
pub const NON_EMPTY_ATTEMPTS: u32 = 4;

/// Makes `read` (one whole, paged answer) until it names something. Every account and OU has a
/// parent and every organization a root, so an empty answer is wrong, never "none": it is read
/// again a few times, then it is an error naming the call (and the account), never an empty id
/// that would become a move or a `parent_ou = ""`.
async fn non_empty<T, F, Fut>(api: &'static str, account: Option<&str>, mut read: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, AwsError>>,
{
    let mut pause = std::time::Duration::from_millis(200);
    for attempt in 1..=NON_EMPTY_ATTEMPTS {
        if let Some(v) = read().await? {
            return Ok(v);
        }
        tracing::warn!(api, account, attempt, "an answer that cannot be empty was empty; reading again");
        if attempt < NON_EMPTY_ATTEMPTS {
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
    }
    Err(AwsError {
        api,
        account: account.map(str::to_string),
        code: "EmptyAnswer".to_string(),
        message: format!("{NON_EMPTY_ATTEMPTS} answers in a row, each read to its last page, named nothing"),
    })
}

/// The parent (id, `ORGANIZATIONAL_UNIT` | `ROOT`) of an account or OU. `ListParents` is read
/// page by page (AWS documents that a List call may answer an empty page with a `NextToken`);
/// an answer that names no parent is read again, then an error (see [`non_empty`]).
pub async fn parent(c: &Client, id: &str) -> Result<(String, String), AwsError> {
    non_empty("organizations:ListParents", Some(id), || async {
        let mut pages = c.list_parents().child_id(id).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws("organizations:ListParents").map_err(|e| e.in_account(id))?;
            if let Some(p) = page.parents().iter().find(|p| p.id().is_some_and(|i| !i.is_empty())) {
                let kind = p.r#type().map(|t| t.as_str().to_string()).unwrap_or_default();
                return Ok(Some((p.id().unwrap_or_default().to_string(), kind)));
            }
        }
        Ok(None)
    })
    .await
}

/// The tags of an account or OU.
pub async fn tags(c: &Client, id: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let mut out = BTreeMap::new();
    let mut pages = c.list_tags_for_resource().resource_id(id).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("organizations:ListTagsForResource").map_err(|e| e.in_account(id))?;
        for t in page.tags() {
            out.insert(t.key().to_string(), t.value().to_string());
        }
    }
    Ok(out)
}

/// The root id of the organization. `ListRoots` is read page by page, and an answer that names
/// no root is read again, then an error (see [`non_empty`]).
pub async fn root_id(c: &Client) -> Result<String, AwsError> {
    non_empty("organizations:ListRoots", None, || async {
        let mut pages = c.list_roots().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.aws("organizations:ListRoots")?;
            if let Some(id) = page.roots().iter().filter_map(|r| r.id()).find(|i| !i.is_empty()) {
                return Ok(Some(id.to_string()));
            }
        }
        Ok(None)
    })
    .await
}

/// Every OU of the organization as (id, name, parent id), walking down from the root.
pub async fn all_ous(c: &Client) -> Result<Vec<(String, String, String)>, AwsError> {
    all_ous_under(c, &root_id(c).await?).await
}

/// Every OU below `root` as (id, name, parent id).
pub async fn all_ous_under(c: &Client, root: &str) -> Result<Vec<(String, String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut queue = vec![root.to_string()];
    while let Some(parent) = queue.pop() {
        for (id, name) in ous_for_parent(c, &parent).await? {
            queue.push(id.clone());
            out.push((id, name, parent.clone()));
        }
    }
    Ok(out)
}

/// The OUs directly below `parent` as (id, name) (paged `ListOrganizationalUnitsForParent`).
pub async fn ous_for_parent(c: &Client, parent: &str) -> Result<Vec<(String, String)>, AwsError> {
    let mut out = Vec::new();
    let mut pages = c.list_organizational_units_for_parent().parent_id(parent).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("organizations:ListOrganizationalUnitsForParent")?;
        out.extend(
            page.organizational_units()
                .iter()
                .map(|ou| (ou.id().unwrap_or_default().to_string(), ou.name().unwrap_or_default().to_string())),
        );
    }
    Ok(out)
}

/// The accounts directly below `parent` (paged `ListAccountsForParent`).
pub async fn accounts_in_parent(c: &Client, parent: &str) -> Result<Vec<AccountInfo>, AwsError> {
    let mut out = Vec::new();
    let mut pages = c.list_accounts_for_parent().parent_id(parent).into_paginator().send();
    while let Some(page) = pages.next().await {
        out.extend(page.aws("organizations:ListAccountsForParent")?.accounts().iter().map(AccountInfo::from));
    }
    Ok(out)
}

/// An OU reference as AFT accepts it: `Name`, `Name (ou-xxxx-xxxxxxxx)` or a bare `ou-` id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OuRef {
    Name(String),
    NameAndId(String, String),
    Id(String),
}

impl OuRef {
    /// Parses an OU string; `Err` says why it is not one.
    pub fn parse(s: &str) -> Result<OuRef, String> {
        let t = s.trim();
        if t.is_empty() {
            return Err("The organizational unit must not be empty.".into());
        }
        if t != s {
            return Err(format!("{s:?} has leading or trailing spaces."));
        }
        if t.starts_with("ou-") || t.starts_with("r-") {
            crate::validation::ou_id(t)?;
            return Ok(OuRef::Id(t.to_string()));
        }
        if let Some(open) = t.rfind(" (")
            && let Some(inner) = t[open + 2..].strip_suffix(')')
        {
            let name = &t[..open];
            crate::validation::ou_id(inner).map_err(|e| format!("In {s:?}: {e}"))?;
            check_ou_name(name)?;
            return Ok(OuRef::NameAndId(name.to_string(), inner.to_string()));
        }
        if t.contains('(') || t.contains(')') {
            return Err(format!("{s:?} is not `Name`, `Name (ou-xxxx-xxxxxxxx)` or an `ou-` id."));
        }
        check_ou_name(t)?;
        Ok(OuRef::Name(t.to_string()))
    }
}

fn check_ou_name(n: &str) -> Result<(), String> {
    if n.is_empty() || n.chars().count() > 128 {
        return Err(format!("The OU name {n:?} must be 1 to 128 characters long."));
    }
    if n.chars().any(|c| c.is_control()) {
        return Err(format!("The OU name {n:?} contains control characters."));
    }
    Ok(())
}

/// Resolves an OU reference to its id. A bare name that several OUs share is an error (AFT
/// silently picks the first, #147); `Name (ou-…)` must match both.
pub fn resolve_ou(ous: &[(String, String, String)], root: &str, r: &OuRef) -> Result<String, String> {
    match r {
        OuRef::Id(id) if id == root || ous.iter().any(|(i, _, _)| i == id) => Ok(id.clone()),
        OuRef::Id(id) => Err(format!("No organizational unit {id} exists in the organization.")),
        OuRef::NameAndId(name, id) => match ous.iter().find(|(i, _, _)| i == id) {
            Some((_, n, _)) if n == name => Ok(id.clone()),
            Some((_, n, _)) => Err(format!("Organizational unit {id} is named {n:?}, not {name:?}.")),
            None => Err(format!("No organizational unit {id} exists in the organization.")),
        },
        OuRef::Name(name) if name == "Root" => Ok(root.to_string()),
        OuRef::Name(name) => {
            let hits: Vec<_> = ous.iter().filter(|(_, n, _)| n == name).collect();
            match hits.as_slice() {
                [one] => Ok(one.0.clone()),
                [] => Err(format!("No organizational unit is named {name:?}.")),
                many => Err(format!(
                    "{} organizational units are named {name:?} ({}); write it as \"{name} (ou-…)\" to choose one.",
                    many.len(),
                    many.iter().map(|h| h.0.as_str()).collect::<Vec<_>>().join(", ")
                )),
            }
        }
    }
}

/// Lists the children accounts of a parent (root or OU).
pub async fn accounts_for_parent(c: &Client, parent: &str) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    let mut pages = c.list_children().parent_id(parent).child_type(ChildType::Account).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("organizations:ListChildren")?;
        out.extend(page.children().iter().filter_map(|c| c.id().map(str::to_string)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ou_strings() {
        assert_eq!(OuRef::parse("Sandbox").unwrap(), OuRef::Name("Sandbox".into()));
        assert_eq!(
            OuRef::parse("Sandbox (ou-ab12-cdefgh34)").unwrap(),
            OuRef::NameAndId("Sandbox".into(), "ou-ab12-cdefgh34".into())
        );
        assert_eq!(OuRef::parse("ou-ab12-cdefgh34").unwrap(), OuRef::Id("ou-ab12-cdefgh34".into()));
        for bad in ["", " Sandbox", "Sandbox (ou-x)", "Sandbox (", "ou-", "Sandbox (ou-ab12-cdefgh34"] {
            assert!(OuRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ou_resolution() {
        let ous = vec![
            ("ou-aaaa-11111111".to_string(), "Sandbox".to_string(), "r-root".to_string()),
            ("ou-aaaa-22222222".to_string(), "Dup".to_string(), "r-root".to_string()),
            ("ou-aaaa-33333333".to_string(), "Dup".to_string(), "ou-aaaa-11111111".to_string()),
        ];
        let r = |s: &str| resolve_ou(&ous, "r-root", &OuRef::parse(s).unwrap());
        assert_eq!(r("Sandbox").unwrap(), "ou-aaaa-11111111");
        assert!(r("Dup").unwrap_err().contains("2 organizational units"));
        assert_eq!(r("Dup (ou-aaaa-33333333)").unwrap(), "ou-aaaa-33333333");
        assert!(r("Sandbox (ou-aaaa-33333333)").is_err());
        assert!(r("Missing").is_err());
    }

    #[test]
    fn python_datetime_format() {
        // as the SDK reads AWS's epoch numbers: from the float, which is not exact in binary
        let p = |f: f64| python_datetime(&aws_smithy_types::DateTime::from_secs_f64(f));
        // each expected value is Python's str(datetime.fromtimestamp(f, timezone.utc))
        assert_eq!(p(1_623_765_455.129), "2021-06-15 13:57:35.129000+00:00");
        assert_eq!(p(1_623_765_455.3), "2021-06-15 13:57:35.300000+00:00");
        assert_eq!(p(1_623_765_456.0), "2021-06-15 13:57:36+00:00");
        assert_eq!(p(1_623_765_455.000_001), "2021-06-15 13:57:35.000001+00:00");
        assert_eq!(p(1_623_765_455.999_999_7), "2021-06-15 13:57:36+00:00");
        let exact = aws_smithy_types::DateTime::from_secs_and_nanos(1_623_765_455, 129_000_000);
        assert_eq!(python_datetime(&exact), "2021-06-15 13:57:35.129000+00:00");
    }
}
