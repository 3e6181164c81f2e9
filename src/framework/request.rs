//! The AFT account request: what one `aft_account_provisioning` resource asks for.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;

use crate::aws::dynamodb::{string, string_map};

/// The six Control Tower parameter keys, in AFT's order.
pub const CT_KEYS: [&str; 6] =
    ["AccountEmail", "AccountName", "ManagedOrganizationalUnit", "SSOUserEmail", "SSOUserFirstName", "SSOUserLastName"];

/// Whose request an account runs with, where AFT's semantics and this provider's differ.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RequestOwner {
    /// This provider's configuration (a resource, or our metadata item's copy of its request):
    /// the configuration names the account's tags, so tags it does not name are removed.
    #[default]
    Provider,
    /// AFT's own row in its `aft-request` table (one this provider did not write): AFT manages
    /// the account, and AFT only adds and updates tags, never removes one (AFT's `tag_account`,
    /// issue #238).
    Aft,
}

/// An account request with AFT's field names.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccountRequest {
    /// `AccountEmail`, `AccountName`, `ManagedOrganizationalUnit`, `SSOUser*`.
    pub control_tower_parameters: BTreeMap<String, String>,
    pub account_tags: BTreeMap<String, String>,
    pub custom_fields: BTreeMap<String, String>,
    /// `change_requested_by`, `change_reason`, when given.
    pub change_management_parameters: Option<BTreeMap<String, String>>,
    pub account_customizations_name: String,
    /// Whose request it is (not stored: known from where it was read).
    pub owner: RequestOwner,
}

impl AccountRequest {
    /// A Control Tower parameter ("" when absent).
    pub fn ct(&self, key: &str) -> &str {
        self.control_tower_parameters.get(key).map(String::as_str).unwrap_or("")
    }
    /// `AccountEmail`.
    pub fn email(&self) -> &str {
        self.ct("AccountEmail")
    }
    /// `AccountName`.
    pub fn name(&self) -> &str {
        self.ct("AccountName")
    }
    /// `ManagedOrganizationalUnit`.
    pub fn ou(&self) -> &str {
        self.ct("ManagedOrganizationalUnit")
    }

    /// The request as AFT's `account_request` payload object (`account_tags` a map,
    /// `custom_fields` a JSON string, as `build_account_customization_payload` makes it).
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.email(),
            "control_tower_parameters": self.control_tower_parameters,
            "change_management_parameters": self.change_management_parameters.clone().unwrap_or_default(),
            "account_tags": self.account_tags,
            "account_customizations_name": self.account_customizations_name,
            "custom_fields": serde_json::to_string(&self.custom_fields).unwrap_or_else(|_| "{}".into()),
        })
    }
}

impl AccountRequest {
    /// Reads a request from a DynamoDB item (ours, or a row of AFT's `aft-request` table).
    pub fn from_item(m: &HashMap<String, AttributeValue>) -> AccountRequest {
        AccountRequest {
            control_tower_parameters: string_map(m, "control_tower_parameters"),
            account_tags: string_map(m, "account_tags"),
            custom_fields: string_map(m, "custom_fields"),
            change_management_parameters: m
                .get("change_management_parameters")
                .map(|_| string_map(m, "change_management_parameters")),
            account_customizations_name: string(m, "account_customizations_name"),
            owner: Default::default(),
        }
    }
}
