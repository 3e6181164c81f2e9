//! Part of step 3: the account's row in AFT's own `aft-request` table, written so that AFT's
//! Lambdas see a provider-managed account as one of theirs, and only where that is safe.
//!
//! Why a row at all: AFT's `aft-customizations-identify-targets` Lambda looks up every target's
//! row by its Organizations email (`get_account_request_record`) and fails the whole run, AFT's
//! own accounts included, when one is missing.
//!
//! Why not always: in a live AFT deployment that table's stream drives
//! `aft-account-request-action-trigger` (`AccountRequestRecordHandler.process_request`): an INSERT
//! of a row for an enrolled account starts AFT's whole provisioning framework on it, a REMOVE
//! invokes AFT's cleanup Lambda (deletes the pipeline and the metadata item). And AFT's Control
//! Tower event rule hands every `CreateManagedAccount` and `UpdateManagedAccount` event to
//! `aft-invoke-aft-account-provisioning-framework`, which reads the account's row by email and
//! starts AFT's framework from it without reading `control_tower_parameters`: whatever the vending
//! method (Control Tower's console updates accounts vended by Organizations too), and whether the
//! row is full or inert. So what is written depends on what listens ([`Deployment`]) and on
//! `aft_request_rows` ([`RowMode`]); see `docs/guides/migrating-from-aft.md`.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;

use super::request::{AccountRequest, RequestOwner};
use crate::aws::{AwsError, AwsResultExt, clients, organizations};
use crate::context::Context;

/// AFT's SSM parameter that names its request table.
pub const TABLE_PARAMETER: &str = "/aft/resources/ddb/aft-request-table-name";
/// AFT's default request table name.
pub const DEFAULT_TABLE: &str = "aft-request";
/// AFT's EventBridge rule (on [`CT_EVENT_BUS`]) that hands Control Tower events to AFT's framework.
pub const CT_EVENT_RULE: &str = "aft-controltower-event-logger";
/// The bus AFT forwards Control Tower management events to.
pub const CT_EVENT_BUS: &str = "aft-events-from-ct-management";
/// The attribute that marks a row this provider wrote (AFT passes extra attributes through).
pub const OWNER_ATTRIBUTE: &str = "managed_by";
/// Its value.
pub const OWNER: &str = "terraform-provider-aft";

pub use crate::context::RowMode;

/// What listens to AFT's request table (or, for [`Deployment::Table`]'s `event_rule`, to AFT's
/// Control Tower event rule alone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listeners {
    /// Nothing: the stream is off, or no event source mapping reads it (and AFT's Control Tower
    /// event rule is off or absent).
    Nothing,
    /// These do (an event source mapping in any state counts: a disabled one that is enabled again
    /// resumes from where it stopped, within the stream's 24 hours).
    Some(Vec<String>),
    /// It could not be told (a call was refused); treated as listening.
    Unknown(String),
}

/// AFT's request table in this deployment, as read once per provider process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Deployment {
    /// There is no request table: nothing of AFT reads rows.
    NoTable { table: String },
    /// The table, and what listens to it: `listeners` is everything (the stream's event source
    /// mappings and AFT's Control Tower event rule), `event_rule` the rule alone, which acts on
    /// an inert row too.
    Table { table: String, listeners: Listeners, event_rule: Listeners },
}

/// What to do for one account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write AFT's full row.
    Full,
    /// Write the inert row.
    Inert,
    /// Write nothing, for this reason.
    Skip(String),
}

impl Deployment {
    /// The table's name.
    pub fn table(&self) -> &str {
        match self {
            Deployment::NoTable { table } | Deployment::Table { table, .. } => table,
        }
    }

    /// True when nothing listens to the table, so rows may be written and removed freely.
    pub fn quiet(&self) -> bool {
        matches!(self, Deployment::Table { listeners: Listeners::Nothing, .. })
    }

    /// What of AFT listens (its request table's stream mappings, its Control Tower event rule),
    /// said in a sentence; `None` when nothing does or there is no table.
    pub fn live(&self) -> Option<String> {
        match self {
            Deployment::Table { listeners: Listeners::Some(who), table, .. } => {
                Some(format!("{} listen to AFT's {table} table or to Control Tower's events", who.join(", ")))
            }
            Deployment::Table { listeners: Listeners::Unknown(why), table, .. } => {
                Some(format!("whether AFT's request processing listens to {table} could not be told ({why})"))
            }
            _ => None,
        }
    }

    /// True when AFT's Control Tower event rule is on, or whether it is could not be told.
    fn rule_may_listen(&self) -> bool {
        matches!(self, Deployment::Table { event_rule: Listeners::Some(_) | Listeners::Unknown(_), .. })
    }

    /// What `mode` writes here.
    pub fn decide(&self, mode: RowMode) -> Decision {
        let table = self.table();
        match (self, mode) {
            (_, RowMode::None) => Decision::Skip("aft_request_rows is \"none\"".into()),
            (Deployment::NoTable { .. }, _) => Decision::Skip(format!("there is no {table} table")),
            (_, RowMode::Full) => Decision::Full,
            (Deployment::Table { event_rule: Listeners::Some(who), .. }, RowMode::Inert) => Decision::Skip(format!(
                "{} starts AFT's framework from an inert row as from a full one, on any Control Tower event \
                 for the account",
                who.join(", ")
            )),
            (Deployment::Table { event_rule: Listeners::Unknown(why), .. }, RowMode::Inert) => Decision::Skip(format!(
                "whether AFT's Control Tower event rule {CT_EVENT_RULE} is on is unknown ({why})"
            )),
            (_, RowMode::Inert) => Decision::Inert,
            (Deployment::Table { listeners: Listeners::Nothing, .. }, RowMode::Auto) => Decision::Full,
            (Deployment::Table { listeners: Listeners::Some(who), .. }, RowMode::Auto) => {
                Decision::Skip(format!("AFT's request processing listens to {table} ({})", who.join(", ")))
            }
            (Deployment::Table { listeners: Listeners::Unknown(why), .. }, RowMode::Auto) => {
                Decision::Skip(format!("whether AFT's request processing listens to {table} is unknown ({why})"))
            }
        }
    }

    /// The plan-time warning for an account that gets no row although AFT reads the table.
    pub fn warning(&self, mode: RowMode) -> Option<String> {
        match self.decide(mode) {
            Decision::Skip(why) if mode == RowMode::Inert => Some(format!(
                "This account gets no row in {table}: {why}. Until it has one, AFT's own aft-invoke-customizations \
                 fails for every target (\"not found in {table}\"). Either disable the rule (aws events \
                 disable-rule --name {CT_EVENT_RULE} --event-bus-name {CT_EVENT_BUS}; the provider then writes \
                 the inert row), or set aft_request_rows = \"none\" to silence this.",
                table = self.table()
            )),
            // the rule acts on an inert row too, so "inert" is no way out while it may be on
            Decision::Skip(why) if mode == RowMode::Auto && self.rule_may_listen() => Some(format!(
                "This account gets no row in {table}: {why}. A row there would make AFT act on the account \
                 (its framework on INSERT and on Control Tower events, its cleanup on REMOVE). Until it has one, \
                 AFT's own aft-invoke-customizations fails for every target (\"not found in {table}\"). Either \
                 disable AFT's Control Tower event rule (aws events disable-rule --name {CT_EVENT_RULE} \
                 --event-bus-name {CT_EVENT_BUS}) and remove AFT's event source mappings from the table's stream \
                 (the provider then writes AFT's full row), or set aft_request_rows = \"none\" to silence this.",
                table = self.table()
            )),
            Decision::Skip(why) if mode == RowMode::Auto => Some(format!(
                "This account gets no row in {table}: {why}. A row there would make AFT act on the account \
                 (its framework on INSERT, its cleanup on REMOVE). Until it has one, AFT's own \
                 aft-invoke-customizations fails for every target (\"not found in {table}\"). Either remove \
                 AFT's event source mappings from the table's stream (the provider then writes AFT's full row), \
                 or set aft_request_rows = \"inert\" (a row AFT's trigger rejects before acting, at the cost of \
                 a failure notification per write), or aft_request_rows = \"none\" to silence this.",
                table = self.table()
            )),
            _ => None,
        }
    }
}

/// The request table's name: AFT's SSM parameter, else `aft-request`.
pub async fn table_name(ctx: &Context) -> Result<String, AwsError> {
    match clients::ssm(ctx.aws.hub()).get_parameter().name(TABLE_PARAMETER).send().await.aws("ssm:GetParameter") {
        Ok(out) => Ok(out.parameter().and_then(|p| p.value()).unwrap_or(DEFAULT_TABLE).to_string()),
        Err(e) if e.is_not_found() => Ok(DEFAULT_TABLE.to_string()),
        Err(e) => Err(e),
    }
}

/// Reads what listens to the request table (called once per process, through the context).
pub async fn detect(ctx: &Context, table: String) -> Deployment {
    let hub = ctx.aws.hub();
    let listeners =
        Listening { ddb: clients::dynamodb(hub), lambda: clients::lambda(hub), events: clients::eventbridge(hub) };
    listeners.detect(table).await
}

/// The clients [`detect`] reads through. AFT's Control Tower event rule is looked at whatever the
/// vending method: Control Tower events come from its console and from Account Factory alike.
pub struct Listening {
    pub ddb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub events: aws_sdk_eventbridge::Client,
}

impl Listening {
    /// What listens to `table`. Any refused look counts as "unknown", never as "nothing".
    pub async fn detect(&self, table: String) -> Deployment {
        let described = self.ddb.describe_table().table_name(&table).send().await.aws("dynamodb:DescribeTable");
        let stream = match described {
            Err(e) if e.is_not_found() => return Deployment::NoTable { table },
            Err(e) => Err(e.to_string()),
            Ok(out) => Ok(out.table().and_then(|t| {
                let on = t.stream_specification().is_some_and(|s| s.stream_enabled());
                on.then(|| t.latest_stream_arn().map(str::to_string)).flatten()
            })),
        };
        let mappings = match stream {
            Err(why) => Listeners::Unknown(why),
            Ok(None) => Listeners::Nothing,
            Ok(Some(arn)) => self.mappings(&arn).await,
        };
        let event_rule = self.event_rule().await;
        let listeners = match (&mappings, &event_rule) {
            (Listeners::Unknown(why), _) | (_, Listeners::Unknown(why)) => Listeners::Unknown(why.clone()),
            (m, r) => {
                let who: Vec<String> = [m, r]
                    .into_iter()
                    .flat_map(|l| match l {
                        Listeners::Some(w) => w.clone(),
                        _ => Vec::new(),
                    })
                    .collect();
                if who.is_empty() { Listeners::Nothing } else { Listeners::Some(who) }
            }
        };
        Deployment::Table { table, listeners, event_rule }
    }

    /// The event source mappings on the table's stream, in any state.
    async fn mappings(&self, stream: &str) -> Listeners {
        let mut who = Vec::new();
        let mut pages = self.lambda.list_event_source_mappings().event_source_arn(stream).into_paginator().send();
        while let Some(page) = pages.next().await {
            match page.aws("lambda:ListEventSourceMappings") {
                Ok(p) => who.extend(p.event_source_mappings().iter().map(|m| {
                    format!(
                        "event source mapping to {} ({})",
                        m.function_arn().unwrap_or("a function"),
                        m.state().unwrap_or("unknown state")
                    )
                })),
                Err(e) => return Listeners::Unknown(e.to_string()),
            }
        }
        if who.is_empty() { Listeners::Nothing } else { Listeners::Some(who) }
    }

    /// AFT's Control Tower event rule, when it is there and not disabled.
    async fn event_rule(&self) -> Listeners {
        let rule = self
            .events
            .describe_rule()
            .name(CT_EVENT_RULE)
            .event_bus_name(CT_EVENT_BUS)
            .send()
            .await
            .aws("events:DescribeRule");
        match rule {
            Ok(r) if r.state().is_some_and(|s| s.as_str() != "DISABLED") => {
                Listeners::Some(vec![format!("EventBridge rule {CT_EVENT_RULE} on {CT_EVENT_BUS}")])
            }
            Ok(_) => Listeners::Nothing,
            Err(e) if e.is_not_found() => Listeners::Nothing,
            Err(e) => Listeners::Unknown(e.to_string()),
        }
    }
}

/// Terraform's `jsonencode` of a string map, as AFT's account-request module stores tags and
/// custom fields: keys sorted, no spaces, and `<`, `>`, `&`, U+2028, U+2029 escaped as Go does.
pub fn jsonencode(m: &BTreeMap<String, String>) -> String {
    let plain = serde_json::to_string(m).unwrap_or_else(|_| "{}".into());
    let mut out = String::with_capacity(plain.len());
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn string_map(m: &BTreeMap<String, String>) -> Av {
    Av::M(m.iter().map(|(k, v)| (k.clone(), Av::S(v.clone()))).collect())
}

/// The row: AFT's shape (its account-request module's `aws_dynamodb_table_item`), keyed by the
/// email Organizations holds (identify-targets looks it up by that), with our owner mark.
/// The inert row leaves out `control_tower_parameters`.
pub fn row(org_email: &str, request: &AccountRequest, inert: bool) -> HashMap<String, Av> {
    let mut m = HashMap::new();
    m.insert("id".to_string(), Av::S(org_email.to_string()));
    if !inert {
        m.insert("control_tower_parameters".to_string(), string_map(&request.control_tower_parameters));
    }
    if let Some(cm) = &request.change_management_parameters {
        m.insert("change_management_parameters".to_string(), string_map(cm));
    }
    m.insert("account_tags".to_string(), Av::S(jsonencode(&request.account_tags)));
    m.insert("account_customizations_name".to_string(), Av::S(request.account_customizations_name.clone()));
    m.insert("custom_fields".to_string(), Av::S(jsonencode(&request.custom_fields)));
    m.insert(OWNER_ATTRIBUTE.to_string(), Av::S(OWNER.to_string()));
    m
}

/// Writes the account's row as decided; a row that is not ours (AFT's own) is never replaced.
/// Returns the one-line detail for the step record.
pub async fn write(ctx: &Context, org_email: &str, request: &AccountRequest) -> Result<String, AwsError> {
    let deployment = deployment(ctx).await?;
    let table = deployment.table();
    let inert = match deployment.decide(ctx.settings.aft_request_rows) {
        Decision::Skip(why) => return Ok(format!("no {table} row ({why})")),
        Decision::Full => false,
        Decision::Inert => true,
    };
    // an identical put changes nothing, and DynamoDB then writes no stream record
    let put = clients::dynamodb(ctx.aws.hub())
        .put_item()
        .table_name(table)
        .set_item(Some(row(org_email, request, inert)))
        .condition_expression("attribute_not_exists(id) OR #owner = :us")
        .expression_attribute_names("#owner", OWNER_ATTRIBUTE)
        .expression_attribute_values(":us", Av::S(OWNER.into()))
        .send()
        .await
        .aws("dynamodb:PutItem");
    let kind = if inert { "inert" } else { "full" };
    match put {
        Ok(_) => Ok(format!("{kind} {table} row written")),
        Err(e) if e.code == "ConditionalCheckFailedException" => Ok(format!("AFT's own {table} row kept")),
        Err(e) => Err(e),
    }
}

/// Removes the account's row, only when it is ours and nothing listens to the table (a REMOVE
/// would start AFT's cleanup). The row is keyed by the email Organizations holds, as it was
/// written; `request_email` serves only for an account Organizations no longer has.
/// Returns what was done.
pub async fn remove(ctx: &Context, account_id: &str, request_email: &str) -> Result<String, AwsError> {
    let deployment = deployment(ctx).await?;
    let table = deployment.table();
    if !deployment.quiet() {
        return Ok(format!("{table} row kept (AFT may listen to the table; its REMOVE would start AFT's cleanup)"));
    }
    let org = clients::organizations(&ctx.ct_session().await?);
    let email = match organizations::describe_account(&org, account_id).await? {
        Some(a) => a.email,
        None => request_email.to_string(),
    };
    remove_email(ctx, &email).await
}

/// Removes the row keyed by `email`, only when it is ours and nothing listens to the table (the
/// row an account had under the email it used to have). Returns what was done.
pub async fn remove_email(ctx: &Context, email: &str) -> Result<String, AwsError> {
    let deployment = deployment(ctx).await?;
    let table = deployment.table();
    if !deployment.quiet() {
        return Ok(format!("{table} row kept (AFT may listen to the table; its REMOVE would start AFT's cleanup)"));
    }
    let del = clients::dynamodb(ctx.aws.hub())
        .delete_item()
        .table_name(table)
        .key("id", Av::S(email.to_string()))
        .condition_expression("#owner = :us")
        .expression_attribute_names("#owner", OWNER_ATTRIBUTE)
        .expression_attribute_values(":us", Av::S(OWNER.into()))
        .send()
        .await
        .aws("dynamodb:DeleteItem");
    match del {
        Ok(_) => Ok(format!("{table} row removed")),
        Err(e) if e.code == "ConditionalCheckFailedException" => Ok(format!("no {table} row of ours to remove")),
        Err(e) => Err(e),
    }
}

/// What [`deployment`] found, kept for the life of the process.
#[derive(Default)]
struct Detected(tokio::sync::OnceCell<std::sync::Arc<Deployment>>);

/// AFT's request table and what listens to it (one look per provider process).
pub async fn deployment(ctx: &Context) -> Result<std::sync::Arc<Deployment>, AwsError> {
    let detected = ctx.memo::<Detected>();
    detected
        .0
        .get_or_try_init(|| async { Ok(std::sync::Arc::new(detect(ctx, table_name(ctx).await?).await)) })
        .await
        .cloned()
}

/// The request a row of the request table holds, and whose it is: a row with our owner mark is
/// this provider's, any other is AFT's own.
fn row_request(item: &HashMap<String, Av>) -> AccountRequest {
    let mut r = AccountRequest::from_item(item);
    r.owner = match item.get(OWNER_ATTRIBUTE) {
        Some(Av::S(o)) if o == OWNER => RequestOwner::Provider,
        _ => RequestOwner::Aft,
    };
    r
}

/// The request AFT's own `aft-request` table holds for an email, when that table exists
/// ([`RequestOwner::Aft`] unless this provider wrote the row).
pub async fn aft_request(ctx: &Context, email: &str) -> Result<Option<AccountRequest>, AwsError> {
    let table = deployment(ctx).await?.table().to_string();
    match clients::dynamodb(ctx.aws.hub()).get_item().table_name(table).key("id", Av::S(email.to_string())).send().await
    {
        // an inert row (no control_tower_parameters) holds no request
        Ok(out) => match out.item().filter(|i| i.contains_key("control_tower_parameters")) {
            Some(item) => Ok(Some(row_request(item))),
            // the table's key is the email as the request wrote it; Organizations may spell it
            // in another case, so look through the rows before saying there is none
            None => Ok(aft_requests(ctx).await?.remove(&email.to_ascii_lowercase())),
        },
        Err(e) => {
            let e = AwsError::from_sdk("dynamodb:GetItem", e);
            if e.is_not_found() { Ok(None) } else { Err(e) }
        }
    }
}

/// The rows of AFT's `aft-request` table by lower-cased email; empty when the table does not exist.
/// Inert rows (no `control_tower_parameters`, so no email) are not requests and are left out.
pub async fn aft_requests(ctx: &Context) -> Result<BTreeMap<String, AccountRequest>, AwsError> {
    let table = deployment(ctx).await?.table().to_string();
    match crate::aws::dynamodb::scan_all(&clients::dynamodb(ctx.aws.hub()), &table).await {
        Ok(items) => Ok(items
            .iter()
            .map(row_request)
            .filter(|r| !r.email().is_empty())
            .map(|r| (r.email().to_ascii_lowercase(), r))
            .collect()),
        Err(e) if e.is_not_found() => Ok(BTreeMap::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(listeners: Listeners) -> Deployment {
        Deployment::Table { table: "aft-request".into(), listeners, event_rule: Listeners::Nothing }
    }

    #[test]
    fn decisions_per_deployment_and_mode() {
        let none = Deployment::NoTable { table: "aft-request".into() };
        let quiet = table(Listeners::Nothing);
        let live = table(Listeners::Some(vec!["event source mapping to f (Enabled)".into()]));
        let unknown = table(Listeners::Unknown("AccessDenied".into()));
        assert!(matches!(none.decide(RowMode::Auto), Decision::Skip(_)));
        assert!(matches!(none.decide(RowMode::Full), Decision::Skip(_)));
        assert_eq!(quiet.decide(RowMode::Auto), Decision::Full);
        assert!(matches!(live.decide(RowMode::Auto), Decision::Skip(w) if w.contains("event source mapping")));
        assert!(matches!(unknown.decide(RowMode::Auto), Decision::Skip(w) if w.contains("AccessDenied")));
        assert_eq!(live.decide(RowMode::Inert), Decision::Inert);
        assert_eq!(live.decide(RowMode::Full), Decision::Full);
        assert!(matches!(quiet.decide(RowMode::None), Decision::Skip(_)));
        assert!(quiet.quiet() && !live.quiet() && !unknown.quiet() && !none.quiet());
        assert!(live.warning(RowMode::Auto).is_some_and(|w| w.contains("aft_request_rows = \"inert\"")));
        assert!(quiet.warning(RowMode::Auto).is_none() && live.warning(RowMode::None).is_none());
        assert!(live.warning(RowMode::Inert).is_none(), "the stream's trigger rejects an inert row");
    }

    #[test]
    fn afts_control_tower_event_rule_rules_out_inert_rows_too() {
        let rule = "EventBridge rule aft-controltower-event-logger on aft-events-from-ct-management".to_string();
        let ruled = Deployment::Table {
            table: "aft-request".into(),
            listeners: Listeners::Some(vec![rule.clone()]),
            event_rule: Listeners::Some(vec![rule]),
        };
        assert!(matches!(ruled.decide(RowMode::Inert), Decision::Skip(w) if w.contains(CT_EVENT_RULE)));
        assert!(matches!(ruled.decide(RowMode::Auto), Decision::Skip(w) if w.contains(CT_EVENT_RULE)));
        assert_eq!(ruled.decide(RowMode::Full), Decision::Full, "full is the user's choice");
        for mode in [RowMode::Auto, RowMode::Inert] {
            let w = ruled.warning(mode).unwrap();
            assert!(w.contains("disable-rule") && !w.contains("= \"inert\""), "{mode:?}: {w}");
        }
        let unknown = Deployment::Table {
            table: "aft-request".into(),
            listeners: Listeners::Unknown("AccessDenied".into()),
            event_rule: Listeners::Unknown("AccessDenied".into()),
        };
        assert!(matches!(unknown.decide(RowMode::Inert), Decision::Skip(w) if w.contains("unknown")));
    }

    #[test]
    fn jsonencode_matches_terraform() {
        // terraform console: jsonencode({b = "x<y>&z", a = "é"}) → {"a":"é","b":"x\u003cy\u003e\u0026z"}
        let m: BTreeMap<String, String> =
            [("b".to_string(), "x<y>&z".to_string()), ("a".to_string(), "é".to_string())].into();
        assert_eq!(jsonencode(&m), r#"{"a":"é","b":"x\u003cy\u003e\u0026z"}"#);
        assert_eq!(jsonencode(&BTreeMap::new()), "{}");
    }

    #[test]
    fn inert_row_has_no_control_tower_parameters() {
        let req = AccountRequest {
            control_tower_parameters: [("AccountEmail".to_string(), "A@example.com".to_string())].into(),
            account_tags: [("env".to_string(), "prod".to_string())].into(),
            ..Default::default()
        };
        let full = row("a@example.com", &req, false);
        let inert = row("a@example.com", &req, true);
        assert_eq!(full.get("id"), Some(&Av::S("a@example.com".into())));
        assert!(full.contains_key("control_tower_parameters") && !inert.contains_key("control_tower_parameters"));
        assert_eq!(inert.get("account_tags"), Some(&Av::S(r#"{"env":"prod"}"#.into())));
        assert_eq!(inert.get(OWNER_ATTRIBUTE), Some(&Av::S(OWNER.into())));
    }
}
