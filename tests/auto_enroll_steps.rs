//! Mock-level tests (aws-smithy-mocks) of how the `organizations_auto_enroll` method reads Control
//! Tower: the landing zone's auto-enrollment and an account's enrollment from its child baseline.

use aws_sdk_controltower::Client;
use aws_sdk_controltower::operation::get_landing_zone::GetLandingZoneOutput;
use aws_sdk_controltower::operation::list_enabled_baselines::ListEnabledBaselinesOutput;
use aws_sdk_controltower::operation::list_landing_zones::ListLandingZonesOutput;
use aws_sdk_controltower::types::{
    EnabledBaselineDriftStatus, EnabledBaselineDriftStatusSummary, EnabledBaselineDriftTypes,
    EnabledBaselineInheritanceDrift, EnabledBaselineSummary, EnablementStatus, EnablementStatusSummary,
    LandingZoneDetail, LandingZoneSummary, RemediationType,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use terraform_provider_aft::framework::auto_enroll::{Enrollment, Registered, enrollment, landing_zone_refusal};

const PARENT: &str = "arn:aws:controltower:us-east-1:111122223333:enabledbaseline/PARENT";
const ACCOUNT: &str = "444455556666";

fn child(target: &str, status: EnablementStatus, drift: EnabledBaselineDriftStatus) -> EnabledBaselineSummary {
    EnabledBaselineSummary::builder()
        .arn(format!("{PARENT}/{target}"))
        .baseline_identifier("arn:aws:controltower:us-east-1::baseline/17BSJV3IGJ2QSGA2")
        .target_identifier(format!("arn:aws:organizations::111122223333:account/o-abc/{target}"))
        .parent_identifier(PARENT)
        .status_summary(EnablementStatusSummary::builder().status(status).last_operation_identifier("op-1").build())
        .drift_status_summary(
            EnabledBaselineDriftStatusSummary::builder()
                .types(
                    EnabledBaselineDriftTypes::builder()
                        .inheritance(EnabledBaselineInheritanceDrift::builder().status(drift).build())
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap()
}

async fn seen(children: Vec<EnabledBaselineSummary>) -> Enrollment {
    let list = mock!(Client::list_enabled_baselines)
        .match_requests(|r| r.include_children() == Some(true))
        .then_output(move || {
            ListEnabledBaselinesOutput::builder().set_enabled_baselines(Some(children.clone())).build().unwrap()
        });
    let ct = mock_client!(aws_sdk_controltower, RuleMode::MatchAny, [&list]);
    enrollment(&ct, &Registered { enabled_baseline: PARENT.into() }, ACCOUNT).await.unwrap()
}

#[tokio::test]
async fn an_account_is_enrolled_only_when_its_child_baseline_succeeded_in_sync() {
    use EnabledBaselineDriftStatus::{Drifted, InSync};
    use EnablementStatus::{Failed, Succeeded, UnderChange};
    assert_eq!(seen(vec![child(ACCOUNT, Succeeded, InSync)]).await, Enrollment::Enrolled);
    assert_eq!(seen(vec![child(ACCOUNT, Succeeded, Drifted)]).await, Enrollment::InProgress, "succeeded but drifted");
    assert_eq!(seen(vec![child(ACCOUNT, UnderChange, Drifted)]).await, Enrollment::InProgress);
    assert_eq!(
        seen(vec![child(ACCOUNT, Failed, Drifted)]).await,
        Enrollment::Failed { operation: Some("op-1".into()) }
    );
    // another account's child, even one whose id ends the same way, is not this account's
    assert_eq!(seen(vec![child("944455556666", Succeeded, InSync)]).await, Enrollment::Absent);
    assert_eq!(seen(vec![]).await, Enrollment::Absent);
}

async fn refusal(remediation: Option<RemediationType>) -> Option<String> {
    let zones = mock!(Client::list_landing_zones).then_output(|| {
        ListLandingZonesOutput::builder()
            .landing_zones(
                LandingZoneSummary::builder().arn("arn:aws:controltower:us-east-1:111122223333:landingzone/LZ").build(),
            )
            .build()
            .unwrap()
    });
    let get = mock!(Client::get_landing_zone).then_output(move || {
        let mut lz = LandingZoneDetail::builder().version("3.3").manifest(aws_smithy_types::Document::Null);
        if let Some(r) = remediation.clone() {
            lz = lz.remediation_types(r);
        }
        GetLandingZoneOutput::builder().landing_zone(lz.build().unwrap()).build()
    });
    let ct = mock_client!(aws_sdk_controltower, RuleMode::MatchAny, [&zones, &get]);
    landing_zone_refusal(&ct).await.unwrap()
}

#[tokio::test]
async fn a_landing_zone_without_inheritance_drift_remediation_is_refused() {
    assert_eq!(refusal(Some(RemediationType::InheritanceDrift)).await, None);
    let why = refusal(None).await.expect("refused");
    assert!(why.contains("INHERITANCE_DRIFT") && why.contains("3.3"), "{why}");
}
