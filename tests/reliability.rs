//! Reliability (issue #5): an apply killed at random moments converges with no duplicate and
//! nothing orphaned; an apply through a proxy that fails 20% of the AWS calls converges; both for
//! the `organizations` and the `control_tower` method, with AWS's asynchrony on (issue 13: the
//! proxy's behaviour layer and the Account Factory stand-in, so kills and faults land inside
//! `IN_PROGRESS` windows and provisioning records); secrets
//! never reach state, plans, logs or notifications; timeouts and Ctrl-C end long waits with the
//! state saved so far.

use aft_test_harness as common;

use std::time::{Duration, Instant};

use common::fixtures::{account_block, slow_asl};
use common::runners::{Aws, Method, ORGS, Rng, converge, emails, env_or, landing};
use common::terraform::kill_group;
use common::{Landing, Moto, Tf};

/// Six accounts, each with tags, a custom field and a pipeline; `round` re-runs everything.
fn fleet(aws: &Aws, l: &Landing, emails: &[String], round: u64) -> String {
    let mut hcl = aws.provider(l);
    for (i, e) in emails.iter().enumerate() {
        hcl.push_str(&account_block(
            &format!("a{i}"),
            e,
            if i % 2 == 0 { "Sandbox" } else { "Prod" },
            &format!(
                "  account_tags = {{ Owner = \"team-{i}\" }}\n  custom_fields = {{ tier = \"t{i}\" }}\n  rerun_triggers = {{ round = \"{round}\" }}"
            ),
        ));
        hcl.push_str(&format!(
            "resource \"aft_customization_pipeline\" \"a{i}\" {{\n  account_id = aft_account_provisioning.a{i}.account_id\n  triggers   = {{ round = \"{round}\" }}\n}}\n"
        ));
    }
    hcl
}

/// Everything the fleet asks for exists exactly once, the state names it, and nothing else exists.
async fn assert_converged(aws: &Aws, l: &Landing, tf: &Tf, emails: &[String]) {
    aws.proxy.faults(0.0, 0);
    let moto = Moto::get();
    if let Some(sc) = &aws.sc {
        // one provisioned product per account, each healthy and naming its account
        let products = sc.products();
        assert_eq!(products.len(), emails.len(), "no duplicate provisioned product: {products:?}");
        for p in &products {
            assert_eq!(p.status, "AVAILABLE", "{p:?}");
        }
    }
    let state = tf.state();
    let resources = state["values"]["root_module"]["resources"].as_array().cloned().unwrap_or_default();
    let cp = l.codepipeline();
    for (i, e) in emails.iter().enumerate() {
        let ids = l.accounts_with_email(e).await;
        assert_eq!(ids.len(), 1, "exactly one account for {e}: {ids:?}");
        let id = &ids[0];
        let status = l.org().describe_account().account_id(id).send().await.unwrap();
        assert_eq!(status.account().and_then(|a| a.status()).map(|s| s.as_str()), Some("ACTIVE"), "{id} is not closed");
        assert_eq!(l.parent(id).await, l.ous[if i % 2 == 0 { "Sandbox" } else { "Prod" }], "{id} is not parked");
        if let Some((ct, _)) = &aws.ct {
            assert_eq!(ct.enrollment(id).as_deref(), Some("SUCCEEDED"), "{id} is enrolled in its OU");
        }
        let r = resources
            .iter()
            .find(|r| r["address"] == format!("aft_account_provisioning.a{i}").as_str())
            .unwrap_or_else(|| panic!("a{i} in state"));
        assert_eq!(r["values"]["account_id"], id.as_str(), "state matches AWS for a{i}");
        assert!(r["values"]["framework_completed_at"].is_string(), "a{i} completed a run");
        assert!(l.metadata(id).await.is_some(), "metadata item of {id}");
        let cfg = moto.account(id).await;
        aws_sdk_iam::Client::new(&cfg).get_role().role_name("AWSAFTExecution").send().await.expect("AWSAFTExecution");
        aws_sdk_iam::Client::new(&cfg).get_role().role_name("AWSAFTService").send().await.expect("AWSAFTService");
        assert_eq!(l.tags(id).await.get("Owner").cloned(), Some(format!("team-{i}")));
        let p = aws_sdk_ssm::Client::new(&cfg)
            .get_parameter()
            .name("/aft/account-request/custom-fields/tier")
            .send()
            .await
            .expect("custom field");
        assert_eq!(p.parameter().and_then(|p| p.value()), Some(format!("t{i}").as_str()));
        let name = format!("{id}-customizations-pipeline");
        let pr = resources
            .iter()
            .find(|r| r["address"] == format!("aft_customization_pipeline.a{i}").as_str())
            .unwrap_or_else(|| panic!("pipeline a{i} in state"));
        assert_eq!(pr["values"]["name"], name.as_str());
        cp.get_pipeline().name(&name).send().await.expect("pipeline exists");
    }
    // nothing that no resource owns: only the management account besides the fleet, one
    // metadata item and one pipeline per account
    let mut all = Vec::new();
    let mut pages = l.org().list_accounts().into_paginator().send();
    while let Some(p) = pages.next().await {
        all.extend(p.unwrap().accounts().iter().map(|a| a.id().unwrap().to_string()));
    }
    assert_eq!(all.len(), emails.len() + 1, "no orphaned account: {all:?}");
    let items =
        aws_sdk_dynamodb::Client::new(&l.aft_cfg).scan().table_name("aft-request-metadata").send().await.unwrap();
    assert_eq!(items.count() as usize, emails.len(), "no orphaned metadata item");
    let pipelines = cp.list_pipelines().send().await.unwrap();
    assert_eq!(pipelines.pipelines().len(), emails.len(), "no orphaned pipeline");
}

async fn crash(method: Method) {
    let l = landing().await;
    let aws = Aws::start(&l, method, &[]);
    let seed = env_or("AFT_CRASH_SEED", 20_261_125);
    let rounds = env_or("AFT_CRASH_ROUNDS", if method == Method::Organizations { 20 } else { 12 });
    let mut rng = Rng(seed | 1);
    let emails = emails("crash", 6);
    let tf = aws.tf("crash");
    let (mut killed, mut finished, mut in_progress, mut enrolling) = (0, 0, 0, 0);
    // rounds continue until `rounds` applies were really killed mid-way (an apply of this fleet
    // takes a few seconds; the kill lands anywhere from its first moment to its last)
    let mut round = 0;
    while killed < rounds {
        round += 1;
        assert!(round <= rounds * 3, "too few rounds were interrupted ({killed} of {round})");
        // the fleet grows by one account every third round, so creations are interrupted too
        let size = emails.len().min(1 + round as usize / 3);
        let before = if round == 1 { 0 } else { emails.len().min(1 + (round as usize - 1) / 3) };
        let grows = size > before;
        tf.write(&fleet(&aws, &l, &emails[..size], round));
        let mut delay = Duration::from_millis(100 + rng.next() % 3_000);
        let mut child = tf.spawn(&format!("round{round}"), &["apply", "-auto-approve", "-input=false", "-no-color"]);
        let start = Instant::now();
        let mut exited = None;
        if grows {
            // a round that adds an account is killed inside its creation's IN_PROGRESS window
            // (CreateAccount, or the Account Factory record), at a random point of it
            while exited.is_none()
                && creations_in_progress(&aws, &l).await == 0
                && start.elapsed() < Duration::from_secs(20)
            {
                exited = child.try_wait().unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            delay = start.elapsed() + Duration::from_millis(rng.next() % 700);
        }
        while exited.is_none() && start.elapsed() < delay {
            if let Some(st) = child.try_wait().unwrap() {
                exited = Some(st);
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        match exited {
            Some(_) => finished += 1,
            None => {
                // terraform, the Python host around it and every provider process it started
                kill_group(child.id(), "-KILL");
                child.wait().unwrap();
                killed += 1;
                if creations_in_progress(&aws, &l).await > 0 {
                    in_progress += 1;
                }
                if aws.ct.as_ref().is_some_and(|(ct, _)| ct.in_flight() > 0) {
                    enrolling += 1;
                }
            }
        }
        eprintln!("round {round}: delay {delay:?}, {}", if exited.is_some() { "finished first" } else { "killed" });
    }
    tf.write(&fleet(&aws, &l, &emails, round + 1));
    let applies = converge(&tf, 3);
    eprintln!(
        "crash test ({method:?}): seed {seed}, {round} rounds, {killed} killed mid-apply ({in_progress} inside an IN_PROGRESS creation or provisioning, {enrolling} inside an enrollment), {finished} finished first, converged in {applies} apply(s); {}",
        aws.figures()
    );
    assert_converged(&aws, &l, &tf, &emails).await;
}

/// Account creations or provisionings in flight right now.
async fn creations_in_progress(aws: &Aws, l: &Landing) -> usize {
    match &aws.sc {
        Some(sc) => sc.products().iter().filter(|p| p.status == "UNDER_CHANGE").count(),
        None => {
            let enrolling = aws.ct.as_ref().map_or(0, |(ct, _)| ct.in_flight());
            let org =
                aws_sdk_organizations::Client::new(&l.ct_cfg.to_builder().endpoint_url(&aws.proxy.endpoint).build());
            let out = org
                .list_create_account_status()
                .states(aws_sdk_organizations::types::CreateAccountState::InProgress)
                .send()
                .await
                .unwrap();
            out.create_account_statuses().len() + enrolling
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_killed_at_random_moments_converges_without_duplicates_or_orphans() {
    crash(Method::Organizations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn control_tower_an_apply_killed_at_random_moments_converges_without_duplicates_or_orphans() {
    crash(Method::ControlTower).await;
}

async fn faults(method: Method) {
    let l = landing().await;
    let aws = Aws::start(&l, method, &["--fault-kinds", "throttle,error500,error503,drop_before,conflict"]);
    let seed = env_or("AFT_FAULT_SEED", 7);
    aws.proxy.faults(0.2, seed);
    let emails = emails("fault", 6);
    let tf = aws.tf("faults");
    tf.write(&fleet(&aws, &l, &emails, 1));
    let first = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    if first.code != 0 {
        // giving up is allowed once, with a clear error: step, account and API call
        let errs = first.stderr.clone();
        assert!(
            errs.contains("failed") && errs.contains(':') && (errs.contains("account") || errs.contains("step")),
            "{errs}"
        );
        eprintln!("first apply gave up:\n{errs}");
        tf.apply();
    }
    assert_eq!(tf.plan_exit(), 0);
    let stats = aws.proxy.stats();
    let (total, faults) = (stats["total"].as_u64().unwrap(), stats["faults"].as_u64().unwrap());
    eprintln!(
        "fault test ({method:?}): seed {seed}, {total} AWS requests, {faults} faults injected: {}; by action: {}; {}",
        stats["faults_by_kind"],
        stats["faults_by_action"],
        aws.figures()
    );
    assert!(faults >= 20, "faults were really injected: {stats}");
    if method == Method::ControlTower {
        let sc_faults: u64 = stats["faults_by_action"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("servicecatalog:"))
            .map(|(_, v)| v.as_u64().unwrap())
            .sum();
        assert!(sc_faults >= 1, "faults hit Service Catalog calls: {stats}");
    }
    assert_converged(&aws, &l, &tf, &emails).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_percent_aws_faults_converge_without_duplicates() {
    faults(Method::Organizations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn control_tower_twenty_percent_aws_faults_converge_without_duplicates() {
    faults(Method::ControlTower).await;
}

/// The nastiest fault: a call is applied but its answer is lost. CreateAccount is not
/// idempotent, so a blind resend would make a second account with the same email; a
/// ProvisionProduct resent with a new token would make a second product.
async fn lost_answers(method: Method) {
    let l = landing().await;
    let services = match method {
        Method::Organizations | Method::AutoEnroll => {
            "organizations:CreateAccount,organizations:MoveAccount,organizations:TagResource"
        }
        Method::ControlTower => {
            "servicecatalog:ProvisionProduct,servicecatalog:UpdateProvisionedProduct,organizations:TagResource"
        }
    };
    let aws = Aws::start(&l, method, &["--fault-kinds", "drop_after", "--fault-services", services]);
    let seed = env_or("AFT_FAULT_SEED", 11);
    aws.proxy.faults(0.7, seed);
    let emails = emails("lost", 6);
    let tf = aws.tf("lost-answers");
    tf.write(&fleet(&aws, &l, &emails, 1));
    let applies = converge(&tf, 3);
    let stats = aws.proxy.stats();
    let create = match method {
        Method::Organizations | Method::AutoEnroll => "organizations:CreateAccount",
        Method::ControlTower => "servicecatalog:ProvisionProduct",
    };
    let lost_creates = stats["faults_by_action"][create].as_u64().unwrap_or(0);
    eprintln!(
        "lost answers ({method:?}): seed {seed}, {} answers dropped after being applied ({lost_creates} of them {create}), converged in {applies} apply(s); {}",
        stats["faults"],
        aws.figures()
    );
    assert!(lost_creates >= 1, "{create} answers were really lost: {stats}");
    assert_converged(&aws, &l, &tf, &emails).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_of_organizations_calls_never_duplicate_an_account() {
    lost_answers(Method::Organizations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn control_tower_lost_answers_never_duplicate_an_account_or_a_product() {
    lost_answers(Method::ControlTower).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_enroll_an_apply_killed_at_random_moments_converges_without_duplicates_or_orphans() {
    crash(Method::AutoEnroll).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_enroll_twenty_percent_aws_faults_converge_without_duplicates() {
    faults(Method::AutoEnroll).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn auto_enroll_lost_answers_never_duplicate_an_account() {
    lost_answers(Method::AutoEnroll).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_secret_key_never_reaches_state_plan_logs_or_notifications() {
    const CANARY: &str = "aftCanarySecret0123456789+abcdefGHIJKLmnopQRST";
    let l = landing().await;
    let e = emails("secret", 1);
    let mut tf = Tf::new("secrets");
    tf.env("AWS_SECRET_ACCESS_KEY", CANARY);
    tf.env("TF_LOG", "TRACE");
    tf.env("TF_LOG_PATH", &tf.path("trace.log").display().to_string());
    tf.write(&format!(
        "{}{}resource \"aft_customization_pipeline\" \"a\" {{\n  account_id = aft_account_provisioning.a.account_id\n}}\n",
        l.provider(ORGS),
        account_block("a", &e[0], "Sandbox", "  custom_fields = { tier = \"gold\" }")
    ));
    let plan = tf.plan_json().to_string();
    tf.apply();
    let id = tf.values("aft_account_provisioning.a")["account_id"].as_str().unwrap().to_string();
    let state = std::fs::read_to_string(tf.path("terraform.tfstate")).unwrap();
    let log = std::fs::read_to_string(tf.path("trace.log")).unwrap();
    let notes = serde_json::to_string(&l.notifications(&id).await).unwrap();
    assert!(log.contains("step finished"), "the provider's own lines are in the TRACE log");
    assert!(!notes.is_empty() && notes != "[]");
    for (what, text) in [("plan JSON", &plan), ("state", &state), ("TRACE log", &log), ("notifications", &notes)] {
        assert!(!text.contains(CANARY), "the secret key is in the {what}");
        // nor the temporary keys of the role chain
        assert!(!text.contains("SecretAccessKey>"), "an assumed role's secret key is in the {what}");
        assert!(!text.contains("\"SecretAccessKey\""), "an assumed role's secret key is in the {what}");
    }
}

async fn running_executions(l: &Landing, arn: &str) -> usize {
    l.executions(arn).await.iter().filter(|(s, _)| s == "RUNNING").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_timeout_ends_the_wait_and_keeps_the_account_in_state() {
    let l = Landing::new().await;
    let arn = l.create_customizations(&slow_asl(120)).await;
    let e = emails("timeout", 1);
    let tf = Tf::new("timeout");
    tf.write(&format!(
        "{}{}",
        l.provider(ORGS),
        account_block("a", &e[0], "Sandbox", "  timeouts {\n    create = \"8s\"\n  }")
    ));
    let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    let words = common::one_line(&out.stderr);
    assert!(words.contains("failed at step provisioning_customizations"), "the step is named: {}", out.stderr);
    assert!(words.contains("time limit"), "{}", out.stderr);
    // the timeout, not the state machine, ended the apply
    assert_eq!(running_executions(&l, &arn).await, 1);
    let st = tf.state();
    let r = &st["values"]["root_module"]["resources"][0];
    assert_eq!(r["address"], "aft_account_provisioning.a");
    assert_eq!(r["tainted"], true);
    let ids = l.accounts_with_email(&e[0]).await;
    assert_eq!(r["values"]["account_id"], ids[0].as_str());
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_long_wait_ends_the_apply_with_the_state_saved_so_far() {
    let l = Landing::new().await;
    let arn = l.create_customizations(&slow_asl(300)).await;
    let e = emails("ctrlc", 1);
    let tf = Tf::new("ctrl-c");
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e[0], "Sandbox", "")));
    let mut child = tf.spawn("apply", &["apply", "-auto-approve", "-input=false", "-no-color"]);
    // wait until the framework is inside its longest wait: the state machine is running
    let start = Instant::now();
    while running_executions(&l, &arn).await == 0 {
        assert!(child.try_wait().unwrap().is_none(), "apply ended before the wait");
        assert!(start.elapsed() < Duration::from_secs(120), "the state machine never started");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // what a terminal's Ctrl-C does: SIGINT to the whole foreground process group
    kill_group(child.id(), "-INT");
    let status = child.wait().unwrap();
    // the apply ended while the state machine still had minutes to go
    assert_eq!(running_executions(&l, &arn).await, 1, "Ctrl-C, not the state machine, ended the apply");
    assert!(!status.success());
    let err = std::fs::read_to_string(tf.path("apply.err")).unwrap();
    let words = common::one_line(&err);
    assert!(words.contains("stopped by Terraform while waiting for execution"), "{err}");
    let st = tf.state();
    let r = &st["values"]["root_module"]["resources"][0];
    let ids = l.accounts_with_email(&e[0]).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(r["values"]["account_id"], ids[0].as_str(), "the vended account is in the state");
}
