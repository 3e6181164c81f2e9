//! A stand-in for Control Tower's auto-enrollment (landing zone 3.1+), owned by the tests.
//!
//! moto has no Control Tower API. This loopback server speaks restJson1 for the Control Tower
//! calls the `organizations_auto_enroll` method makes (`POST /list-landingzones`,
//! `/get-landingzone`, `/list-baselines`, `/list-enabled-baselines`, `/get-baseline-operation`)
//! and behaves as Control Tower documents (sources in docs/reliability.md, "Control Tower
//! auto-enrollment (issue 27)"):
//! - `GetLandingZone` answers `remediationTypes = ["INHERITANCE_DRIFT"]` while auto-enrollment is
//!   on ([`ControlTower::set_auto_enroll`]);
//! - an OU is registered when `AWSControlTowerBaseline` is enabled on it ([`ControlTower::register`]:
//!   its accounts at that moment are enrolled); `ListEnabledBaselines` shows it, and with
//!   `includeChildren` each member account's child enabled baseline (`parentIdentifier` = the
//!   OU's enabled baseline);
//! - enrollment is observed, not requested: the stand-in reads the members of each registered
//!   OU from Organizations (moto, `ListAccountsForParent`) before answering each Control Tower
//!   call and every 100 ms in the background. An account that arrived starts an enrollment (its
//!   child baseline `UNDER_CHANGE`, drifted, for the configured delay, then `SUCCEEDED` and
//!   `IN_SYNC`); one that left is unenrolled (its child baseline removed). Observing by reading
//!   rather than through the behaviour proxy keeps the provider's own MoveAccount untouched and
//!   sees moves made by anyone (the console, another runner, the test itself);
//! - limits: an arrival while another enrollment into the same OU is in flight conflicts (its
//!   enrollment `FAILED`, [`Report::conflicts`]); an arrival while [`ControlTower::set_limit`]
//!   account operations are in flight is refused (`FAILED`, [`Report::refused`]). Real Control
//!   Tower may refuse the move itself; the stand-in can only fail the enrollment, which the
//!   provider must report either way. Both are counted, so a test asserts they never happen;
//! - [`ControlTower::fail_enrollments`]: enrollments that start from now on end `FAILED`, with a
//!   `GetBaselineOperation` status message.
//!
//! It records the peak number of enrollments in flight, org-wide and per OU.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::{Value, json};

/// The `AWSControlTowerBaseline` baseline's ARN (as the Service Catalog stand-in's).
pub const CT_BASELINE_ARN: &str = super::service_catalog::CT_BASELINE_ARN;
/// The landing zone's ARN.
pub const LANDING_ZONE_ARN: &str = "arn:aws:controltower:us-east-1:000000000000:landingzone/STANDINLZ0001";

struct Enrollment {
    account: String,
    ou: String,
    operation: String,
    start: Instant,
    end: Instant,
    /// `None`: succeeds at `end`; `Some(message)`: fails (at `end`).
    failure: Option<String>,
}

impl Enrollment {
    fn in_flight(&self, now: Instant) -> bool {
        now < self.end
    }
    fn status(&self, now: Instant) -> &'static str {
        match (&self.failure, now < self.end) {
            (_, true) => "UNDER_CHANGE",
            (None, false) => "SUCCEEDED",
            (Some(_), false) => "FAILED",
        }
    }
}

#[derive(Default)]
struct State {
    auto_enroll: bool,
    /// Registered OU id → its enabled baseline's ARN.
    registered: HashMap<String, String>,
    /// Account → the registered OU it was last seen in.
    members: HashMap<String, String>,
    /// Account → its (last) enrollment in the OU it is in.
    enrollments: HashMap<String, Enrollment>,
    limit: usize,
    fail: bool,
    peak: usize,
    peak_per_ou: usize,
    enrolled: usize,
    failed: usize,
    conflicts: usize,
    refused: usize,
    unenrolled: usize,
    calls: Vec<String>,
    /// Operations by id: (account, OU, failure).
    operations: HashMap<String, (String, String, Option<String>)>,
}

/// What the stand-in observed, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Enrollments started by a move into a registered OU (including those that failed).
    pub enrollments: usize,
    /// Enrollments that failed ([`ControlTower::fail_enrollments`], conflicts, refusals).
    pub failed: usize,
    /// The most enrollments in flight at once, org-wide.
    pub peak: usize,
    /// The most enrollments in flight at once into one OU.
    pub peak_per_ou: usize,
    /// Arrivals into an OU while another enrollment into it ran.
    pub conflicts: usize,
    /// Arrivals while the account-operation limit was reached.
    pub refused: usize,
    /// Accounts that left a registered OU (unenrolled).
    pub unenrolled: usize,
}

/// A running stand-in.
pub struct ControlTower {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    observer: Arc<Observer>,
}

/// Reads Organizations for the members of the registered OUs (one observation at a time).
struct Observer {
    org: aws_sdk_organizations::Client,
    lock: Mutex<()>,
    delay: Duration,
    prefix: String,
}

impl ControlTower {
    /// Starts the stand-in for the organization of `ct` (the management account's config),
    /// auto-enrollment on; an enrollment takes `delay`.
    pub fn start(ct: &SdkConfig, delay: Duration) -> ControlTower {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            auto_enroll: true,
            limit: super::service_catalog::CONTROL_TOWER_LIMIT,
            ..State::default()
        }));
        let org = aws_sdk_organizations::Client::new(ct);
        let org_id = block_on(async { org.describe_organization().send().await.ok() })
            .and_then(|o| o.organization().and_then(|o| o.id().map(str::to_string)))
            .unwrap_or_else(|| "o-standin".into());
        let observer = Arc::new(Observer {
            org: aws_sdk_organizations::Client::new(ct),
            lock: Mutex::new(()),
            delay,
            prefix: format!("arn:aws:organizations::000000000000:account/{org_id}"),
        });
        let (st, ob) = (state.clone(), observer.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (st, ob) = (st.clone(), ob.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, &ob);
                });
            }
        });
        let (st, ob) = (Arc::downgrade(&state), observer.clone());
        std::thread::spawn(move || {
            while let Some(st) = st.upgrade() {
                ob.observe(&st);
                drop(st);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        ControlTower { endpoint, state, observer }
    }

    /// Points a working directory's provider at the stand-in for Control Tower, and at `sc` (the
    /// Service Catalog stand-in) for Service Catalog, whose products the provider counts too.
    pub fn route(&self, tf: &mut super::Tf, sc: &super::service_catalog::ServiceCatalog) {
        tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &sc.endpoint);
        tf.env("AWS_ENDPOINT_URL_CONTROLTOWER", &self.endpoint);
    }

    /// The `--route` arguments that put this stand-in and `sc` behind the proxy.
    pub fn routes(&self, sc: &super::service_catalog::ServiceCatalog) -> Vec<String> {
        vec![format!("servicecatalog={}", sc.endpoint), format!("controltower={}", self.endpoint)]
    }

    /// Registers an OU (enables `AWSControlTowerBaseline` on it); the accounts in it now are
    /// enrolled already.
    pub fn register(&self, ou_id: &str) {
        let arn = format!("arn:aws:controltower:us-east-1:000000000000:enabledbaseline/OU{}", ou_id.replace('-', ""));
        self.state.lock().unwrap().registered.insert(ou_id.to_string(), arn);
        let accounts = self.observer.accounts_in(ou_id).unwrap_or_default();
        let mut s = self.state.lock().unwrap();
        let now = Instant::now();
        for a in accounts {
            s.members.insert(a.clone(), ou_id.to_string());
            s.enrollments.insert(
                a.clone(),
                Enrollment {
                    account: a,
                    ou: ou_id.to_string(),
                    operation: uuid::Uuid::new_v4().to_string(),
                    start: now,
                    end: now,
                    failure: None,
                },
            );
        }
    }

    /// Turns auto-enrollment on or off (`remediationTypes` of the landing zone). Off, a move
    /// into a registered OU enrolls nothing.
    pub fn set_auto_enroll(&self, on: bool) {
        self.state.lock().unwrap().auto_enroll = on;
    }

    /// Control Tower's limit of concurrent account operations.
    pub fn set_limit(&self, n: usize) {
        self.state.lock().unwrap().limit = n;
    }

    /// Enrollments that start from now on fail.
    pub fn fail_enrollments(&self, fail: bool) {
        self.state.lock().unwrap().fail = fail;
    }

    /// The status of the account's enrollment (`UNDER_CHANGE`, `SUCCEEDED`, `FAILED`), if any.
    pub fn enrollment(&self, account: &str) -> Option<String> {
        self.observer.observe(&self.state);
        let s = self.state.lock().unwrap();
        s.enrollments.get(account).map(|e| e.status(Instant::now()).to_string())
    }

    /// Enrollments in flight now.
    pub fn in_flight(&self) -> usize {
        self.observer.observe(&self.state);
        let now = Instant::now();
        self.state.lock().unwrap().enrollments.values().filter(|e| e.in_flight(now)).count()
    }

    /// The Control Tower calls answered, by operation name.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// Everything it observed.
    pub fn report(&self) -> Report {
        self.observer.observe(&self.state);
        let s = self.state.lock().unwrap();
        Report {
            enrollments: s.enrolled,
            failed: s.failed,
            peak: s.peak,
            peak_per_ou: s.peak_per_ou,
            conflicts: s.conflicts,
            refused: s.refused,
            unenrolled: s.unenrolled,
        }
    }
}

impl Observer {
    /// The accounts in the OU, sorted; `None` when Organizations did not answer (then nothing is
    /// concluded from this reading).
    fn accounts_in(&self, ou: &str) -> Option<Vec<String>> {
        block_on(async {
            let mut out = Vec::new();
            let mut pages = self.org.list_accounts_for_parent().parent_id(ou).into_paginator().send();
            while let Some(page) = pages.next().await {
                out.extend(page.ok()?.accounts().iter().filter_map(|a| a.id().map(str::to_string)));
            }
            out.sort();
            Some(out)
        })
    }

    /// Compares the registered OUs' members with what it saw last: arrivals start enrollments,
    /// departures unenroll.
    fn observe(&self, st: &Arc<Mutex<State>>) {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let ous: Vec<String> = st.lock().unwrap().registered.keys().cloned().collect();
        // the OUs are read one after another: a move between two reads would show the account in
        // both or in neither, so the members are read until two readings agree
        let read = |ous: &[String]| -> Option<Vec<(String, Vec<String>)>> {
            ous.iter().map(|ou| Some((ou.clone(), self.accounts_in(ou)?))).collect()
        };
        let Some(mut now_members) = read(&ous) else { return };
        for _ in 0..5 {
            let Some(again) = read(&ous) else { return };
            if again == now_members {
                break;
            }
            now_members = again;
        }
        let mut s = st.lock().unwrap();
        let now = Instant::now();
        // departures first: an account that moved from one registered OU to another leaves, then arrives
        let here: HashMap<&str, &str> =
            now_members.iter().flat_map(|(ou, accts)| accts.iter().map(move |a| (a.as_str(), ou.as_str()))).collect();
        let gone: Vec<String> = s
            .members
            .iter()
            .filter(|(a, ou)| here.get(a.as_str()) != Some(&ou.as_str()))
            .map(|(a, _)| a.clone())
            .collect();
        for a in gone {
            s.members.remove(&a);
            s.enrollments.remove(&a);
            s.unenrolled += 1;
        }
        for (ou, accts) in &now_members {
            for a in accts {
                if s.members.get(a) == Some(ou) {
                    continue;
                }
                s.members.insert(a.clone(), ou.clone());
                if !s.auto_enroll {
                    continue;
                }
                let in_flight = s.enrollments.values().filter(|e| e.in_flight(now)).count();
                let same_ou = s.enrollments.values().filter(|e| e.in_flight(now) && &e.ou == ou).count();
                // a conflict or a refusal fails at once and takes no place; a failing enrollment runs its course
                let refused_now = same_ou > 0 || in_flight >= s.limit;
                let failure = if same_ou > 0 {
                    s.conflicts += 1;
                    Some(format!(
                        "ConflictException: another account operation on the organizational unit {ou} is in progress"
                    ))
                } else if in_flight >= s.limit {
                    s.refused += 1;
                    Some(format!(
                        "ServiceQuotaExceededException: {} account operations are in progress (the limit is {})",
                        in_flight, s.limit
                    ))
                } else if s.fail {
                    Some(format!(
                        "AWSControlTowerBaseline could not be applied to account {a} (the stand-in's fail switch)"
                    ))
                } else {
                    None
                };
                let end = if refused_now { now } else { now + self.delay };
                if !refused_now {
                    s.peak = s.peak.max(in_flight + 1);
                    s.peak_per_ou = s.peak_per_ou.max(same_ou + 1);
                }
                s.enrolled += 1;
                if failure.is_some() {
                    s.failed += 1;
                }
                let operation = uuid::Uuid::new_v4().to_string();
                s.operations.insert(operation.clone(), (a.clone(), ou.clone(), failure.clone()));
                s.enrollments.insert(
                    a.clone(),
                    Enrollment { account: a.clone(), ou: ou.clone(), operation, start: now, end, failure },
                );
            }
        }
    }
}

fn serve(conn: TcpStream, st: &Arc<Mutex<State>>, ob: &Observer) -> std::io::Result<()> {
    let mut rd = BufReader::new(conn.try_clone()?);
    let mut len = 0usize;
    let mut line = String::new();
    rd.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or_default().split('?').next().unwrap_or_default().to_string();
    loop {
        line.clear();
        rd.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body)?;
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    ob.observe(st);
    let (status, resp) = handle(&path, &req, st, ob);
    let text = resp.to_string();
    let kind = resp["__type"].as_str().map(|k| format!("x-amzn-ErrorType: {k}\r\n")).unwrap_or_default();
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\n{kind}x-amzn-RequestId: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        if status == 200 { "OK" } else { "Bad Request" },
        uuid::Uuid::new_v4(),
        text.len()
    )?;
    w.flush()
}

fn error(kind: &str, msg: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": msg}))
}

fn handle(path: &str, req: &Value, st: &Arc<Mutex<State>>, ob: &Observer) -> (u16, Value) {
    let mut s = st.lock().unwrap();
    let op = match path {
        "/list-landingzones" => "ListLandingZones",
        "/get-landingzone" => "GetLandingZone",
        "/list-baselines" => "ListBaselines",
        "/list-enabled-baselines" => "ListEnabledBaselines",
        "/get-baseline-operation" => "GetBaselineOperation",
        other => return error("ResourceNotFoundException", &format!("the stand-in does not serve {other}")),
    };
    s.calls.push(op.to_string());
    let page = |all: Vec<Value>, key: &str| super::service_catalog::ct_page(req, all, key);
    let now = Instant::now();
    match op {
        "ListLandingZones" => (200, json!({"landingZones": [{"arn": LANDING_ZONE_ARN}]})),
        "GetLandingZone" => {
            if req["landingZoneIdentifier"] != LANDING_ZONE_ARN {
                return error("ResourceNotFoundException", "no such landing zone");
            }
            let mut lz = json!({
                "arn": LANDING_ZONE_ARN, "version": "3.3", "latestAvailableVersion": "3.3", "status": "ACTIVE",
                "manifest": {"governedRegions": ["us-east-1"]}, "driftStatus": {"status": "IN_SYNC"},
            });
            if s.auto_enroll {
                lz["remediationTypes"] = json!(["INHERITANCE_DRIFT"]);
            }
            (200, json!({ "landingZone": lz }))
        }
        "ListBaselines" => page(super::service_catalog::ct_baselines(), "baselines"),
        "GetBaselineOperation" => {
            let id = req["operationIdentifier"].as_str().unwrap_or_default();
            let Some((account, ou, failure)) = s.operations.get(id) else {
                return error("ResourceNotFoundException", &format!("no baseline operation {id}"));
            };
            let running = s.enrollments.get(account).is_some_and(|e| e.operation == id && now < e.end);
            let status = match (running, failure) {
                (true, _) => "IN_PROGRESS",
                (false, None) => "SUCCEEDED",
                (false, Some(_)) => "FAILED",
            };
            let mut op = json!({"operationIdentifier": id, "operationType": "ENABLE_BASELINE", "status": status});
            op["statusMessage"] =
                json!(failure.clone().unwrap_or_else(|| format!("account {account} enrolled in {ou}")));
            (200, json!({ "baselineOperation": op }))
        }
        _ => {
            let filter = &req["filter"];
            let wanted =
                |key: &str, v: &str| filter[key].as_array().is_none_or(|a| a.is_empty() || a.iter().any(|x| x == v));
            let children = req["includeChildren"] == true;
            let mut all = Vec::new();
            let mut ous: Vec<(&String, &String)> = s.registered.iter().collect();
            ous.sort();
            for (ou, parent_arn) in ous {
                let members: Vec<&Enrollment> = s.enrollments.values().filter(|e| &e.ou == ou).collect();
                let drifted = members.iter().any(|e| e.status(now) != "SUCCEEDED")
                    || s.members.iter().any(|(a, o)| o == ou && !s.enrollments.contains_key(a));
                let target = format!("{}/{ou}", ob.prefix.replace(":account/", ":ou/"));
                let parent = json!({
                    "arn": parent_arn, "baselineIdentifier": CT_BASELINE_ARN, "baselineVersion": "4.0",
                    "targetIdentifier": target, "statusSummary": {"status": "SUCCEEDED"},
                    "driftStatusSummary": {"types": {"inheritance": {"status": if drifted { "DRIFTED" } else { "IN_SYNC" }}}},
                });
                if wanted("baselineIdentifiers", CT_BASELINE_ARN)
                    && wanted("targetIdentifiers", &target)
                    && wanted("statuses", "SUCCEEDED")
                    && filter["parentIdentifiers"].as_array().is_none_or(|a| a.is_empty())
                {
                    all.push(parent);
                }
                if !children {
                    continue;
                }
                let mut members = members;
                members.sort_by(|a, b| a.account.cmp(&b.account));
                for e in members {
                    let status = e.status(now);
                    let target = format!("{}/{}", ob.prefix, e.account);
                    if wanted("baselineIdentifiers", CT_BASELINE_ARN)
                        && wanted("parentIdentifiers", parent_arn)
                        && wanted("targetIdentifiers", &target)
                        && wanted("statuses", status)
                    {
                        all.push(json!({
                            "arn": format!("{parent_arn}/{}", e.account), "baselineIdentifier": CT_BASELINE_ARN,
                            "baselineVersion": "4.0", "targetIdentifier": target, "parentIdentifier": parent_arn,
                            "statusSummary": {"status": status, "lastOperationIdentifier": e.operation},
                            "driftStatusSummary": {"types": {"inheritance": {"status": if status == "SUCCEEDED" { "IN_SYNC" } else { "DRIFTED" }}}},
                        }));
                    }
                }
            }
            page(all, "enabledBaselines")
        }
    }
}

/// Runs `f` to its end on a runtime of its own, in a thread of its own: the stand-in is called
/// from the tests' async code too, where blocking the thread on a runtime is not allowed.
fn block_on<F: std::future::Future + Send>(f: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f))
            .join()
            .unwrap()
    })
}
