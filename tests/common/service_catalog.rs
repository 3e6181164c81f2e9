//! A stand-in for the Service Catalog "AWS Control Tower Account Factory", owned by the tests.
//!
//! moto has no Service Catalog provisioning (ProvisionProduct and friends answer HTTP 500), and
//! there is no Control Tower API at all. This loopback server speaks the AWS JSON 1.1 protocol for
//! exactly the Service Catalog calls the provider makes (DescribeProductAsAdmin,
//! DescribeProvisioningArtifact, ProvisionProduct, DescribeRecord, SearchProvisionedProducts,
//! UpdateProvisionedProduct, GetProvisionedProductOutputs, TerminateProvisionedProduct), and
//! restJson1 for Control Tower's ListBaselines and ListEnabledBaselines (`POST /list-baselines`,
//! `POST /list-enabled-baselines`, routed by path on the same server), and behaves as Service
//! Catalog and Control Tower document (sources in docs/reliability.md):
//! - a provisioning or update is a record (`CREATED` → `IN_PROGRESS` → `SUCCEEDED` | `FAILED`)
//!   that takes the configured delay; the product is `UNDER_CHANGE` meanwhile. Control Tower
//!   creates the account half-way (it is in Organizations while its baseline still runs) and
//!   places it in the OU given as `Name` or `Name (ou-…)`; a bare `ou-…` id, or an OU marked with
//!   [`ServiceCatalog::fail_ou`] (not enrolled), fails the record;
//! - a failed provisioning leaves the product `ERROR`, a failed update `TAINTED`; both keep their
//!   name (a second ProvisionProduct of that name is `DuplicateResourceException`) and recover with
//!   an UpdateProvisionedProduct, or go with TerminateProvisionedProduct;
//! - an idempotency token (`ProvisionToken`, `UpdateToken`, `TerminateToken`) identifies one
//!   request: sent again, it answers that request's record and does nothing else, even when the
//!   record failed;
//! - Control Tower runs at most [`CONTROL_TOWER_LIMIT`] account operations at once
//!   ([`ServiceCatalog::set_limit`]: the quota can be raised to 10); one more is accepted by
//!   Service Catalog and then fails with `ResourceInUseException` "another AWS Control Tower
//!   operation is in progress" (AFT #363), leaving the product `ERROR` or `TAINTED`. Provisionings,
//!   updates, terminations and baseline operations all count;
//! - the Account Factory product has provisioning artifacts (versions); [`ServiceCatalog::retire_artifact`]
//!   publishes a new one and makes the others inactive, and Service Catalog refuses to provision or
//!   update from an inactive artifact (`InvalidParametersException`);
//! - [`ServiceCatalog::refuse_error_updates`]: an UpdateProvisionedProduct of a product in `ERROR` is
//!   refused (`InvalidStateException`, CloudFormation's "… is in ROLLBACK_COMPLETE state and can not be
//!   updated"): AWS documents nothing for the Account Factory product, so both answers are modelled;
//! - TerminateProvisionedProduct is a record like the others (the product `UNDER_CHANGE`, refused
//!   while it is); when it succeeds the product is gone and its account unenrolled: moved to the
//!   root, left open. Its token, sent again after that, answers `ResourceNotFoundException`;
//! - a ProvisionProduct whose `AccountEmail` is an existing account of the organization enrolls it:
//!   no CreateAccount, the account is moved to the OU and becomes the product's `PhysicalId`;
//! - ListEnabledBaselines shows the `AWSControlTowerBaseline` of each product's account
//!   (`UNDER_CHANGE` while the product is) and [`ServiceCatalog::foreign_baselines`], baseline
//!   operations started outside Account Factory, which count against the limit;
//!   [`ServiceCatalog::deny_control_tower`] answers AccessDenied to both Control Tower calls;
//! - [`ServiceCatalog::foreign`] starts operations as another principal: they count against the
//!   limit and are seen only by a search with the `Account` access level filter;
//!   [`ServiceCatalog::provision_for`] provisions a product for another request (another
//!   configuration, AFT, the console);
//! - GetProvisionedProductOutputs answers the Account Factory product's outputs: `AccountEmail`
//!   and `SSOUserEmail` as the product was last provisioned or updated with, `AccountId` once
//!   Control Tower made the account (AWS does not document the outputs of a product whose
//!   provisioning failed; the stand-in answers the parameters it was sent).
//!
//! It records the peak number of operations in flight. It is a test double, documented as such;
//! the provider talks to it through `AWS_ENDPOINT_URL_SERVICE_CATALOG` and
//! `AWS_ENDPOINT_URL_CONTROLTOWER`, the standard per-service endpoint variables
//! ([`ServiceCatalog::route`]), or behind the proxy ([`ServiceCatalog::routes`]).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{Value, json};

/// The product the stand-in offers.
pub const PRODUCT_NAME: &str = "AWS Control Tower Account Factory";
const PRODUCT_ID: &str = "prod-aftstandin01";
/// The artifact products are provisioned from until [`ServiceCatalog::retire_artifact`].
pub const ARTIFACT_ID: &str = "pa-aftstandin01";
/// Control Tower's default limit on concurrent account operations in one organization.
pub const CONTROL_TOWER_LIMIT: usize = 5;
/// The error Control Tower gives an operation beyond its limit (AFT issue #363), with its code.
pub const BUSY: &str = "Account Factory cannot complete an operation on this account, because another AWS Control Tower operation is in progress. Try again later.";
const BUSY_CODE: &str = "ResourceInUseException";
/// The ARN of the `AWSControlTowerBaseline` baseline.
pub const CT_BASELINE_ARN: &str = "arn:aws:controltower:us-east-1::baseline/17BSJV3IGJ2QSGA2";

/// One provisioned product, as SearchProvisionedProducts shows it.
#[derive(Clone, Debug)]
pub struct Provisioned {
    pub id: String,
    pub name: String,
    pub status: String,
    pub physical_id: Option<String>,
    pub last_record: String,
    pub last_success: Option<String>,
    /// Started by the caller (seen without an access level filter) or by another principal.
    pub mine: bool,
    /// The parameters it was last provisioned or updated with.
    pub parameters: HashMap<String, String>,
    /// The provisioning artifact it was last provisioned or updated from.
    pub artifact: String,
}

struct Record {
    status: String,
    /// (code, description) of each error.
    errors: Vec<(String, String)>,
    detail: Value,
}

/// A baseline operation started outside Account Factory ([`ServiceCatalog::foreign_baselines`]).
struct Baseline {
    target: String,
    status: String,
}

#[derive(Default)]
struct State {
    products: Vec<Provisioned>,
    records: HashMap<String, Record>,
    tokens: HashMap<String, String>,
    in_flight: usize,
    peak: usize,
    provisioned: usize,
    updated: usize,
    recovered: usize,
    refused: usize,
    replayed: usize,
    terminated: usize,
    calls: Vec<String>,
    ous: Vec<String>,
    fail_ous: Vec<String>,
    on_account: Option<AccountHook>,
    /// Principals associated with the Account Factory portfolio (none at first: AFT's request
    /// processor, or the provider, associates `AWSAFTService`).
    associated: Vec<String>,
    /// AssociatePrincipalWithPortfolio answers AccessDenied (a principal without the permission).
    deny_association: bool,
    /// The product's provisioning artifacts and whether each is active.
    artifacts: Vec<(String, bool)>,
    /// Control Tower's limit of concurrent account operations.
    limit: usize,
    refuse_error_updates: bool,
    refused_updates: usize,
    deny_control_tower: bool,
    baselines: Vec<Baseline>,
    enrolled: usize,
    /// Records run to their end only while this is false ([`ServiceCatalog::hold`]).
    held: bool,
}

/// What [`ServiceCatalog::on_account`] runs in each new account.
type AccountHook = Arc<dyn Fn(&str) + Send + Sync>;

/// What the stand-in did, for assertions.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Provisionings that succeeded (including those finished by a recovering update).
    pub provisioned: usize,
    /// Updates that succeeded.
    pub updated: usize,
    /// Products brought back from `ERROR` or `TAINTED` by an update.
    pub recovered: usize,
    /// Operations Control Tower refused because it was at its limit.
    pub refused: usize,
    /// Requests answered from their token.
    pub replayed: usize,
    pub terminated: usize,
    /// The most operations in flight at once (the caller's and others').
    pub peak: usize,
    /// Existing accounts enrolled by a ProvisionProduct with their email.
    pub enrolled: usize,
    /// Updates of a product in `ERROR` refused ([`ServiceCatalog::refuse_error_updates`]).
    pub refused_updates: usize,
}

/// A running stand-in.
pub struct ServiceCatalog {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
    ct: SdkConfig,
    delay: Duration,
}

impl ServiceCatalog {
    /// Starts the stand-in; accounts are created in the organization of `ct`; every record
    /// takes `delay`.
    pub fn start(ct: SdkConfig, delay: Duration) -> ServiceCatalog {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            artifacts: vec![("pa-oldinactive01".into(), false), (ARTIFACT_ID.into(), true)],
            limit: CONTROL_TOWER_LIMIT,
            ..State::default()
        }));
        let st = state.clone();
        let ct2 = ct.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let ct = ct2.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, &ct, delay);
                });
            }
        });
        ServiceCatalog { endpoint, state, ct, delay }
    }

    /// The most operations that were in flight at once.
    pub fn peak(&self) -> usize {
        self.state.lock().unwrap().peak
    }

    /// How many provisionings and updates succeeded.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.provisioned, s.updated)
    }

    /// Everything it counted.
    pub fn report(&self) -> Report {
        let s = self.state.lock().unwrap();
        Report {
            provisioned: s.provisioned,
            updated: s.updated,
            recovered: s.recovered,
            refused: s.refused,
            replayed: s.replayed,
            terminated: s.terminated,
            peak: s.peak,
            enrolled: s.enrolled,
            refused_updates: s.refused_updates,
        }
    }

    /// The `--route` arguments that put the stand-in behind the proxy, for Service Catalog and
    /// Control Tower.
    pub fn routes(&self) -> Vec<String> {
        vec![format!("servicecatalog={}", self.endpoint), format!("controltower={}", self.endpoint)]
    }

    /// Points a working directory's provider at the stand-in for Service Catalog and Control Tower.
    pub fn route(&self, tf: &mut super::Tf) {
        tf.env("AWS_ENDPOINT_URL_SERVICE_CATALOG", &self.endpoint);
        tf.env("AWS_ENDPOINT_URL_CONTROLTOWER", &self.endpoint);
    }

    /// Control Tower's limit of concurrent account operations from now on (5 by default; the
    /// quota can be raised to 10).
    pub fn set_limit(&self, n: usize) {
        self.state.lock().unwrap().limit = n;
    }

    /// Publishes a new version of the Account Factory product (as a landing-zone update does) and
    /// makes every other one inactive; returns the new artifact's id. Products keep the artifact
    /// they were provisioned from.
    pub fn retire_artifact(&self) -> String {
        let mut s = self.state.lock().unwrap();
        let id = format!("pa-aftstandin{:02}", s.artifacts.len());
        for a in s.artifacts.iter_mut() {
            a.1 = false;
        }
        s.artifacts.push((id.clone(), true));
        id
    }

    /// From now on an UpdateProvisionedProduct of a product in `ERROR` is refused, as
    /// CloudFormation refuses to update a stack whose creation failed (`false`: updated, as AWS
    /// documents for a provisioned product).
    pub fn refuse_error_updates(&self, refuse: bool) {
        self.state.lock().unwrap().refuse_error_updates = refuse;
    }

    /// ListBaselines and ListEnabledBaselines answer AccessDeniedException (a principal without
    /// the Control Tower permissions), or answer again (`false`).
    pub fn deny_control_tower(&self, deny: bool) {
        self.state.lock().unwrap().deny_control_tower = deny;
    }

    /// Starts `n` Control Tower baseline operations outside Account Factory (enabling or resetting
    /// `AWSControlTowerBaseline` on an OU or an enrolled account), each `UNDER_CHANGE` until
    /// `lasting` after the next Account Factory operation (see [`ServiceCatalog::foreign`]): they
    /// count against the limit and show only in ListEnabledBaselines.
    pub fn foreign_baselines(&self, n: usize, lasting: Duration) {
        let before = operations(&self.state.lock().unwrap());
        for i in 0..n {
            let target = match i % 2 {
                0 => format!("arn:aws:organizations::000000000000:ou/o-standin/ou-stan-{}", &short_id("x")[2..10]),
                _ => format!("arn:aws:organizations::000000000000:account/o-standin/9{:011}", rand_digits()),
            };
            {
                let mut s = self.state.lock().unwrap();
                s.baselines.push(Baseline { target: target.clone(), status: "UNDER_CHANGE".into() });
                begin(&mut s);
            }
            let st = self.state.clone();
            std::thread::spawn(move || {
                wait_for_operation(&st, before);
                std::thread::sleep(lasting);
                let mut s = st.lock().unwrap();
                s.in_flight -= 1;
                if let Some(b) = s.baselines.iter_mut().find(|b| b.target == target) {
                    b.status = "SUCCEEDED".into();
                }
            });
        }
    }

    /// While `true`, records that reach their end wait there (the product stays `UNDER_CHANGE`,
    /// the record `IN_PROGRESS`), so a test can act while one is certainly in flight.
    pub fn hold(&self, held: bool) {
        self.state.lock().unwrap().held = held;
    }

    /// A product of this name left `ERROR` by a provisioning that failed before Control Tower
    /// made the account, with these parameters (none: nothing says whose request it is).
    pub fn failed_product(&self, name: &str, parameters: &[(&str, &str)]) {
        let mut s = self.state.lock().unwrap();
        let rec = short_id("rec");
        s.records.insert(
            rec.clone(),
            Record {
                status: "FAILED".into(),
                errors: vec![("ProvisioningFailed".into(), "failed before the account was made".into())],
                detail: json!({"RecordId": rec, "Status": "FAILED", "RecordType": "PROVISION_PRODUCT"}),
            },
        );
        s.products.push(Provisioned {
            id: short_id("pp"),
            name: name.to_string(),
            status: "ERROR".into(),
            physical_id: None,
            last_record: rec,
            last_success: None,
            mine: false,
            parameters: parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            artifact: ARTIFACT_ID.into(),
        });
    }

    /// The operations called, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
    }

    /// The `ManagedOrganizationalUnit` values it received, in order.
    pub fn ous(&self) -> Vec<String> {
        self.state.lock().unwrap().ous.clone()
    }

    /// Every provisioned product.
    pub fn products(&self) -> Vec<Provisioned> {
        self.state.lock().unwrap().products.clone()
    }

    /// Control Tower refuses this OU (by name) from now on, as it does an OU that is not enrolled;
    /// `false` enrols it again.
    pub fn fail_ou(&self, name: &str, fail: bool) {
        let mut s = self.state.lock().unwrap();
        s.fail_ous.retain(|o| o != name);
        if fail {
            s.fail_ous.push(name.to_string());
        }
    }

    /// Runs `f` with each account Control Tower makes, while its baseline still runs (the account
    /// exists, its record has not succeeded yet): what a StackSet or Customizations for Control
    /// Tower deploys into a new account before the provider's framework run sees it.
    pub fn on_account(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.state.lock().unwrap().on_account = Some(Arc::new(f));
    }

    /// The principals associated with the Account Factory portfolio.
    pub fn associated(&self) -> Vec<String> {
        self.state.lock().unwrap().associated.clone()
    }

    /// Makes AssociatePrincipalWithPortfolio answer AccessDenied.
    pub fn deny_association(&self) {
        self.state.lock().unwrap().deny_association = true;
    }

    /// Starts `n` account operations as another principal (another AFT, the console), each in
    /// flight until `lasting` after the next Account Factory operation (ProvisionProduct,
    /// UpdateProvisionedProduct or TerminateProvisionedProduct) reaches the stand-in. Counting
    /// from that call rather than from now keeps them in flight when the provider meets them
    /// however long Terraform takes to get there on a loaded machine.
    pub fn foreign(&self, n: usize, lasting: Duration) {
        let before = operations(&self.state.lock().unwrap());
        for _ in 0..n {
            let (pp, rec) = (short_id("pp"), short_id("rec"));
            {
                let mut s = self.state.lock().unwrap();
                s.products.push(Provisioned {
                    id: pp.clone(),
                    name: format!("console-{pp}"),
                    status: "UNDER_CHANGE".into(),
                    physical_id: None,
                    last_record: rec.clone(),
                    last_success: None,
                    mine: false,
                    parameters: HashMap::new(),
                    artifact: ARTIFACT_ID.into(),
                });
                s.records
                    .insert(rec.clone(), Record { status: "IN_PROGRESS".into(), errors: vec![], detail: json!({}) });
                begin(&mut s);
            }
            let st = self.state.clone();
            std::thread::spawn(move || {
                wait_for_operation(&st, before);
                std::thread::sleep(lasting);
                let mut s = st.lock().unwrap();
                s.in_flight -= 1;
                finish(&mut s, &pp, &rec, Ok(None), "AVAILABLE");
            });
        }
    }

    /// Another request provisions product `name` (ProvisionProduct with a token of its own) with
    /// these parameters; it runs and ends like any other (see [`ServiceCatalog::fail_ou`]).
    pub fn provision_for(&self, name: &str, parameters: &[(&str, &str)]) -> Value {
        let params: Vec<Value> = parameters.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let req = json!({
            "ProductId": PRODUCT_ID, "ProvisioningArtifactId": self.active_artifact(), "ProvisionedProductName": name,
            "ProvisioningParameters": params, "ProvisionToken": uuid::Uuid::new_v4().to_string(),
        });
        let (status, out) = handle("ProvisionProduct", &req, &self.state, &self.ct, self.delay);
        assert_eq!(status, 200, "{out}");
        out
    }

    /// Another request updates its product `name` (UpdateProvisionedProduct with a token of its
    /// own) with these parameters.
    pub fn update_for(&self, name: &str, parameters: &[(&str, &str)]) -> Value {
        let id = self.products().into_iter().find(|p| p.name == name).expect("the product exists").id;
        let params: Vec<Value> = parameters.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
        let req = json!({
            "ProvisionedProductId": id, "ProductId": PRODUCT_ID, "ProvisioningArtifactId": self.active_artifact(),
            "ProvisioningParameters": params, "UpdateToken": uuid::Uuid::new_v4().to_string(),
        });
        let (status, out) = handle("UpdateProvisionedProduct", &req, &self.state, &self.ct, self.delay);
        assert_eq!(status, 200, "{out}");
        out
    }

    /// Waits until product `name` leaves `UNDER_CHANGE`; returns it.
    pub fn settled(&self, name: &str) -> Provisioned {
        let deadline = std::time::Instant::now() + self.delay * 20 + Duration::from_secs(10);
        loop {
            let p = self.products().into_iter().find(|p| p.name == name).expect("the product exists");
            if p.status != "UNDER_CHANGE" {
                return p;
            }
            assert!(std::time::Instant::now() < deadline, "{name} never settled: {p:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What a user does to a product left `ERROR`: TerminateProvisionedProduct (by name); returns
    /// once its record has ended.
    pub fn terminate(&self, name: &str) -> Value {
        let req = json!({"ProvisionedProductName": name, "TerminateToken": uuid::Uuid::new_v4().to_string()});
        let (status, out) = handle("TerminateProvisionedProduct", &req, &self.state, &self.ct, self.delay);
        assert_eq!(status, 200, "{out}");
        let rec = out["RecordDetail"]["RecordId"].as_str().unwrap().to_string();
        let deadline = std::time::Instant::now() + self.delay * 20 + Duration::from_secs(10);
        while matches!(self.state.lock().unwrap().records[&rec].status.as_str(), "CREATED" | "IN_PROGRESS") {
            assert!(std::time::Instant::now() < deadline, "the termination of {name} never ended");
            std::thread::sleep(Duration::from_millis(50));
        }
        out
    }

    /// The artifact Service Catalog offers now.
    pub fn active_artifact(&self) -> String {
        self.state.lock().unwrap().artifacts.iter().rev().find(|a| a.1).expect("an active artifact").0.clone()
    }

    /// The delay of every record.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// The organization's session the stand-in works in.
    pub fn ct(&self) -> &SdkConfig {
        &self.ct
    }
}

fn short_id(prefix: &str) -> String {
    format!("{prefix}-{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

fn rand_digits() -> u64 {
    (uuid::Uuid::new_v4().as_u128() % 100_000_000_000) as u64
}

/// How many Account Factory operations (ProvisionProduct, UpdateProvisionedProduct,
/// TerminateProvisionedProduct) reached the stand-in (caller holds the lock).
fn operations(s: &State) -> usize {
    const OPERATIONS: [&str; 3] = ["ProvisionProduct", "UpdateProvisionedProduct", "TerminateProvisionedProduct"];
    s.calls.iter().filter(|c| OPERATIONS.contains(&c.as_str())).count()
}

/// Waits until more than `before` Account Factory operations have reached the stand-in (the
/// first one after a foreign operation started), or five minutes at most.
fn wait_for_operation(st: &Mutex<State>, before: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    while operations(&st.lock().unwrap()) == before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One more operation in flight (caller holds the lock); false when Control Tower is at its limit.
fn begin(s: &mut State) -> bool {
    let room = s.in_flight < s.limit;
    s.in_flight += 1;
    s.peak = s.peak.max(s.in_flight);
    room
}

/// A record's end: the product's status and, on success, its account (caller holds the lock).
fn finish(s: &mut State, pp: &str, rec: &str, result: Result<Option<String>, (String, String)>, failed_status: &str) {
    let Some(product) = s.products.iter_mut().find(|x| x.id == pp) else { return };
    let (status, errors) = match result {
        Ok(account) => {
            if account.is_some() {
                product.physical_id = account;
            }
            product.status = "AVAILABLE".into();
            product.last_success = Some(rec.to_string());
            ("SUCCEEDED", vec![])
        }
        Err(e) => {
            product.status = failed_status.into();
            ("FAILED", vec![e])
        }
    };
    if let Some(r) = s.records.get_mut(rec) {
        r.status = status.into();
        r.errors = errors;
    }
}

fn serve(conn: TcpStream, st: &Arc<Mutex<State>>, ct: &SdkConfig, delay: Duration) -> std::io::Result<()> {
    let mut rd = BufReader::new(conn.try_clone()?);
    let mut target = String::new();
    let mut len = 0usize;
    let mut line = String::new();
    rd.read_line(&mut line)?;
    // restJson1 (Control Tower) names the operation by its path
    let path = line.split_whitespace().nth(1).unwrap_or_default().split('?').next().unwrap_or_default().to_string();
    loop {
        line.clear();
        rd.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "x-amz-target" => target = v.trim().to_string(),
                "content-length" => len = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0u8; len];
    rd.read_exact(&mut body)?;
    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let rest_op = match path.as_str() {
        "/list-baselines" => Some("ListBaselines"),
        "/list-enabled-baselines" => Some("ListEnabledBaselines"),
        _ => None,
    };
    if let Some(op) = rest_op {
        st.lock().unwrap().calls.push(op.to_string());
        let (status, resp) = control_tower(op, &req, st);
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
        return w.flush();
    }
    let op = target.rsplit('.').next().unwrap_or_default().to_string();
    st.lock().unwrap().calls.push(op.clone());
    // The caller (the provider's AWSAFTService) has no launch path until it is associated with
    // the product's portfolio: AWS answers ResourceNotFoundException "No launch paths found for
    // resource" (Service Catalog: granting access to users). Other principals (`provision_for`,
    // `foreign`) have their own.
    let no_launch_path = matches!(op.as_str(), "ProvisionProduct" | "UpdateProvisionedProduct")
        && st.lock().unwrap().associated.is_empty();
    let (status, resp) = if no_launch_path {
        error("ResourceNotFoundException", &format!("No launch paths found for resource: {PRODUCT_ID}"))
    } else {
        handle(&op, &req, st, ct, delay)
    };
    let text = resp.to_string();
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {status} {}\r\nContent-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        if status == 200 { "OK" } else { "Bad Request" },
        uuid::Uuid::new_v4(),
        text.len()
    )?;
    w.flush()
}

fn error(kind: &str, msg: &str) -> (u16, Value) {
    (400, json!({"__type": kind, "message": msg}))
}

/// The parameters a request sets; one with `UsePreviousValue` keeps the product's value, so it is
/// left out.
fn params(req: &Value) -> HashMap<String, String> {
    req["ProvisioningParameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["UsePreviousValue"] != true)
        .map(|p| {
            (p["Key"].as_str().unwrap_or_default().to_string(), p["Value"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn view(p: &Provisioned) -> Value {
    json!({
        "Id": p.id, "Name": p.name, "Status": p.status, "PhysicalId": p.physical_id,
        "LastRecordId": p.last_record, "LastSuccessfulProvisioningRecordId": p.last_success,
        "ProductId": PRODUCT_ID, "ProvisioningArtifactId": p.artifact, "Type": "CONTROL_TOWER_ACCOUNT",
    })
}

/// Control Tower's Account Factory portfolio (its display name is AFT's lookup key).
const PORTFOLIO_ID: &str = "port-aftfactory01";

fn handle(op: &str, req: &Value, st: &Arc<Mutex<State>>, ct: &SdkConfig, delay: Duration) -> (u16, Value) {
    match op {
        "ListPortfolios" => (
            200,
            json!({"PortfolioDetails": [
                {"Id": "port-other000001", "DisplayName": "Another portfolio", "ProviderName": "someone"},
                {"Id": PORTFOLIO_ID, "DisplayName": "AWS Control Tower Account Factory Portfolio", "ProviderName": "AWS Control Tower"},
            ]}),
        ),
        "AssociatePrincipalWithPortfolio" => {
            let mut s = st.lock().unwrap();
            if s.deny_association {
                return error(
                    "AccessDeniedException",
                    "User is not authorized to perform: servicecatalog:AssociatePrincipalWithPortfolio",
                );
            }
            if req["PortfolioId"] != PORTFOLIO_ID || req["PrincipalType"] != "IAM" {
                return error("InvalidParametersException", "unknown portfolio or principal type");
            }
            let principal = req["PrincipalARN"].as_str().unwrap_or_default().to_string();
            if !s.associated.contains(&principal) {
                s.associated.push(principal);
            }
            (200, json!({}))
        }
        "DescribeProductAsAdmin" => {
            if req["Name"] != PRODUCT_NAME && req["Id"] != PRODUCT_ID {
                return error("ResourceNotFoundException", "no such product");
            }
            let summaries: Vec<Value> =
                st.lock().unwrap().artifacts.iter().map(|(id, _)| json!({"Id": id, "Name": id})).collect();
            (
                200,
                json!({
                    "ProductViewDetail": {"ProductViewSummary": {"Id": "prodview-1", "ProductId": PRODUCT_ID, "Name": PRODUCT_NAME}, "Status": "AVAILABLE"},
                    "ProvisioningArtifactSummaries": summaries,
                }),
            )
        }
        "DescribeProvisioningArtifact" => {
            let id = req["ProvisioningArtifactId"].as_str().unwrap_or_default();
            let active = st.lock().unwrap().artifacts.iter().find(|a| a.0 == id).map(|a| a.1);
            match active {
                Some(active) => (
                    200,
                    json!({"ProvisioningArtifactDetail": {"Id": id, "Name": id, "Active": active}, "Status": "AVAILABLE"}),
                ),
                None => error("ResourceNotFoundException", &format!("Provisioning artifact {id} not found")),
            }
        }
        "ProvisionProduct" => {
            if let Some(refused) = refused_artifact(req, st) {
                return refused;
            }
            let p = params(req);
            for k in [
                "AccountEmail",
                "AccountName",
                "ManagedOrganizationalUnit",
                "SSOUserEmail",
                "SSOUserFirstName",
                "SSOUserLastName",
            ] {
                if !p.contains_key(k) {
                    return error("InvalidParametersException", &format!("missing parameter {k}"));
                }
            }
            let name = req["ProvisionedProductName"].as_str().unwrap_or_default().to_string();
            let token = req["ProvisionToken"].as_str().unwrap_or_default().to_string();
            let (rec, pp, room) = {
                let mut s = st.lock().unwrap();
                if let Some(answer) = replay(&mut s, &token) {
                    return answer;
                }
                if s.products.iter().any(|x| x.name == name) {
                    return error("DuplicateResourceException", &format!("A stack named {name} already exists"));
                }
                let (rec, pp) = (short_id("rec"), short_id("pp"));
                s.ous.push(p["ManagedOrganizationalUnit"].clone());
                s.products.push(Provisioned {
                    id: pp.clone(),
                    name: name.clone(),
                    status: "UNDER_CHANGE".into(),
                    physical_id: None,
                    last_record: rec.clone(),
                    last_success: None,
                    mine: true,
                    parameters: p.clone(),
                    artifact: req["ProvisioningArtifactId"].as_str().unwrap_or_default().to_string(),
                });
                let detail = json!({"RecordId": rec, "Status": "CREATED", "ProvisionedProductName": name, "ProvisionedProductId": pp, "RecordType": "PROVISION_PRODUCT"});
                s.records
                    .insert(rec.clone(), Record { status: "CREATED".into(), errors: vec![], detail: detail.clone() });
                s.tokens.insert(token, rec.clone());
                let room = begin(&mut s);
                (rec, pp, room)
            };
            let (st2, ct2, rec2) = (st.clone(), ct.clone(), rec.clone());
            std::thread::spawn(move || run(&st2, &ct2, &pp, &rec2, delay, room, Work::Create(p), "ERROR", false));
            answer(st, &rec)
        }
        "DescribeRecord" => {
            let id = req["Id"].as_str().unwrap_or_default();
            let s = st.lock().unwrap();
            match s.records.get(id) {
                Some(r) => (
                    200,
                    json!({"RecordDetail": {
                    "RecordId": id, "Status": r.status,
                    "RecordErrors": r.errors.iter().map(|(c, d)| json!({"Code": c, "Description": d})).collect::<Vec<_>>(),
                }, "RecordOutputs": []}),
                ),
                None => error("ResourceNotFoundException", "no such record"),
            }
        }
        "SearchProvisionedProducts" => {
            let query = req["Filters"]["SearchQuery"][0].as_str().unwrap_or_default().to_string();
            // without the Account access level, a search shows only the caller's own products
            let everyone = req["AccessLevelFilter"]["Key"] == "Account";
            let s = st.lock().unwrap();
            let hits: Vec<Value> = s
                .products
                .iter()
                .filter(|p| everyone || p.mine)
                .filter(|p| match query.split_once(':') {
                    Some(("name", n)) => p.name == n,
                    Some(("physicalId", id)) => p.physical_id.as_deref() == Some(id),
                    Some(("status", st)) => p.status == st,
                    _ => true,
                })
                .map(view)
                .collect();
            (200, json!({"ProvisionedProducts": hits, "TotalResultsCount": hits.len()}))
        }
        "UpdateProvisionedProduct" => {
            let pp = req["ProvisionedProductId"].as_str().unwrap_or_default().to_string();
            let p = params(req);
            let token = req["UpdateToken"].as_str().unwrap_or_default().to_string();
            if let Some(refused) = refused_artifact(req, st) {
                return refused;
            }
            let (rec, room, work, failed_status, recovering) = {
                let mut s = st.lock().unwrap();
                if let Some(answer) = replay(&mut s, &token) {
                    return answer;
                }
                let rec = short_id("rec");
                let refuse_error = s.refuse_error_updates;
                let Some(prod) = s.products.iter_mut().find(|x| x.id == pp) else {
                    return error("ResourceNotFoundException", "no such provisioned product");
                };
                if prod.status == "UNDER_CHANGE" {
                    return error("InvalidStateException", "the provisioned product is under change");
                }
                if refuse_error && prod.status == "ERROR" {
                    let msg = format!(
                        "Stack:arn:aws:cloudformation:us-east-1:000000000000:stack/SC-000000000000-{}/{} is in \
                         ROLLBACK_COMPLETE state and can not be updated.",
                        prod.id,
                        uuid::Uuid::new_v4()
                    );
                    s.refused_updates += 1;
                    return error("InvalidStateException", &msg);
                }
                let recovering = matches!(prod.status.as_str(), "ERROR" | "TAINTED");
                prod.status = "UNDER_CHANGE".into();
                prod.last_record = rec.clone();
                prod.artifact = req["ProvisioningArtifactId"].as_str().unwrap_or_default().to_string();
                // the values the update sent; the others (UsePreviousValue) as they were
                prod.parameters.extend(p.clone());
                // a product whose provisioning failed before Control Tower made the account is
                // provisioned by the update; otherwise the update moves the account
                let (work, failed_status) = match prod.physical_id.clone() {
                    Some(account) => (Work::Move { account, params: prod.parameters.clone() }, "TAINTED"),
                    None => (Work::Create(prod.parameters.clone()), "ERROR"),
                };
                let detail = json!({"RecordId": rec, "Status": "CREATED", "ProvisionedProductId": pp, "RecordType": "UPDATE_PROVISIONED_PRODUCT"});
                s.records.insert(rec.clone(), Record { status: "CREATED".into(), errors: vec![], detail });
                s.tokens.insert(token, rec.clone());
                if let Some(ou) = p.get("ManagedOrganizationalUnit") {
                    s.ous.push(ou.clone());
                }
                let room = begin(&mut s);
                (rec, room, work, failed_status, recovering)
            };
            let (st2, ct2, rec2) = (st.clone(), ct.clone(), rec.clone());
            std::thread::spawn(move || run(&st2, &ct2, &pp, &rec2, delay, room, work, failed_status, recovering));
            answer(st, &rec)
        }
        "GetProvisionedProductOutputs" => {
            let s = st.lock().unwrap();
            let by_name = req["ProvisionedProductName"].as_str();
            let by_id = req["ProvisionedProductId"].as_str();
            let Some(prod) =
                s.products.iter().find(|x| Some(x.name.as_str()) == by_name || Some(x.id.as_str()) == by_id)
            else {
                return error("ResourceNotFoundException", "no such provisioned product");
            };
            let mut outputs: Vec<(&str, String)> = Vec::new();
            for (key, param) in [("AccountEmail", "AccountEmail"), ("SSOUserEmail", "SSOUserEmail")] {
                if let Some(v) = prod.parameters.get(param) {
                    outputs.push((key, v.clone()));
                }
            }
            if let Some(id) = &prod.physical_id {
                outputs.push(("AccountId", id.clone()));
            }
            // OutputKeys picks some; none asked means all
            let wanted: Vec<&str> =
                req["OutputKeys"].as_array().into_iter().flatten().filter_map(|k| k.as_str()).collect();
            let outputs: Vec<Value> = outputs
                .into_iter()
                .filter(|(k, _)| wanted.is_empty() || wanted.contains(k))
                .map(|(k, v)| json!({"OutputKey": k, "OutputValue": v}))
                .collect();
            (200, json!({"Outputs": outputs}))
        }
        "TerminateProvisionedProduct" => {
            let token = req["TerminateToken"].as_str().unwrap_or_default().to_string();
            let by_name = req["ProvisionedProductName"].as_str();
            let by_id = req["ProvisionedProductId"].as_str();
            let (pp, rec, room, work, before) = {
                let mut s = st.lock().unwrap();
                let found =
                    s.products.iter().position(|x| Some(x.name.as_str()) == by_name || Some(x.id.as_str()) == by_id);
                // "This token is only valid during the termination process. After the provisioned
                // product is terminated, subsequent requests to terminate the same provisioned
                // product always return ResourceNotFound."
                if found.is_some()
                    && let Some(answer) = replay(&mut s, &token)
                {
                    return answer;
                }
                let Some(i) = found else {
                    return error("ResourceNotFoundException", "no such provisioned product");
                };
                if s.products[i].status == "UNDER_CHANGE" {
                    return error("InvalidStateException", "the provisioned product is under change");
                }
                let rec = short_id("rec");
                let prod = &mut s.products[i];
                let before = std::mem::replace(&mut prod.status, "UNDER_CHANGE".into());
                prod.last_record = rec.clone();
                let (pp, name, account) = (prod.id.clone(), prod.name.clone(), prod.physical_id.clone());
                let detail = json!({"RecordId": rec, "Status": "CREATED", "ProvisionedProductId": pp, "ProvisionedProductName": name, "RecordType": "TERMINATE_PROVISIONED_PRODUCT"});
                s.records.insert(rec.clone(), Record { status: "CREATED".into(), errors: vec![], detail });
                s.tokens.insert(token, rec.clone());
                let room = begin(&mut s);
                (pp, rec, room, Work::Terminate { account }, before)
            };
            let (st2, ct2, rec2) = (st.clone(), ct.clone(), rec.clone());
            std::thread::spawn(move || run(&st2, &ct2, &pp, &rec2, delay, room, work, &before, false));
            answer(st, &rec)
        }
        other => error("InvalidParametersException", &format!("{other} is not implemented by the test stand-in")),
    }
}

/// The answer a token already got, when it is sent again (caller holds the lock).
fn replay(s: &mut State, token: &str) -> Option<(u16, Value)> {
    let rec = s.tokens.get(token).filter(|_| !token.is_empty())?.clone();
    s.replayed += 1;
    let r = &s.records[&rec];
    let mut detail = r.detail.clone();
    detail["Status"] = json!(r.status);
    Some((200, json!({"RecordDetail": detail})))
}

fn answer(st: &Arc<Mutex<State>>, rec: &str) -> (u16, Value) {
    let s = st.lock().unwrap();
    (200, json!({"RecordDetail": s.records[rec].detail}))
}

/// What a record does once Control Tower starts on it.
enum Work {
    /// Provision: create the account, or enroll the existing account with that email.
    Create(HashMap<String, String>),
    Move {
        account: String,
        params: HashMap<String, String>,
    },
    /// Terminate the product: Control Tower unenrolls its account (to the root).
    Terminate {
        account: Option<String>,
    },
}

/// A refusal of a ProvisionProduct or UpdateProvisionedProduct naming an unknown product or an
/// inactive artifact ("End users cannot launch or update a provisioned product from an inactive
/// provisioning artifact").
fn refused_artifact(req: &Value, st: &Arc<Mutex<State>>) -> Option<(u16, Value)> {
    if req["ProductId"] != PRODUCT_ID {
        return Some(error("InvalidParametersException", "unknown product"));
    }
    let id = req["ProvisioningArtifactId"].as_str().unwrap_or_default();
    match st.lock().unwrap().artifacts.iter().find(|a| a.0 == id) {
        Some((_, true)) => None,
        Some((_, false)) => Some(error(
            "InvalidParametersException",
            &format!("Provisioning artifact {id} of product {PRODUCT_ID} is not active"),
        )),
        None => Some(error("InvalidParametersException", &format!("Provisioning artifact {id} not found"))),
    }
}

/// One page of a Control Tower list (restJson1), as both Control Tower stand-ins page: by a few,
/// `nextToken` the index of the next item.
pub fn ct_page(req: &Value, all: Vec<Value>, key: &str) -> (u16, Value) {
    const PAGE: usize = 3;
    let start: usize = req["nextToken"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
    let next = (start + PAGE < all.len()).then(|| (start + PAGE).to_string());
    let items: Vec<Value> = all.into_iter().skip(start).take(PAGE).collect();
    let mut out = json!({ key: items });
    if let Some(n) = next {
        out["nextToken"] = json!(n);
    }
    (200, out)
}

/// The landing zone's baselines as `ListBaselines` lists them, `AWSControlTowerBaseline` among them.
pub fn ct_baselines() -> Vec<Value> {
    ["AuditBaseline", "LogArchiveBaseline", "IdentityCenterBaseline", "BackupBaseline", "AWSControlTowerBaseline"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let arn = if *name == "AWSControlTowerBaseline" {
                CT_BASELINE_ARN.to_string()
            } else {
                format!("arn:aws:controltower:us-east-1::baseline/STANDIN{i:09}")
            };
            json!({"arn": arn, "name": name, "description": format!("{name} (stand-in)")})
        })
        .collect()
}

/// Control Tower's ListBaselines and ListEnabledBaselines (restJson1), paged by a few.
fn control_tower(op: &str, req: &Value, st: &Arc<Mutex<State>>) -> (u16, Value) {
    let s = st.lock().unwrap();
    if s.deny_control_tower {
        return error(
            "AccessDeniedException",
            &format!("User is not authorized to perform: controltower:{op} (the stand-in's deny_control_tower)"),
        );
    }
    let page = |all: Vec<Value>, key: &str| ct_page(req, all, key);
    match op {
        "ListBaselines" => page(ct_baselines(), "baselines"),
        _ => {
            let filter = &req["filter"];
            let wanted =
                |key: &str, v: &str| filter[key].as_array().is_none_or(|a| a.is_empty() || a.iter().any(|x| x == v));
            let account_arn = |id: &str| format!("arn:aws:organizations::000000000000:account/o-standin/{id}");
            let mut all: Vec<(String, String)> = s
                .products
                .iter()
                .filter_map(|p| {
                    let status = if p.status == "UNDER_CHANGE" { "UNDER_CHANGE" } else { "SUCCEEDED" };
                    p.physical_id.as_ref().map(|a| (account_arn(a), status.to_string()))
                })
                .collect();
            all.extend(s.baselines.iter().map(|b| (b.target.clone(), b.status.clone())));
            let all = all
                .into_iter()
                .filter(|(target, status)| {
                    wanted("baselineIdentifiers", CT_BASELINE_ARN)
                        && wanted("statuses", status)
                        && wanted("targetIdentifiers", target)
                })
                .enumerate()
                .map(|(i, (target, status))| {
                    json!({
                        "arn": format!("arn:aws:controltower:us-east-1:000000000000:enabledbaseline/STANDIN{i:07}"),
                        "baselineIdentifier": CT_BASELINE_ARN,
                        "baselineVersion": "4.0",
                        "targetIdentifier": target,
                        "statusSummary": {"status": status},
                    })
                })
                .collect();
            page(all, "enabledBaselines")
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    st: &Arc<Mutex<State>>,
    ct: &SdkConfig,
    pp: &str,
    rec: &str,
    delay: Duration,
    room: bool,
    work: Work,
    failed_status: &str,
    recovering: bool,
) {
    let set = |status: &str| {
        if let Some(r) = st.lock().unwrap().records.get_mut(rec) {
            r.status = status.into();
        }
    };
    set("IN_PROGRESS");
    let end = |result: Result<Option<String>, (String, String)>| {
        let mut s = st.lock().unwrap();
        s.in_flight -= 1;
        if result.is_ok() {
            match &work {
                Work::Create(_) => s.provisioned += 1,
                Work::Move { .. } => s.updated += 1,
                Work::Terminate { .. } => s.terminated += 1,
            }
        }
        if let (Work::Terminate { .. }, Ok(_)) = (&work, &result) {
            // a terminated product is gone; its record says so
            s.products.retain(|x| x.id != pp);
            if let Some(r) = s.records.get_mut(rec) {
                r.status = "SUCCEEDED".into();
            }
            return;
        }
        finish(&mut s, pp, rec, result, failed_status);
    };
    let failed = |e: String| ("ProvisioningFailed".to_string(), e);
    if !room {
        std::thread::sleep(delay / 4);
        st.lock().unwrap().refused += 1;
        return end(Err((BUSY_CODE.to_string(), BUSY.to_string())));
    }
    std::thread::sleep(delay / 2);
    let fail_ous = st.lock().unwrap().fail_ous.clone();
    let ou_of = |p: &HashMap<String, String>| p.get("ManagedOrganizationalUnit").cloned().unwrap_or_default();
    let refused_ou = |ou: &str| {
        let name = ou.split(" (").next().unwrap_or(ou);
        fail_ous
            .iter()
            .any(|f| f == name)
            .then(|| format!("The organizational unit {ou} is not registered with AWS Control Tower"))
    };
    let result = match &work {
        Work::Create(p) => match refused_ou(&ou_of(p)) {
            Some(e) => Err(e),
            None => block_on(create_or_enroll(ct, p)).map(|(id, enrolled)| {
                let mut s = st.lock().unwrap();
                if enrolled {
                    s.enrolled += 1;
                }
                // the account exists from here on, while the baseline still runs
                if let Some(prod) = s.products.iter_mut().find(|x| x.id == pp) {
                    prod.physical_id = Some(id.clone());
                }
                id
            }),
        },
        Work::Move { account, params } => match refused_ou(&ou_of(params)) {
            Some(e) => Err(e),
            None => block_on(move_to(ct, account, &ou_of(params))).map(|()| account.clone()),
        },
        // unenrolled: "The account is moved out of any AWS Control Tower OU and into the Root area"
        Work::Terminate { account: Some(account) } => block_on(move_to(ct, account, "Root")).map(|()| account.clone()),
        Work::Terminate { account: None } => Ok(String::new()),
    }
    .map_err(failed);
    if let (Work::Create(_), Ok(id)) = (&work, &result) {
        let hook = st.lock().unwrap().on_account.clone();
        if let Some(f) = hook {
            f(id);
        }
    }
    std::thread::sleep(delay / 2);
    while st.lock().unwrap().held {
        std::thread::sleep(Duration::from_millis(20));
    }
    if recovering && result.is_ok() {
        st.lock().unwrap().recovered += 1;
    }
    end(result.map(Some));
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// Account Factory's OU parameter: `Name` or `Name (ou-…)`, as Control Tower accepts it.
async fn find_ou(org: &aws_sdk_organizations::Client, spec: &str) -> Result<String, String> {
    if let Some(open) = spec.rfind(" (") {
        return Ok(spec[open + 2..].trim_end_matches(')').to_string());
    }
    let root = org.list_roots().send().await.map_err(|e| e.to_string())?.roots()[0].id().unwrap().to_string();
    if spec == "Root" {
        return Ok(root);
    }
    let mut queue = vec![root];
    while let Some(parent) = queue.pop() {
        let out =
            org.list_organizational_units_for_parent().parent_id(&parent).send().await.map_err(|e| e.to_string())?;
        for ou in out.organizational_units() {
            if ou.name() == Some(spec) {
                return Ok(ou.id().unwrap().to_string());
            }
            queue.push(ou.id().unwrap().to_string());
        }
    }
    Err(format!("No organizational unit named {spec:?} is registered with AWS Control Tower"))
}

async fn move_to(ct: &SdkConfig, account: &str, ou_spec: &str) -> Result<(), String> {
    let org = aws_sdk_organizations::Client::new(ct);
    let ou = find_ou(&org, ou_spec).await?;
    let parent = org.list_parents().child_id(account).send().await.map_err(|e| e.to_string())?.parents()[0]
        .id()
        .unwrap()
        .to_string();
    if parent != ou {
        org.move_account()
            .account_id(account)
            .source_parent_id(parent)
            .destination_parent_id(ou)
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Creates the account, or enrolls the existing account with the `AccountEmail` (AFT's path for an
/// account Control Tower does not manage); true when it enrolled.
async fn create_or_enroll(ct: &SdkConfig, p: &HashMap<String, String>) -> Result<(String, bool), String> {
    let org = aws_sdk_organizations::Client::new(ct);
    // the OU is checked first: Control Tower refuses an unknown OU before it creates anything
    find_ou(&org, &p["ManagedOrganizationalUnit"]).await?;
    let mut pages = org.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| e.to_string())?;
        if let Some(a) =
            page.accounts().iter().find(|a| a.email().is_some_and(|e| e.eq_ignore_ascii_case(&p["AccountEmail"])))
        {
            let id = a.id().unwrap_or_default().to_string();
            move_to(ct, &id, &p["ManagedOrganizationalUnit"]).await?;
            return Ok((id, true));
        }
    }
    create_account(ct, p).await.map(|id| (id, false))
}

async fn create_account(ct: &SdkConfig, p: &HashMap<String, String>) -> Result<String, String> {
    let org = aws_sdk_organizations::Client::new(ct);
    let out = org
        .create_account()
        .email(&p["AccountEmail"])
        .account_name(&p["AccountName"])
        .role_name("AWSControlTowerExecution")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let id = out.create_account_status().and_then(|s| s.account_id()).ok_or("no account id")?.to_string();
    move_to(ct, &id, &p["ManagedOrganizationalUnit"]).await?;
    Ok(id)
}
