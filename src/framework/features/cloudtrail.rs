//! Feature option: the organization trail `aws-aft-CustomizationsCloudTrail` in the CT management
//! account, logging S3 object data events (except the Log Archive buckets) and Lambda data events.
//! Disabling the option leaves an existing trail alone (AFT deletes it; we never delete audit data).

use aws_sdk_cloudtrail::types::{AdvancedEventSelector, AdvancedFieldSelector};

use super::super::StepError;
use crate::aws::{AwsError, AwsResultExt, clients};
use crate::context::Context;

/// AFT's trail name.
pub const TRAIL: &str = "aws-aft-CustomizationsCloudTrail";

fn field(name: &str, equals: Option<&str>, not_starts_with: Option<&str>) -> Result<AdvancedFieldSelector, AwsError> {
    let mut b = AdvancedFieldSelector::builder().field(name);
    if let Some(e) = equals {
        b = b.equals(e);
    }
    if let Some(n) = not_starts_with {
        b = b.not_starts_with(n);
    }
    b.build().map_err(invalid_selector)
}

fn invalid_selector(e: impl std::fmt::Display) -> AwsError {
    AwsError {
        api: "cloudtrail:PutEventSelectors",
        account: None,
        code: "InvalidSelector".into(),
        message: e.to_string(),
    }
}

/// AFT's two advanced event selectors.
pub fn selectors(log_bucket_arn: &str) -> Result<Vec<AdvancedEventSelector>, AwsError> {
    Ok(vec![
        AdvancedEventSelector::builder()
            .name("No Log Archive Buckets")
            .field_selectors(field("eventCategory", Some("Data"), None)?)
            .field_selectors(field("resources.type", Some("AWS::S3::Object"), None)?)
            .field_selectors(field("resources.ARN", None, Some(&format!("{log_bucket_arn}/")))?)
            .build()
            .map_err(invalid_selector)?,
        AdvancedEventSelector::builder()
            .name("Lamdba Functions")
            .field_selectors(field("eventCategory", Some("Data"), None)?)
            .field_selectors(field("resources.type", Some("AWS::Lambda::Function"), None)?)
            .build()
            .map_err(invalid_selector)?,
    ])
}

async fn ssm_value(ctx: &Context, name: &str) -> Result<Option<String>, AwsError> {
    match clients::ssm(ctx.aws.hub()).get_parameter().name(name).send().await.aws("ssm:GetParameter") {
        Ok(o) => Ok(o.parameter().and_then(|p| p.value()).map(str::to_string)),
        Err(e) if e.is_not_found() || e.code == "ParameterNotFound" => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ensures the trail exists, has the data-event selectors, and is logging.
pub async fn run(ctx: &Context) -> Result<String, StepError> {
    let lz = ctx.landing_zone().await?;
    let bucket_arn = match ssm_value(ctx, "/aft/account/log-archive/log_bucket_arn").await? {
        Some(a) => a,
        None => match &lz.log_archive {
            Some(la) => format!("arn:{}:s3:::aws-aft-logs-{la}-{}", lz.partition, lz.region),
            None => {
                return Err(StepError::Failed(
                    "cloudtrail_data_events needs the Log Archive bucket: set SSM /aft/account/log-archive/log_bucket_arn \
                     or log_archive_account_id"
                        .into(),
                ));
            }
        },
    };
    let kms = ssm_value(ctx, "/aft/account/log-archive/kms_key_arn").await?;
    ensure_trail(&clients::cloudtrail(&ctx.ct_session().await?), &bucket_arn, kms).await
}

/// [`run`] with the CloudTrail client (the CT management session), the Log Archive bucket and its
/// KMS key given.
pub async fn ensure_trail(
    ct: &aws_sdk_cloudtrail::Client,
    bucket_arn: &str,
    kms: Option<String>,
) -> Result<String, StepError> {
    let bucket = bucket_arn.rsplit(":::").next().unwrap_or(bucket_arn).to_string();
    let mut did = Vec::new();
    match ct.get_trail().name(TRAIL).send().await.aws("cloudtrail:GetTrail") {
        Ok(_) => {}
        Err(e) if e.is_not_found() || e.code == "TrailNotFoundException" => {
            let created = ct
                .create_trail()
                .name(TRAIL)
                .s3_bucket_name(&bucket)
                .include_global_service_events(true)
                .is_multi_region_trail(true)
                .enable_log_file_validation(true)
                .set_kms_key_id(kms)
                .is_organization_trail(true)
                .send()
                .await
                .aws("cloudtrail:CreateTrail");
            match created {
                Ok(_) => did.push("trail created"),
                // another account's run created it meanwhile, or a lost answer's resend found ours
                Err(e) if e.code == "TrailAlreadyExistsException" => did.push("trail created by a concurrent run"),
                Err(e) if ct.get_trail().name(TRAIL).send().await.aws("cloudtrail:GetTrail").is_ok() => {
                    tracing::warn!(error = %e, "CreateTrail reported an error, but the trail exists");
                    did.push("trail created");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => return Err(e.into()),
    }
    let sel = ct.get_event_selectors().trail_name(TRAIL).send().await.aws("cloudtrail:GetEventSelectors")?;
    if sel.advanced_event_selectors().is_empty() {
        ct.put_event_selectors()
            .trail_name(TRAIL)
            .set_advanced_event_selectors(Some(selectors(bucket_arn)?))
            .send()
            .await
            .aws("cloudtrail:PutEventSelectors")?;
        did.push("data-event selectors set");
    }
    let status = ct.get_trail_status().name(TRAIL).send().await.aws("cloudtrail:GetTrailStatus")?;
    if status.is_logging() != Some(true) {
        ct.start_logging().name(TRAIL).send().await.aws("cloudtrail:StartLogging")?;
        did.push("logging started");
    }
    Ok(if did.is_empty() { "organization trail already in place".to_string() } else { did.join(", ") })
}
