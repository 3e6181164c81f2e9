//! Step 4: `AWSAFTService` and `AWSAFTExecution` in the account, with AFT's trust policy and
//! `AdministratorAccess`, created through `AWSControlTowerExecution`, then proven assumable from
//! the hub (retried until `iam_propagation_timeout`, never a fixed sleep).

use std::time::{Duration, Instant};

use aws_sdk_iam::types::Tag;

use super::{Done, StepError};
use crate::aws::{self, AwsError, AwsResultExt, clients};
use crate::context::Context;

/// Description AFT gives its roles.
pub const ROLE_DESCRIPTION: &str = "Role for use with Account Factory for Terraform";

/// AFT's trust policy: the hub role and its `AWSAFT-Session` assumed-role session.
pub fn trust_policy(partition: &str, aft_management: &str, admin_role: &str, session_name: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"AWS": [
                format!("arn:{partition}:iam::{aft_management}:role/{admin_role}"),
                format!("arn:{partition}:sts::{aft_management}:assumed-role/{admin_role}/{session_name}"),
            ]}
        }]
    })
}

/// Decodes the URL-encoded policy documents IAM returns.
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// True when an existing document says the same as the wanted one.
fn same_policy(existing: &str, wanted: &serde_json::Value) -> bool {
    let parse = |s: &str| serde_json::from_str::<serde_json::Value>(s).ok();
    let got = parse(existing).or_else(|| parse(&url_decode(existing)));
    got.is_some_and(|g| normalize(&g) == normalize(wanted))
}

/// Sorts principal lists and wraps single values so equivalent policies compare equal.
fn normalize(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        J::Object(m) => J::Object(m.iter().map(|(k, x)| (k.clone(), normalize(x))).collect()),
        J::Array(a) => {
            let mut items: Vec<J> = a.iter().map(normalize).collect();
            items.sort_by_key(|x| x.to_string());
            if items.len() == 1 { items.pop().unwrap_or(J::Null) } else { J::Array(items) }
        }
        other => other.clone(),
    }
}

async fn update_trust(iam: &aws_sdk_iam::Client, account: &str, name: &str, doc: &str) -> Result<(), AwsError> {
    iam.update_assume_role_policy()
        .role_name(name)
        .policy_document(doc)
        .send()
        .await
        .aws("iam:UpdateAssumeRolePolicy")
        .map(|_| ())
        .map_err(|e| e.in_account(account))
}

/// Creates or repairs one role (through the account's `AWSControlTowerExecution` IAM client);
/// returns what it did.
pub async fn ensure_role(
    iam: &aws_sdk_iam::Client,
    account: &str,
    name: &str,
    policy: &serde_json::Value,
    admin_policy_arn: &str,
) -> Result<&'static str, AwsError> {
    let doc = policy.to_string();
    let mut action = "unchanged";
    match iam.get_role().role_name(name).send().await.aws("iam:GetRole") {
        Ok(out) => {
            let current = out.role().and_then(|r| r.assume_role_policy_document()).unwrap_or_default();
            if !same_policy(current, policy) {
                update_trust(iam, account, name, &doc).await?;
                action = "trust policy repaired";
            }
        }
        Err(e) if e.is_not_found() => {
            let tag = Tag::builder().key("managed_by").value("AFT").build().map_err(|e| AwsError {
                api: "iam:CreateRole",
                account: Some(account.to_string()),
                code: "InvalidTag".into(),
                message: e.to_string(),
            })?;
            match iam
                .create_role()
                .role_name(name)
                .assume_role_policy_document(&doc)
                .description(ROLE_DESCRIPTION)
                .max_session_duration(3600)
                .tags(tag)
                .send()
                .await
                .aws("iam:CreateRole")
            {
                Ok(_) => action = "created",
                // created concurrently by a previous, interrupted run: repair it like an existing role
                Err(e) if e.code == "EntityAlreadyExists" => {
                    update_trust(iam, account, name, &doc).await?;
                    action = "trust policy repaired";
                }
                Err(e) => return Err(e.in_account(account)),
            }
        }
        Err(e) => return Err(e.in_account(account)),
    }
    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .aws("iam:ListAttachedRolePolicies")
        .map_err(|e| e.in_account(account))?;
    if !attached.attached_policies().iter().any(|p| p.policy_arn() == Some(admin_policy_arn)) {
        iam.attach_role_policy()
            .role_name(name)
            .policy_arn(admin_policy_arn)
            .send()
            .await
            .aws("iam:AttachRolePolicy")
            .map_err(|e| e.in_account(account))?;
        if action == "unchanged" {
            action = "policy attached";
        }
    }
    Ok(action)
}

/// Proves a role can be assumed from the hub (`sts`, the hub's client, with AFT's session name),
/// retrying with backoff until `timeout`.
pub async fn prove_assumable(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session_name: &str,
    timeout: Duration,
) -> Result<(), StepError> {
    let until = Instant::now() + timeout;
    let mut wait = Duration::from_millis(250);
    loop {
        let r = sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .duration_seconds(900)
            .send()
            .await
            .aws("sts:AssumeRole");
        match r {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() + wait < until => {
                tracing::debug!(role = role_arn, error = %e, "role not assumable yet; IAM is still propagating");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(StepError::Failed(format!(
                    "{role_arn} could not be assumed within iam_propagation_timeout ({}s): {e}",
                    timeout.as_secs()
                )));
            }
        }
    }
}

/// Ensures both AFT roles exist and can be assumed; returns the `AWSAFTExecution` ARN.
/// The trust policy AFT's roles must have: exactly the admin role and its AFT session, wherever
/// the admin role is.
async fn wanted_trust(ctx: &Context) -> Result<serde_json::Value, StepError> {
    let lz = ctx.landing_zone().await?;
    let roles = &ctx.settings.roles;
    let admin_arn = ctx.admin_role_arn().await?;
    let (admin_account, admin_name) =
        crate::validation::role_arn_parts(&admin_arn).unwrap_or((lz.aft_management.clone(), roles.admin.clone()));
    Ok(trust_policy(&lz.partition, &admin_account, &admin_name, &roles.session_name))
}

/// Refresh with `drift_detection = "full"`: how AFT's two roles in the account differ from what
/// step 4 makes (read through `AWSAFTService` in the account: a role that cannot be assumed is
/// drift too). Empty when both exist with AFT's trust policy.
pub async fn drift(ctx: &Context, account_id: &str) -> Result<Vec<String>, StepError> {
    let policy = wanted_trust(ctx).await?;
    let roles = &ctx.settings.roles;
    let iam = clients::iam(&ctx.target_session(account_id).await?);
    let mut out = Vec::new();
    for name in [&roles.service, &roles.execution] {
        match iam.get_role().role_name(name).send().await.aws("iam:GetRole") {
            Ok(r) => {
                let current = r.role().and_then(|r| r.assume_role_policy_document()).unwrap_or_default();
                if !same_policy(current, &policy) {
                    out.push(format!("role {name} does not have AFT's trust policy"));
                }
            }
            Err(e) if e.is_not_found() => out.push(format!("role {name} is missing")),
            // the hop into the account itself failed (AWSAFTService deleted, or its trust changed)
            Err(e) if name == &roles.service => {
                out.push(format!("AFT's roles cannot be read through {name} in the account: {}", e.message));
                break;
            }
            Err(e) => return Err(e.in_account(account_id).into()),
        }
    }
    Ok(out)
}

pub async fn run(ctx: &Context, account_id: &str) -> Result<Done<String>, StepError> {
    let lz = ctx.landing_zone().await?;
    let roles = &ctx.settings.roles;
    // the roles trust exactly the admin role and its AFT session, wherever the admin role is
    let policy = wanted_trust(ctx).await?;
    let admin_policy = format!("arn:{}:iam::aws:policy/AdministratorAccess", lz.partition);
    let iam = clients::iam(&ctx.bootstrap_session(account_id).await?);
    let mut details = Vec::new();
    for name in [&roles.service, &roles.execution] {
        let action = ensure_role(&iam, account_id, name, &policy, &admin_policy).await?;
        details.push(format!("{name} {action}"));
    }
    // proven from the admin session, the principal the hops into the account use
    let sts = clients::sts(&ctx.admin_session().await?);
    for name in [&roles.service, &roles.execution] {
        let arn = aws::role_arn(&lz.partition, account_id, name);
        prove_assumable(&sts, &arn, &roles.session_name, ctx.settings.iam_propagation_timeout).await?;
    }
    Ok(Done::ok(aws::role_arn(&lz.partition, account_id, &roles.execution), details.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_policy_names_exactly_the_hub_and_its_session() {
        let p = trust_policy("aws", "111122223333", "AWSAFTAdmin", "AWSAFT-Session");
        let principals = p["Statement"][0]["Principal"]["AWS"].as_array().unwrap();
        assert_eq!(principals.len(), 2);
        assert_eq!(principals[0], "arn:aws:iam::111122223333:role/AWSAFTAdmin");
        assert_eq!(principals[1], "arn:aws:sts::111122223333:assumed-role/AWSAFTAdmin/AWSAFT-Session");
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn policies_compare_by_meaning() {
        let p = trust_policy("aws", "111122223333", "AWSAFTAdmin", "AWSAFT-Session");
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22sts%3AAssumeRole%22%2C%22Principal%22%3A%7B%22AWS%22%3A%5B%22arn%3Aaws%3Asts%3A%3A111122223333%3Aassumed-role%2FAWSAFTAdmin%2FAWSAFT-Session%22%2C%22arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FAWSAFTAdmin%22%5D%7D%7D%5D%7D";
        assert!(same_policy(encoded, &p));
        assert!(same_policy(&p.to_string(), &p));
        let other = trust_policy("aws", "999999999999", "AWSAFTAdmin", "AWSAFT-Session");
        assert!(!same_policy(&other.to_string(), &p));
    }
}
