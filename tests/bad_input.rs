//! Bad input everywhere else than the account request (issue #5; the request's own cases are in
//! account_validation.rs and the state machine's in provisioning_customizations.rs): the provider
//! block, `aft_customization_pipeline`, both data sources and the action. Every case fails at
//! validate or plan with an error whose source snippet is the offending attribute, and the
//! provider makes no AWS call at all (counted by the proxy every call goes through).

use aft_test_harness as common;

use common::proxy::Proxy;
use common::{Landing, Tf};

struct Case {
    what: &'static str,
    hcl: String,
    /// Text of the source line the error must point at.
    points_at: &'static str,
}

const DS: &str = "data \"aft_account\" \"x\" {\n  email = \"someone@example.com\"\n}\n";

/// Provider-block cases: `extra` goes inside the provider block.
fn provider_cases(l: &Landing) -> Vec<Case> {
    let p = |what, extra: &str, points_at| Case { what, hcl: format!("{}{DS}", l.provider(extra)), points_at };
    vec![
        p("unknown region", "  region = \"moon-1\"", "moon-1"),
        p("endpoint not a URL", "  endpoint_url = \"not a url\"", "not a url"),
        p("short AFT account id", "  aft_management_account_id = \"12345\"", "12345"),
        p("letters in CT account id", "  ct_management_account_id = \"abcdefghijkl\"", "abcdefghijkl"),
        p("13-digit log archive id", "  log_archive_account_id = \"1234567890123\"", "1234567890123"),
        p("empty audit account id", "  audit_account_id = \"\"", "audit_account_id"),
        p("metadata table too short", "  metadata_table = \"a\"", "metadata_table"),
        p("audit table with !", "  audit_table = \"bad table!\"", "bad table!"),
        p(
            "notification topic is a queue",
            "  notification_topic_arn = \"arn:aws:sqs:us-east-1:111111111111:q\"",
            "arn:aws:sqs",
        ),
        p("failure topic not an ARN", "  failure_notification_topic_arn = \"topic\"", "failure_notification_topic_arn"),
        p("state machine name with !", "  provisioning_customizations_state_machine = \"bad name!\"", "bad name!"),
        p("propagation timeout not a duration", "  iam_propagation_timeout = \"forever\"", "forever"),
        p("unknown drift detection", "  drift_detection = \"paranoid\"", "paranoid"),
        p("unknown aft-request row mode", "  aft_request_rows = \"sometimes\"", "sometimes"),
        p("zero customizations", "  max_concurrent_customizations = 0", "max_concurrent_customizations"),
        p("too many customizations", "  max_concurrent_customizations = 1000", "max_concurrent_customizations"),
        p("fractional customizations", "  max_concurrent_customizations = 2.5", "max_concurrent_customizations"),
        p("vending method", "  account_factory {\n    method = \"magic\"\n  }", "magic"),
        p("poll interval too short", "  account_factory {\n    poll_interval = \"1ms\"\n  }", "1ms"),
        p(
            "too many operations",
            "  account_factory {\n    max_concurrent_operations = 101\n  }",
            "max_concurrent_operations",
        ),
        p("blank product name", "  account_factory {\n    product_name = \"  \"\n  }", "product_name"),
        p("role name with !", "  role_names {\n    admin = \"bad role!\"\n  }", "bad role!"),
        p(
            "execution role name too long",
            "  role_names {\n    execution = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n  }",
            "aaaaaaaa",
        ),
    ]
}

/// Resource, data-source and action cases (the provider block is valid).
fn config_cases() -> Vec<Case> {
    let pipe = |what, body: &str, points_at| Case {
        what,
        hcl: format!(
            "resource \"aft_customization_pipeline\" \"bad\" {{\n  account_id = \"111122223333\"\n{body}\n}}\n"
        ),
        points_at,
    };
    let ds = |what, body: &str, points_at| Case {
        what,
        hcl: format!("data \"aft_accounts\" \"bad\" {{\n{body}\n}}\n"),
        points_at,
    };
    let acct = |what, body: &str, points_at| Case {
        what,
        hcl: format!("data \"aft_account\" \"bad\" {{\n{body}\n}}\n"),
        points_at,
    };
    let action = |what, body: &str, points_at| Case {
        what,
        hcl: format!(
            "action \"aft_invoke_customizations\" \"bad\" {{\n  config {{\n{body}\n  }}\n}}\n{}",
            "resource \"terraform_data\" \"x\" {}\n"
        ),
        points_at,
    };
    let inc = |t: &str| format!("  include {{\n{t}\n  }}");
    vec![
        Case {
            what: "pipeline account id too short",
            hcl: "resource \"aft_customization_pipeline\" \"bad\" {\n  account_id = \"12\"\n}\n".into(),
            points_at: "\"12\"",
        },
        pipe("pipeline name with !", "  name = \"bad name!\"", "bad name!"),
        pipe("pipeline name too long", &format!("  name = \"{}\"", "p".repeat(101)), "ppppp"),
        pipe("pipeline role not an ARN", "  role_arn = \"not-an-arn\"", "not-an-arn"),
        pipe("bucket with capitals", "  artifact_bucket = \"Bad_Bucket\"", "Bad_Bucket"),
        pipe("bucket ending with -", "  artifact_bucket = \"bucket-\"", "bucket-"),
        pipe("source provider", "  source {\n    provider = \"GitHub\"\n  }", "GitHub"),
        pipe(
            "connection missing",
            "  source {\n    provider = \"CodeStarSourceConnection\"\n  }",
            "CodeStarSourceConnection",
        ),
        pipe(
            "connection is an S3 ARN",
            "  source {\n    provider       = \"CodeStarSourceConnection\"\n    connection_arn = \"arn:aws:s3:::x\"\n  }",
            "arn:aws:s3:::x",
        ),
        pipe(
            "connection without provider",
            "  source {\n    connection_arn = \"arn:aws:codestar-connections:us-east-1:111111111111:connection/x\"\n  }",
            "connection_arn",
        ),
        pipe(
            "empty branch",
            "  source {\n    global_customizations_branch = \" \"\n  }",
            "global_customizations_branch",
        ),
        pipe("CodeBuild project with space", "  codebuild_projects {\n    global = \"my project\"\n  }", "my project"),
        pipe("encryption key as an alias name", "  encryption_key = {\n    id = \"alias/aft\"\n  }", "alias/aft"),
        pipe(
            "encryption key type",
            "  encryption_key = {\n    id   = \"arn:aws:kms:us-east-1:111111111111:alias/aft\"\n    type = \"AES\"\n  }",
            "AES",
        ),
        pipe("pipeline timeout", "  timeouts {\n    create = \"soon\"\n  }", "soon"),
        acct("no selector", "", "data \"aft_account\" \"bad\""),
        acct("both selectors", "  account_id = \"111122223333\"\n  email = \"a@example.com\"", "email"),
        acct("account id with letters", "  account_id = \"abc\"", "\"abc\""),
        acct("email without @", "  email = \"nope\"", "nope"),
        ds("no include", "", "data \"aft_accounts\" \"bad\""),
        ds("unknown target type", &inc("    type = \"everything\""), "everything"),
        ds(
            "exclude all",
            "  include {\n    type = \"all\"\n  }\n  exclude {\n    type = \"all\"\n  }",
            "type = \"all\"",
        ),
        ds("ous without values", &inc("    type = \"ous\""), "include {"),
        ds("malformed OU", &inc("    type = \"ous\"\n    target_value = [\"Sandbox (\"]"), "Sandbox ("),
        ds("short account id", &inc("    type = \"accounts\"\n    target_value = [\"123\"]"), "\"123\""),
        ds("tags without tags", &inc("    type = \"tags\""), "include {"),
        ds("empty tag map", &inc("    type = \"tags\"\n    tags = [{}]"), "tags = [{}]"),
        ds("five includes", &(0..5).map(|_| inc("    type = \"core\"")).collect::<Vec<_>>().join("\n"), "include"),
        action(
            "action with nothing to do",
            "    include {\n      type = \"all\"\n    }\n    rerun_framework = false\n    run_pipelines = false",
            "run_pipelines",
        ),
        action("action timeout", "    include {\n      type = \"all\"\n    }\n    timeout = \"later\"", "later"),
        action("action target type", "    include {\n      type = \"bogus\"\n    }", "bogus"),
        action("action without include", "    run_pipelines = true", "config {"),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_configurations_fail_on_the_attribute_before_any_aws_call() {
    let l = Landing::new().await;
    let proxy = Proxy::start(&[]);
    let valid_provider = l.provider("");
    let mut cases = provider_cases(&l);
    cases.extend(config_cases().into_iter().map(|c| Case { hcl: format!("{valid_provider}{}", c.hcl), ..c }));
    proxy.reset();
    common::terraform::assert_each_fails_at(cases.iter().map(|c| (c.what, c.hcl.clone(), c.points_at)), || {
        let mut tf = Tf::new("bad-input");
        tf.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        tf.env("AWS_ENDPOINT_URL_CODEPIPELINE", &proxy.endpoint);
        tf
    });
    let stats = proxy.stats();
    assert_eq!(stats["total"], 0, "no AWS call for invalid input: {stats}");
    proxy.stop();
}
