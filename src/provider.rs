//! The `provider "aft"` block: its schema, plan-time validation, and `configure` → [`Context`].

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::aws::{AssumeRole, Aws, AwsSettings};
use crate::context::RowMode;
use crate::context::{Context, CoordinationSettings, DriftDetection, FeatureOptions, RoleNames, Settings, VendMethod};
use crate::plugin::{
    Action, Attr, AttrPath, Attribute, Block, DataSource, Diagnostics, ListResource, NestedBlock, Number, Resource,
    Schema, Type, Value, read_model,
};
use crate::validation;

/// The AFT provider.
#[derive(Default)]
pub struct AftProvider;

/// The provider block: one field per schema attribute, read once.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub region: Attr<String>,
    pub profile: Attr<String>,
    pub endpoint_url: Attr<String>,
    pub aft_management_account_id: Attr<String>,
    pub ct_management_account_id: Attr<String>,
    pub log_archive_account_id: Attr<String>,
    pub audit_account_id: Attr<String>,
    pub metadata_table: Attr<String>,
    pub audit_table: Attr<String>,
    pub notification_topic_arn: Attr<String>,
    pub failure_notification_topic_arn: Attr<String>,
    pub provisioning_customizations_state_machine: Attr<String>,
    pub max_concurrent_customizations: Attr<Number>,
    pub iam_propagation_timeout: Attr<String>,
    pub drift_detection: Attr<String>,
    pub aft_request_rows: Attr<String>,
    pub aft_admin_role_arn: Attr<String>,
    pub assume_role: Option<AssumeRoleBlock>,
    pub role_names: Option<RoleNamesBlock>,
    pub feature_options: Option<FeatureOptionsBlock>,
    pub account_factory: Option<AccountFactoryBlock>,
    pub coordination: Option<CoordinationBlock>,
}

/// `coordination { … }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CoordinationBlock {
    pub table: Attr<String>,
    pub owner: Attr<String>,
    pub lease_duration: Attr<String>,
}

/// `assume_role { … }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AssumeRoleBlock {
    pub role_arn: Attr<String>,
    pub session_name: Attr<String>,
    pub external_id: Attr<String>,
}

/// `role_names { … }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RoleNamesBlock {
    pub admin: Attr<String>,
    pub service: Attr<String>,
    pub execution: Attr<String>,
    pub control_tower_execution: Attr<String>,
    pub session_name: Attr<String>,
}

/// `feature_options { … }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureOptionsBlock {
    pub delete_default_vpcs: Attr<bool>,
    pub enterprise_support: Attr<bool>,
    pub cloudtrail_data_events: Attr<bool>,
}

/// `account_factory { … }`
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountFactoryBlock {
    pub method: Attr<String>,
    pub product_name: Attr<String>,
    pub max_concurrent_operations: Attr<Number>,
    pub poll_interval: Attr<String>,
}

/// DynamoDB's rule for table names.
fn table_name(s: &str) -> Result<(), String> {
    let ok = (3..=255).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok { Ok(()) } else { Err(format!("{s:?} is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -).")) }
}

/// The known string of an attribute, owned.
fn owned(a: &Attr<String>) -> Option<String> {
    a.known().cloned()
}

/// A cap from 1 to 100, when the number is a whole one.
fn cap_of(n: &Attr<Number>) -> Option<usize> {
    n.known().and_then(Number::as_i64).map(|n| n as usize)
}

#[async_trait]
impl crate::plugin::Provider for AftProvider {
    type Context = Context;

    fn schema(&self) -> Schema {
        let s = |n: &str, d: &str| Attribute::optional(n, Type::String, d);
        Schema::new(
            0,
            Block::new(
                "Runs the AWS Control Tower Account Factory for Terraform (AFT) provisioning pipeline. \
                 Every argument is optional: credentials and region come from the standard AWS configuration chain.",
            )
            .attr(s("region", "Home region of the AFT management account. Default: from the AWS configuration chain (`AWS_REGION`, profile), else `us-east-1`."))
            .attr(s("profile", "Shared-config profile to use. Default: `AWS_PROFILE` or `default`."))
            .attr(s("endpoint_url", "One endpoint for every AWS service, e.g. a local emulator. Default: `AWS_ENDPOINT_URL`."))
            .attr(s("aft_management_account_id", "AFT management account. Default: SSM `/aft/account/aft-management/account-id`, else the caller's account."))
            .attr(s("ct_management_account_id", "Control Tower management account. Default: SSM `/aft/account/ct-management/account-id`, else the organization's management account."))
            .attr(s("log_archive_account_id", "Log Archive account. Default: SSM `/aft/account/log-archive/account-id`."))
            .attr(s("audit_account_id", "Audit account. Default: SSM `/aft/account/audit/account-id`."))
            .attr(s("metadata_table", "DynamoDB table of AFT-managed accounts. Default: `aft-request-metadata`."))
            .attr(s("audit_table", "DynamoDB audit table. Default: `aft-request-audit`."))
            .attr(s("notification_topic_arn", "SNS topic for success notifications. Default: `aft-notifications` in the AFT management account."))
            .attr(s("failure_notification_topic_arn", "SNS topic for failure notifications. Default: `aft-failure-notifications` in the AFT management account."))
            .attr(s("provisioning_customizations_state_machine", "Name or ARN of the provisioning customizations state machine (step 7). Default: `aft-account-provisioning-customizations`; if it does not exist, step 7 is a no-op."))
            .attr(Attribute::optional("max_concurrent_customizations", Type::Number, "Cap on customization executions running at once. Default: `5`."))
            .attr(s("iam_propagation_timeout", "How long to keep proving that new roles can be assumed, e.g. `2m`. Default: `2m`."))
            .attr(s("drift_detection", "What a refresh compares with AWS: `standard` (the account exists and is active, its OU, its metadata item; one bulk read shared by all accounts, about 0.1 API calls per account) or `full` (also its Organizations tags, AFT's two roles in the account with their trust policy, and its custom-field parameters: an AssumeRole into the account and four more calls per account; and each customization pipeline's definition and last execution, two calls per pipeline). Default: `standard`."))
            .attr(s("aft_request_rows", "Which row of AFT's `aft-request` table (SSM `/aft/resources/ddb/aft-request-table-name`) each account gets, so AFT's own invoke-customizations finds it: `auto` (AFT's full row where nothing listens to the table's stream, none where an AFT request pipeline does), `full` (AFT's full row always: AFT's listeners act on it), `inert` (a row without `control_tower_parameters`, which AFT's trigger rejects before acting; none while AFT's Control Tower event rule is on, since its Lambda acts on the row) or `none`. Rows AFT wrote are never replaced or removed. Setting it (to any value) is how the configuration says it coexists with a live AFT: unset, a plan that creates an account or runs the framework while AFT's request processing listens (its table's stream mappings, its Control Tower event rule) is refused, and other plans warn. Default: `auto`."))
            .attr(s("aft_admin_role_arn", "AFT's admin role (`AWSAFTAdmin`), which the provider assumes from its own credentials, with the session name `role_names.session_name`, for every hop into another account, as AFT's Lambdas do: the roles AFT creates trust exactly that session. Default: `role_names.admin` in the AFT management account. When `assume_role.role_arn` is this role itself (the form earlier versions documented), no second hop is made."))
            .block(NestedBlock::single(
                "assume_role",
                Block::new("Role to assume first: the provider's own identity in the AFT management account, which reads and writes AFT's tables, topics, parameters, state machine and pipelines there and assumes `aft_admin_role_arn` for everything in other accounts.")
                    .attr(Attribute::required("role_arn", Type::String, "ARN of the role."))
                    .attr(s("session_name", "Session name. Default: the `role_names.session_name`."))
                    .attr(s("external_id", "External id, if the role requires one.")),
            ))
            .block(NestedBlock::single(
                "role_names",
                Block::new("The role chain AFT uses.")
                    .attr(s("admin", "Hub role in the AFT management account; the new roles trust it. Default: `AWSAFTAdmin`."))
                    .attr(s("service", "Role AFT creates in every account and uses in the CT management account. Default: `AWSAFTService`."))
                    .attr(s("execution", "Role AFT creates in every account for customizations. Default: `AWSAFTExecution`."))
                    .attr(s("control_tower_execution", "Role a new account trusts from the CT management account. Default: `AWSControlTowerExecution`."))
                    .attr(s("session_name", "Session name on every hop. Default: `AWSAFT-Session`.")),
            ))
            .block(NestedBlock::single(
                "feature_options",
                Block::new("AFT feature options (step 6).")
                    .attr(Attribute::optional("delete_default_vpcs", Type::Bool, "Delete the default VPCs of each account this provider vends, at its first framework run, in every enabled region; a default VPC with network interfaces in use is kept with a warning. Default: `false`."))
                    .attr(Attribute::optional("enterprise_support", Type::Bool, "Request Enterprise Support for each new account (once). Default: `false`."))
                    .attr(Attribute::optional("cloudtrail_data_events", Type::Bool, "Keep the organization CloudTrail data-event trail. Default: `false`.")),
            ))
            .block(NestedBlock::single(
                "account_factory",
                Block::new("How accounts are vended.")
                    .attr(s("method", "`control_tower` (Service Catalog Account Factory), `organizations` (Organizations `CreateAccount`) or `organizations_auto_enroll` (Organizations `CreateAccount`, then a move into the requested OU that Control Tower's auto-enrollment enrolls: landing zone 3.1+ with `INHERITANCE_DRIFT` remediation, a registered OU). Default: `control_tower`."))
                    .attr(s("product_name", "Service Catalog product name. Default: `AWS Control Tower Account Factory`."))
                    .attr(Attribute::optional("max_concurrent_operations", Type::Number, "Cap on account operations in flight, from 1 to 10. For `control_tower` it is the organization-wide cap: Control Tower's quota of concurrent account operations is 5 by default and can be raised to 10, and every runner (with `coordination`), the console and AFT share it; for `organizations_auto_enroll` it is the same organization-wide cap on enrollments (moves into a registered OU), beside one move at a time per OU; for `organizations` it caps this provider process's `CreateAccount` calls. Default: `5`."))
                    .attr(s("poll_interval", "Fixed polling interval, e.g. `10s`. Default: adaptive.")),
            ))
            .block(NestedBlock::single(
                "coordination",
                Block::new("Coordination with the other Terraform states and runners that act on this organization, through one DynamoDB table in the AFT management account: a claim per account email (a second state with the same `AccountEmail` is refused, naming the owner), and organization-wide leases on Control Tower account operations. Without this block each provider process guards only its own work, and plans say so.")
                    .attr(s("table", "The DynamoDB table (key `pk` and `sk`, strings), created by the provider when absent and it may. Default: `aft-provider-coordination`."))
                    .attr(Attribute::required("owner", Type::String, "The name of this Terraform state, unique among the states that share the table (e.g. `platform/prod-accounts`): its claims carry it, and a destroy releases only claims with this owner."))
                    .attr(s("lease_duration", "How long an operation lease lives without renewal (renewed while held): a killed runner's leases lapse after this. From `5s` to `1h`. Default: `2m`.")),
            )),
        )
    }

    fn validate(&self, c: &Value) -> Diagnostics {
        let c: Config = match read_model(c, "provider \"aft\"") {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut d = Diagnostics::new();
        let mut check = |path: AttrPath, v: &Attr<String>, f: &dyn Fn(&str) -> Result<(), String>| {
            if let Some(s) = v.as_str()
                && let Err(e) = f(s)
            {
                d.error_at(path.clone(), format!("Invalid value for {path}"), e);
            }
        };
        check(AttrPath::attr("region"), &c.region, &validation::region);
        check(AttrPath::attr("endpoint_url"), &c.endpoint_url, &validation::url);
        for (a, v) in [
            ("aft_management_account_id", &c.aft_management_account_id),
            ("ct_management_account_id", &c.ct_management_account_id),
            ("log_archive_account_id", &c.log_archive_account_id),
            ("audit_account_id", &c.audit_account_id),
        ] {
            check(AttrPath::attr(a), v, &validation::account_id);
        }
        for (a, v) in [("metadata_table", &c.metadata_table), ("audit_table", &c.audit_table)] {
            check(AttrPath::attr(a), v, &table_name);
        }
        for (a, v) in [
            ("notification_topic_arn", &c.notification_topic_arn),
            ("failure_notification_topic_arn", &c.failure_notification_topic_arn),
        ] {
            check(AttrPath::attr(a), v, &|s| validation::service_arn(s, "sns"));
        }
        check(
            AttrPath::attr("provisioning_customizations_state_machine"),
            &c.provisioning_customizations_state_machine,
            &|s| {
                if s.starts_with("arn:") {
                    validation::service_arn(s, "states")
                } else if !s.is_empty()
                    && s.len() <= 80
                    && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
                {
                    Ok(())
                } else {
                    Err(format!(
                        "{s:?} is neither a state machine name (1-80 of a-z A-Z 0-9 - _) nor a state machine ARN."
                    ))
                }
            },
        );
        check(AttrPath::attr("drift_detection"), &c.drift_detection, &|s| match s {
            "standard" | "full" => Ok(()),
            _ => Err(format!("{s:?} is not a drift detection level; use \"standard\" or \"full\".")),
        });
        check(AttrPath::attr("aft_request_rows"), &c.aft_request_rows, &|s| match RowMode::parse(s) {
            Some(_) => Ok(()),
            None => Err(format!("{s:?} is not a row mode; use \"auto\", \"full\", \"inert\" or \"none\".")),
        });
        check(AttrPath::attr("iam_propagation_timeout"), &c.iam_propagation_timeout, &|s| {
            validation::duration(s).map(|_| ())
        });
        check(AttrPath::attr("aft_admin_role_arn"), &c.aft_admin_role_arn, &validation::role_arn);
        if let Some(ar) = &c.assume_role {
            check(AttrPath::attr("assume_role").then("role_arn"), &ar.role_arn, &validation::role_arn);
            check(AttrPath::attr("assume_role").then("session_name"), &ar.session_name, &validation::iam_name);
        }
        if let Some(rn) = &c.role_names {
            for (a, v) in [
                ("admin", &rn.admin),
                ("service", &rn.service),
                ("execution", &rn.execution),
                ("control_tower_execution", &rn.control_tower_execution),
                ("session_name", &rn.session_name),
            ] {
                check(AttrPath::attr("role_names").then(a), v, &validation::iam_name);
            }
        }
        let af = c.account_factory.clone().unwrap_or_default();
        check(AttrPath::attr("account_factory").then("method"), &af.method, &|s| match s {
            "control_tower" | "organizations" | "organizations_auto_enroll" => Ok(()),
            _ => Err(format!(
                "{s:?} is not a vending method; use \"control_tower\", \"organizations\" or \"organizations_auto_enroll\"."
            )),
        });
        check(AttrPath::attr("account_factory").then("product_name"), &af.product_name, &|s| {
            if s.trim().is_empty() { Err("The product name must not be empty.".into()) } else { Ok(()) }
        });
        check(AttrPath::attr("account_factory").then("poll_interval"), &af.poll_interval, &|s| {
            validation::duration(s)
                .and_then(|d| if d.as_millis() >= 100 { Ok(()) } else { Err(format!("{s:?} is shorter than 100ms.")) })
        });
        if let Some(co) = &c.coordination {
            check(AttrPath::attr("coordination").then("table"), &co.table, &table_name);
            check(AttrPath::attr("coordination").then("owner"), &co.owner, &|s| {
                let ok = !s.trim().is_empty() && s.len() <= 128 && s.chars().all(|c| c.is_ascii_graphic());
                if ok {
                    Ok(())
                } else {
                    Err(format!("{s:?} is not an owner name (1-128 printable characters, no spaces)."))
                }
            });
            check(AttrPath::attr("coordination").then("lease_duration"), &co.lease_duration, &|s| {
                validation::duration(s).and_then(|d| match d.as_secs() {
                    5..=3600 => Ok(()),
                    _ => Err(format!("{s:?} is not from 5s to 1h.")),
                })
            });
        }
        let mut cap = |path: AttrPath, v: &Attr<Number>, max: i64| {
            if let Some(n) = v.known()
                && !n.as_i64().is_some_and(|n| (1..=max).contains(&n))
            {
                d.error_at(
                    path.clone(),
                    format!("Invalid value for {path}"),
                    format!("Must be a whole number from 1 to {max}."),
                );
            }
        };
        // Control Tower's quota of concurrent account operations: 5 by default, 10 at most
        cap(AttrPath::attr("account_factory").then("max_concurrent_operations"), &af.max_concurrent_operations, 10);
        cap(AttrPath::attr("max_concurrent_customizations"), &c.max_concurrent_customizations, 100);
        d
    }

    async fn configure(&self, c: &Value) -> Result<Context, Diagnostics> {
        let d = self.validate(c);
        if d.has_errors() {
            return Err(d);
        }
        let c: Config = read_model(c, "provider \"aft\"")?;
        let rn = c.role_names.clone().unwrap_or_default();
        let def = RoleNames::default();
        let roles = RoleNames {
            admin: owned(&rn.admin).unwrap_or(def.admin),
            service: owned(&rn.service).unwrap_or(def.service),
            execution: owned(&rn.execution).unwrap_or(def.execution),
            control_tower_execution: owned(&rn.control_tower_execution).unwrap_or(def.control_tower_execution),
            session_name: owned(&rn.session_name).unwrap_or(def.session_name),
        };
        let fo = c.feature_options.clone().unwrap_or_default();
        let af = c.account_factory.clone().unwrap_or_default();
        let base = Settings::default();
        let settings = Settings {
            aft_management_account_id: owned(&c.aft_management_account_id),
            ct_management_account_id: owned(&c.ct_management_account_id),
            log_archive_account_id: owned(&c.log_archive_account_id),
            audit_account_id: owned(&c.audit_account_id),
            metadata_table: owned(&c.metadata_table).unwrap_or(base.metadata_table),
            audit_table: owned(&c.audit_table).unwrap_or(base.audit_table),
            notification_topic_arn: owned(&c.notification_topic_arn),
            failure_notification_topic_arn: owned(&c.failure_notification_topic_arn),
            provisioning_customizations_state_machine: owned(&c.provisioning_customizations_state_machine)
                .unwrap_or(base.provisioning_customizations_state_machine),
            features: FeatureOptions {
                delete_default_vpcs: fo.delete_default_vpcs.known() == Some(&true),
                enterprise_support: fo.enterprise_support.known() == Some(&true),
                cloudtrail_data_events: fo.cloudtrail_data_events.known() == Some(&true),
            },
            method: match af.method.as_str() {
                Some("organizations") => VendMethod::Organizations,
                Some("organizations_auto_enroll") => VendMethod::OrganizationsAutoEnroll,
                _ => VendMethod::ControlTower,
            },
            product_name: owned(&af.product_name).unwrap_or(base.product_name),
            max_concurrent_operations: cap_of(&af.max_concurrent_operations).unwrap_or(base.max_concurrent_operations),
            poll_interval: af.poll_interval.as_str().and_then(|s| validation::duration(s).ok()),
            max_concurrent_customizations: cap_of(&c.max_concurrent_customizations)
                .unwrap_or(base.max_concurrent_customizations),
            iam_propagation_timeout: c
                .iam_propagation_timeout
                .as_str()
                .and_then(|s| validation::duration(s).ok())
                .unwrap_or(base.iam_propagation_timeout),
            drift_detection: match c.drift_detection.as_str() {
                Some("full") => DriftDetection::Full,
                _ => DriftDetection::Standard,
            },
            aft_request_rows: c.aft_request_rows.as_str().and_then(RowMode::parse).unwrap_or_default(),
            aft_request_rows_set: c.aft_request_rows.as_str().is_some(),
            admin_role_arn: owned(&c.aft_admin_role_arn),
            coordination: c.coordination.as_ref().and_then(|co| {
                Some(CoordinationSettings {
                    table: owned(&co.table).unwrap_or_else(|| crate::framework::coordination::DEFAULT_TABLE.into()),
                    owner: owned(&co.owner)?,
                    lease_duration: co
                        .lease_duration
                        .as_str()
                        .and_then(|s| validation::duration(s).ok())
                        .unwrap_or(Duration::from_secs(120)),
                })
            }),
            roles,
        };
        let ar = c.assume_role.clone().unwrap_or_default();
        let aws_settings = AwsSettings {
            region: owned(&c.region),
            profile: owned(&c.profile),
            endpoint_url: owned(&c.endpoint_url),
            assume_role: owned(&ar.role_arn).map(|role_arn| AssumeRole {
                role_arn,
                session_name: owned(&ar.session_name),
                external_id: owned(&ar.external_id),
            }),
            session_name: settings.roles.session_name.clone(),
        };
        let aws = Aws::load(&aws_settings).await;
        tracing::debug!(region = %aws.region(), method = ?settings.method, "provider configured");
        Ok(Context::new(aws, settings, crate::plugin::stop::global().clone()))
    }

    fn resources(&self) -> Vec<Arc<dyn Resource<Context>>> {
        crate::resources::all()
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource<Context>>> {
        crate::data_sources::all()
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource<Context>>> {
        crate::list_resources::all()
    }

    fn actions(&self) -> Vec<Arc<dyn Action<Context>>> {
        crate::actions::all()
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use crate::plugin::Provider;

    #[test]
    fn the_model_matches_the_schema_one_to_one() {
        crate::plugin::check_model::<Config>(&AftProvider.schema().cty()).unwrap();
    }
}
