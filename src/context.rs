//! What every operation receives once the provider is configured: settings, AWS sessions,
//! the landing zone's account ids (resolved once, lazily), and the provider-wide concurrency caps.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::sync::{OnceCell, Semaphore};

use crate::aws::{self, Aws, AwsError, AwsResultExt, clients};

/// AFT role names (the contract's `role_names` block).
#[derive(Clone, Debug)]
pub struct RoleNames {
    pub admin: String,
    pub service: String,
    pub execution: String,
    pub control_tower_execution: String,
    pub session_name: String,
}

impl Default for RoleNames {
    fn default() -> Self {
        RoleNames {
            admin: "AWSAFTAdmin".into(),
            service: "AWSAFTService".into(),
            execution: "AWSAFTExecution".into(),
            control_tower_execution: "AWSControlTowerExecution".into(),
            session_name: "AWSAFT-Session".into(),
        }
    }
}

/// AFT feature options (step 6).
#[derive(Clone, Debug, Default)]
pub struct FeatureOptions {
    pub delete_default_vpcs: bool,
    pub enterprise_support: bool,
    pub cloudtrail_data_events: bool,
}

/// How accounts are vended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VendMethod {
    /// Service Catalog "AWS Control Tower Account Factory" in the CT management account.
    ControlTower,
    /// Organizations `CreateAccount`.
    Organizations,
    /// Organizations `CreateAccount`, then a move into a registered OU that Control Tower's
    /// auto-enrollment (landing zone 3.1+) enrolls (`organizations_auto_enroll`).
    OrganizationsAutoEnroll,
}

/// The `coordination` block: the table every state and runner of one organization shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoordinationSettings {
    /// The DynamoDB table in the AFT management account.
    pub table: String,
    /// The name of this Terraform state: its claims carry it.
    pub owner: String,
    /// How long a lease lives without renewal: a killed runner's lease lapses after this.
    pub lease_duration: Duration,
}

/// What a refresh of `aft_account_provisioning` compares with AWS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DriftDetection {
    /// Existence and status, OU and metadata item, from one bulk read shared by all accounts.
    #[default]
    Standard,
    /// Also the Organizations tags: one more call per account.
    Full,
}

/// Everything the provider block sets, with defaults applied.
#[derive(Clone, Debug)]
pub struct Settings {
    pub aft_management_account_id: Option<String>,
    pub ct_management_account_id: Option<String>,
    pub log_archive_account_id: Option<String>,
    pub audit_account_id: Option<String>,
    pub roles: RoleNames,
    pub metadata_table: String,
    pub audit_table: String,
    pub notification_topic_arn: Option<String>,
    pub failure_notification_topic_arn: Option<String>,
    pub provisioning_customizations_state_machine: String,
    pub features: FeatureOptions,
    pub method: VendMethod,
    pub product_name: String,
    pub max_concurrent_operations: usize,
    /// Fixed polling interval; `None` = adaptive.
    pub poll_interval: Option<Duration>,
    pub max_concurrent_customizations: usize,
    pub iam_propagation_timeout: Duration,
    pub drift_detection: DriftDetection,
    /// `aft_request_rows`: which row of AFT's `aft-request` table each account gets.
    pub aft_request_rows: RowMode,
    /// True when the provider block sets `aft_request_rows`: the configuration says how this
    /// provider coexists with a live AFT (without it, a plan that writes while AFT listens fails).
    pub aft_request_rows_set: bool,
    /// `aft_admin_role_arn`: AFT's admin role, assumed from the provider's own credentials for
    /// every hop into another account; `None` = `roles.admin` in the AFT management account.
    pub admin_role_arn: Option<String>,
    /// `coordination { … }`: `None` = each provider process guards only its own work.
    pub coordination: Option<CoordinationSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            aft_management_account_id: None,
            ct_management_account_id: None,
            log_archive_account_id: None,
            audit_account_id: None,
            roles: RoleNames::default(),
            metadata_table: aws::names::METADATA_TABLE.into(),
            audit_table: aws::names::AUDIT_TABLE.into(),
            notification_topic_arn: None,
            failure_notification_topic_arn: None,
            provisioning_customizations_state_machine: aws::names::PROVISIONING_CUSTOMIZATIONS.into(),
            features: FeatureOptions::default(),
            method: VendMethod::ControlTower,
            product_name: "AWS Control Tower Account Factory".into(),
            max_concurrent_operations: 5,
            poll_interval: None,
            max_concurrent_customizations: 5,
            iam_propagation_timeout: Duration::from_secs(120),
            drift_detection: DriftDetection::Standard,
            aft_request_rows: Default::default(),
            aft_request_rows_set: false,
            admin_role_arn: None,
            coordination: None,
        }
    }
}

/// The landing zone's accounts, resolved from settings, AFT's SSM parameters, STS and Organizations.
#[derive(Clone, Debug)]
pub struct LandingZone {
    pub partition: String,
    pub region: String,
    pub aft_management: String,
    pub ct_management: String,
    pub log_archive: Option<String>,
    pub audit: Option<String>,
}

/// The part an account plays in the landing zone, when it is one of the accounts the landing
/// zone is built on: such an account is never closed, parked or moved by this provider (AFT
/// refuses to move them, `aft_common/shared_account.py`, and closes no account).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedRole {
    ControlTowerManagement,
    LogArchive,
    Audit,
    AftManagement,
}

impl std::fmt::Display for SharedRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SharedRole::ControlTowerManagement => "Control Tower management account",
            SharedRole::LogArchive => "log archive account",
            SharedRole::Audit => "audit account",
            SharedRole::AftManagement => "AFT management account",
        })
    }
}

impl LandingZone {
    /// The shared accounts, each with its role.
    pub fn shared(&self) -> Vec<(SharedRole, &str)> {
        let mut out = vec![
            (SharedRole::ControlTowerManagement, self.ct_management.as_str()),
            (SharedRole::AftManagement, self.aft_management.as_str()),
        ];
        out.extend(self.log_archive.as_deref().map(|a| (SharedRole::LogArchive, a)));
        out.extend(self.audit.as_deref().map(|a| (SharedRole::Audit, a)));
        out
    }

    /// The role of `account` when it is a shared account of the landing zone.
    pub fn role_of(&self, account: &str) -> Option<SharedRole> {
        self.shared().into_iter().find(|(_, id)| !id.is_empty() && *id == account).map(|(r, _)| r)
    }
}

/// `aft_request_rows`: which row to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RowMode {
    /// A full row where nothing listens to the table, none where something does (or may).
    #[default]
    Auto,
    /// AFT's full row always (the user accepts what AFT's listeners do with it).
    Full,
    /// A row without `control_tower_parameters`: identify-targets reads it; AFT's action trigger
    /// fails on it (`KeyError`) before doing anything, and publishes a failure notification.
    Inert,
    /// Never write a row.
    None,
}

impl RowMode {
    /// Parses the setting (validated at plan time).
    pub fn parse(s: &str) -> Option<RowMode> {
        match s {
            "auto" => Some(RowMode::Auto),
            "full" => Some(RowMode::Full),
            "inert" => Some(RowMode::Inert),
            "none" => Some(RowMode::None),
            _ => None,
        }
    }
}

/// The configured provider.
pub struct Context {
    pub aws: Aws,
    pub settings: Settings,
    landing_zone: OnceCell<LandingZone>,
    /// Cap on account vending operations in flight (`max_concurrent_operations`).
    pub vend_slots: Semaphore,
    /// Held while an Account Factory operation checks Control Tower's room and is sent, so two
    /// of this provider's operations never take the last place at once.
    pub control_tower_gate: tokio::sync::Mutex<()>,
    /// Cap on customization executions in flight (`max_concurrent_customizations`).
    pub customization_slots: Semaphore,
    /// Emails and account names planned by this provider process (one plan walk), to catch
    /// duplicates.
    planned_unique: std::sync::Mutex<std::collections::HashMap<String, String>>,
    /// Terraform's "stop now" (StopProvider, Ctrl-C): every wait of the framework watches it.
    pub stop: crate::plugin::stop::StopSignal,
    /// What the modules above keep for the life of the process, one value per type (the bulk
    /// read of the fleet, what listens to AFT's request table): see [`Context::memo`].
    memos: std::sync::Mutex<std::collections::HashMap<std::any::TypeId, Arc<dyn std::any::Any + Send + Sync>>>,
}

impl Context {
    /// A context over an AWS session and settings, stopped by `stop`.
    pub fn new(aws: Aws, settings: Settings, stop: crate::plugin::stop::StopSignal) -> Self {
        Context {
            stop,
            vend_slots: Semaphore::new(settings.max_concurrent_operations.max(1)),
            customization_slots: Semaphore::new(settings.max_concurrent_customizations.max(1)),
            control_tower_gate: Default::default(),
            aws,
            settings,
            landing_zone: OnceCell::new(),
            planned_unique: Default::default(),
            memos: Default::default(),
        }
    }

    /// Records a unique value (`email:…`, `name:…`) planned in this walk with the planning
    /// resource's configuration; false when a resource with another configuration already
    /// planned the same value (compared ignoring ASCII case).
    /// Terraform plans each instance once per walk (twice, with the same configuration, when it
    /// replaces one), and starts a fresh provider process for each walk.
    pub fn note_planned(&self, key: &str, config_signature: &str) -> bool {
        let mut seen = self.planned_unique.lock().unwrap_or_else(|p| p.into_inner());
        match seen.get(&key.to_ascii_lowercase()) {
            Some(sig) => sig == config_signature,
            None => {
                seen.insert(key.to_ascii_lowercase(), config_signature.to_string());
                true
            }
        }
    }

    /// The landing zone's account ids (one resolution per provider process).
    pub async fn landing_zone(&self) -> Result<&LandingZone, AwsError> {
        self.landing_zone.get_or_try_init(|| self.resolve_landing_zone()).await
    }

    async fn resolve_landing_zone(&self) -> Result<LandingZone, AwsError> {
        let s = &self.settings;
        let hub = self.aws.hub();
        let region = self.aws.region();
        let partition = aws::partition_of(&region).to_string();
        // AFT's own parameters, when an AFT deployment exists in this account
        let names =
            ["aft-management", "ct-management", "log-archive", "audit"].map(|n| format!("/aft/account/{n}/account-id"));
        let out =
            clients::ssm(hub).get_parameters().set_names(Some(names.to_vec())).send().await.aws("ssm:GetParameters")?;
        let from_ssm = |i: usize| {
            out.parameters()
                .iter()
                .find(|p| p.name() == Some(names[i].as_str()))
                .and_then(|p| p.value().map(str::to_string))
        };
        let aft_management = match s.aft_management_account_id.clone().or_else(|| from_ssm(0)) {
            Some(a) => a,
            None => {
                let who = clients::sts(hub).get_caller_identity().send().await.aws("sts:GetCallerIdentity")?;
                who.account().unwrap_or_default().to_string()
            }
        };
        let ct_management = match s.ct_management_account_id.clone().or_else(|| from_ssm(1)) {
            Some(a) => a,
            None => {
                let org = clients::organizations(hub)
                    .describe_organization()
                    .send()
                    .await
                    .aws("organizations:DescribeOrganization")?;
                org.organization().and_then(|o| o.master_account_id()).unwrap_or(&aft_management).to_string()
            }
        };
        Ok(LandingZone {
            partition,
            region,
            aft_management,
            ct_management,
            log_archive: s.log_archive_account_id.clone().or_else(|| from_ssm(2)),
            audit: s.audit_account_id.clone().or_else(|| from_ssm(3)),
        })
    }

    /// The process-wide value of type `T`, made with `T::default()` on first use. Modules above
    /// the context keep their caches here (each in a type of its own), so the context needs to
    /// know none of them.
    pub fn memo<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let mut memos = self.memos.lock().unwrap_or_else(|p| p.into_inner());
        let slot = memos.entry(std::any::TypeId::of::<T>()).or_insert_with(|| Arc::new(T::default())).clone();
        match slot.downcast::<T>() {
            Ok(t) => t,
            // the map is keyed by the type id, so the slot always holds a `T`
            Err(_) => Arc::new(T::default()),
        }
    }

    /// The ARN of AFT's admin role (`aft_admin_role_arn`, else `AWSAFTAdmin` in the AFT
    /// management account).
    pub async fn admin_role_arn(&self) -> Result<String, AwsError> {
        if let Some(arn) = &self.settings.admin_role_arn {
            return Ok(arn.clone());
        }
        let lz = self.landing_zone().await?;
        Ok(aws::role_arn(&lz.partition, &lz.aft_management, &self.settings.roles.admin))
    }

    /// hub → `AWSAFTAdmin` (session `AWSAFT-Session`): the only identity the roles AFT creates
    /// in other accounts trust, and the start of every hop there (`aft_common/auth.py`). The hub
    /// itself when `assume_role` already named the admin role (the earlier documented form).
    pub async fn admin_session(&self) -> Result<SdkConfig, AwsError> {
        let arn = self.admin_role_arn().await?;
        if self.aws.hub_role_arn() == Some(arn.as_str()) {
            return Ok(self.aws.hub().clone());
        }
        Ok(self.aws.assume("hub", self.aws.hub(), &arn).await)
    }

    /// admin → `AWSAFTService` in the CT management account (Organizations, Service Catalog, Support).
    pub async fn ct_session(&self) -> Result<SdkConfig, AwsError> {
        let lz = self.landing_zone().await?;
        let arn = aws::role_arn(&lz.partition, &lz.ct_management, &self.settings.roles.service);
        let admin = self.admin_session().await?;
        Ok(self.aws.assume("admin", &admin, &arn).await)
    }

    /// CT management → `AWSControlTowerExecution` in `account`, to bootstrap AFT's roles there.
    /// For the CT management account itself the `AWSAFTService` session is used, as AFT does.
    pub async fn bootstrap_session(&self, account: &str) -> Result<SdkConfig, AwsError> {
        let lz = self.landing_zone().await?;
        let ct = self.ct_session().await?;
        if account == lz.ct_management {
            return Ok(ct);
        }
        let arn = aws::role_arn(&lz.partition, account, &self.settings.roles.control_tower_execution);
        Ok(self.aws.assume("ct", &ct, &arn).await)
    }

    /// admin → `AWSAFTService` in `account` (after AFT's roles exist there).
    pub async fn target_session(&self, account: &str) -> Result<SdkConfig, AwsError> {
        let lz = self.landing_zone().await?;
        let arn = aws::role_arn(&lz.partition, account, &self.settings.roles.service);
        let admin = self.admin_session().await?;
        Ok(self.aws.assume("admin", &admin, &arn).await)
    }

    /// The success and failure notification topics.
    pub async fn topics(&self) -> Result<(String, String), AwsError> {
        let lz = self.landing_zone().await?;
        let arn = |n: &str| aws::names::topic_arn(&lz.partition, &lz.region, &lz.aft_management, n);
        Ok((
            self.settings.notification_topic_arn.clone().unwrap_or_else(|| arn(aws::names::NOTIFICATION_TOPIC)),
            self.settings
                .failure_notification_topic_arn
                .clone()
                .unwrap_or_else(|| arn(aws::names::FAILURE_NOTIFICATION_TOPIC)),
        ))
    }

    /// The ARN of the provisioning customizations state machine.
    pub async fn customizations_state_machine_arn(&self) -> Result<String, AwsError> {
        let name = &self.settings.provisioning_customizations_state_machine;
        if name.starts_with("arn:") {
            return Ok(name.clone());
        }
        let lz = self.landing_zone().await?;
        Ok(aws::names::state_machine_arn(&lz.partition, &lz.region, &lz.aft_management, name))
    }
}
