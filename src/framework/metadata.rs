//! Step 3: the metadata item in `aft-request-metadata` (AFT's shape) and the audit record.
//!
//! AFT's item: `id` (account id), `email`, `account_name`, `account_creation_time`,
//! `account_status`, `account_level_tags` (map), `account_customizations_name`, `parent_ou`,
//! `vcs_information` and `terraform_workspace` (empty maps). We add `account_request`, the request
//! that produced it (AFT ignores extra attributes), so import can rebuild the configuration.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue as Av;

use super::account_info::Account;
use super::request::{AccountRequest, RequestOwner};
use super::{Done, StepError};
use crate::aws::dynamodb as item;
use crate::aws::{AwsError, AwsResultExt, clients, organizations::AccountInfo};
use crate::context::Context;

/// A metadata item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MetadataItem {
    pub id: String,
    pub email: String,
    pub account_name: String,
    pub account_creation_time: String,
    pub account_status: String,
    pub account_level_tags: BTreeMap<String, String>,
    pub account_customizations_name: String,
    pub parent_ou: String,
    pub request: Option<AccountRequest>,
}

fn s(v: impl Into<String>) -> Av {
    Av::S(v.into())
}

fn string_map(m: &BTreeMap<String, String>) -> Av {
    Av::M(m.iter().map(|(k, v)| (k.clone(), s(v.clone()))).collect())
}

/// The request as a DynamoDB map.
pub fn request_to_av(r: &AccountRequest) -> Av {
    let mut m = HashMap::new();
    m.insert("control_tower_parameters".into(), string_map(&r.control_tower_parameters));
    m.insert("account_tags".into(), string_map(&r.account_tags));
    m.insert("custom_fields".into(), string_map(&r.custom_fields));
    m.insert("account_customizations_name".into(), s(r.account_customizations_name.clone()));
    if let Some(cm) = &r.change_management_parameters {
        m.insert("change_management_parameters".into(), string_map(cm));
    }
    Av::M(m)
}

impl MetadataItem {
    /// The item for an account and its request. AFT's own request is not copied into the item
    /// (AFT's persist_metadata writes none): the item keeps AFT's shape, and the next run reads
    /// AFT's row again, so it is still known as AFT's and never goes stale.
    pub fn new(account: &AccountInfo, parent_ou: &str, request: &AccountRequest) -> Self {
        MetadataItem {
            id: account.id.clone(),
            email: account.email.clone(),
            account_name: account.name.clone(),
            account_creation_time: account.joined_date.clone(),
            account_status: account.status.clone(),
            account_level_tags: request.account_tags.clone(),
            account_customizations_name: request.account_customizations_name.clone(),
            parent_ou: parent_ou.to_string(),
            request: (request.owner == RequestOwner::Provider).then(|| request.clone()),
        }
    }

    /// The DynamoDB item.
    pub fn to_item(&self) -> HashMap<String, Av> {
        let mut m = HashMap::new();
        m.insert("id".into(), s(self.id.clone()));
        m.insert("email".into(), s(self.email.clone()));
        m.insert("account_name".into(), s(self.account_name.clone()));
        m.insert("account_creation_time".into(), s(self.account_creation_time.clone()));
        m.insert("account_status".into(), s(self.account_status.clone()));
        m.insert("account_level_tags".into(), string_map(&self.account_level_tags));
        m.insert("account_customizations_name".into(), s(self.account_customizations_name.clone()));
        m.insert("parent_ou".into(), s(self.parent_ou.clone()));
        m.insert("vcs_information".into(), Av::M(HashMap::new()));
        m.insert("terraform_workspace".into(), Av::M(HashMap::new()));
        if let Some(r) = &self.request {
            m.insert("account_request".into(), request_to_av(r));
        }
        m
    }

    /// Parses a DynamoDB item.
    pub fn from_item(m: &HashMap<String, Av>) -> Self {
        MetadataItem {
            id: item::string(m, "id"),
            email: item::string(m, "email"),
            account_name: item::string(m, "account_name"),
            account_creation_time: item::string(m, "account_creation_time"),
            account_status: item::string(m, "account_status"),
            account_level_tags: item::string_map(m, "account_level_tags"),
            account_customizations_name: item::string(m, "account_customizations_name"),
            parent_ou: item::string(m, "parent_ou"),
            request: match m.get("account_request") {
                Some(Av::M(r)) => Some(AccountRequest::from_item(r)),
                _ => None,
            },
        }
    }
}

/// Step 3: writes the metadata item and an audit record (`event` is `INSERT` or `MODIFY`).
pub async fn run(
    ctx: &Context,
    account: &Account,
    request: &AccountRequest,
    event: &str,
) -> Result<Done<()>, StepError> {
    let item = MetadataItem::new(&account.info, &account.parent_id, request);
    put(ctx, &item).await?;
    audit(ctx, request, event).await?;
    let row = super::request_row::write(ctx, &account.info.email, request).await.map_err(|e| e.in_account(&item.id))?;
    Ok(Done::ok(
        (),
        format!("item {} written to {}, audit {event} recorded, {row}", item.id, ctx.settings.metadata_table),
    ))
}

/// AFT's metadata table through one client: every read and write of it goes through here (the
/// refresh's bulk read, the targets' ids, a single account's item, step 3's put, destroy's delete).
pub struct MetadataTable {
    ddb: aws_sdk_dynamodb::Client,
    name: String,
}

impl MetadataTable {
    /// The table the provider is configured with, through the hub session.
    pub fn of(ctx: &Context) -> Self {
        MetadataTable::new(clients::dynamodb(ctx.aws.hub()), &ctx.settings.metadata_table)
    }

    /// A table through a given client.
    pub fn new(ddb: aws_sdk_dynamodb::Client, name: &str) -> Self {
        MetadataTable { ddb, name: name.to_string() }
    }

    /// The item of an account; `None` when AFT does not manage it.
    pub async fn find(&self, account_id: &str) -> Result<Option<MetadataItem>, AwsError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.name)
            .key("id", s(account_id))
            .consistent_read(true)
            .send()
            .await
            .aws("dynamodb:GetItem")
            .map_err(|e| e.in_account(account_id))?;
        Ok(out.item().map(MetadataItem::from_item))
    }

    /// Writes an item (a full put, as AFT's persist_metadata does).
    pub async fn put(&self, item: &MetadataItem) -> Result<(), AwsError> {
        self.ddb
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item.to_item()))
            .send()
            .await
            .aws("dynamodb:PutItem")
            .map_err(|e| e.in_account(&item.id))?;
        Ok(())
    }

    /// Removes an account's item (AFT's cleanup); absent is fine.
    pub async fn delete(&self, account_id: &str) -> Result<(), AwsError> {
        self.ddb
            .delete_item()
            .table_name(&self.name)
            .key("id", s(account_id))
            .send()
            .await
            .aws("dynamodb:DeleteItem")
            .map_err(|e| e.in_account(account_id))?;
        Ok(())
    }

    /// Every item, by account id (one paged scan).
    pub async fn all(&self) -> Result<HashMap<String, MetadataItem>, AwsError> {
        let mut out = HashMap::new();
        for item in crate::aws::dynamodb::scan_all(&self.ddb, &self.name).await? {
            let m = MetadataItem::from_item(&item);
            if !m.id.is_empty() {
                out.insert(m.id.clone(), m);
            }
        }
        Ok(out)
    }

    /// The ids of every item (a paged, consistent scan of the key only: like every other read of
    /// the table, it sees the writes that were acknowledged before it).
    pub async fn ids(&self) -> Result<std::collections::BTreeSet<String>, AwsError> {
        let items = crate::aws::dynamodb::scan(&self.ddb, &self.name, Some("id")).await?;
        Ok(items
            .iter()
            .filter_map(|item| match item.get("id") {
                Some(Av::S(id)) => Some(id.clone()),
                _ => None,
            })
            .collect())
    }
}

/// Reads the metadata item of an account; `None` when AFT does not manage it.
pub async fn get(ctx: &Context, account_id: &str) -> Result<Option<MetadataItem>, AwsError> {
    MetadataTable::of(ctx).find(account_id).await
}

/// Writes the metadata item (a full put, as AFT's persist_metadata does).
pub async fn put(ctx: &Context, item: &MetadataItem) -> Result<(), AwsError> {
    MetadataTable::of(ctx).put(item).await
}

/// Removes the metadata item (AFT's cleanup); absent is fine.
pub async fn delete(ctx: &Context, account_id: &str) -> Result<(), AwsError> {
    MetadataTable::of(ctx).delete(account_id).await
}

/// Appends an audit record in AFT's shape: the request image, `timestamp` and `ddb_event_name`.
pub async fn audit(ctx: &Context, request: &AccountRequest, event: &str) -> Result<(), AwsError> {
    let mut item = HashMap::new();
    item.insert("id".to_string(), s(request.email()));
    // AFT's Lambda writes Python's "%Y-%m-%dT%H:%M:%S.%f" in UTC, without an offset
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");
    let ts = time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default();
    item.insert("timestamp".to_string(), s(ts));
    item.insert("ddb_event_name".to_string(), s(event));
    item.insert("control_tower_parameters".to_string(), string_map(&request.control_tower_parameters));
    if let Some(cm) = &request.change_management_parameters {
        item.insert("change_management_parameters".to_string(), string_map(cm));
    }
    // the row's image, as AFT's audit trigger copies it: JSON text as Terraform's jsonencode writes it
    item.insert("account_tags".to_string(), s(super::request_row::jsonencode(&request.account_tags)));
    item.insert("custom_fields".to_string(), s(super::request_row::jsonencode(&request.custom_fields)));
    item.insert("account_customizations_name".to_string(), s(request.account_customizations_name.clone()));
    clients::dynamodb(ctx.aws.hub())
        .put_item()
        .table_name(&ctx.settings.audit_table)
        .set_item(Some(item))
        .send()
        .await
        .aws("dynamodb:PutItem")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_roundtrip_and_aft_shape() {
        let req = AccountRequest {
            control_tower_parameters: [("AccountEmail".to_string(), "a@example.com".to_string())].into(),
            account_tags: [("Owner".to_string(), "x".to_string())].into(),
            ..Default::default()
        };
        let acct = AccountInfo {
            id: "111122223333".into(),
            email: "a@example.com".into(),
            name: "A".into(),
            status: "ACTIVE".into(),
            joined_date: "2021-06-15 13:57:35.129000+00:00".into(),
            ..Default::default()
        };
        let item = MetadataItem::new(&acct, "ou-ab12-cdefgh34", &req);
        let raw = item.to_item();
        for k in [
            "id",
            "email",
            "account_name",
            "account_creation_time",
            "account_status",
            "account_level_tags",
            "account_customizations_name",
            "parent_ou",
            "vcs_information",
            "terraform_workspace",
        ] {
            assert!(raw.contains_key(k), "{k}");
        }
        assert!(matches!(raw.get("account_level_tags"), Some(Av::M(_))));
        assert_eq!(MetadataItem::from_item(&raw), item);
    }

    #[test]
    fn aft_request_row_with_json_strings() {
        let mut m = HashMap::new();
        m.insert("account_tags".to_string(), s("{\"k\":\"v\"}"));
        m.insert("custom_fields".to_string(), s("{\"c\":\"1\"}"));
        let r = AccountRequest::from_item(&m);
        assert_eq!(r.account_tags.get("k").unwrap(), "v");
        assert_eq!(r.custom_fields.get("c").unwrap(), "1");
    }
}
