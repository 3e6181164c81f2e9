//! Many runners, one organization (issue 25): two Terraform states with one coordination table,
//! applied at the same time against AWS as it behaves (the proxy's behaviour layer and, for
//! `control_tower`, the Account Factory stand-in), with 20% of the AWS calls failing and both
//! applies SIGKILLed at random moments, both declaring one email with another OU and other tags.
//! Whatever the interleaving: one account per email, each in exactly one state; the state that
//! did not claim the shared email is refused with the owner named and never touches that account;
//! the table holds one claim per email; and, for `control_tower`, no product is left `ERROR` or
//! `TAINTED` and the operations in flight (both runners' and four foreign ones: two account
//! operations, two baseline operations) never exceed the cap. `AFT_RUNNERS_SEED` replays a run's
//! choices (which kill when; the interleaving itself is the machine's); `AFT_RUNNERS_KILLS`
//! (kills per state, default 3), `AFT_SC_DELAY_MS` and `AFT_FOREIGN_MS` tune it.

use aft_test_harness as common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use common::proxy::CREATE_ACCOUNT_SECONDS;
use common::runners::{Aws, Method, Rng, emails, env_or, landing};
use common::terraform::{Out, kill_group};
use common::{Landing, Tf};
use serde_json::Value;

/// The summary of the refusal of an email another state claimed.
const CLAIMED: &str = "AccountEmail is claimed by another Terraform state";
/// `account_factory.max_concurrent_operations` in both states (Control Tower's default quota).
const CAP: usize = 5;
/// Accounts per state, the shared one included.
const ACCOUNTS: usize = 10;
/// The fault kinds of tests/reliability.rs's fault test.
const FAULT_KINDS: &str = "throttle,error500,error503,drop_before,conflict";
const APPLY: [&str; 5] = ["apply", "-auto-approve", "-input=false", "-no-color", "-json"];

/// One Terraform state and what happened to it.
struct Runner {
    /// `a` or `b`: resource names, account names and the tag key only this state sets.
    key: &'static str,
    /// The `coordination.owner` of this state.
    owner: String,
    ou: &'static str,
    tf: Tf,
    /// The emails only this state declares.
    own: Vec<String>,
    /// The shared email as this state spells it.
    shared: String,
    /// Its configuration: whole, without the shared account, the shared account alone.
    hcl: [String; 3],
    /// Whether the configuration still declares the shared account.
    keeps_shared: bool,
    kills: usize,
    /// Kills that landed while one of this state's creations was in flight.
    kills_in_creation: usize,
    /// The claim diagnostics it received, and whether each came from a plan made in the same
    /// command (`false`: from applying a plan saved before the claim existed).
    refusals: Vec<(Value, bool)>,
    /// Applies of the closing convergence.
    applies: usize,
    /// Finished an apply without error (nothing left to kill).
    done: bool,
}

impl Runner {
    fn new(
        aws: &Aws,
        l: &Landing,
        table: &str,
        key: &'static str,
        ou: &'static str,
        own: Vec<String>,
        shared: String,
    ) -> Runner {
        let owner = format!("state-{key}");
        let provider = aws.provider_with(
            l,
            &format!("    max_concurrent_operations = {CAP}\n"),
            &format!(
                "  coordination {{\n    table          = \"{table}\"\n    owner          = \"{owner}\"\n    lease_duration = \"10s\"\n  }}\n"
            ),
        );
        let block = |name: &str, email: &str| {
            let only = format!("Only{}", key.to_uppercase());
            common::fixtures::account_block(
                name,
                email,
                ou,
                &format!("  account_tags = {{\n    Runner = \"{owner}\"\n    {only} = \"{name}\"\n  }}"),
            )
        };
        let alone = format!("{provider}{}", block("shared", &shared));
        let mut without = provider;
        for (i, e) in own.iter().enumerate() {
            without.push_str(&block(&format!("{key}{i}"), e));
        }
        let with = format!("{without}{}", block("shared", &shared));
        let tf = aws.tf(&format!("runner-{key}"));
        Runner {
            key,
            owner,
            ou,
            tf,
            own,
            shared,
            hcl: [with, without, alone],
            keeps_shared: true,
            kills: 0,
            kills_in_creation: 0,
            refusals: Vec::new(),
            applies: 0,
            done: false,
        }
    }

    /// The emails its configuration declares now.
    fn emails(&self) -> Vec<String> {
        let mut out = self.own.clone();
        if self.keeps_shared {
            out.push(self.shared.clone());
        }
        out
    }

    /// The tags it asks for on the account of resource `name`.
    fn tags(&self, name: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("Runner".to_string(), self.owner.clone()),
            (format!("Only{}", self.key.to_uppercase()), name.to_string()),
        ])
    }

    /// Its whole configuration, or the one without the shared account once it gave that up.
    fn write(&self) {
        self.tf.write(&self.hcl[usize::from(!self.keeps_shared)]);
    }

    /// Reads an apply's `-json` output: keeps its claim refusals and, once a plan of its own
    /// refused the email (not a plan saved before the claim existed), removes the shared account
    /// from the configuration (what the team does when told another state owns it).
    fn read(&mut self, out: &Out, saved_plan: bool) {
        for d in out.errors() {
            if d["summary"] == CLAIMED {
                self.refusals.push((d, !saved_plan));
            }
        }
        if self.keeps_shared && (self.refusals.iter().any(|(_, at_plan)| *at_plan) || self.refusals.len() > 1) {
            self.keeps_shared = false;
            self.write();
        }
        if out.code != 0 && !out.errors().is_empty() {
            let errors: Vec<String> = out
                .errors()
                .iter()
                .map(|d| format!("{}: {}", d["summary"].as_str().unwrap_or(""), d["detail"].as_str().unwrap_or("")))
                .collect();
            eprintln!("{} apply failed (exit {}): {}", self.owner, out.code, common::one_line(&errors.join(" | ")));
        }
    }

    /// Applies until an apply succeeds and a plan is empty (at most `tries` applies).
    fn converge(&mut self, tries: usize) {
        for n in 1..=tries {
            let out = self.tf.run(&APPLY);
            self.read(&out, false);
            self.applies = n;
            if out.code == 0 && self.tf.plan_exit() == 0 {
                return;
            }
        }
        panic!("{} did not converge in {tries} applies", self.owner);
    }

    /// Account id by resource name, from its state.
    fn accounts(&self) -> BTreeMap<String, String> {
        let st = self.tf.state();
        st["values"]["root_module"]["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == "aft_account_provisioning")
            .map(|r| {
                (r["name"].as_str().unwrap().to_string(), r["values"]["account_id"].as_str().unwrap_or("").to_string())
            })
            .collect()
    }
}

/// Every account of the organization: id → email.
async fn org_accounts(l: &Landing) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pages = l.org().list_accounts().into_paginator().send();
    while let Some(p) = pages.next().await {
        for a in p.unwrap().accounts() {
            out.insert(a.id().unwrap().to_string(), a.email().unwrap_or_default().to_string());
        }
    }
    out
}

/// The claim and lease items of the coordination table (`None` while it does not exist).
async fn table_items(l: &Landing, table: &str) -> Option<Vec<HashMap<String, Av>>> {
    let ddb = aws_sdk_dynamodb::Client::new(&l.aft_cfg);
    let mut items = Vec::new();
    let mut pages = ddb.scan().table_name(table).into_paginator().send();
    while let Some(p) = pages.next().await {
        match p {
            Ok(p) => items.extend(p.items().iter().cloned()),
            Err(e) if format!("{e:?}").contains("ResourceNotFound") => return None,
            Err(e) => panic!("scanning {table}: {e:?}"),
        }
    }
    Some(items)
}

fn s(item: &HashMap<String, Av>, k: &str) -> Option<String> {
    item.get(k).and_then(|v| v.as_s().ok()).cloned()
}

/// The claims of the table: lowercased email → (owner, email, account id).
async fn claims(l: &Landing, table: &str) -> BTreeMap<String, (String, String, Option<String>)> {
    let items = table_items(l, table).await.expect("the coordination table exists");
    let mut out = BTreeMap::new();
    for i in items.iter().filter(|i| s(i, "pk").is_some_and(|pk| pk.starts_with("claim#"))) {
        let pk = s(i, "pk").unwrap();
        assert_eq!(s(i, "sk").as_deref(), Some("claim"), "{i:?}");
        let email = pk.trim_start_matches("claim#").to_string();
        assert_eq!(email, email.to_lowercase(), "a claim's key is the lowercased email: {i:?}");
        let prev = out
            .insert(email, (s(i, "owner").unwrap_or_default(), s(i, "email").unwrap_or_default(), s(i, "account_id")));
        assert!(prev.is_none(), "two claims for one email: {i:?}");
    }
    out
}

/// What the watcher saw of the shared email's account at one moment.
#[derive(Debug, Default)]
struct Sample {
    ids: Vec<String>,
    parent: Option<String>,
    tags: BTreeMap<String, String>,
    metadata: Option<(String, BTreeMap<String, String>)>,
}

/// Samples the shared email's account (directly in moto, beside the proxy) until `stop`, so a
/// change the losing state made and the winner undid later is still seen.
fn watch(l: &Landing, email: String, stop: Arc<AtomicBool>) -> (Arc<Mutex<Vec<Sample>>>, tokio::task::JoinHandle<()>) {
    let samples = Arc::new(Mutex::new(Vec::new()));
    let (org, ddb, out) = (l.org(), aws_sdk_dynamodb::Client::new(&l.aft_cfg), samples.clone());
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let mut sample = Sample::default();
            let mut pages = org.list_accounts().into_paginator().send();
            while let Some(Ok(p)) = pages.next().await {
                for a in p.accounts() {
                    if a.email().unwrap_or_default().eq_ignore_ascii_case(&email) {
                        sample.ids.push(a.id().unwrap().to_string());
                    }
                }
            }
            if let Some(id) = sample.ids.first() {
                if let Ok(p) = org.list_parents().child_id(id).send().await {
                    sample.parent = p.parents().first().and_then(|p| p.id()).map(str::to_string);
                }
                if let Ok(t) = org.list_tags_for_resource().resource_id(id).send().await {
                    sample.tags = t.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
                }
                let item = ddb.get_item().table_name("aft-request-metadata").key("id", Av::S(id.clone())).send().await;
                if let Ok(Some(i)) = item.map(|o| o.item) {
                    let tags = match i.get("account_level_tags") {
                        Some(Av::M(m)) => {
                            m.iter().map(|(k, v)| (k.clone(), v.as_s().cloned().unwrap_or_default())).collect()
                        }
                        _ => BTreeMap::new(),
                    };
                    sample.metadata = Some((s(&i, "parent_ou").unwrap_or_default(), tags));
                }
            }
            out.lock().unwrap().push(sample);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    (samples, task)
}

/// Whether one of this state's creations is in flight: an Account Factory record of one of its
/// emails, or (for `organizations`) a CreateAccount of one of them, which the proxy keeps
/// IN_PROGRESS for [`CREATE_ACCOUNT_SECONDS`] after moto made the account.
async fn creating(aws: &Aws, l: &Landing, r: &Runner) -> bool {
    let mine: BTreeSet<String> = r.emails().iter().map(|e| e.to_lowercase()).collect();
    if let Some(sc) = &aws.sc {
        return sc.products().iter().any(|p| {
            p.status == "UNDER_CHANGE"
                && p.parameters.get("AccountEmail").is_some_and(|e| mine.contains(&e.to_lowercase()))
        });
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let mut pages = l.org().list_accounts().into_paginator().send();
    while let Some(Ok(p)) = pages.next().await {
        for a in p.accounts() {
            let joined = a.joined_timestamp().map(|t| t.as_secs_f64()).unwrap_or(0.0);
            if mine.contains(&a.email().unwrap_or_default().to_lowercase()) && now - joined < CREATE_ACCOUNT_SECONDS {
                return true;
            }
        }
    }
    false
}

async fn two_runners(method: Method) {
    let started = Instant::now();
    let l = landing().await;
    let aws = Aws::start(&l, method, &["--fault-kinds", FAULT_KINDS]);
    let seed = env_or("AFT_RUNNERS_SEED", 20_261_207);
    let kills_wanted = env_or("AFT_RUNNERS_KILLS", 3) as usize;
    let mut rng = Rng(seed | 1);
    let table = format!("aft-coordination-{}", common::suffix());
    let shared = emails("shared", 1).remove(0);
    // state b spells the shared email in capitals: a claim is per normalised email
    let (local, domain) = shared.split_once('@').unwrap();
    let shared_b = format!("{}@{domain}", local.to_uppercase());
    let mut runners = [
        Runner::new(&aws, &l, &table, "a", "Sandbox", emails("ra", ACCOUNTS - 1), shared.clone()),
        Runner::new(&aws, &l, &table, "b", "Prod", emails("rb", ACCOUNTS - 1), shared_b),
    ];
    let stop = Arc::new(AtomicBool::new(false));
    let (samples, watcher) = watch(&l, shared.clone(), stop.clone());
    aws.proxy.faults(0.2, seed);

    // Both plan the shared account alone, then apply their saved plans at the same moment: neither
    // plan saw a claim, so the state that claims second is refused at apply, before any AWS change.
    // It keeps the account in its configuration until a plan refuses it too.
    std::thread::scope(|s| {
        for r in runners.iter() {
            s.spawn(move || {
                r.tf.write(&r.hcl[2]);
                let ok = (0..3).any(|_| r.tf.run(&["plan", "-input=false", "-no-color", "-out=tfplan"]).code == 0);
                assert!(ok, "{} could not plan", r.owner);
            });
        }
    });
    let outs: Vec<Out> = std::thread::scope(|s| {
        let apply = ["apply", "-auto-approve", "-input=false", "-no-color", "-json", "tfplan"];
        let handles: Vec<_> = runners.iter().map(|r| s.spawn(move || r.tf.run(&apply))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (r, out) in runners.iter_mut().zip(&outs) {
        // what each saved plan's apply did, for a failure of the assertions on refusals below
        eprintln!(
            "{} applied its plan saved before any claim: exit {}{}",
            r.owner,
            out.code,
            if out.code != 0 && out.errors().is_empty() {
                format!(", no diagnostic; stderr: {}", common::one_line(&out.stderr))
            } else {
                String::new()
            }
        );
        r.read(out, true);
        r.write();
    }

    // Rounds: both applies start together; each is killed (the whole process group) inside one of
    // its creations or at a random moment, until each state was killed `kills_wanted` times or
    // finished its work first.
    let mut round = 0;
    loop {
        let active: Vec<usize> = (0..2).filter(|&i| runners[i].kills < kills_wanted && !runners[i].done).collect();
        if active.is_empty() {
            break;
        }
        round += 1;
        assert!(round <= kills_wanted * 4 + 2, "too few applies were killed in {round} rounds");
        if let (1, Some(sc)) = (round, &aws.sc) {
            // four Control Tower operations of others in flight as the fleets start: two account
            // operations (another AFT, the console) and two baseline operations (an OU or an
            // account re-registered), which only ListEnabledBaselines shows
            let lasting = Duration::from_millis(env_or("AFT_FOREIGN_MS", 8_000));
            sc.foreign(2, lasting);
            sc.foreign_baselines(2, lasting);
        }
        let mut children = Vec::new();
        for &i in &active {
            let r = &runners[i];
            // the first round kills inside a creation; later rounds toss for it
            let in_creation = round == 1 || rng.next().is_multiple_of(2);
            let after = Duration::from_millis(if in_creation { rng.next() % 1_200 } else { 300 + rng.next() % 8_000 });
            let child = r.tf.spawn(&format!("round{round}"), &APPLY);
            children.push((i, child, in_creation, after, None::<Instant>, None));
        }
        let start = Instant::now();
        while children.iter().any(|c| c.5.is_none()) {
            for (i, child, in_creation, after, trigger, outcome) in children.iter_mut() {
                if outcome.is_some() {
                    continue;
                }
                if child.try_wait().unwrap().is_some() {
                    *outcome = Some(false);
                    continue;
                }
                let r = &runners[*i];
                if trigger.is_none() && (!*in_creation || creating(&aws, &l, r).await) {
                    *trigger = Some(if *in_creation { Instant::now() } else { start });
                }
                if trigger.is_some_and(|t| t.elapsed() >= *after) {
                    let inside = creating(&aws, &l, r).await;
                    kill_group(child.id(), "-KILL");
                    child.wait().unwrap();
                    *outcome = Some(true);
                    runners[*i].kills += 1;
                    runners[*i].kills_in_creation += usize::from(inside);
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        for (i, _, in_creation, after, _, killed) in children {
            let r = &mut runners[i];
            let killed = killed == Some(true);
            let stdout = std::fs::read_to_string(r.tf.path(&format!("round{round}.out"))).unwrap_or_default();
            let failed = stdout.lines().any(|l| l.contains("\"@level\":\"error\""));
            let out = Out { code: i32::from(killed || failed), stdout, stderr: String::new() };
            r.done = out.code == 0;
            let how = if killed {
                "killed"
            } else if r.done {
                "finished first"
            } else {
                "failed first"
            };
            let when = if in_creation { "inside a creation" } else { "at a random moment" };
            eprintln!("round {round}: {} {how} ({when}, {after:?})", r.owner);
            r.read(&out, false);
        }
    }

    // Both converge at the same time; the state refused the shared email drops it and goes on.
    std::thread::scope(|s| {
        for r in runners.iter_mut() {
            s.spawn(move || r.converge(4));
        }
    });
    aws.proxy.faults(0.0, 0);
    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();

    // the figures first, so a failing run reports them too
    let states: Vec<BTreeMap<String, String>> = runners.iter().map(Runner::accounts).collect();
    let items = table_items(&l, &table).await.unwrap_or_default();
    let holder = items
        .iter()
        .find(|i| s(i, "pk") == Some(format!("claim#{}", shared.to_lowercase())))
        .and_then(|i| s(i, "owner"))
        .unwrap_or_else(|| "nobody".into());
    let leases: Vec<&HashMap<String, Av>> =
        items.iter().filter(|i| s(i, "pk").as_deref() == Some("lease#control-tower")).collect();
    let stats = aws.proxy.stats();
    let control_tower = match aws.sc.as_ref().map(|sc| sc.report()) {
        Some(r) => format!(
            "peak Control Tower operations {} (cap {CAP}, 2 foreign account and 2 foreign baseline operations at the start); \
             refused operations {}; leases left by killed runners {}; ",
            r.peak,
            r.refused,
            leases.len()
        ),
        None => String::new(),
    };
    let refusals = |r: &Runner| {
        let at_plan = r.refusals.iter().filter(|(_, p)| *p).count();
        format!(
            "{} ({at_plan} by a plan, {} applying a plan saved before the claim)",
            r.refusals.len(),
            r.refusals.len() - at_plan
        )
    };
    eprintln!(
        "two runners ({method:?}): seed {seed}; accounts vended {} {} / {} {} (shared email claimed by {holder}); \
         kills {} / {} ({} / {} inside a creation) in {round} rounds; claim refusals {} / {}; \
         faults injected {} of {} AWS requests; {control_tower}converged in {} / {} applies; {:.0} s; {}",
        runners[0].owner,
        states[0].len(),
        runners[1].owner,
        states[1].len(),
        runners[0].kills,
        runners[1].kills,
        runners[0].kills_in_creation,
        runners[1].kills_in_creation,
        refusals(&runners[0]),
        refusals(&runners[1]),
        stats["faults"],
        stats["total"],
        runners[0].applies,
        runners[1].applies,
        started.elapsed().as_secs_f64(),
        aws.figures()
    );
    assert!(runners.iter().all(|r| r.kills >= 1), "both states were killed at least once");
    assert!(stats["faults"].as_u64().unwrap_or(0) >= 20, "faults were really injected: {stats}");

    let winners: Vec<usize> = (0..2).filter(|&i| runners[i].keeps_shared).collect();
    assert_eq!(
        winners.len(),
        1,
        "exactly one state keeps the shared email (refusals: {:?} / {:?})",
        runners[0].refusals,
        runners[1].refusals
    );
    let (w, lo) = (&runners[winners[0]], &runners[1 - winners[0]]);

    // the loser was refused, with the winner named, on the AccountEmail line; the winner never
    assert!(w.refusals.is_empty(), "the state holding the claim was refused: {:?}", w.refusals);
    let at_plan = lo.refusals.iter().filter(|(_, p)| *p).count();
    assert!(at_plan >= 1, "no plan of {} refused the email {} holds: {:?}", lo.owner, w.owner, lo.refusals);
    assert!(
        lo.refusals.len() > at_plan,
        "no apply of {} refused the email {} holds from a plan that saw no claim: {:?}",
        lo.owner,
        w.owner,
        lo.refusals
    );
    for (d, _) in &lo.refusals {
        let detail = d["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(&format!("\"{}\"", w.owner)), "the refusal names the owner {}: {d}", w.owner);
        let code = d["snippet"]["code"].as_str().unwrap_or_default();
        assert!(code.contains("AccountEmail"), "the refusal points at AccountEmail: {d}");
    }

    // 0 duplicates: one account per email; 0 orphans: nothing else in the organization
    let org = org_accounts(&l).await;
    let mut by_email: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, e) in &org {
        by_email.entry(e.to_lowercase()).or_default().push(id.clone());
    }
    let all: Vec<String> = runners.iter().flat_map(|r| r.own.iter().cloned()).chain([shared.clone()]).collect();
    for e in &all {
        assert_eq!(by_email.get(&e.to_lowercase()).map(Vec::len), Some(1), "exactly one account for {e}: {org:?}");
    }
    assert_eq!(org.len(), all.len() + 1, "no account beside the management account and the two fleets: {org:?}");

    // 0 shared: every account is in exactly one state, with that state's OU, tags and metadata item
    let mut holders: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (r, st) in runners.iter().zip(&states) {
        assert_eq!(st.len(), r.emails().len(), "{}'s state: {st:?}", r.owner);
        for (name, id) in st {
            holders.entry(id.clone()).or_default().push(r.key);
            let email =
                if name == "shared" { r.shared.clone() } else { r.own[name[1..].parse::<usize>().unwrap()].clone() };
            assert!(
                org.get(id).is_some_and(|e| e.eq_ignore_ascii_case(&email)),
                "{}.{name} is the account of {email}",
                r.owner
            );
            assert_eq!(l.parent(id).await, l.ous[r.ou], "{id} ({}.{name}) is in {}", r.owner, r.ou);
            assert_eq!(l.tags(id).await, r.tags(name), "the tags of {id} ({}.{name})", r.owner);
            let item = l.metadata(id).await.unwrap_or_else(|| panic!("metadata item of {id}"));
            assert_eq!(s(&item, "parent_ou").as_deref(), Some(l.ous[r.ou].as_str()), "metadata of {id}: {item:?}");
        }
    }
    assert!(holders.values().all(|h| h.len() == 1), "an account in both states: {holders:?}");
    assert_eq!(holders.len(), all.len(), "every account of the test's emails is in a state: {holders:?} vs {org:?}");
    let shared_id = &states[winners[0]]["shared"];

    // the loser never changed the winner's account: not its OU, tags or metadata item, at any moment
    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let loser_ou = &l.ous[lo.ou];
    let loser_key = format!("Only{}", lo.key.to_uppercase());
    for sm in samples.iter() {
        assert!(sm.ids.len() <= 1, "two accounts with the shared email at once: {sm:?}");
        assert!(sm.ids.iter().all(|id| id == shared_id), "another account had the shared email: {sm:?}");
        assert_ne!(sm.parent.as_ref(), Some(loser_ou), "{} moved the shared account: {sm:?}", lo.owner);
        assert!(
            !sm.tags.contains_key(&loser_key) && sm.tags.get("Runner") != Some(&lo.owner),
            "{} tagged it: {sm:?}",
            lo.owner
        );
        if let Some((ou, tags)) = &sm.metadata {
            assert_ne!(ou, loser_ou, "{} wrote its metadata item: {sm:?}", lo.owner);
            assert!(!tags.contains_key(&loser_key), "{} wrote its metadata item: {sm:?}", lo.owner);
        }
    }
    let watched = samples.iter().filter(|s| !s.ids.is_empty()).count();
    assert!(watched >= 10, "the shared account was watched while the runners ran ({watched} samples)");

    // one claim per email, carrying the owner of the state holding it
    let table_claims = claims(&l, &table).await;
    assert_eq!(table_claims.len(), all.len(), "one claim per email: {table_claims:?}");
    for (r, st) in runners.iter().zip(&states) {
        for (name, id) in st {
            let email =
                if name == "shared" { r.shared.clone() } else { r.own[name[1..].parse::<usize>().unwrap()].clone() };
            let (owner, e, account) = &table_claims[&email.to_lowercase()];
            assert_eq!(owner, &r.owner, "the claim of {email}");
            assert!(e.eq_ignore_ascii_case(&email), "the claim of {email} names it: {e}");
            assert_eq!(account.as_deref(), Some(id.as_str()), "the claim of {email} names its account");
        }
    }

    // a lease names its runner and its operation's product, and when it lapses
    let names: BTreeSet<String> = runners
        .iter()
        .flat_map(|r| (0..r.own.len()).map(move |i| format!("{}{i}", r.key)))
        .chain(["shared".to_string()])
        .collect();
    for lease in &leases {
        assert!(runners.iter().any(|r| s(lease, "owner") == Some(r.owner.clone())), "a lease's owner: {lease:?}");
        assert!(s(lease, "what").is_some_and(|w| names.contains(&w)), "a lease names its product: {lease:?}");
        let expires = lease.get("expires_at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
        assert!(expires.is_some(), "a lease's expires_at is a number of epoch seconds: {lease:?}");
    }
    if aws.sc.is_none() {
        assert!(leases.is_empty(), "organizations takes no Control Tower lease: {leases:?}");
    }

    // control_tower: nothing left ERROR or TAINTED, the cap held across both runners and the foreign operations
    if let Some(sc) = &aws.sc {
        let products = sc.products();
        let broken: Vec<_> = products.iter().filter(|p| p.status != "AVAILABLE").collect();
        assert!(broken.is_empty(), "products left broken: {broken:?}");
        let mine: Vec<String> = products
            .iter()
            .filter(|p| p.mine)
            .map(|p| p.parameters.get("AccountEmail").cloned().unwrap_or_default().to_lowercase())
            .collect();
        assert_eq!(mine.len(), all.len(), "one provisioned product per account: {products:?}");
        assert_eq!(
            mine.iter().collect::<BTreeSet<_>>().len(),
            all.len(),
            "one provisioned product per email: {mine:?}"
        );
        let r = sc.report();
        assert!(r.peak <= CAP, "{} Control Tower operations in flight at once, over the cap of {CAP}: {r:?}", r.peak);
    }

    // destroying the loser releases its claims only and changes nothing of the winner's
    let before = (l.parent(shared_id).await, l.tags(shared_id).await, l.metadata(shared_id).await);
    aws.proxy.faults(0.2, seed + 1);
    let mut destroyed = false;
    for _ in 0..3 {
        let out = lo.tf.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
        if out.code == 0 {
            destroyed = true;
            break;
        }
        eprintln!("destroy of {} did not finish:\n{}", lo.owner, out.stderr);
    }
    aws.proxy.faults(0.0, 0);
    assert!(destroyed, "{} could not be destroyed", lo.owner);
    assert!(lo.accounts().is_empty(), "{}'s state is empty", lo.owner);
    let left = claims(&l, &table).await;
    let expected: BTreeMap<String, String> = w.emails().iter().map(|e| (e.to_lowercase(), w.owner.clone())).collect();
    let got: BTreeMap<String, String> = left.iter().map(|(e, (o, _, _))| (e.clone(), o.clone())).collect();
    assert_eq!(got, expected, "after {}'s destroy only {}'s claims remain", lo.owner, w.owner);
    let after = (l.parent(shared_id).await, l.tags(shared_id).await, l.metadata(shared_id).await);
    assert_eq!(after, before, "{}'s destroy changed the shared account", lo.owner);
    for id in states[winners[0]].values() {
        assert!(l.metadata(id).await.is_some(), "{}'s metadata item of {id} survived {}'s destroy", w.owner, lo.owner);
    }
    assert_eq!(w.tf.plan_exit(), 0, "{} shows no drift after {}'s destroy", w.owner, lo.owner);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_states_applied_at_once_with_kills_and_faults_share_no_account() {
    two_runners(Method::Organizations).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn control_tower_two_states_applied_at_once_with_kills_and_faults_share_no_account_and_keep_the_cap() {
    two_runners(Method::ControlTower).await;
}
