//! AFT's names, defined once: the tables, topics, state machine, pipeline, role and bucket names
//! AFT's Terraform modules create and its Lambdas look up, spelled exactly as AFT spells them
//! (`aft-account-request-framework`, `aft-customizations`, `aft-feature-options` modules).

/// AFT's metadata table (`aft-request-metadata`).
pub const METADATA_TABLE: &str = "aft-request-metadata";
/// AFT's audit table.
pub const AUDIT_TABLE: &str = "aft-request-audit";
/// The success notification topic.
pub const NOTIFICATION_TOPIC: &str = "aft-notifications";
/// The failure notification topic.
pub const FAILURE_NOTIFICATION_TOPIC: &str = "aft-failure-notifications";
/// The provisioning customizations state machine (step 7).
pub const PROVISIONING_CUSTOMIZATIONS: &str = "aft-account-provisioning-customizations";
/// The role AFT's customizations pipelines run with.
pub const PIPELINE_ROLE: &str = "aft-codepipeline-customizations-role";

/// The customizations pipeline AFT creates for an account.
pub fn pipeline_name(account_id: &str) -> String {
    format!("{account_id}-customizations-pipeline")
}

/// The ARN of [`PIPELINE_ROLE`] in the AFT management account.
pub fn pipeline_role_arn(partition: &str, aft_management: &str) -> String {
    format!("arn:{partition}:iam::{aft_management}:role/{PIPELINE_ROLE}")
}

/// The customizations pipelines' artifact bucket in the AFT management account.
pub fn artifact_bucket(aft_management: &str) -> String {
    format!("aft-customizations-pipeline-{aft_management}")
}

/// A state machine's ARN.
pub fn state_machine_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:states:{region}:{account}:stateMachine:{name}")
}

/// An SNS topic's ARN.
pub fn topic_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:sns:{region}:{account}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_afts() {
        assert_eq!(pipeline_name("111122223333"), "111122223333-customizations-pipeline");
        assert_eq!(
            pipeline_role_arn("aws", "999999999999"),
            "arn:aws:iam::999999999999:role/aft-codepipeline-customizations-role"
        );
        assert_eq!(artifact_bucket("999999999999"), "aft-customizations-pipeline-999999999999");
        assert_eq!(
            state_machine_arn("aws", "us-east-1", "999999999999", PROVISIONING_CUSTOMIZATIONS),
            "arn:aws:states:us-east-1:999999999999:stateMachine:aft-account-provisioning-customizations"
        );
        assert_eq!(
            topic_arn("aws-us-gov", "us-gov-west-1", "999999999999", NOTIFICATION_TOPIC),
            "arn:aws-us-gov:sns:us-gov-west-1:999999999999:aft-notifications"
        );
    }
}
