//! The state of an `aft_account_provisioning` taken under management (import, `terraform query`):
//! built from its request, or from what Organizations and AFT's metadata item say.

use std::collections::BTreeMap;

use crate::aws::organizations;
use crate::framework::metadata;
use crate::framework::request::AccountRequest;
use crate::plugin::Value;

/// The resource identity of an `aft_account_provisioning` (shared by the resource and the list
/// resource, which must agree on it).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountIdentity {
    pub account_id: String,
}

impl AccountIdentity {
    /// The identity schema's attributes.
    pub fn schema() -> crate::plugin::IdentitySchema {
        crate::plugin::IdentitySchema {
            version: 0,
            attributes: vec![(
                "account_id".into(),
                crate::plugin::Type::String,
                "The 12-digit account id.".into(),
                true,
            )],
        }
    }

    /// The identity as a value of its schema's type.
    pub fn value(&self) -> Value {
        let ty = crate::plugin::Type::object([("account_id", crate::plugin::Type::String)]);
        crate::plugin::to_value(self, &ty).unwrap_or(Value::Null)
    }
}

/// A map attribute that is null when empty (as the configuration leaves it unset).
fn nonempty_map(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() { Value::Null } else { Value::string_map(m.clone()) }
}

/// The state of an account taken under management: its request (from our metadata item, or AFT's
/// `aft-request` row), or what Organizations and AFT's metadata item say when there is none.
pub fn imported_state(
    account: &organizations::AccountInfo,
    parent: &str,
    item: Option<&metadata::MetadataItem>,
    request: Option<AccountRequest>,
) -> Value {
    let request = request.unwrap_or_else(|| AccountRequest {
        control_tower_parameters: [
            ("AccountEmail".to_string(), account.email.clone()),
            ("AccountName".to_string(), account.name.clone()),
            ("ManagedOrganizationalUnit".to_string(), parent.to_string()),
        ]
        .into(),
        account_tags: item.map(|i| i.account_level_tags.clone()).unwrap_or_default(),
        account_customizations_name: item.map(|i| i.account_customizations_name.clone()).unwrap_or_default(),
        ..Default::default()
    });
    let cm = request.change_management_parameters.as_ref().map(|m| {
        Value::object([
            ("change_requested_by", Value::from(m.get("change_requested_by").cloned())),
            ("change_reason", Value::from(m.get("change_reason").cloned())),
        ])
    });
    let name = &request.account_customizations_name;
    Value::object([
        ("control_tower_parameters", Value::string_map(request.control_tower_parameters.clone())),
        ("account_tags", nonempty_map(&request.account_tags)),
        ("custom_fields", nonempty_map(&request.custom_fields)),
        ("change_management_parameters", cm.unwrap_or(Value::Null)),
        ("account_customizations_name", if name.is_empty() { Value::Null } else { Value::from(name.as_str()) }),
        ("rerun_triggers", Value::Null),
        ("close_account_on_delete", Value::Null),
        ("parking_organizational_unit", Value::Null),
        ("id", account.id.as_str().into()),
        ("account_id", account.id.as_str().into()),
        ("account_arn", account.arn.as_str().into()),
        ("account_status", account.status.as_str().into()),
        ("parent_ou_id", parent.into()),
        ("execution_role_arn", Value::Null),
        ("framework_run_id", Value::Null),
        ("framework_completed_at", Value::Null),
        ("drift", Value::List(Vec::new())),
        ("timeouts", Value::Null),
    ])
}
