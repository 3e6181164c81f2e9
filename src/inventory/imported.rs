//! The state of an `aft_account_provisioning` taken under management (import, `terraform query`):
//! built from its request, or from what Organizations and AFT's metadata item say.

use std::collections::BTreeMap;

use crate::aws::organizations;
use crate::framework::metadata;
use crate::framework::request::AccountRequest;
use crate::plugin::{Attr, StringMap, Timeouts, Value, known_map};

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

/// The configuration, plan and state of `aft_account_provisioning`: one field per schema
/// attribute (checked one to one by the resource's test). Shared by the resource and what takes
/// accounts under management (import, `terraform query`), which must build the same state.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AccountModel {
    pub control_tower_parameters: Attr<StringMap>,
    pub account_tags: Attr<StringMap>,
    pub custom_fields: Attr<StringMap>,
    pub change_management_parameters: Attr<ChangeManagement>,
    pub account_customizations_name: Attr<String>,
    pub rerun_triggers: Attr<StringMap>,
    pub close_account_on_delete: Attr<bool>,
    pub parking_organizational_unit: Attr<String>,
    pub terminate_product_on_delete: Attr<bool>,
    pub id: Attr<String>,
    pub account_id: Attr<String>,
    pub account_arn: Attr<String>,
    pub account_status: Attr<String>,
    pub parent_ou_id: Attr<String>,
    pub execution_role_arn: Attr<String>,
    pub framework_run_id: Attr<String>,
    pub framework_completed_at: Attr<String>,
    pub drift: Attr<Vec<String>>,
    pub coordination_owner: Attr<String>,
    pub last_run: Attr<LastRun>,
    pub timeouts: Attr<Timeouts>,
}

/// `last_run`: the last framework run this provider made for the account, whatever its outcome.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LastRun {
    pub run_id: Attr<String>,
    /// `create` or `update`.
    pub operation: Attr<String>,
    /// `succeeded` or `failed`.
    pub outcome: Attr<String>,
    /// The step that failed first (null when the run succeeded).
    pub failed_step: Attr<String>,
    /// The first failure, as the apply reported it (null when the run succeeded).
    pub error: Attr<String>,
    /// When the run ended (RFC 3339).
    pub finished_at: Attr<String>,
}

impl LastRun {
    /// The cty type of the attribute.
    pub fn ty() -> crate::plugin::Type {
        use crate::plugin::Type;
        Type::object([
            ("run_id", Type::String),
            ("operation", Type::String),
            ("outcome", Type::String),
            ("failed_step", Type::String),
            ("error", Type::String),
            ("finished_at", Type::String),
        ])
    }
}

/// `change_management_parameters = { … }`
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ChangeManagement {
    pub change_requested_by: Attr<String>,
    pub change_reason: Attr<String>,
}

impl AccountModel {
    /// `close_account_on_delete = true`.
    pub fn closes_on_delete(&self) -> bool {
        self.close_account_on_delete.known() == Some(&true)
    }

    /// `terminate_product_on_delete = true`.
    pub fn terminates_product_on_delete(&self) -> bool {
        self.terminate_product_on_delete.known() == Some(&true)
    }

    /// The `parking_organizational_unit`, when one is set.
    pub fn parking_ou(&self) -> Option<&str> {
        self.parking_organizational_unit.as_str().filter(|p| !p.is_empty())
    }

    /// The model as a value. Its fields have the resource schema's kinds already (maps, objects,
    /// lists; no sets), so no schema type is needed to write it.
    pub fn to_value(&self) -> Result<Value, crate::plugin::Diagnostics> {
        crate::plugin::write_model(self, &crate::plugin::Type::Dynamic)
    }

    /// The request a (known) configuration or state describes.
    pub fn request(&self) -> AccountRequest {
        let cm = self.change_management_parameters.known().map(|m| {
            [("change_requested_by", &m.change_requested_by), ("change_reason", &m.change_reason)]
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.to_string(), s.to_string())))
                .collect()
        });
        AccountRequest {
            control_tower_parameters: known_map(&self.control_tower_parameters),
            account_tags: known_map(&self.account_tags),
            custom_fields: known_map(&self.custom_fields),
            change_management_parameters: cm,
            account_customizations_name: self.account_customizations_name.as_str().unwrap_or_default().to_string(),
            owner: Default::default(),
        }
    }
}

/// A map as a model attribute: null when empty (as a configuration that leaves it unset).
fn nonempty(m: &BTreeMap<String, String>) -> Attr<StringMap> {
    if m.is_empty() {
        Attr::Null
    } else {
        Attr::Known(m.iter().map(|(k, v)| (k.clone(), Attr::Known(v.clone()))).collect())
    }
}

/// The state of an account taken under management: its request (from our metadata item, or AFT's
/// `aft-request` row), or what Organizations and AFT's metadata item say when there is none.
pub fn imported_state(
    account: &organizations::AccountInfo,
    parent: &str,
    item: Option<&metadata::MetadataItem>,
    request: Option<AccountRequest>,
) -> AccountModel {
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
    let cm = request.change_management_parameters.as_ref().map(|m| ChangeManagement {
        change_requested_by: m.get("change_requested_by").cloned().into(),
        change_reason: m.get("change_reason").cloned().into(),
    });
    let name = &request.account_customizations_name;
    let known = |s: &str| Attr::Known(s.to_string());
    AccountModel {
        control_tower_parameters: Attr::Known(
            request.control_tower_parameters.iter().map(|(k, v)| (k.clone(), Attr::Known(v.clone()))).collect(),
        ),
        account_tags: nonempty(&request.account_tags),
        custom_fields: nonempty(&request.custom_fields),
        change_management_parameters: cm.into(),
        account_customizations_name: if name.is_empty() { Attr::Null } else { known(name) },
        id: known(&account.id),
        account_id: known(&account.id),
        account_arn: known(&account.arn),
        account_status: known(&account.status),
        parent_ou_id: known(parent),
        drift: Attr::Known(Vec::new()),
        ..AccountModel::default()
    }
}
