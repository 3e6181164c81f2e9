//! The one place that talks to the AWS SDK's configuration: the base session, the AFT role chain
//! with cached credentials, and client construction.
//!
//! Sessions, as AFT's `AuthClient` builds them:
//! - **hub**: the provider's own credentials (after the optional `assume_role`), in the AFT
//!   management account: AFT's tables, topics, parameters, state machine and pipelines.
//! - **admin**: hub → `AWSAFTAdmin` (session `AWSAFT-Session`), which the roles AFT creates in
//!   other accounts trust; the hub itself when `assume_role` already is that role.
//! - **CT management**: admin → `AWSAFTService` in the Control Tower management account.
//! - **bootstrap of a new account**: CT management → `AWSControlTowerExecution` in the account
//!   (the only role a fresh account trusts), used to create AFT's roles there.
//! - **target**: admin → `AWSAFTService` in the account, once AFT's roles exist.
//!
//! Every assumed session is cached by its chain, so a plan over many accounts assumes each role
//! once per provider process and refreshes credentials only when they expire.

pub mod controltower;
pub mod dynamodb;
pub mod ec2;
pub mod errors;
pub mod names;
pub mod organizations;

use std::collections::HashMap;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use tokio::sync::Mutex;

pub use errors::{AwsError, AwsResultExt};

/// The provider block's `assume_role`.
#[derive(Clone, Debug, Default)]
pub struct AssumeRole {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
}

/// How to reach AWS, from the provider block.
#[derive(Clone, Debug, Default)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub endpoint_url: Option<String>,
    pub assume_role: Option<AssumeRole>,
    /// Session name used on every hop of the role chain (`AWSAFT-Session`).
    pub session_name: String,
}

/// Base configuration and cached role-chain sessions.
pub struct Aws {
    base: SdkConfig,
    /// The role `assume_role` made the base session, if any.
    base_role_arn: Option<String>,
    session_name: String,
    /// Assumed sessions by role chain, with when each was last used (bounded, see [`MAX_SESSIONS`]).
    sessions: Mutex<HashMap<String, (SdkConfig, u64)>>,
    uses: std::sync::atomic::AtomicU64,
}

impl Aws {
    /// Loads the credential chain (env, profile, SSO, web identity, IMDS) and applies the settings.
    pub async fn load(settings: &AwsSettings) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            // credential loads include AssumeRole round trips, themselves retried; 5s (the default)
            // is too tight under load or faults
            .identity_cache(IdentityCache::lazy().load_timeout(IDENTITY_LOAD_TIMEOUT).build())
            .retry_config(retry_config(std::env::var("AWS_RETRY_MODE").ok().as_deref()))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    .operation_attempt_timeout(Duration::from_secs(60))
                    .build(),
            );
        if let Some(r) = &settings.region {
            loader = loader.region(Region::new(r.clone()));
        }
        if let Some(p) = &settings.profile {
            loader = loader.profile_name(p);
        }
        if let Some(u) = &settings.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        let mut base = loader.load().await;
        if base.region().is_none() {
            base = base.to_builder().region(Region::new("us-east-1")).build();
        }
        if let Some(ar) = &settings.assume_role {
            let name = ar.session_name.clone().unwrap_or_else(|| settings.session_name.clone());
            base = assumed(&base, &ar.role_arn, &name, ar.external_id.as_deref()).await;
        }
        Aws {
            base,
            base_role_arn: settings.assume_role.as_ref().map(|a| a.role_arn.clone()),
            session_name: settings.session_name.clone(),
            sessions: Mutex::new(HashMap::new()),
            uses: Default::default(),
        }
    }

    /// The hub session in the AFT management account.
    pub fn hub(&self) -> &SdkConfig {
        &self.base
    }

    /// The role the hub session is, when `assume_role` named one.
    pub fn hub_role_arn(&self) -> Option<&str> {
        self.base_role_arn.as_deref()
    }

    /// The region of the AFT management account.
    pub fn region(&self) -> String {
        self.base.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".to_string())
    }

    /// The same session, in another region.
    pub fn in_region(cfg: &SdkConfig, region: &str) -> SdkConfig {
        cfg.to_builder().region(Region::new(region.to_string())).build()
    }

    /// A session for `role_arn`, assumed from `from` (cached by the chain of role ARNs).
    pub async fn assume(&self, chain_key: &str, from: &SdkConfig, role_arn: &str) -> SdkConfig {
        let key = format!("{chain_key}>{role_arn}");
        let mut sessions = self.sessions.lock().await;
        let now = self.uses.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some((c, used)) = sessions.get_mut(&key) {
            *used = now;
            return c.clone();
        }
        let cfg = assumed(from, role_arn, &self.session_name, None).await;
        // Each session holds its own STS client and credentials; a fleet of N accounts would keep
        // 2N of them for the whole apply. The least recently used one goes once the cap is reached
        // (it is assumed again if needed: one AssumeRole call).
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(key, (cfg.clone(), now));
        cfg
    }
}

async fn assumed(from: &SdkConfig, role_arn: &str, session_name: &str, external_id: Option<&str>) -> SdkConfig {
    let mut b = aws_config::sts::AssumeRoleProvider::builder(role_arn)
        .session_name(session_name)
        .session_length(SESSION_LENGTH)
        .configure(from);
    if let Some(x) = external_id {
        b = b.external_id(x);
    }
    let provider = b.build().await;
    from.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .identity_cache(IdentityCache::lazy().load_timeout(IDENTITY_LOAD_TIMEOUT).build())
        .build()
}

/// The SDK's retry mode, bounded: 8 attempts, exponential backoff with jitter from 100 ms up to
/// 5 s. `standard` by default; `AWS_RETRY_MODE=adaptive` adds the SDK's client-side rate limiter,
/// which helps against sustained throttling but slows everything after a few random throttles.
pub fn retry_config(mode: Option<&str>) -> RetryConfig {
    let base = if mode == Some("adaptive") { RetryConfig::adaptive() } else { RetryConfig::standard() };
    base.with_max_attempts(8).with_initial_backoff(Duration::from_millis(100)).with_max_backoff(Duration::from_secs(5))
}

/// At most this many assumed sessions are cached (twice the default vending and customization caps
/// many times over, so the sessions of the accounts being worked on stay).
const MAX_SESSIONS: usize = 64;

/// How long every assumed session lasts (AFT's `DurationSeconds=900`).
pub const SESSION_LENGTH: Duration = Duration::from_secs(900);

/// How long resolving credentials (an AssumeRole hop with its own retries) may take.
pub const IDENTITY_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// The ARN of a role in an account.
pub fn role_arn(partition: &str, account_id: &str, role_name: &str) -> String {
    format!("arn:{partition}:iam::{account_id}:role/{role_name}")
}

/// The partition of a region (`aws`, `aws-cn`, `aws-us-gov`).
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Classifies Organizations' `ConcurrentModificationException` as retryable: AWS documents it as
/// "the target of the operation is currently being modified by a different request; try again
/// later", and the SDK's own classifiers do not know the code.
#[derive(Debug)]
pub struct RetryConflicts;

impl aws_smithy_runtime_api::client::retries::classifiers::ClassifyRetry for RetryConflicts {
    fn classify_retry(
        &self,
        ctx: &aws_smithy_runtime_api::client::interceptors::context::InterceptorContext,
    ) -> aws_smithy_runtime_api::client::retries::classifiers::RetryAction {
        use aws_smithy_runtime_api::client::retries::classifiers::RetryAction;
        let conflict = ctx.response().is_some_and(|r| {
            r.status().as_u16() >= 400
                && (r
                    .headers()
                    .get("x-amzn-ErrorType")
                    .is_some_and(|t| t.starts_with("ConcurrentModificationException"))
                    || r.body().bytes().is_some_and(|b| {
                        b.windows(b"ConcurrentModificationException".len())
                            .any(|w| w == b"ConcurrentModificationException")
                    }))
        });
        if conflict { RetryAction::throttling_error() } else { RetryAction::NoActionIndicated }
    }

    fn name(&self) -> &'static str {
        "Organizations ConcurrentModificationException"
    }
}

/// Client constructors: every SDK client the provider uses is built here.
pub mod clients {
    use aws_config::SdkConfig;

    /// DynamoDB.
    pub fn dynamodb(c: &SdkConfig) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(c)
    }
    /// Organizations (always in the partition's global region). Its
    /// `ConcurrentModificationException` ("try again later") is retried like throttling.
    pub fn organizations(c: &SdkConfig) -> aws_sdk_organizations::Client {
        let conf = aws_sdk_organizations::config::Builder::from(c).retry_classifier(super::RetryConflicts).build();
        aws_sdk_organizations::Client::from_conf(conf)
    }
    /// STS.
    pub fn sts(c: &SdkConfig) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(c)
    }
    /// SSM.
    pub fn ssm(c: &SdkConfig) -> aws_sdk_ssm::Client {
        aws_sdk_ssm::Client::new(c)
    }
    /// IAM.
    pub fn iam(c: &SdkConfig) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(c)
    }
    /// SNS.
    pub fn sns(c: &SdkConfig) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(c)
    }
    /// Step Functions.
    pub fn sfn(c: &SdkConfig) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(c)
    }
    /// CodePipeline.
    pub fn codepipeline(c: &SdkConfig) -> aws_sdk_codepipeline::Client {
        aws_sdk_codepipeline::Client::new(c)
    }
    /// Lambda (only to see what consumes AFT's `aft-request` stream).
    pub fn lambda(c: &SdkConfig) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(c)
    }
    /// EventBridge (only to see whether AFT's Control Tower event rule is on).
    pub fn eventbridge(c: &SdkConfig) -> aws_sdk_eventbridge::Client {
        aws_sdk_eventbridge::Client::new(c)
    }
    /// Service Catalog.
    pub fn servicecatalog(c: &SdkConfig) -> aws_sdk_servicecatalog::Client {
        aws_sdk_servicecatalog::Client::new(c)
    }
    /// Control Tower, with the session's retries: the calls the `organizations_auto_enroll`
    /// method cannot go on without (the landing zone, the OU's baseline, the account's
    /// enrollment).
    pub fn controltower(c: &SdkConfig) -> aws_sdk_controltower::Client {
        aws_sdk_controltower::Client::new(c)
    }
    /// Control Tower for the count of the baselines it has in flight before an Account Factory
    /// operation. Three attempts, not eight: the count is advisory (products alone are counted
    /// when it fails), and an endpoint that answers 5xx or not at all must not hold every wait for
    /// room.
    pub fn controltower_count(c: &SdkConfig) -> aws_sdk_controltower::Client {
        let retry =
            c.retry_config().cloned().unwrap_or_else(aws_config::retry::RetryConfig::standard).with_max_attempts(3);
        let conf = aws_sdk_controltower::config::Builder::from(c).retry_config(retry).build();
        aws_sdk_controltower::Client::from_conf(conf)
    }
    /// EC2 in `region`, or in the session's own region.
    pub fn ec2(c: &SdkConfig, region: Option<&str>) -> super::ec2::Client {
        match region {
            Some(r) => super::ec2::Client::new(&super::Aws::in_region(c, r)),
            None => super::ec2::Client::new(c),
        }
    }
    /// CloudTrail.
    pub fn cloudtrail(c: &SdkConfig) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(c)
    }
    /// AWS Support, whose API lives in us-east-1 only.
    pub fn support(c: &SdkConfig) -> aws_sdk_support::Client {
        aws_sdk_support::Client::new(&super::Aws::in_region(c, "us-east-1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `organizations_auto_enroll` method's Control Tower calls (the landing zone, the OU's
    /// baseline, the enrollment) retry as every other call: with 3 attempts, one throttled
    /// `ListLandingZones` in 125 at 20% faults failed the plan (tests/reliability.rs's fault
    /// test saw it). Only the advisory count of baselines in flight keeps 3.
    #[test]
    fn control_towers_required_calls_retry_as_the_session_does_and_only_the_count_gives_up_sooner() {
        let session = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_types::region::Region::new("us-east-1"))
            .retry_config(retry_config(None))
            .build();
        let attempts = |c: aws_sdk_controltower::Client| c.config().retry_config().map(|r| r.max_attempts());
        assert_eq!(attempts(clients::controltower(&session)), Some(8));
        assert_eq!(attempts(clients::controltower_count(&session)), Some(3));
    }
}
