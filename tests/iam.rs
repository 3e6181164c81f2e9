//! IAM enforced: moto checks every call's credentials and policies (scripts/moto_launcher.py with
//! AFT_MOTO_IAM=aws, see docs/reliability.md "IAM enforced in the tests"), and the provider runs
//! with exactly the shipped policies (policies/*.json) through AFT's role chain: its own
//! credentials (an IAM user holding policies/provider.json) → `AWSAFTAdmin` (policies/aft-admin.json,
//! trusting the AFT management account as AFT's role does) → `AWSAFTService` in the Control Tower
//! management account (AFT's trust, AdministratorAccess) → `AWSControlTowerExecution` in the new
//! account (AdministratorAccess, as Organizations makes it) and back through `AWSAFTService` there.
//!
//! Two tests, one per vending method, each the whole lifecycle:
//! - `organizations`: the account (every framework step and feature option), the provisioning
//!   customizations (role and state machine) and the account's customization pipeline, the
//!   action, `terraform query`, import, a plan with policies/plan-readonly.json alone, and
//!   refusals: an action missing from the provider's policy, and a hop of the chain refused. Then
//!   the narrower documents of the permissions guide stand in for AdministratorAccess
//!   (AWSAFTService in the CT management account, AWSControlTowerExecution) for another vend.
//! - `control_tower`: with those narrower documents from the start, the Service Catalog calls
//!   (signed with the CT management account's `AWSAFTService` session) go through moto's check
//!   before the Account Factory stand-in answers: plan, apply, a tag update, an OU update
//!   (UpdateProvisionedProduct), import with its recording update, the action, `terraform query`,
//!   destroy closing the account, a failed provisioning recovered (GetProvisionedProductOutputs),
//!   and servicecatalog:ProvisionProduct refused.
//!
//! Each test reports, per principal, the actions moto authorized for it and those of its shipped
//! document the run never exercised (the launcher's record, `GET /aft-test/iam/authorized`).
//!
//! The test binary shares one moto server and enforcement is global to it, so the tests take
//! turns (`take_turn`): each seeds with enforcement off, making every SDK config it uses first
//! (`Moto::account()` needs the unchecked `testing` key), then enforces.
//!
//! The principals hold the shipped documents as they are, placeholders filled in: the launcher
//! authorizes each of the provider's actions against the resource ARN AWS uses for it (tables,
//! topics, parameters, the state machine and its executions, pipelines, the event rule, roles).
//! Condition keys are not evaluated (moto ignores them), so the KMS statements' `alias/aft`
//! condition is not exercised; neither is KMS itself (moto's tables and topics are not encrypted).

use aft_test_harness as common;

use std::collections::BTreeSet;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue as Av;
use serde_json::{Value, json};

use common::fixtures::{CUSTOMIZATIONS_ASL, account_block};
use common::service_catalog::ServiceCatalog;
use common::{Landing, Moto, Tf, one_line};

const ADMIN_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// A shipped policy with its placeholders filled in for this landing zone.
fn shipped(name: &str, l: &Landing) -> Value {
    let text = std::fs::read_to_string(common::repo().join("policies").join(format!("{name}.json"))).unwrap();
    let text = text
        .replace("${partition}", "aws")
        .replace("${region}", "us-east-1")
        .replace("${aft_account_id}", &l.aft)
        .replace("${ct_management_account_id}", &l.ct);
    assert!(!text.contains("${"), "{name}: a placeholder is left: {text}");
    serde_json::from_str(&text).unwrap()
}

fn actions(statement: &Value) -> Vec<String> {
    match &statement["Action"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect(),
        other => panic!("Action {other}"),
    }
}

/// Every action a policy allows.
fn all_actions(doc: &Value) -> BTreeSet<String> {
    doc["Statement"].as_array().unwrap().iter().flat_map(actions).collect()
}

/// The policy without one action (a statement left without actions goes).
fn without(mut doc: Value, action: &str) -> Value {
    let statements = doc["Statement"].as_array_mut().unwrap();
    for st in statements.iter_mut() {
        let kept: Vec<String> = actions(st).into_iter().filter(|a| a != action).collect();
        st["Action"] = json!(kept);
    }
    statements.retain(|st| !st["Action"].as_array().unwrap().is_empty());
    doc
}

/// Credentials of an IAM user.
#[derive(Clone)]
struct Principal {
    arn: String,
    key: String,
    secret: String,
}

impl Principal {
    /// An SDK config signing as this principal.
    fn config(&self) -> SdkConfig {
        Moto::get()
            .config()
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                &self.key,
                &self.secret,
                None,
                None,
                "iam-user",
            )))
            .build()
    }

    /// Terraform (and so the provider) runs with this principal's credentials.
    fn use_in(&self, tf: &mut Tf) {
        tf.env("AWS_ACCESS_KEY_ID", &self.key);
        tf.env("AWS_SECRET_ACCESS_KEY", &self.secret);
    }
}

/// An IAM user in the AFT management account holding exactly `policy` (inline), with an access key.
async fn user(l: &Landing, name: &str, policy: &Value) -> Principal {
    let iam = aws_sdk_iam::Client::new(&l.aft_cfg);
    let arn = iam.create_user().user_name(name).send().await.unwrap().user().unwrap().arn().to_string();
    iam.put_user_policy().user_name(name).policy_name(name).policy_document(policy.to_string()).send().await.unwrap();
    let out = iam.create_access_key().user_name(name).send().await.unwrap();
    let k = out.access_key().unwrap();
    Principal { arn, key: k.access_key_id().to_string(), secret: k.secret_access_key().to_string() }
}

/// A role with a trust policy, an optional inline policy and optionally AdministratorAccess.
async fn role(cfg: &SdkConfig, name: &str, trust: &Value, inline: Option<&Value>, admin: bool) {
    let iam = aws_sdk_iam::Client::new(cfg);
    iam.create_role().role_name(name).assume_role_policy_document(trust.to_string()).send().await.unwrap();
    if let Some(p) = inline {
        iam.put_role_policy().role_name(name).policy_name(name).policy_document(p.to_string()).send().await.unwrap();
    }
    if admin {
        iam.attach_role_policy().role_name(name).policy_arn(ADMIN_POLICY).send().await.unwrap();
    }
}

fn account_root_trust(account: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
        "Action": "sts:AssumeRole"
    }]})
}

/// The identities of the test.
struct Chain {
    provider: Principal,
    plan: Principal,
    /// The provider policy without dynamodb:PutItem.
    no_put_item: Principal,
    /// The provider policy without sts:AssumeRole (it cannot reach AWSAFTAdmin).
    no_assume: Principal,
}

/// Seeds (before enforcement) what AFT's role chain needs, as AFT deploys it.
async fn seed_chain(l: &Landing) -> Chain {
    // the test's own sessions (OrganizationAccountAccessRole in each account, issued by
    // Moto::account before enforcement, never expiring in moto) keep working as administrators
    for (cfg, account) in [(&l.aft_cfg, &l.aft), (&l.ct_cfg, &l.ct)] {
        role(cfg, "OrganizationAccountAccessRole", &account_root_trust(account), None, true).await;
    }
    // AFT's AWSAFTAdmin (modules/aft-iam-roles): trusts the AFT management account, may only hop
    role(&l.aft_cfg, "AWSAFTAdmin", &account_root_trust(&l.aft), Some(&shipped("aft-admin", l)), false).await;
    // AFT's AWSAFTService in the CT management account: AFT's trust, AdministratorAccess
    let aft_trust =
        terraform_provider_aft::framework::execution_role::trust_policy("aws", &l.aft, "AWSAFTAdmin", "AWSAFT-Session");
    role(&l.ct_cfg, "AWSAFTService", &aft_trust, None, true).await;
    let provider = shipped("provider", l);
    let plan = shipped("plan-readonly", l);
    let no_put_item = without(provider.clone(), "dynamodb:PutItem");
    assert_eq!(all_actions(&no_put_item).len() + 1, all_actions(&provider).len());
    eprintln!(
        "actions per principal: provider {}, plan {}, AWSAFTAdmin {}",
        all_actions(&provider).len(),
        all_actions(&plan).len(),
        all_actions(&shipped("aft-admin", l)).len()
    );
    Chain {
        provider: user(l, "aft-provider", &provider).await,
        plan: user(l, "aft-plan", &plan).await,
        no_put_item: user(l, "aft-provider-no-putitem", &no_put_item).await,
        no_assume: user(l, "aft-provider-no-assume", &without(provider.clone(), "sts:AssumeRole")).await,
    }
}

/// Sets moto's enforcement (`POST /moto-api/reset-auth`): `0` checks every call from now on,
/// `inf` checks none.
fn auth(count: &str) {
    let moto = Moto::get();
    let (status, body) = common::http::request(moto.port, "POST", "/moto-api/reset-auth", "text/plain", count).unwrap();
    assert_eq!(status, 200, "reset-auth {count}: {body}");
}

/// Turns enforcement on: from now on every call needs valid credentials and a policy.
fn enforce() {
    auth("0");
}

/// Enforcement is global to the binary's moto server, and seeding needs it off (the unchecked
/// `testing` key): the tests take turns, each seeding with enforcement off, then enforcing.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for this test's turn: moto (started with AFT_MOTO_IAM=aws by whichever test comes
/// first) with enforcement off and CreateAccount's role with AdministratorAccess, whatever the
/// previous test left (a failed test may leave either).
async fn take_turn() -> tokio::sync::MutexGuard<'static, ()> {
    static STARTED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    let turn = TURN.lock().await;
    STARTED.get_or_init(|| {
        Moto::get_with(&[("AFT_MOTO_IAM", "aws")]);
    });
    auth("inf");
    create_account_role_policy(None);
    turn
}

/// The provider block: the provider's own credentials (no assume_role), vending with `method`,
/// coordination through the default table (its claims and leases under the shipped policies),
/// every feature option (their calls go through the role chain into the CT management account
/// and the new account).
fn provider_block_for(method: &str) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    aft = {{ source = \"aft-rs/aft\" }}\n  }}\n}}\n\n\
         provider \"aft\" {{\n  account_factory {{\n    method = \"{method}\"\n  }}\n  coordination {{\n    owner = \"iam-tests\"\n  }}\n  feature_options {{\n    \
         delete_default_vpcs = true\n    enterprise_support = true\n    cloudtrail_data_events = true\n  }}\n}}\n"
    )
}

/// [`provider_block_for`] the `organizations` method.
fn provider_block() -> String {
    provider_block_for("organizations")
}

/// Every action moto authorized, per caller ARN (the launcher's record, all tests of the binary).
fn authorized() -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let body = common::http::get(Moto::get().port, "/aft-test/iam/authorized").unwrap();
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The policy of the role every later CreateAccount makes (`None`: AdministratorAccess, as AWS).
fn create_account_role_policy(policy: Option<&Value>) {
    let body = policy.map_or("null".to_string(), Value::to_string);
    let moto = Moto::get();
    let (status, text) =
        common::http::request(moto.port, "POST", "/aft-test/iam/create-account-role-policy", "application/json", &body)
            .unwrap();
    assert_eq!(status, 200, "{text}");
}

/// The codes the launcher answers a refused authentication or authorization with (JSON protocol).
const REFUSALS: [&str; 4] = [
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
];

/// One HTTP request or answer as read off a connection: (head lines, body).
fn read_message(rd: &mut impl std::io::BufRead) -> std::io::Result<(Vec<String>, Vec<u8>)> {
    let mut head = Vec::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        rd.read_line(&mut line)?;
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
        head.push(line);
    }
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body)?;
    Ok((head, body))
}

/// Sends a request (its head lines and body, the connection closed after) to `addr`; returns the
/// raw answer.
fn send_raw(addr: &str, head: &[String], body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::{Read, Write};
    let mut up = std::net::TcpStream::connect(addr)?;
    let mut out = Vec::new();
    for line in head.iter().filter(|l| !l.to_ascii_lowercase().starts_with("connection:")) {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    up.write_all(&out)?;
    let mut answer = Vec::new();
    up.read_to_end(&mut answer)?;
    Ok(answer)
}

/// A loopback front for the Service Catalog stand-in, which checks no credentials: each request
/// goes first, exactly as signed, to moto, which authenticates it and authorizes
/// `servicecatalog:<Operation>` for the caller; a refusal is the answer, anything else lets the
/// stand-in answer (moto has no Account Factory: once authorized, an operation moto lacks is its
/// HTTP 500, with a traceback in moto's log). Returns the front's endpoint.
fn iam_gate(stand_in: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let moto = format!("127.0.0.1:{}", Moto::get().port);
    let stand_in = stand_in.trim_start_matches("http://").to_string();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let (moto, stand_in) = (moto.clone(), stand_in.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                use std::io::Write;
                let mut rd = std::io::BufReader::new(conn.try_clone()?);
                let (head, body) = read_message(&mut rd)?;
                let checked = send_raw(&moto, &head, &body)?;
                let (checked_head, _) = read_message(&mut std::io::BufReader::new(&checked[..]))?;
                let refused = checked_head.iter().any(|l| {
                    l.split_once(':').is_some_and(|(k, v)| {
                        k.trim().eq_ignore_ascii_case("x-amzn-ErrorType") && REFUSALS.contains(&v.trim())
                    })
                });
                let answer = if refused { checked } else { send_raw(&stand_in, &head, &body)? };
                let mut w = conn;
                w.write_all(&answer)?;
                w.flush()
            });
        }
    });
    endpoint
}

/// The session name of the test's own walks along AFT's chain: not AFT's `AWSAFT-Session`, so
/// what moto authorized for the provider's sessions is the provider's alone (AFT's trust names
/// the `AWSAFTAdmin` role, which covers every session of it).
const TEST_SESSION: &str = "aft-iam-test";

/// A session of `role_arn` assumed from `from` with the test's session name.
async fn assume(from: &SdkConfig, role_arn: &str) -> SdkConfig {
    let out = aws_sdk_sts::Client::new(from)
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(TEST_SESSION)
        .send()
        .await
        .unwrap_or_else(|e| panic!("assuming {role_arn}: {e:?}"));
    let c = out.credentials().unwrap();
    from.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "assumed",
        )))
        .build()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_runs_with_exactly_the_shipped_policies_under_enforced_iam() {
    let _turn = take_turn().await;
    let l = Landing::new().await;
    // AFT's request table with its stream: the provider looks for what listens to it (Lambda)
    common::aft::request_table(&l, true).await;
    let pipeline_role = l.create_pipeline_role().await;
    // a table that is not AFT's, in the same account
    aws_sdk_dynamodb::Client::new(&l.aft_cfg)
        .create_table()
        .table_name("not-aft")
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .key_schema(
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            aws_sdk_dynamodb::types::AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    l.log_archive_bucket().await;
    let chain = seed_chain(&l).await;
    // configs made before enforcement (Moto::account needs the unchecked key)
    let unchecked = Moto::get().config();
    let provider_cfg = chain.provider.config();
    let plan_cfg = chain.plan.config();
    enforce();
    let started = std::time::Instant::now();

    // enforcement is on: the unchecked key is refused, the principals are who they are, and a
    // denial comes back in the protocol's shape (the SDK reads the code)
    let refused = aws_sdk_sts::Client::new(&unchecked).get_caller_identity().send().await.unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&refused),
        Some("InvalidClientTokenId"),
        "{refused:?}"
    );
    let who = aws_sdk_sts::Client::new(&provider_cfg).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some(chain.provider.arn.as_str()));
    let forged = Principal { secret: "not-the-secret".into(), ..chain.provider.clone() };
    let bad = aws_sdk_sts::Client::new(&forged.config()).get_caller_identity().send().await.unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&bad),
        Some("SignatureDoesNotMatch"),
        "{bad:?}"
    );
    let denied = aws_sdk_dynamodb::Client::new(&plan_cfg)
        .put_item()
        .table_name("aft-request-metadata")
        .item("id", Av::S("x".into()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&denied),
        Some("AccessDeniedException"),
        "{denied:?}"
    );

    // resources are checked: the plan identity reads AFT's tables, and no other table
    let read = |table: &str| {
        aws_sdk_dynamodb::Client::new(&plan_cfg).get_item().table_name(table).key("id", Av::S("none".into())).send()
    };
    assert!(read("aft-request-metadata").await.unwrap().item.is_none());
    let other = read("not-aft").await.unwrap_err();
    assert_eq!(aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&other), Some("AccessDeniedException"));
    let said = aws_smithy_types::error::metadata::ProvideErrorMetadata::message(&other).unwrap_or_default();
    assert!(said.contains(&format!("on resource: arn:aws:dynamodb:us-east-1:{}:table/not-aft", l.aft)), "{said}");

    // the lifecycle with the provider's own credentials and policies/provider.json
    let mut tf = Tf::new("iam");
    chain.provider.use_in(&mut tf);
    let email = common::email("iam");
    let hcl = |extra: &str| format!("{}{}", provider_block(), account_block("a", &email, "Sandbox", extra));
    // the provider deploys the provisioning customizations (role and state machine) and the
    // account's customization pipeline with its own credentials too
    let everything = |definition: &str, extra: &str, version: &str| {
        format!(
            "{}resource \"aft_provisioning_customizations\" \"this\" {{\n  definition = <<-EOT\n{definition}\n  EOT\n  \
             tags = {{ team = \"platform\", version = \"{version}\" }}\n}}\n{}resource \"aft_customization_pipeline\" \"p\" {{\n  \
             account_id = aft_account_provisioning.a.account_id\n  triggers = {{ v = \"{version}\" }}\n}}\n",
            provider_block(),
            account_block(
                "a",
                &email,
                "Sandbox",
                &format!(
                    "  rerun_triggers = {{ customizations = aft_provisioning_customizations.this.revision_id }}\n{extra}"
                )
            ),
        )
    };
    let created = "  account_tags = { Team = \"iam\" }\n  custom_fields = { tier = \"gold\" }";
    tf.write(&everything(CUSTOMIZATIONS_ASL, created, "1"));
    assert_eq!(tf.plan_exit(), 2, "a create is planned");
    tf.apply();
    let id = tf.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();
    let sm = tf.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();
    let sfn = aws_sdk_sfn::Client::new(&l.aft_cfg);
    let machine = sfn.describe_state_machine().state_machine_arn(&sm).send().await.unwrap();
    assert!(machine.role_arn().ends_with(":role/aft-account-provisioning-customizations-role"));
    let pipeline = format!("{id}-customizations-pipeline");
    let got = l.codepipeline().get_pipeline().name(&pipeline).send().await.unwrap();
    assert_eq!(got.pipeline().unwrap().role_arn(), pipeline_role);
    assert_eq!(l.pipeline_executions(&pipeline).await.len(), 1, "the pipeline ran on create");
    assert_eq!(l.accounts_with_email(&email).await, vec![id.clone()]);
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    let item = l.metadata(&id).await.expect("the metadata item");
    assert_eq!(item["email"], Av::S(email.clone()));
    assert_eq!(l.audit_events(&email).await.len(), 1, "the audit record");
    // AFT's roles in the new account, made through AWSControlTowerExecution, and assumable from
    // AWSAFTAdmin as AFT's hops are: the test walks the chain itself with the provider's key
    let admin = assume(&provider_cfg, &format!("arn:aws:iam::{}:role/AWSAFTAdmin", l.aft)).await;
    let target = assume(&admin, &format!("arn:aws:iam::{id}:role/AWSAFTService")).await;
    let iam = aws_sdk_iam::Client::new(&target);
    for name in ["AWSAFTService", "AWSAFTExecution"] {
        let attached = iam.list_attached_role_policies().role_name(name).send().await.unwrap();
        let arns: Vec<_> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
        assert_eq!(arns, vec![ADMIN_POLICY], "{name} in {id}");
    }
    let executions = l.executions(&sm).await;
    assert_eq!(executions.len(), 1, "provisioning customizations ran once: {executions:?}");
    let notes = l.notifications(&id).await;
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(!notes[0].0, "a success notification: {notes:?}");
    let steps: Vec<(String, String)> = notes[0].1["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_string(), s["outcome"].as_str().unwrap().to_string()))
        .collect();
    for step in [
        "account_info",
        "persist_metadata",
        "create_role",
        "tag_account",
        "account_metadata_ssm",
        "aft_features",
        "provisioning_customizations",
    ] {
        assert!(steps.iter().any(|(s, o)| s == step && o == "succeeded"), "{step} did not succeed: {steps:?}");
    }
    assert_eq!(l.tags(&id).await.get("Team").map(String::as_str), Some("iam"));
    assert_eq!(tf.plan_exit(), 0, "nothing to do after the apply");

    // update: a tag
    let updated = "  account_tags = { Team = \"iam\", Iam = \"enforced\" }\n  custom_fields = { tier = \"gold\" }";
    let definition = CUSTOMIZATIONS_ASL
        .replace("\"Done\": {\"Type\": \"Succeed\"}", "\"Done\": {\"Type\": \"Pass\", \"End\": true}");
    assert_ne!(definition, CUSTOMIZATIONS_ASL);
    tf.write(&everything(&definition, updated, "2"));
    tf.apply();
    assert_eq!(l.tags(&id).await.get("Iam").map(String::as_str), Some("enforced"));
    let machine = sfn.describe_state_machine().state_machine_arn(&sm).send().await.unwrap();
    assert!(machine.definition().contains("Pass"), "the definition was updated");
    assert_eq!(l.executions(&sm).await.len(), 2, "the new definition re-ran the customizations");
    assert_eq!(l.pipeline_executions(&pipeline).await.len(), 2, "the trigger change ran the pipeline");
    assert_eq!(tf.plan_exit(), 0);

    // the action re-runs the framework
    let before = l.notifications(&id).await.len();
    tf.write_file(
        "action.tf",
        "action \"aft_invoke_customizations\" \"iam\" {\n  config {\n    include {\n      type = \"all\"\n    }\n    rerun_framework = true\n    run_pipelines   = true\n  }\n}\n",
    );
    let invoked = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color", "-invoke=action.aft_invoke_customizations.iam"])
        .ok();
    assert!(invoked.stdout.contains("account(s) done, 0 failed"), "{}", invoked.stdout);
    assert_eq!(l.notifications(&id).await.len(), before + 1, "the action re-ran the framework");
    assert_eq!(l.pipeline_executions(&pipeline).await.len(), 3, "the action ran the pipeline");
    std::fs::remove_file(tf.path("action.tf")).unwrap();

    // terraform query lists the account
    tf.write_file(
        "accounts.tfquery.hcl",
        "list \"aft_account_provisioning\" \"iam\" {\n  provider = aft\n  config {\n    organizational_units = [\"Sandbox\"]\n  }\n}\n",
    );
    let q = tf.run(&["query", "-no-color", "-json"]).ok();
    assert!(q.stdout.lines().any(|line| line.contains("list_resource_found") && line.contains(&id)), "{}", q.stdout);
    std::fs::remove_file(tf.path("accounts.tfquery.hcl")).unwrap();

    // import into a second directory
    let mut tf2 = Tf::new("iam-import");
    chain.provider.use_in(&mut tf2);
    tf2.write(&format!("{}{}", provider_block(), account_block("a", &email, "Sandbox", updated)));
    tf2.run(&["import", "-input=false", "-no-color", "aft_account_provisioning.a", &id]).ok();
    assert_eq!(tf2.values("aft_account_provisioning.a")["account_id"], id.as_str());
    assert_eq!(tf2.plan_exit(), 0, "nothing to do after the import");

    // a plan (refresh included) with policies/plan-readonly.json alone
    chain.plan.use_in(&mut tf);
    let plan = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]);
    assert_eq!(plan.code, 0, "the read-only identity plans no change:\n{}\n{}", plan.stdout, plan.stderr);
    chain.provider.use_in(&mut tf);

    // one action missing: the apply fails naming the step, the account, the call and the denial,
    // and the provider wrote nothing of that step
    let mut tf3 = Tf::new("iam-denied");
    chain.no_put_item.use_in(&mut tf3);
    let denied_email = common::email("iam-denied");
    tf3.write(&format!("{}{}", provider_block(), account_block("d", &denied_email, "Sandbox", "")));
    let out = tf3.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "the apply without dynamodb:PutItem succeeded:\n{}", out.stdout);
    let text = one_line(&out.stderr);
    let vended = l.accounts_with_email(&denied_email).await;
    assert_eq!(vended.len(), 1, "the account was vended before the denied step: {vended:?}");
    let denied_id = &vended[0];
    for needle in
        ["persist_metadata", denied_id.as_str(), "dynamodb:PutItem", "AccessDeniedException", "not authorized"]
    {
        assert!(text.contains(needle), "the error does not name {needle:?}: {text}");
    }
    assert!(l.metadata(denied_id).await.is_none(), "a metadata item was written without dynamodb:PutItem");
    assert_eq!(l.audit_events(&denied_email).await.len(), 0, "an audit record was written");
    let failure = l.notifications(denied_id).await;
    assert!(
        failure.len() == 1 && failure[0].0 && failure[0].1["error"]["step"] == "persist_metadata",
        "one failure notification naming the step: {failure:?}"
    );

    // a hop of the chain refused (the provider's principal may not assume AWSAFTAdmin): the
    // refusal is the error, naming sts:AssumeRole, the role and the call it was for, at once
    let mut tf4 = Tf::new("iam-no-assume");
    chain.no_assume.use_in(&mut tf4);
    tf4.write(&hcl(""));
    let refused_at = std::time::Instant::now();
    let out = tf4.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "planned without sts:AssumeRole:\n{}", out.stdout);
    let text = one_line(&out.stderr);
    for needle in [
        "sts:AssumeRole failed",
        "AccessDenied",
        &format!("{} is not authorized to perform: sts:AssumeRole", chain.no_assume.arn),
        &format!("arn:aws:iam::{}:role/AWSAFTAdmin", l.aft),
        "assuming a role of AFT's chain for organizations:",
    ] {
        assert!(text.contains(needle), "the error does not name {needle:?}: {text}");
    }
    assert!(!text.contains("DispatchFailure"), "a refusal reported as a dispatch failure: {text}");
    assert!(refused_at.elapsed() < std::time::Duration::from_secs(30), "the refusal was retried");

    // destroy
    tf.destroy();
    assert!(l.metadata(&id).await.is_none(), "the metadata item is gone");
    assert!(sfn.describe_state_machine().state_machine_arn(&sm).send().await.is_err(), "the state machine is gone");
    assert!(l.codepipeline().get_pipeline().name(&pipeline).send().await.is_err(), "the pipeline is gone");
    let role = aws_sdk_iam::Client::new(&l.aft_cfg)
        .get_role()
        .role_name("aft-account-provisioning-customizations-role")
        .send()
        .await;
    assert!(role.is_err(), "the customizations role is gone");

    // what the permissions guide says the provider uses of the administrators' roles is enough:
    // AWSAFTService in the CT management account with policies/aft-service-ct-management.json
    // alone, AWSControlTowerExecution with policies/control-tower-execution.json alone
    let ct_iam = aws_sdk_iam::Client::new(&l.ct_cfg);
    ct_iam.detach_role_policy().role_name("AWSAFTService").policy_arn(ADMIN_POLICY).send().await.unwrap();
    ct_iam
        .put_role_policy()
        .role_name("AWSAFTService")
        .policy_name("aft-service-ct-management")
        .policy_document(shipped("aft-service-ct-management", &l).to_string())
        .send()
        .await
        .unwrap();
    create_account_role_policy(Some(&shipped("control-tower-execution", &l)));
    let mut tf5 = Tf::new("iam-narrow");
    chain.provider.use_in(&mut tf5);
    let narrow_email = common::email("iam-narrow");
    tf5.write(&format!("{}{}", provider_block(), account_block("n", &narrow_email, "Sandbox", created)));
    tf5.apply();
    let narrow = tf5.values("aft_account_provisioning.n")["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.accounts_with_email(&narrow_email).await, vec![narrow.clone()]);
    assert!(l.metadata(&narrow).await.is_some());
    assert_eq!(l.tags(&narrow).await.get("Team").map(String::as_str), Some("iam"));
    let target = assume(&admin, &format!("arn:aws:iam::{narrow}:role/AWSAFTExecution")).await;
    let who = aws_sdk_sts::Client::new(&target).get_caller_identity().send().await.unwrap();
    assert_eq!(who.arn(), Some(format!("arn:aws:sts::{narrow}:assumed-role/AWSAFTExecution/{TEST_SESSION}").as_str()));
    tf5.destroy();
    assert!(l.metadata(&narrow).await.is_none());

    create_account_role_policy(None);
    // what the run exercised, by whom (AWSAFTService in CT and AWSControlTowerExecution held
    // AdministratorAccess before their narrower documents)
    report_exercised(
        &exercised(&l, &[&id, denied_id, &narrow]),
        &[
            ("user/aft-provider", "provider.json", &shipped("provider", &l)),
            ("user/aft-plan", "plan-readonly.json", &shipped("plan-readonly", &l)),
            ("AWSAFTAdmin in AFT", "aft-admin.json", &shipped("aft-admin", &l)),
            ("AWSAFTService in CT", "aft-service-ct-management.json", &shipped("aft-service-ct-management", &l)),
            (
                "AWSControlTowerExecution in new account",
                "control-tower-execution.json",
                &shipped("control-tower-execution", &l),
            ),
        ],
    );
    eprintln!("IAM-enforced lifecycle (organizations) passed in {:?}", started.elapsed());
}

/// What moto authorized for the callers of this landing zone (its AFT and CT management accounts
/// and the accounts in `vended`), per caller: `user/<name>`, or `<role> in <where>` for the
/// provider's sessions (where: `AFT`, `CT`, `new account`, merged over the new accounts). The
/// test's own callers are left out: its `OrganizationAccountAccessRole` sessions (which the
/// Service Catalog stand-in uses too) and its `TEST_SESSION` walks.
fn exercised(l: &Landing, vended: &[&str]) -> std::collections::BTreeMap<String, BTreeSet<String>> {
    let mut out: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (arn, actions) in authorized() {
        let mut parts = arn.splitn(6, ':');
        let (account, resource) = (parts.nth(4).unwrap_or_default(), parts.next().unwrap_or_default());
        let place = if account == l.aft {
            "AFT"
        } else if account == l.ct {
            "CT"
        } else if vended.contains(&account) {
            "new account"
        } else {
            continue;
        };
        let key = match resource.split('/').collect::<Vec<_>>()[..] {
            ["user", name] => format!("user/{name}"),
            ["assumed-role", "OrganizationAccountAccessRole", _] => continue,
            ["assumed-role", _, session] if session == TEST_SESSION => continue,
            ["assumed-role", role, _] => format!("{role} in {place}"),
            _ => arn.clone(),
        };
        out.entry(key).or_default().extend(actions);
    }
    out
}

/// Prints what each caller of `record` exercised and, for each (caller, document) pair, the
/// actions of the shipped document the run never exercised (the report of docs/reliability.md).
fn report_exercised(record: &std::collections::BTreeMap<String, BTreeSet<String>>, documents: &[(&str, &str, &Value)]) {
    for (caller, actions) in record {
        eprintln!(
            "exercised by {caller} ({}): {}",
            actions.len(),
            actions.iter().cloned().collect::<Vec<_>>().join(" ")
        );
    }
    for (caller, name, doc) in documents {
        let used = record.get(*caller).cloned().unwrap_or_default();
        let all = all_actions(doc);
        let unused: Vec<_> = all.difference(&used).cloned().collect();
        eprintln!(
            "{name} held by {caller}: {} of {} exercised; not exercised: {}",
            all.len() - unused.len(),
            all.len(),
            unused.join(" ")
        );
    }
}

/// The provisioned product of the stand-in named `name`.
fn product(sc: &ServiceCatalog, name: &str) -> common::service_catalog::Provisioned {
    let all = sc.products();
    all.iter().find(|p| p.name == name).cloned().unwrap_or_else(|| panic!("no provisioned product {name}: {all:?}"))
}

/// The Service Catalog operations the stand-in received since `from` (an index into its calls).
fn calls_since(sc: &ServiceCatalog, from: usize) -> Vec<String> {
    sc.calls()[from..].to_vec()
}

/// The `control_tower` method's whole lifecycle under enforcement: the provider's Service
/// Catalog calls (signed with the `AWSAFTService` session of the CT management account) pass
/// moto's authentication and authorization in front of the stand-in (`iam_gate`), and the
/// principals hold the narrowest shipped documents: the provider's user `provider.json`,
/// `AWSAFTAdmin` `aft-admin.json`, `AWSAFTService` (CT) `aft-service-ct-management.json` alone,
/// `AWSControlTowerExecution` `control-tower-execution.json` alone. Plan, apply (a vend through
/// Account Factory and every framework step and feature), update (tags; the OU, through
/// UpdateProvisionedProduct), import into a second directory (its recording update runs
/// nothing), the action, `terraform query`, destroy closing the account; then a provisioning
/// Control Tower failed, recovered by the next apply, and servicecatalog:ProvisionProduct refused.
#[tokio::test(flavor = "multi_thread")]
async fn the_control_tower_method_runs_its_lifecycle_with_exactly_the_shipped_policies_under_enforced_iam() {
    let _turn = take_turn().await;
    let l = Landing::new().await;
    common::aft::request_table(&l, true).await;
    let sm = l.create_customizations(CUSTOMIZATIONS_ASL).await;
    l.log_archive_bucket().await;
    let chain = seed_chain(&l).await;
    let ct_service = shipped("aft-service-ct-management", &l);
    let ct_iam = aws_sdk_iam::Client::new(&l.ct_cfg);
    ct_iam.detach_role_policy().role_name("AWSAFTService").policy_arn(ADMIN_POLICY).send().await.unwrap();
    let put_ct_service = |doc: Value| {
        ct_iam
            .put_role_policy()
            .role_name("AWSAFTService")
            .policy_name("aft-service-ct-management")
            .policy_document(doc.to_string())
            .send()
    };
    put_ct_service(ct_service.clone()).await.unwrap();
    create_account_role_policy(Some(&shipped("control-tower-execution", &l)));
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), std::time::Duration::from_millis(200));
    let gate = iam_gate(&sc.endpoint);
    enforce();
    let started = std::time::Instant::now();
    let ct_session = format!("arn:aws:sts::{}:assumed-role/AWSAFTService/AWSAFT-Session", l.ct);

    let email = common::email("iam-ct");
    let hcl = |ou: &str, tags: &str| {
        format!(
            "{}{}",
            provider_block_for("control_tower"),
            account_block(
                "c",
                &email,
                ou,
                &format!(
                    "  account_tags = {{ {tags} }}\n  custom_fields = {{ tier = \"gold\" }}\n  close_account_on_delete = true"
                )
            )
        )
    };
    let ct_dir = |name: &str| {
        let mut tf = Tf::new(name);
        chain.provider.use_in(&mut tf);
        tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &gate);
        tf
    };

    // plan: a create, and nothing provisioned
    let tf = ct_dir("iam-ct");
    tf.write(&hcl("Sandbox", "Team = \"ct\", Stage = \"one\""));
    let plan = tf.plan_json();
    assert_eq!(
        common::terraform::changes(&plan),
        vec![("aft_account_provisioning.c".to_string(), vec!["create".to_string()])]
    );
    assert!(!sc.calls().iter().any(|c| c == "ProvisionProduct"), "the plan provisioned: {:?}", sc.calls());
    assert!(l.accounts_with_email(&email).await.is_empty());

    // apply: Account Factory vends the account, then every framework step runs
    tf.apply();
    let id = tf.values("aft_account_provisioning.c")["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.accounts_with_email(&email).await, vec![id.clone()]);
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    let report = sc.report();
    assert_eq!((report.provisioned, report.updated, report.refused), (1, 0, 0), "{report:?}");
    assert_eq!(sc.associated(), vec![format!("arn:aws:iam::{}:role/AWSAFTService", l.ct)]);
    let calls = sc.calls();
    for op in [
        "ListPortfolios",
        "AssociatePrincipalWithPortfolio",
        "DescribeProductAsAdmin",
        "DescribeProvisioningArtifact",
        "SearchProvisionedProducts",
        "ProvisionProduct",
        "DescribeRecord",
    ] {
        assert!(calls.iter().any(|c| c == op), "{op} did not reach the stand-in: {calls:?}");
    }
    assert_eq!(calls.iter().filter(|c| *c == "ProvisionProduct").count(), 1, "{calls:?}");
    let p = product(&sc, "c");
    assert_eq!((p.status.as_str(), p.physical_id.as_deref()), ("AVAILABLE", Some(id.as_str())), "{p:?}");
    assert_eq!(p.parameters["AccountEmail"], email);
    assert_eq!(sc.ous(), vec!["Sandbox"]);
    let item = l.metadata(&id).await.expect("the metadata item");
    assert_eq!(item["parent_ou"], Av::S(l.ous["Sandbox"].clone()));
    assert_eq!(l.audit_events(&email).await.len(), 1, "the audit record");
    assert!(common::aft::rows(&l).await.contains_key(&email), "the provider's aft-request row");
    assert_eq!(l.tags(&id).await.get("Stage").map(String::as_str), Some("one"));
    assert_eq!(l.executions(&sm).await.len(), 1, "the provisioning customizations ran");
    let notes = l.notifications(&id).await;
    assert!(notes.len() == 1 && !notes[0].0, "one success notification: {notes:?}");
    for step in [
        "account_info",
        "persist_metadata",
        "create_role",
        "tag_account",
        "account_metadata_ssm",
        "aft_features",
        "provisioning_customizations",
    ] {
        let outcome = notes[0].1["steps"].as_array().unwrap().iter().find(|s| s["step"] == step);
        assert_eq!(outcome.map(|s| &s["outcome"]), Some(&json!("succeeded")), "{step}: {notes:?}");
    }
    // in the new account (read along AFT's chain with the provider's key): AFT's roles, which
    // AWSControlTowerExecution made with control-tower-execution.json alone, and the custom field
    let admin = assume(&chain.provider.config(), &format!("arn:aws:iam::{}:role/AWSAFTAdmin", l.aft)).await;
    let target = assume(&admin, &format!("arn:aws:iam::{id}:role/AWSAFTService")).await;
    let iam = aws_sdk_iam::Client::new(&target);
    for name in ["AWSAFTService", "AWSAFTExecution"] {
        let attached = iam.list_attached_role_policies().role_name(name).send().await.unwrap();
        let arns: Vec<_> = attached.attached_policies().iter().filter_map(|p| p.policy_arn()).collect();
        assert_eq!(arns, vec![ADMIN_POLICY], "{name} in {id}");
    }
    let fields = aws_sdk_ssm::Client::new(&target)
        .get_parameters_by_path()
        .path("/aft/account-request/custom-fields/")
        .send()
        .await
        .unwrap();
    let fields: Vec<_> = fields.parameters().iter().map(|p| (p.name().unwrap_or_default(), p.value())).collect();
    assert_eq!(fields, vec![("/aft/account-request/custom-fields/tier", Some("gold"))]);
    assert_eq!(tf.plan_exit(), 0, "nothing to do after the apply");

    // update: a tag added and one removed; Account Factory is not involved
    let before = sc.calls().len();
    tf.write(&hcl("Sandbox", "Team = \"ct\", Iam = \"enforced\""));
    tf.apply();
    let tags = l.tags(&id).await;
    assert_eq!((tags.get("Iam").map(String::as_str), tags.get("Stage")), (Some("enforced"), None), "{tags:?}");
    let during = calls_since(&sc, before);
    assert!(
        !during.iter().any(|c| c == "ProvisionProduct" || c == "UpdateProvisionedProduct"),
        "a tag change went through Account Factory: {during:?}"
    );
    assert_eq!(sc.report().updated, 0);
    assert_eq!(tf.plan_exit(), 0);

    // update: the OU, which Control Tower changes (UpdateProvisionedProduct); given by id, which
    // Account Factory takes as `Name (ou-…)` (the provider reads the name: DescribeOrganizationalUnit)
    let workloads = l.ous["Workloads"].clone();
    let in_workloads = format!("Workloads ({workloads})");
    let updated = hcl(&workloads, "Team = \"ct\", Iam = \"enforced\"");
    let before = sc.calls().len();
    tf.write(&updated);
    tf.apply();
    assert_eq!(l.parent(&id).await, l.ous["Workloads"]);
    let during = calls_since(&sc, before);
    assert_eq!(during.iter().filter(|c| *c == "UpdateProvisionedProduct").count(), 1, "{during:?}");
    assert!(!during.iter().any(|c| c == "ProvisionProduct"), "{during:?}");
    let report = sc.report();
    assert_eq!((report.provisioned, report.updated), (1, 1), "{report:?}");
    assert_eq!(sc.ous(), vec!["Sandbox", in_workloads.as_str()]);
    let p = product(&sc, "c");
    assert_eq!((p.status.as_str(), &p.parameters["ManagedOrganizationalUnit"]), ("AVAILABLE", &in_workloads));
    assert_eq!(l.metadata(&id).await.unwrap()["parent_ou"], Av::S(l.ous["Workloads"].clone()));
    assert_eq!(tf.plan_exit(), 0);

    // import into a second directory: the plan records close_account_on_delete (which AWS does
    // not hold) with an update that runs nothing
    let tf2 = ct_dir("iam-ct-import");
    tf2.write(&updated);
    tf2.run(&["import", "-input=false", "-no-color", "aft_account_provisioning.c", &id]).ok();
    let imported = tf2.values("aft_account_provisioning.c");
    assert_eq!(imported["account_id"], id.as_str());
    assert_eq!(imported["control_tower_parameters"]["ManagedOrganizationalUnit"], workloads.as_str());
    let plan = tf2.plan_json();
    assert_eq!(
        common::terraform::changes(&plan),
        vec![("aft_account_provisioning.c".to_string(), vec!["update".to_string()])]
    );
    let change = &common::terraform::change_of(&plan, "aft_account_provisioning.c")["change"];
    let differs: Vec<&String> = change["after"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, v)| change["before"][k.as_str()] != **v && change["after_unknown"][k.as_str()] != json!(true))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(differs, vec!["close_account_on_delete"], "{change}");
    let (calls_before, notes_before, runs_before) =
        (sc.calls().len(), l.notifications(&id).await.len(), l.executions(&sm).await.len());
    tf2.apply();
    assert_eq!(calls_since(&sc, calls_before), Vec::<String>::new(), "the recording update called Account Factory");
    assert_eq!(l.notifications(&id).await.len(), notes_before, "the recording update ran the framework");
    assert_eq!(l.executions(&sm).await.len(), runs_before);
    assert_eq!(tf2.plan_exit(), 0, "nothing to do after the recording update");

    // the action re-runs the framework for the accounts of an OU (no Account Factory operation)
    let (calls_before, notes_before) = (sc.calls().len(), l.notifications(&id).await.len());
    tf.write_file(
        "action.tf",
        "action \"aft_invoke_customizations\" \"ct\" {\n  config {\n    include {\n      type = \"ous\"\n      target_value = [\"Workloads\"]\n    }\n    rerun_framework = true\n    run_pipelines   = false\n  }\n}\n",
    );
    let invoked = tf
        .run(&["apply", "-auto-approve", "-input=false", "-no-color", "-invoke=action.aft_invoke_customizations.ct"])
        .ok();
    assert!(invoked.stdout.contains("1 account(s) done, 0 failed"), "{}", invoked.stdout);
    let notes = l.notifications(&id).await;
    assert_eq!(notes.len(), notes_before + 1, "the action re-ran the framework: {notes:?}");
    assert!(!notes.last().unwrap().0, "a success notification: {notes:?}");
    assert_eq!(l.executions(&sm).await.len(), runs_before + 1, "the customizations ran again");
    let during = calls_since(&sc, calls_before);
    assert!(!during.iter().any(|c| c == "ProvisionProduct" || c == "UpdateProvisionedProduct"), "{during:?}");
    std::fs::remove_file(tf.path("action.tf")).unwrap();

    // terraform query lists the account in its new OU
    tf.write_file(
        "accounts.tfquery.hcl",
        "list \"aft_account_provisioning\" \"ct\" {\n  provider = aft\n  config {\n    organizational_units = [\"Workloads\"]\n  }\n}\n",
    );
    let q = tf.run(&["query", "-no-color", "-json"]).ok();
    assert!(q.stdout.lines().any(|line| line.contains("list_resource_found") && line.contains(&id)), "{}", q.stdout);
    std::fs::remove_file(tf.path("accounts.tfquery.hcl")).unwrap();

    // destroy closes the account (close_account_on_delete) and removes it from AFT
    let calls_before = sc.calls().len();
    tf.destroy();
    let status = l.org().describe_account().account_id(&id).send().await.unwrap();
    let status = status.account().and_then(|a| a.status()).map(|s| s.as_str().to_string());
    assert_ne!(status.as_deref(), Some("ACTIVE"), "the account was not closed");
    assert!(l.metadata(&id).await.is_none(), "the metadata item is gone");
    assert!(!common::aft::rows(&l).await.contains_key(&email), "the aft-request row is gone");
    let during = calls_since(&sc, calls_before);
    assert!(!during.iter().any(|c| c == "ProvisionProduct" || c == "UpdateProvisionedProduct"), "{during:?}");

    // a provisioning Control Tower failed before it made the account (an OU it refuses) leaves
    // the product ERROR; the next apply asks the product's outputs whose request it is and
    // recovers it with an update, which makes the account
    sc.fail_ou("Sandbox", true);
    let tf3 = ct_dir("iam-ct-recover");
    let recovered_email = common::email("iam-ct-recover");
    tf3.write(&format!(
        "{}{}",
        provider_block_for("control_tower"),
        account_block("v", &recovered_email, "Sandbox", "")
    ));
    let out = tf3.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "the refused OU provisioned:\n{}", out.stdout);
    assert!(one_line(&out.stderr).contains("is not registered with AWS Control Tower"), "{}", out.stderr);
    assert_eq!(product(&sc, "v").status, "ERROR");
    assert!(l.accounts_with_email(&recovered_email).await.is_empty());
    sc.fail_ou("Sandbox", false);
    let calls_before = sc.calls().len();
    tf3.apply();
    let recovered = tf3.values("aft_account_provisioning.v")["account_id"].as_str().unwrap().to_string();
    assert_eq!(l.accounts_with_email(&recovered_email).await, vec![recovered.clone()]);
    assert_eq!(l.parent(&recovered).await, l.ous["Sandbox"]);
    let during = calls_since(&sc, calls_before);
    let at = |op: &str| during.iter().position(|c| c == op);
    assert!(
        matches!((at("GetProvisionedProductOutputs"), at("UpdateProvisionedProduct")), (Some(a), Some(b)) if a < b),
        "the product's owner was not read before its update: {during:?}"
    );
    assert!(!during.iter().any(|c| c == "ProvisionProduct"), "a second ProvisionProduct: {during:?}");
    assert_eq!(sc.report().recovered, 1);
    let p = product(&sc, "v");
    assert_eq!((p.status.as_str(), p.physical_id.as_deref()), ("AVAILABLE", Some(recovered.as_str())), "{p:?}");
    assert!(l.metadata(&recovered).await.is_some());

    // what the run exercised of each shipped document, by whom
    let record = exercised(&l, &[&id, &recovered]);
    let service = record.get("AWSAFTService in CT").cloned().unwrap_or_default();
    for action in [
        "servicecatalog:ListPortfolios",
        "servicecatalog:AssociatePrincipalWithPortfolio",
        "servicecatalog:DescribeProductAsAdmin",
        "servicecatalog:DescribeProvisioningArtifact",
        "servicecatalog:SearchProvisionedProducts",
        "servicecatalog:ProvisionProduct",
        "servicecatalog:DescribeRecord",
        "servicecatalog:UpdateProvisionedProduct",
        "servicecatalog:GetProvisionedProductOutputs",
        "organizations:TagResource",
        "organizations:UntagResource",
        "organizations:CloseAccount",
        "organizations:DescribeOrganizationalUnit",
        "organizations:ListChildren",
        "sts:AssumeRole",
    ] {
        assert!(service.contains(action), "{ct_session} never exercised {action}: {service:?}");
    }
    let execution = record.get("AWSControlTowerExecution in new account").cloned().unwrap_or_default();
    assert!(execution.contains("iam:CreateRole"), "{execution:?}");
    report_exercised(
        &record,
        &[
            ("user/aft-provider", "provider.json", &shipped("provider", &l)),
            ("AWSAFTAdmin in AFT", "aft-admin.json", &shipped("aft-admin", &l)),
            ("AWSAFTService in CT", "aft-service-ct-management.json", &ct_service),
            (
                "AWSControlTowerExecution in new account",
                "control-tower-execution.json",
                &shipped("control-tower-execution", &l),
            ),
        ],
    );

    // without servicecatalog:ProvisionProduct, moto refuses it before the stand-in sees it
    put_ct_service(without(ct_service.clone(), "servicecatalog:ProvisionProduct")).await.unwrap();
    let provisions = sc.calls().iter().filter(|c| *c == "ProvisionProduct").count();
    let tf4 = ct_dir("iam-ct-denied");
    let refused_email = common::email("iam-ct-denied");
    tf4.write(&format!("{}{}", provider_block_for("control_tower"), account_block("r", &refused_email, "Sandbox", "")));
    let out = tf4.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "provisioned without servicecatalog:ProvisionProduct:\n{}", out.stdout);
    let text = one_line(&out.stderr);
    for needle in
        ["servicecatalog:ProvisionProduct", "AccessDeniedException", &format!("{ct_session} is not authorized")]
    {
        assert!(text.contains(needle), "the error does not name {needle:?}: {text}");
    }
    assert_eq!(sc.calls().iter().filter(|c| *c == "ProvisionProduct").count(), provisions, "the stand-in provisioned");
    assert!(l.accounts_with_email(&refused_email).await.is_empty(), "an account was made");
    create_account_role_policy(None);
    eprintln!("IAM-enforced lifecycle (control_tower) passed in {:?}", started.elapsed());
}
