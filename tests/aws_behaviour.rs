//! AWS as it behaves where moto is kinder (issue 13): CreateAccount asynchronous, roles that take
//! a while to become usable, accounts closed outside Terraform, two requests with one account
//! name, and the Account Factory product's failures (ERROR, TAINTED, Control Tower's limit, OU
//! forms). The proxy's behaviour layer (scripts/aws_proxy.py) and the Service Catalog stand-in
//! (tests/common/service_catalog.rs) make the emulator behave that way; docs/reliability.md gives
//! each behaviour's source.

use aft_test_harness as common;

use std::time::{Duration, Instant};

use common::fixtures::{CUSTOMIZATIONS_ASL, account_block, slow_asl};
use common::proxy::Proxy;
use common::service_catalog::ServiceCatalog;
use common::terraform::kill_group;
use common::{Landing, Tf, email, one_line};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";
const CT: &str = "  account_factory {\n    method = \"control_tower\"\n  }";

async fn status(l: &Landing, id: &str) -> String {
    let a = l.org().describe_account().account_id(id).send().await.unwrap();
    a.account().and_then(|a| a.status()).map(|s| s.as_str().to_string()).unwrap_or_default()
}

/// A working directory whose AWS is the behaving proxy.
fn tf_behind(name: &str, proxy: &Proxy) -> Tf {
    let mut tf = Tf::new(name);
    tf.env("AWS_ENDPOINT_URL", &proxy.endpoint);
    tf
}

/// The Account Factory stand-in behind a behaving proxy (so its calls are counted and faulted too).
fn control_tower(l: &Landing, delay: Duration) -> (ServiceCatalog, Proxy) {
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), delay);
    let proxy = Proxy::like_aws(&sc.routes(), &[]);
    (sc, proxy)
}

fn apply(tf: &Tf) -> common::terraform::Out {
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
}

#[tokio::test(flavor = "multi_thread")]
async fn vending_waits_for_an_asynchronous_create_account_and_for_new_roles_to_propagate() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    let e = email("async");
    let tf = tf_behind("async-create", &proxy);
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", "")));
    tf.apply();
    let ids = l.accounts_with_email(&e).await;
    assert_eq!(ids.len(), 1);
    assert_eq!(tf.values("aft_account_provisioning.a")["account_id"], ids[0].as_str());
    assert_eq!(l.parent(&ids[0]).await, l.ous["Sandbox"]);
    assert!(l.metadata(&ids[0]).await.is_some());
    // the in-progress path really ran: CreateAccount answered IN_PROGRESS and was polled, and the
    // new AWSAFTExecution role was refused before IAM had it
    let stats = proxy.stats();
    assert_eq!(proxy.acted("create_account_async"), 1, "{}", proxy.behaviour());
    assert!(stats["by_action"]["organizations:DescribeCreateAccountStatus"].as_u64().unwrap_or(0) >= 2, "{stats}");
    assert!(proxy.acted("role_not_propagated:sts:AssumeRole") >= 1, "{}", proxy.behaviour());
    assert_eq!(tf.plan_exit(), 0);
}

/// Organizations has no lookup by email: an apply lists the organization once for all its
/// creations, where it paged the whole organization before each CreateAccount (issue 28: 97,401
/// of the 196,899 calls of a 2,500-account apply). An account another principal makes after that
/// listing is refused to CreateAccount with EMAIL_ALREADY_EXISTS, as AWS does, and adopted then:
/// never a second account, and recorded as another's, never as vended.
#[tokio::test(flavor = "multi_thread")]
async fn the_creates_of_an_apply_share_one_listing_and_adopt_an_account_made_after_it() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    // the first creation takes a while: the other principal's account is made during it, after
    // the apply listed the organization and before the creations that wait for the first one
    proxy.behave(serde_json::json!({"create_account_seconds": 4}));
    let first = email("listed-first");
    let late = email("made-late");
    let fleet: Vec<String> = (0..5).map(|i| email(&format!("fleet{i}"))).collect();
    let after_first = "  depends_on = [aft_account_provisioning.first]";
    let mut hcl = format!("{}{}", l.provider(ORGS), account_block("first", &first, "Sandbox", ""));
    hcl += &account_block("late", &late, "Sandbox", after_first);
    for (i, e) in fleet.iter().enumerate() {
        hcl += &account_block(&format!("fleet{i}"), e, "Sandbox", after_first);
    }
    let tf = tf_behind("one-listing", &proxy);
    tf.write(&hcl);
    let calls = |action: &str| proxy.calls().get(&format!("organizations:{action}")).copied().unwrap_or(0);
    let (out, theirs) = std::thread::scope(|s| {
        let apply = s.spawn(|| apply(&tf));
        let started = Instant::now();
        while calls("CreateAccount") == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(120) && !apply.is_finished(),
                "the first CreateAccount never came"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // another principal (the console, another state) makes the account through the same AWS
        // (a thread of its own: this one is inside the test's runtime)
        let made = s
            .spawn(|| {
                let conf =
                    aws_sdk_organizations::config::Builder::from(&l.ct_cfg).endpoint_url(&proxy.endpoint).build();
                let other = aws_sdk_organizations::Client::from_conf(conf);
                tokio::runtime::Runtime::new().unwrap().block_on(async {
                    let out = other.create_account().email(&late).account_name("made-elsewhere").send().await.unwrap();
                    out.create_account_status().and_then(|s| s.id()).unwrap().to_string()
                })
            })
            .join()
            .unwrap();
        (apply.join().unwrap(), made)
    });
    assert_eq!(out.code, 0, "{}", one_line(&out.stderr));
    assert!(!theirs.is_empty());
    let ids = l.accounts_with_email(&late).await;
    assert_eq!(ids.len(), 1, "one account for the email, not a second: {ids:?}");
    let late_state = tf.values("aft_account_provisioning.late");
    assert_eq!(late_state["account_id"], ids[0].as_str());
    assert_eq!(l.parent(&ids[0]).await, l.ous["Sandbox"], "the adopted account was moved where the request says");
    assert_eq!(proxy.acted("create_account_email_taken"), 1, "{}", proxy.behaviour());
    for e in fleet.iter().chain([&first]) {
        assert_eq!(l.accounts_with_email(e).await.len(), 1, "{e}");
    }
    // seven creations: one listing before them, one after the refusal (each one page here), where
    // each creation paged the organization three times before
    let listings = calls("ListAccounts");
    assert!(listings <= 3, "{listings} ListAccounts for 7 creations: {:?}", proxy.calls());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_create_account_names_its_reason_and_leaves_nothing_behind() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    proxy.behave(serde_json::json!({"create_account_failures": {"+taken": "EMAIL_ALREADY_EXISTS"}}));
    let e = format!("owner+taken-{}@example.com", common::suffix());
    let tf = tf_behind("create-failed", &proxy);
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", "")));
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    let err = one_line(&out.stderr);
    assert!(err.contains("EMAIL_ALREADY_EXISTS") && err.contains("organizations:CreateAccount"), "{err}");
    assert!(l.accounts_with_email(&e).await.is_empty());
    let items =
        aws_sdk_dynamodb::Client::new(&l.aft_cfg).scan().table_name("aft-request-metadata").send().await.unwrap();
    assert_eq!(items.count(), 0, "no metadata item for an account that does not exist");
}

/// The account that existed before (adopted by email) with `close_account_on_delete` and a
/// mistyped OU: the apply that fixes the OU replaces the failed create and must neither close
/// nor park the account.
#[tokio::test(flavor = "multi_thread")]
async fn the_apply_that_fixes_a_failed_adoption_never_closes_the_account() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    let e = email("adopted");
    let id = l.create_account(&e, "adopted", Some("Sandbox")).await;
    let tf = tf_behind("adopt-typo", &proxy);
    let extra = "  close_account_on_delete = true\n  parking_organizational_unit = \"Parking\"";
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandboxx", extra)));
    let out = apply(&tf);
    assert_ne!(out.code, 0, "the mistyped OU fails the first apply");
    assert!(one_line(&out.stderr).contains("Sandboxx"), "{}", out.stderr);
    // the partial state says the create did not complete: null, not an empty string
    let st = tf.state();
    let r = &st["values"]["root_module"]["resources"][0];
    assert_eq!(r["values"]["account_id"], id.as_str());
    assert!(r["values"]["framework_completed_at"].is_null(), "{r}");

    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", extra)));
    tf.apply();
    assert_eq!(status(&l, &id).await, "ACTIVE", "the account was closed by the apply that fixed its OU");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"], "and not parked");
    assert_eq!(l.accounts_with_email(&e).await, vec![id.clone()]);
    assert!(l.metadata(&id).await.is_some());
    assert_eq!(proxy.stats()["by_action"]["organizations:CloseAccount"].as_u64().unwrap_or(0), 0);
    assert_eq!(tf.plan_exit(), 0);
}

/// A create that fails after the metadata item was written (a failing customization), then its
/// replacement fails the same way: the destroy half must not delete the item of an account that
/// stays.
#[tokio::test(flavor = "multi_thread")]
async fn a_replacement_whose_create_fails_again_keeps_the_metadata_item() {
    let l = Landing::new().await;
    l.create_customizations(CUSTOMIZATIONS_ASL).await;
    let proxy = Proxy::like_aws(&[], &[]);
    let e = email("keepmeta");
    let tf = tf_behind("keep-metadata", &proxy);
    let block = |name: &str| {
        account_block(
            "a",
            &e,
            "Sandbox",
            &format!("  account_customizations_name = \"{name}\"\n  close_account_on_delete = true"),
        )
    };
    tf.write(&format!("{}{}", l.provider(ORGS), block("fail")));
    assert_ne!(apply(&tf).code, 0);
    let id = l.accounts_with_email(&e).await.remove(0);
    assert!(l.metadata(&id).await.is_some());
    // the tainted resource is replaced; the new create fails at the same step
    tf.write(&format!("{}{}", l.provider(ORGS), block("fail")));
    assert_ne!(apply(&tf).code, 0);
    assert!(l.metadata(&id).await.is_some(), "the replacement deleted the metadata item of an account it kept");
    assert_eq!(status(&l, &id).await, "ACTIVE");
    tf.write(&format!("{}{}", l.provider(ORGS), block("ok")));
    tf.apply();
    assert_eq!(l.accounts_with_email(&e).await, vec![id.clone()]);
    assert!(l.metadata(&id).await.is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_closed_outside_terraform_warns_plans_nothing_and_can_be_removed() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    let e = email("closed");
    let tf = tf_behind("closed-outside", &proxy);
    let hcl = |extra: &str| format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", extra));
    tf.write(&hcl("  close_account_on_delete = true"));
    tf.apply();
    let id = l.accounts_with_email(&e).await.remove(0);
    l.org().close_account().account_id(&id).send().await.unwrap();
    // through the proxy the account is PENDING_CLOSURE for a while, then SUSPENDED
    let out = tf.run(&["plan", "-detailed-exitcode", "-input=false", "-json"]);
    assert_eq!(out.code, 0, "no framework run is planned on a closed account:\n{}\n{}", out.stdout, out.stderr);
    let warnings: Vec<_> = out.diagnostics().into_iter().filter(|d| d["severity"] == "warning").collect();
    assert!(
        warnings.iter().any(|w| w["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&id) && (s.contains("SUSPENDED") || s.contains("PENDING_CLOSURE")))
            && w["detail"].as_str().is_some_and(|d| d.contains("Remove this aft_account_provisioning"))),
        "{warnings:?}"
    );
    // changing it is refused at plan time, on the attribute
    tf.write(&hcl("  close_account_on_delete = true\n  account_tags = { a = \"b\" }"));
    let out = tf.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "a change to a closed account is refused:\n{}", out.stdout);
    // removing it applies cleanly and does not try to close it again
    tf.write(&l.provider(ORGS));
    tf.apply();
    assert!(l.metadata(&id).await.is_none(), "its metadata item is deleted");
    assert_eq!(proxy.stats()["by_action"]["organizations:CloseAccount"].as_u64().unwrap_or(0), 0);
    assert!(tf.state()["values"]["root_module"]["resources"].as_array().is_none_or(|r| r.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_account_names_are_a_plan_error_and_nothing_is_created() {
    let l = Landing::new().await;
    let (e1, e2) = (email("dup1"), email("dup2"));
    let tf = Tf::new("duplicate-names");
    let b2 = account_block("b", &e2, "Sandbox", "")
        .replace("AccountName               = \"b\"", "AccountName               = \"a\"");
    assert!(b2.contains("= \"a\""));
    tf.write(&format!("{}{}{b2}", l.provider(ORGS), account_block("a", &e1, "Sandbox", "")));
    let out = tf.run(&["plan", "-input=false", "-json"]);
    assert_ne!(out.code, 0);
    let errs = out.errors();
    assert!(
        errs.iter().any(|d| d["detail"].as_str().is_some_and(|s| s.contains("AccountName"))
            || d["summary"].as_str().is_some_and(|s| s.contains("AccountName"))),
        "{errs:?}"
    );
    assert_ne!(apply(&tf).code, 0);
    assert!(l.accounts_with_email(&e1).await.is_empty() && l.accounts_with_email(&e2).await.is_empty());
}

/// Organizations allows two accounts with one name, and a CreateAccount in flight is listed by
/// name only: the provider must not take another request's account for its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_creation_in_flight_with_the_same_name_is_not_shared() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    proxy.behave(serde_json::json!({"create_account_seconds": 4.0}));
    let (theirs, mine) = (email("theirs"), email("mine"));
    // someone else starts "a" a moment before the apply
    let org = aws_sdk_organizations::Client::new(&l.ct_cfg.to_builder().endpoint_url(&proxy.endpoint).build());
    let started = org.create_account().email(&theirs).account_name("a").send().await.unwrap();
    assert_eq!(started.create_account_status().and_then(|s| s.state()).map(|s| s.as_str()), Some("IN_PROGRESS"));
    let tf = tf_behind("same-name", &proxy);
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &mine, "Sandbox", "")));
    tf.apply();
    let (t, m) = (l.accounts_with_email(&theirs).await, l.accounts_with_email(&mine).await);
    assert_eq!((t.len(), m.len()), (1, 1), "each request has its own account");
    assert_ne!(t[0], m[0]);
    assert_eq!(tf.values("aft_account_provisioning.a")["account_id"], m[0].as_str());
    assert!(l.metadata(&t[0]).await.is_none(), "the other request's account was not taken over");
}

// ---------------------------------------------------------------------------------------------
// The control_tower method against the Account Factory stand-in.

#[tokio::test(flavor = "multi_thread")]
async fn a_product_left_in_error_recovers_on_the_next_apply_and_after_a_manual_terminate() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(800));
    for (n, terminate) in [(0, false), (1, true)] {
        let e = email(&format!("err{n}"));
        let tf = tf_behind(&format!("sc-error-{n}"), &proxy);
        tf.write(&format!("{}{}", l.provider(CT), account_block(&format!("e{n}"), &e, "Sandbox", "")));
        sc.fail_ou("Sandbox", true);
        let out = apply(&tf);
        assert_ne!(out.code, 0);
        assert!(one_line(&out.stderr).contains("not registered"), "the record's error is reported: {}", out.stderr);
        let name = format!("e{n}");
        let p = sc.products().into_iter().find(|p| p.name == name).unwrap();
        assert_eq!(p.status, "ERROR");
        sc.fail_ou("Sandbox", false);
        if terminate {
            // the fix users already know
            sc.terminate(&name);
        }
        tf.apply();
        let products: Vec<_> = sc.products().into_iter().filter(|p| p.name == name).collect();
        assert_eq!(products.len(), 1, "{products:?}");
        assert_eq!(products[0].status, "AVAILABLE");
        let ids = l.accounts_with_email(&e).await;
        assert_eq!(ids.len(), 1);
        assert_eq!(products[0].physical_id.as_deref(), Some(ids[0].as_str()));
        assert_eq!(l.parent(&ids[0]).await, l.ous["Sandbox"]);
        assert!(l.metadata(&ids[0]).await.is_some());
        assert_eq!(tf.plan_exit(), 0);
    }
    let r = sc.report();
    assert_eq!(r.recovered, 1, "the ERROR product was recovered by an update: {r:?}");
    assert_eq!(r.terminated, 1);
}

/// Account Factory parameters of another request.
fn theirs<'a>(name: &'a str, email: &'a str, ou: &'a str) -> [(&'static str, &'a str); 6] {
    [
        ("AccountEmail", email),
        ("AccountName", name),
        ("ManagedOrganizationalUnit", ou),
        ("SSOUserEmail", "them@example.com"),
        ("SSOUserFirstName", "Grace"),
        ("SSOUserLastName", "Hopper"),
    ]
}

/// Account Factory names a product after the account name, and names are unique: another
/// request's product of that name left `ERROR` (before its account existed) or `TAINTED` (with its
/// account) is not this request's to recover. Updating it would give it this request's email and
/// SSO parameters.
#[tokio::test(flavor = "multi_thread")]
async fn another_requests_failed_product_of_the_same_name_is_refused_not_updated() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(400));
    // x0: another request's provisioning refused before Control Tower made the account
    let e0 = email("theirs-error");
    sc.fail_ou("Sandbox", true);
    sc.provision_for("x0", &theirs("x0", &e0, "Sandbox"));
    assert_eq!(sc.settled("x0").status, "ERROR");
    sc.fail_ou("Sandbox", false);
    // x1: another request's account, whose product a failed update left TAINTED
    let e1 = email("theirs-tainted");
    sc.provision_for("x1", &theirs("x1", &e1, "Sandbox"));
    assert_eq!(sc.settled("x1").status, "AVAILABLE");
    sc.fail_ou("Parking", true);
    sc.update_for("x1", &theirs("x1", &e1, "Parking"));
    assert_eq!(sc.settled("x1").status, "TAINTED");
    sc.fail_ou("Parking", false);
    let their_account = l.accounts_with_email(&e1).await.remove(0);

    for (name, their_email, status) in [("x0", &e0, "ERROR"), ("x1", &e1, "TAINTED")] {
        let before = sc.products().into_iter().find(|p| p.name == name).unwrap();
        let mine = email(&format!("mine-{name}"));
        let tf = tf_behind(&format!("sc-not-mine-{name}"), &proxy);
        tf.write(&format!("{}{}", l.provider(CT), account_block(name, &mine, "Sandbox", "")));
        let calls_before = sc.calls().len();
        let out = apply(&tf);
        assert_ne!(out.code, 0, "another request's product was taken over");
        let err = one_line(&out.stderr);
        assert!(
            err.contains(&format!("provisioned product {name} is {status} and belongs to another request"))
                && err.contains(their_email.as_str())
                && err.contains(&mine),
            "the product and the conflict are named: {err}"
        );
        let calls = sc.calls()[calls_before..].to_vec();
        assert!(
            !calls.iter().any(|c| c == "UpdateProvisionedProduct" || c == "ProvisionProduct"),
            "nothing was sent to Account Factory for {name}: {calls:?}"
        );
        let after = sc.products().into_iter().find(|p| p.name == name).unwrap();
        assert_eq!(after.parameters, before.parameters, "{name} keeps its request's parameters");
        assert_eq!((after.status.as_str(), &after.last_record), (status, &before.last_record));
        assert!(l.accounts_with_email(&mine).await.is_empty(), "no account was made for this request");
    }
    assert_eq!(l.parent(&their_account).await, l.ous["Sandbox"], "their account was not moved");
    assert_eq!(sc.report().recovered, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_ou_move_is_tried_again_not_replayed() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(600));
    let e = email("move");
    let tf = tf_behind("sc-move", &proxy);
    let hcl = |ou: &str| format!("{}{}", l.provider(CT), account_block("m", &e, ou, ""));
    tf.write(&hcl("Sandbox"));
    tf.apply();
    let id = l.accounts_with_email(&e).await.remove(0);
    sc.fail_ou("Parking", true);
    tf.write(&hcl("Parking"));
    assert_ne!(apply(&tf).code, 0);
    assert_eq!(sc.products().iter().find(|p| p.name == "m").unwrap().status, "TAINTED");
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"]);
    sc.fail_ou("Parking", false);
    let out = apply(&tf);
    if out.code != 0 {
        // the failed create is tainted: a second apply replaces it (same account, never closed)
        tf.apply();
    }
    assert_eq!(l.parent(&id).await, l.ous["Parking"], "the move was made again, not replayed");
    assert_eq!(sc.products().iter().find(|p| p.name == "m").unwrap().status, "AVAILABLE");
    assert_eq!(l.accounts_with_email(&e).await, vec![id.clone()]);
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn control_towers_limit_counts_operations_other_principals_started() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(800));
    // another AFT (or the console) has four account operations in flight
    sc.foreign(4, Duration::from_secs(4));
    let emails: Vec<String> = (0..3).map(|i| email(&format!("cap{i}"))).collect();
    let tf = tf_behind("sc-cap", &proxy);
    let mut hcl = l.provider(CT);
    for (i, e) in emails.iter().enumerate() {
        hcl.push_str(&account_block(&format!("c{i}"), e, "Sandbox", ""));
    }
    tf.write(&hcl);
    tf.apply();
    let r = sc.report();
    assert_eq!(r.refused, 0, "Control Tower refused operations beyond its limit: {r:?}");
    assert!(r.peak <= common::service_catalog::CONTROL_TOWER_LIMIT, "{r:?}");
    assert_eq!(r.provisioned, 3, "{r:?}");
    for e in &emails {
        assert_eq!(l.accounts_with_email(e).await.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bare_ou_id_reaches_account_factory_as_name_and_id() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(300));
    let e = email("ouid");
    let tf = tf_behind("sc-ou-id", &proxy);
    let ou = l.ous["Prod"].clone();
    tf.write(&format!("{}{}", l.provider(CT), account_block("o", &e, &ou, "")));
    tf.apply();
    assert_eq!(sc.ous(), vec![format!("Prod ({ou})")]);
    let id = l.accounts_with_email(&e).await.remove(0);
    assert_eq!(l.parent(&id).await, ou);
    assert_eq!(tf.plan_exit(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_name_account_factory_would_refuse_is_a_plan_error() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_millis(300));
    let e = email("ada");
    let tf = tf_behind("sc-name", &proxy);
    let block = account_block("lab", &e, "Sandbox", "")
        .replace("AccountName               = \"lab\"", "AccountName               = \"Ada's Lab\"");
    assert!(block.contains("Ada's Lab"));
    tf.write(&format!("{}{block}", l.provider(CT)));
    let out = tf.run(&["plan", "-input=false", "-json"]);
    assert_ne!(out.code, 0);
    assert!(
        out.errors().iter().any(|d| d["detail"]
            .as_str()
            .is_some_and(|s| s.contains("Ada's Lab") || s.contains("Ada-s"))
            || d["summary"].as_str().is_some_and(|s| s.contains("AccountName") || s.contains("provisioned product"))),
        "{:?}",
        out.errors()
    );
    assert!(!sc.calls().iter().any(|c| c == "ProvisionProduct"), "nothing reached Account Factory");
}

/// An apply killed while Account Factory still provisions: the next apply waits for that
/// provisioning (the account already exists half-way) instead of adopting it half-made.
#[tokio::test(flavor = "multi_thread")]
async fn an_account_still_being_provisioned_is_waited_for_not_adopted() {
    let l = Landing::new().await;
    let (sc, proxy) = control_tower(&l, Duration::from_secs(4));
    let e = email("inflight");
    let tf = tf_behind("sc-inflight", &proxy);
    tf.write(&format!("{}{}", l.provider(CT), account_block("f", &e, "Sandbox", "")));
    // the record stays in flight until released: on a loaded machine the second apply may take
    // longer to get there than the record has left
    sc.hold(true);
    let mut child = tf.spawn("apply1", &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let start = Instant::now();
    while !sc.calls().iter().any(|c| c == "ProvisionProduct") {
        assert!(start.elapsed() < Duration::from_secs(60), "no provisioning started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // past half-way: the account exists in Organizations, Control Tower is still at work
    while l.accounts_with_email(&e).await.is_empty() {
        assert!(start.elapsed() < Duration::from_secs(60), "the account never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill_group(child.id(), "-KILL");
    child.wait().unwrap();
    assert_eq!(sc.products()[0].status, "UNDER_CHANGE", "the kill landed inside the provisioning");
    let searches_before = sc.calls().iter().filter(|c| *c == "DescribeRecord").count();
    let mut second = tf.spawn("apply2", &["apply", "-auto-approve", "-input=false", "-no-color"]);
    let waited = Instant::now();
    while sc.calls().iter().filter(|c| *c == "DescribeRecord").count() <= searches_before {
        assert!(waited.elapsed() < Duration::from_secs(120), "the second apply never asked for the record in flight");
        assert!(second.try_wait().unwrap().is_none(), "the second apply ended without asking for the record in flight");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sc.products()[0].status, "UNDER_CHANGE", "the record was still in flight when it was asked for");
    sc.hold(false);
    assert!(
        second.wait().unwrap().success(),
        "the second apply failed: {}",
        std::fs::read_to_string(tf.dir.join("apply2.err")).unwrap_or_default()
    );
    let r = sc.report();
    assert_eq!(sc.products().len(), 1, "no second provisioned product");
    assert_eq!(r.provisioned, 1);
    assert_eq!(r.refused, 0);
    assert!(
        sc.calls().iter().filter(|c| *c == "DescribeRecord").count() > searches_before,
        "the second apply waited for the record in flight"
    );
    let id = l.accounts_with_email(&e).await.remove(0);
    assert_eq!(tf.values("aft_account_provisioning.f")["account_id"], id.as_str());
    assert!(l.metadata(&id).await.is_some());
    assert_eq!(tf.plan_exit(), 0);
}

// ---------------------------------------------------------------------------------------------
// Shared singletons, running executions, and which failure is reported.

#[tokio::test(flavor = "multi_thread")]
async fn a_state_machine_is_created_with_a_role_iam_has_not_propagated_yet() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    proxy.behave(serde_json::json!({"role_propagation_seconds": 3.0}));
    let tf = tf_behind("sfn-role", &proxy);
    let definition = r#"{"StartAt":"Done","States":{"Done":{"Type":"Succeed"}}}"#;
    tf.write(&format!(
        "{}resource \"aft_provisioning_customizations\" \"this\" {{\n  definition = <<-EOT\n{definition}\n  EOT\n}}\n",
        l.provider(ORGS)
    ));
    tf.apply();
    assert!(
        proxy.acted("role_not_propagated:states:CreateStateMachine") >= 1,
        "Step Functions refused the new role first: {}",
        proxy.behaviour()
    );
    let arn = tf.values("aft_provisioning_customizations.this")["arn"].as_str().unwrap().to_string();
    let d = aws_sdk_sfn::Client::new(&l.aft_cfg).describe_state_machine().state_machine_arn(&arn).send().await.unwrap();
    assert!(d.role_arn().ends_with(":role/aft-account-provisioning-customizations-role"));
    assert_eq!(tf.plan_exit(), 0);
}

/// Every answer of CreateCase and CreateTrail is lost after AWS applied the call: still one
/// support case, and the trail step does not fail on the trail its own resend finds.
#[tokio::test(flavor = "multi_thread")]
async fn lost_answers_of_shared_singletons_make_no_second_case_and_no_failure() {
    let l = Landing::new().await;
    l.log_archive_bucket().await;
    let proxy = Proxy::like_aws(
        &[],
        &["--fault-kinds", "drop_after", "--fault-services", "support:CreateCase,cloudtrail:CreateTrail"],
    );
    proxy.faults(1.0, 1);
    let e = email("singleton");
    let tf = tf_behind("singletons", &proxy);
    tf.write(&format!(
        "{}{}",
        l.provider(
            "  account_factory {\n    method = \"organizations\"\n  }\n  feature_options {\n    enterprise_support = true\n    cloudtrail_data_events = true\n  }"
        ),
        account_block("s", &e, "Sandbox", "")
    ));
    tf.apply();
    let stats = proxy.stats();
    assert!(stats["faults_by_action"]["support:CreateCase"].as_u64().unwrap_or(0) >= 1, "{stats}");
    assert!(stats["faults_by_action"]["cloudtrail:CreateTrail"].as_u64().unwrap_or(0) >= 1, "{stats}");
    let id = tf.values("aft_account_provisioning.s")["account_id"].as_str().unwrap().to_string();
    let cases =
        aws_sdk_support::Client::new(&l.ct_cfg).describe_cases().include_resolved_cases(true).send().await.unwrap();
    let subject = format!("Add Account {id} to Enterprise Support");
    assert_eq!(cases.cases().iter().filter(|c| c.subject() == Some(subject.as_str())).count(), 1, "one support case");
    let ct = aws_sdk_cloudtrail::Client::new(&l.ct_cfg);
    let trails = ct.describe_trails().send().await.unwrap();
    assert_eq!(trails.trail_list().iter().filter(|t| t.name() == Some("aws-aft-CustomizationsCloudTrail")).count(), 1);
}

/// A create timeout leaves the account's execution running; the next apply waits for it before
/// it starts its own, so two executions for one account never run at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_rerun_waits_for_the_execution_an_earlier_apply_left_running() {
    let l = Landing::new().await;
    let arn = l.create_customizations(&slow_asl(8)).await;
    let e = email("running");
    let tf = Tf::new("running-execution");
    let hcl = |timeout: &str| {
        format!(
            "{}{}",
            l.provider(ORGS),
            account_block("a", &e, "Sandbox", &format!("  timeouts {{\n    create = \"{timeout}\"\n  }}"))
        )
    };
    tf.write(&hcl("4s"));
    let out = apply(&tf);
    assert_ne!(out.code, 0, "the timeout ends the first apply");
    tf.write(&hcl("2m"));
    tf.apply();
    let sfn = aws_sdk_sfn::Client::new(&l.aft_cfg);
    let list = sfn.list_executions().state_machine_arn(&arn).send().await.unwrap();
    let mut runs: Vec<(f64, f64)> = Vec::new();
    for x in list.executions() {
        let d = sfn.describe_execution().execution_arn(x.execution_arn()).send().await.unwrap();
        assert_eq!(d.status().as_str(), "SUCCEEDED");
        runs.push((d.start_date().as_secs_f64(), d.stop_date().map(|t| t.as_secs_f64()).unwrap()));
    }
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert!(runs[1].0 >= runs[0].1 - 0.01, "the second execution started while the first still ran: {runs:?}");
}

/// A missing metadata table fails persist_metadata; the failure notification fails too (its
/// topic does not exist). The error reported is the first failure, not the notification's.
#[tokio::test(flavor = "multi_thread")]
async fn the_error_reported_is_the_runs_first_failure() {
    let l = Landing::new().await;
    let e = email("first");
    let tf = Tf::new("first-failure");
    let provider = l.provider(&format!(
        "  account_factory {{\n    method = \"organizations\"\n  }}\n  metadata_table = \"no-such-table\"\n  failure_notification_topic_arn = \"arn:aws:sns:us-east-1:{}:no-such-topic\"\n  notification_topic_arn = \"arn:aws:sns:us-east-1:{}:no-such-topic\"",
        l.aft, l.aft
    ));
    tf.write(&format!("{provider}{}", account_block("a", &e, "Sandbox", "")));
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    let err = one_line(&out.stderr);
    assert!(err.contains("failed at step persist_metadata"), "{err}");
    assert!(err.contains("dynamodb:"), "the table's error is kept: {err}");
    assert!(!err.contains("failed at step notify"), "{err}");
}

/// Organizations refuses CloseAccount beyond its quota: the destroy fails with the reason and the
/// resource stays in the state, so the destroy can be made again once the quota allows.
#[tokio::test(flavor = "multi_thread")]
async fn the_close_quota_fails_the_destroy_with_its_reason_and_a_later_destroy_closes() {
    let l = Landing::new().await;
    let proxy = Proxy::like_aws(&[], &[]);
    proxy.behave(serde_json::json!({"close_account_quota": 0}));
    let e = email("quota");
    let tf = tf_behind("close-quota", &proxy);
    tf.write(&format!("{}{}", l.provider(ORGS), account_block("a", &e, "Sandbox", "  close_account_on_delete = true")));
    tf.apply();
    let id = l.accounts_with_email(&e).await.remove(0);
    let out = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    let err = one_line(&out.stderr);
    assert!(err.contains("ConstraintViolationException") && err.contains("organizations:CloseAccount"), "{err}");
    assert_eq!(status(&l, &id).await, "ACTIVE");
    assert!(tf.state()["values"]["root_module"]["resources"].as_array().is_some_and(|r| r.len() == 1));
    proxy.behave(serde_json::json!({"close_account_quota": null}));
    tf.destroy();
    assert!(matches!(status(&l, &id).await.as_str(), "SUSPENDED" | "PENDING_CLOSURE"));
    assert_eq!(l.accounts_with_email(&e).await, vec![id]);
}
