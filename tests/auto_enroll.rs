//! The `organizations_auto_enroll` vending method (issue 27) against moto for Organizations and
//! the Control Tower auto-enrollment stand-in (tests/common/control_tower.rs): accounts created
//! with CreateAccount, moved into registered OUs one at a time per OU and within the org-wide
//! cap, enrolled (their child `AWSControlTowerBaseline` SUCCEEDED and in sync) before the apply
//! ends; OU changes and adoption the same way; a failed enrollment reported with its account, OU
//! and operation; plan-time refusals where nothing would be enrolled.

use aft_test_harness as common;

use std::time::Duration;

use common::control_tower::ControlTower;
use common::fixtures::account_block;
use common::service_catalog::ServiceCatalog;
use common::{Landing, Tf, one_line};

/// The provider block: this method, a cap, and a coordination table of its own (so the OU
/// leases are DynamoDB items).
fn provider(l: &Landing, cap: usize, table: &str) -> String {
    provider_of(l, cap, table, "state-a")
}

/// [`provider`] for the state named `owner`.
fn provider_of(l: &Landing, cap: usize, table: &str, owner: &str) -> String {
    l.provider(&format!(
        "  account_factory {{\n    method = \"organizations_auto_enroll\"\n    max_concurrent_operations = {cap}\n    \
         poll_interval = \"200ms\"\n  }}\n  coordination {{\n    table = \"{table}\"\n    owner = \"{owner}\"\n    \
         lease_duration = \"5s\"\n  }}"
    ))
}

struct Env {
    l: Landing,
    ct: ControlTower,
    _sc: ServiceCatalog,
}

async fn env(delay_ms: u64) -> Env {
    let l = Landing::new().await;
    let sc = ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(200));
    let ct = ControlTower::start(&l.ct_cfg, Duration::from_millis(delay_ms));
    for ou in ["Sandbox", "Workloads"] {
        ct.register(&l.ous[ou]);
    }
    Env { l, ct, _sc: sc }
}

impl Env {
    fn tf(&self, name: &str) -> Tf {
        let mut tf = Tf::new(name);
        self.ct.route(&mut tf, &self._sc);
        tf
    }
}

fn apply(tf: &Tf) -> common::terraform::Out {
    tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"])
}

#[tokio::test(flavor = "multi_thread")]
async fn accounts_are_created_moved_in_one_at_a_time_per_ou_and_enrolled_and_an_ou_change_and_an_adoption_enroll_too() {
    let e = env(600).await;
    let (l, ct) = (&e.l, &e.ct);
    let tf = e.tf("auto-enroll-lifecycle");
    let s = common::suffix();
    let emails: Vec<String> = (0..3).map(|i| format!("ae{i}-{s}@example.com")).collect();
    // an account of the organization that Control Tower does not manage (in the root)
    let adopted_email = format!("ae-adopt-{s}@example.com");
    let adopted = l.create_account(&adopted_email, "adopted", None).await;
    assert_eq!(ct.enrollment(&adopted), None);
    let body = |ous: [&str; 3], extra_b: &str| {
        format!(
            "{}{}{}{}{}",
            provider(l, 5, &format!("coord-ae-{s}")),
            account_block("a", &emails[0], ous[0], ""),
            account_block("b", &emails[1], ous[1], extra_b),
            account_block("c", &emails[2], ous[2], ""),
            account_block("adopted", &adopted_email, "Sandbox", ""),
        )
    };
    let park = "  parking_organizational_unit = \"Parking\"\n";
    tf.write(&body(["Sandbox", "Sandbox", "Workloads"], park));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let mut ids = Vec::new();
    for (email, ou) in emails.iter().zip(["Sandbox", "Sandbox", "Workloads"]) {
        let found = l.accounts_with_email(email).await;
        assert_eq!(found.len(), 1, "{email}: one account");
        assert_eq!(l.parent(&found[0]).await, l.ous[ou], "{email} in {ou}");
        assert_eq!(ct.enrollment(&found[0]).as_deref(), Some("SUCCEEDED"), "{email} enrolled");
        ids.push(found[0].clone());
    }
    assert_eq!(l.accounts_with_email(&adopted_email).await, vec![adopted.clone()], "adopted, not created again");
    assert_eq!(l.parent(&adopted).await, l.ous["Sandbox"]);
    assert_eq!(ct.enrollment(&adopted).as_deref(), Some("SUCCEEDED"), "the adopted account is enrolled");
    let r = ct.report();
    eprintln!("figures after create: {r:?}");
    assert_eq!(r.enrollments, 4, "four moves into registered OUs");
    assert_eq!((r.conflicts, r.refused, r.failed), (0, 0, 0), "{r:?}");
    assert_eq!(r.peak_per_ou, 1, "one move into an OU at a time: {r:?}");
    assert!(ct.calls().iter().any(|c| c == "GetLandingZone"), "the plan checked the landing zone");
    assert_eq!(tf.plan_exit(), 0, "nothing left to do");

    // an OU change: moved into Workloads (enrolled there), out of Sandbox (unenrolled there)
    tf.write(&body(["Workloads", "Sandbox", "Workloads"], park));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(l.parent(&ids[0]).await, l.ous["Workloads"]);
    assert_eq!(ct.enrollment(&ids[0]).as_deref(), Some("SUCCEEDED"));
    let r = ct.report();
    assert_eq!((r.enrollments, r.unenrolled, r.conflicts, r.refused), (5, 1, 0, 0), "{r:?}");
    assert_eq!(tf.plan_exit(), 0);

    // destroy: b is parked in an unregistered OU (unenrolled); the others are kept, enrolled
    let out = tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(l.parent(&ids[1]).await, l.ous["Parking"]);
    assert_eq!(ct.enrollment(&ids[1]), None, "parked outside a registered OU: unenrolled");
    for id in [&ids[0], &ids[2], &adopted] {
        assert_eq!(ct.enrollment(id).as_deref(), Some("SUCCEEDED"), "{id} kept");
    }
    eprintln!("figures: {:?}", ct.report());
}

#[tokio::test(flavor = "multi_thread")]
async fn six_accounts_with_a_cap_of_two_never_move_two_into_one_ou_or_more_than_two_at_once() {
    let e = env(700).await;
    let (l, ct) = (&e.l, &e.ct);
    // Control Tower's own limit equals the provider's cap: a refusal would be counted
    ct.set_limit(2);
    let tf = e.tf("auto-enroll-limits");
    let s = common::suffix();
    let ous = ["Sandbox", "Sandbox", "Sandbox", "Sandbox", "Workloads", "Workloads"];
    let emails: Vec<String> = (0..6).map(|i| format!("lim{i}-{s}@example.com")).collect();
    let blocks: String =
        emails.iter().zip(ous).enumerate().map(|(i, (m, ou))| account_block(&format!("l{i}"), m, ou, "")).collect();
    tf.write(&format!("{}{blocks}", provider(l, 2, &format!("coord-lim-{s}"))));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (m, ou) in emails.iter().zip(ous) {
        let id = l.accounts_with_email(m).await.remove(0);
        assert_eq!(l.parent(&id).await, l.ous[ou]);
        assert_eq!(ct.enrollment(&id).as_deref(), Some("SUCCEEDED"), "{m}");
    }
    let r = ct.report();
    eprintln!("figures: {r:?}");
    assert_eq!(r.enrollments, 6);
    assert_eq!(r.peak_per_ou, 1, "never two moves into one OU at once: {r:?}");
    assert!(r.peak <= 2 && r.peak >= 1, "org-wide peak {} within the cap of 2", r.peak);
    assert_eq!((r.conflicts, r.refused, r.failed), (0, 0, 0), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_enrollment_fails_the_apply_naming_the_account_the_ou_and_the_operation() {
    let e = env(300).await;
    let (l, ct) = (&e.l, &e.ct);
    ct.fail_enrollments(true);
    let tf = e.tf("auto-enroll-failed");
    let s = common::suffix();
    let email = format!("fail-{s}@example.com");
    tf.write(&format!("{}{}", provider(l, 5, &format!("coord-fail-{s}")), account_block("f", &email, "Sandbox", "")));
    let out = apply(&tf);
    assert_ne!(out.code, 0, "the apply must fail");
    let id = l.accounts_with_email(&email).await.remove(0);
    let text = one_line(&out.stderr);
    for want in [
        id.as_str(),
        l.ous["Sandbox"].as_str(),
        "enrollment of account",
        "failed",
        "operation ",
        "could not be applied",
    ] {
        assert!(text.contains(want), "{want:?} not in: {text}");
    }
    assert_eq!(ct.enrollment(&id).as_deref(), Some("FAILED"));
    // applied again, the account is found by its email (no second CreateAccount) and the same
    // failure is reported: nothing is retried blindly
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    assert!(one_line(&out.stderr).contains(&id));
    assert_eq!(l.accounts_with_email(&email).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_refuses_where_nothing_would_be_enrolled() {
    let e = env(300).await;
    let (l, ct) = (&e.l, &e.ct);
    let tf = e.tf("auto-enroll-refused");
    let s = common::suffix();
    let email = format!("refused-{s}@example.com");

    // an OU without AWSControlTowerBaseline
    tf.write(&format!("{}{}", provider(l, 5, &format!("coord-ref-{s}")), account_block("r", &email, "Parking", "")));
    let out = tf.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    let text = one_line(&out.stderr);
    for want in [
        "Control Tower would not enroll the account in this OU",
        "not registered",
        &l.ous["Parking"],
        "ManagedOrganizationalUnit",
    ] {
        assert!(text.contains(want), "{want:?} not in: {text}");
    }

    // a landing zone without auto-enrollment
    ct.set_auto_enroll(false);
    tf.write(&format!("{}{}", provider(l, 5, &format!("coord-ref-{s}")), account_block("r", &email, "Sandbox", "")));
    let out = tf.run(&["plan", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0);
    let text = one_line(&out.stderr);
    for want in
        ["Control Tower would not enroll the account in this OU", "INHERITANCE_DRIFT", "ManagedOrganizationalUnit"]
    {
        assert!(text.contains(want), "{want:?} not in: {text}");
    }
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    assert!(l.accounts_with_email(&email).await.is_empty(), "no account was created");
    assert_eq!(ct.report().enrollments, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_waits_for_an_enrollment_into_the_ou_that_someone_else_started() {
    let e = env(3_000).await;
    let (l, ct) = (&e.l, &e.ct);
    let tf = e.tf("auto-enroll-foreign");
    let s = common::suffix();
    // someone else (the console, another tool) moves an account into Sandbox: no lease of ours
    // says so, only Control Tower's enrollment in flight
    let other = l.create_account(&format!("other-{s}@example.com"), "other", Some("Sandbox")).await;
    assert_eq!(ct.enrollment(&other).as_deref(), Some("UNDER_CHANGE"));
    let email = format!("after-{s}@example.com");
    tf.write(&format!("{}{}", provider(l, 5, &format!("coord-for-{s}")), account_block("n", &email, "Sandbox", "")));
    let out = apply(&tf);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = l.accounts_with_email(&email).await.remove(0);
    assert_eq!(ct.enrollment(&id).as_deref(), Some("SUCCEEDED"));
    assert_eq!(ct.enrollment(&other).as_deref(), Some("SUCCEEDED"));
    let r = ct.report();
    eprintln!("figures: {r:?}");
    assert_eq!((r.enrollments, r.conflicts, r.failed, r.peak_per_ou), (2, 0, 0, 1), "{r:?}");
}

/// The failure seen once under load: a runner's OU lease lapsed while it waited (its renewals
/// late) and another runner took it, found the OU quiet and moved; the first then moved too,
/// into an enrollment in flight (Control Tower's `ConflictException`). Here the lease is taken
/// over while the provider waits for an enrollment into the OU to end: the move must then wait
/// for the other runner's lease, not be sent as soon as the OU is quiet.
#[tokio::test(flavor = "multi_thread")]
async fn a_lease_another_runner_took_over_is_waited_for_again_before_the_move() {
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let e = env(15_000).await;
    let (l, ct) = (&e.l, &e.ct);
    let s = common::suffix();
    let table = format!("coord-lost-{s}");
    let sandbox = l.ous["Sandbox"].clone();
    // someone else's move into Sandbox: an enrollment in flight for 15 s, which the provider waits for
    let moved_at = std::time::SystemTime::now();
    let other = l.create_account(&format!("busy-{s}@example.com"), "busy", Some("Sandbox")).await;
    assert_eq!(ct.enrollment(&other).as_deref(), Some("UNDER_CHANGE"));
    let email = format!("lost-{s}@example.com");
    let tf = e.tf("auto-enroll-lost-lease");
    tf.write(&format!("{}{}", provider_of(l, 5, &table, "state-a"), account_block("n", &email, "Sandbox", "")));
    let run = tokio::task::spawn_blocking(move || apply(&tf));
    // the provider takes the OU's lease, then waits for the OU to be quiet
    let ddb = aws_sdk_dynamodb::Client::new(&l.aft_cfg);
    let key = |item: aws_sdk_dynamodb::operation::get_item::builders::GetItemFluentBuilder| {
        item.table_name(&table).key("pk", Av::S(format!("lease#ou#{sandbox}"))).key("sk", Av::S("lease".into()))
    };
    let secs = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut held = false;
    for _ in 0..100 {
        if let Ok(out) = key(ddb.get_item()).send().await
            && out.item().and_then(|i| i.get("owner")).and_then(|o| o.as_s().ok()).map(String::as_str)
                == Some("state-a")
        {
            held = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(held, "the provider never took the OU's lease");
    assert_eq!(ct.enrollment(&other).as_deref(), Some("UNDER_CHANGE"), "the scenario needs the OU busy still");
    // another runner takes the lease over, until 5 s after the OU is quiet again
    let until = secs(moved_at) + 15 + 5;
    ddb.put_item()
        .table_name(&table)
        .item("pk", Av::S(format!("lease#ou#{sandbox}")))
        .item("sk", Av::S("lease".into()))
        .item("holder", Av::S(format!("another-runner-{s}")))
        .item("owner", Av::S("state-b".into()))
        .item("what", Av::S(format!("move 999999999999 into {sandbox}")))
        .item("expires_at", Av::N(until.to_string()))
        .send()
        .await
        .unwrap();
    // while that lease is live, the provider's account stays out of the OU
    let mut seen = false;
    while secs(std::time::SystemTime::now()) + 1 < until {
        if let Some(id) = l.accounts_with_email(&email).await.first() {
            seen = true;
            assert_ne!(
                l.parent(id).await,
                sandbox,
                "the account was moved into the OU while another runner held its lease"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(seen, "the account was not created while the other runner held the lease");
    let out = run.await.unwrap();
    assert_eq!(out.code, 0, "{}", out.stderr);
    let id = l.accounts_with_email(&email).await.remove(0);
    assert_eq!(ct.enrollment(&id).as_deref(), Some("SUCCEEDED"));
    let r = ct.report();
    assert_eq!((r.enrollments, r.conflicts, r.failed, r.peak_per_ou), (2, 0, 0, 1), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_states_moving_accounts_into_one_ou_at_once_take_turns_through_the_ou_lease() {
    let e = env(800).await;
    let (l, ct) = (&e.l, &e.ct);
    let s = common::suffix();
    let table = format!("coord-two-{s}");
    let runners: Vec<(Tf, Vec<String>)> = ["a", "b"]
        .iter()
        .map(|owner| {
            let tf = e.tf(&format!("auto-enroll-two-{owner}"));
            let emails: Vec<String> = (0..3).map(|i| format!("two{owner}{i}-{s}@example.com")).collect();
            let blocks: String = emails
                .iter()
                .enumerate()
                .map(|(i, m)| account_block(&format!("{owner}{i}"), m, "Sandbox", ""))
                .collect();
            tf.write(&format!("{}{blocks}", provider_of(l, 5, &table, &format!("state-{owner}"))));
            (tf, emails)
        })
        .collect();
    // both apply at the same moment, each with three moves into Sandbox
    let outs: Vec<common::terraform::Out> = std::thread::scope(|sc| {
        let handles: Vec<_> = runners.iter().map(|(tf, _)| sc.spawn(move || apply(tf))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for out in &outs {
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    for (_, emails) in &runners {
        for m in emails {
            let id = l.accounts_with_email(m).await.remove(0);
            assert_eq!(ct.enrollment(&id).as_deref(), Some("SUCCEEDED"), "{m}");
        }
    }
    let r = ct.report();
    eprintln!("figures: {r:?}");
    assert_eq!((r.enrollments, r.conflicts, r.failed, r.peak_per_ou), (6, 0, 0, 1), "{r:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_sitting_unenrolled_in_a_registered_ou_is_reported_not_enrolled_by_an_ou_wide_reset() {
    let e = env(300).await;
    let (l, ct) = (&e.l, &e.ct);
    let s = common::suffix();
    // moved into Sandbox while auto-enrollment was off: in a registered OU, not enrolled
    ct.set_auto_enroll(false);
    let email = format!("sitting-{s}@example.com");
    let id = l.create_account(&email, "sitting", Some("Sandbox")).await;
    assert_eq!(ct.enrollment(&id), None, "observed without an enrollment");
    ct.set_auto_enroll(true);
    let tf = e.tf("auto-enroll-sitting");
    tf.write(&format!("{}{}", provider(l, 5, &format!("coord-sit-{s}")), account_block("s", &email, "Sandbox", "")));
    let out = apply(&tf);
    assert_ne!(out.code, 0);
    let text = one_line(&out.stderr);
    for want in [id.as_str(), "not enrolled", "ResetEnabledBaseline", "never starts on its own"] {
        assert!(text.contains(want), "{want:?} not in: {text}");
    }
    assert!(!ct.calls().iter().any(|c| c.starts_with("Reset")), "no OU-wide operation: {:?}", ct.calls());
    assert_eq!(l.parent(&id).await, l.ous["Sandbox"], "left where it is");
    assert_eq!(ct.report().enrollments, 0);
}
