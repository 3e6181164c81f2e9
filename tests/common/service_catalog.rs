//! A stand-in for the Service Catalog "AWS Control Tower Account Factory", owned by the tests.
//!
//! moto has no Service Catalog provisioning (ProvisionProduct and friends answer HTTP 500), and
//! there is no Control Tower API at all. This loopback server speaks the AWS JSON 1.1 protocol for
//! exactly the calls the provider makes (DescribeProductAsAdmin, DescribeProvisioningArtifact,
//! ProvisionProduct, DescribeRecord, SearchProvisionedProducts, UpdateProvisionedProduct,
//! GetProvisionedProductOutputs, TerminateProvisionedProduct) and behaves as Service Catalog and Control Tower document
//! (sources in docs/reliability.md):
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
//! - Control Tower runs at most [`CONTROL_TOWER_LIMIT`] account operations at once; one more is
//!   accepted by Service Catalog and then fails ("another operation is in progress", AFT #363),
//!   leaving the product `ERROR` or `TAINTED`;
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
//! the provider talks to it through `AWS_ENDPOINT_URL_SERVICE_CATALOG`, the standard per-service
//! endpoint variable.

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
const ARTIFACT_ID: &str = "pa-aftstandin01";
/// Control Tower's limit on concurrent account operations in one organization.
pub const CONTROL_TOWER_LIMIT: usize = 5;
/// The error Control Tower gives an operation beyond its limit (AFT issue #363).
pub const BUSY: &str = "ResourceInUseException: Account Factory cannot complete an operation on this account, because another AWS Control Tower operation is in progress. Try again later.";

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
}

struct Record {
    status: String,
    errors: Vec<String>,
    detail: Value,
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
        let state = Arc::new(Mutex::new(State::default()));
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
        }
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
    /// flight for `lasting`.
    pub fn foreign(&self, n: usize, lasting: Duration) {
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
                });
                s.records
                    .insert(rec.clone(), Record { status: "IN_PROGRESS".into(), errors: vec![], detail: json!({}) });
                begin(&mut s);
            }
            let st = self.state.clone();
            std::thread::spawn(move || {
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
            "ProductId": PRODUCT_ID, "ProvisioningArtifactId": ARTIFACT_ID, "ProvisionedProductName": name,
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
            "ProvisionedProductId": id, "ProductId": PRODUCT_ID, "ProvisioningArtifactId": ARTIFACT_ID,
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

    /// What a user does to a product left `ERROR`: TerminateProvisionedProduct (by name).
    pub fn terminate(&self, name: &str) -> Value {
        let req = json!({"ProvisionedProductName": name, "TerminateToken": uuid::Uuid::new_v4().to_string()});
        let (status, out) = handle("TerminateProvisionedProduct", &req, &self.state, &self.ct, self.delay);
        assert_eq!(status, 200, "{out}");
        out
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

/// One more operation in flight (caller holds the lock); false when Control Tower is at its limit.
fn begin(s: &mut State) -> bool {
    let room = s.in_flight < CONTROL_TOWER_LIMIT;
    s.in_flight += 1;
    s.peak = s.peak.max(s.in_flight);
    room
}

/// A record's end: the product's status and, on success, its account (caller holds the lock).
fn finish(s: &mut State, pp: &str, rec: &str, result: Result<Option<String>, String>, failed_status: &str) {
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

fn params(req: &Value) -> HashMap<String, String> {
    req["ProvisioningParameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (p["Key"].as_str().unwrap_or_default().to_string(), p["Value"].as_str().unwrap_or_default().to_string())
        })
        .collect()
}

fn view(p: &Provisioned) -> Value {
    json!({
        "Id": p.id, "Name": p.name, "Status": p.status, "PhysicalId": p.physical_id,
        "LastRecordId": p.last_record, "LastSuccessfulProvisioningRecordId": p.last_success,
        "ProductId": PRODUCT_ID, "ProvisioningArtifactId": ARTIFACT_ID, "Type": "CONTROL_TOWER_ACCOUNT",
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
            (
                200,
                json!({
                    "ProductViewDetail": {"ProductViewSummary": {"Id": "prodview-1", "ProductId": PRODUCT_ID, "Name": PRODUCT_NAME}, "Status": "AVAILABLE"},
                    "ProvisioningArtifactSummaries": [{"Id": "pa-oldinactive01", "Name": "old"}, {"Id": ARTIFACT_ID, "Name": "current"}],
                }),
            )
        }
        "DescribeProvisioningArtifact" => {
            let id = req["ProvisioningArtifactId"].as_str().unwrap_or_default();
            (
                200,
                json!({"ProvisioningArtifactDetail": {"Id": id, "Name": id, "Active": id == ARTIFACT_ID}, "Status": "AVAILABLE"}),
            )
        }
        "ProvisionProduct" => {
            if req["ProductId"] != PRODUCT_ID || req["ProvisioningArtifactId"] != ARTIFACT_ID {
                return error("InvalidParametersException", "unknown product or inactive artifact");
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
                    "RecordErrors": r.errors.iter().map(|e| json!({"Code": "ProvisioningFailed", "Description": e})).collect::<Vec<_>>(),
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
            let (rec, room, work, failed_status, recovering) = {
                let mut s = st.lock().unwrap();
                if let Some(answer) = replay(&mut s, &token) {
                    return answer;
                }
                let rec = short_id("rec");
                let Some(prod) = s.products.iter_mut().find(|x| x.id == pp) else {
                    return error("ResourceNotFoundException", "no such provisioned product");
                };
                if prod.status == "UNDER_CHANGE" {
                    return error("InvalidStateException", "the provisioned product is under change");
                }
                let recovering = matches!(prod.status.as_str(), "ERROR" | "TAINTED");
                prod.status = "UNDER_CHANGE".into();
                prod.last_record = rec.clone();
                // the values the update sent (the provider always sends every parameter)
                prod.parameters.extend(p.clone());
                // a product whose provisioning failed before Control Tower made the account is
                // provisioned by the update; otherwise the update moves the account
                let (work, failed_status) = match prod.physical_id.clone() {
                    Some(account) => (Work::Move { account, params: p.clone() }, "TAINTED"),
                    None => (Work::Create(p.clone()), "ERROR"),
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
            let mut s = st.lock().unwrap();
            if let Some(answer) = replay(&mut s, &token) {
                return answer;
            }
            let by_name = req["ProvisionedProductName"].as_str();
            let by_id = req["ProvisionedProductId"].as_str();
            let Some(i) =
                s.products.iter().position(|x| Some(x.name.as_str()) == by_name || Some(x.id.as_str()) == by_id)
            else {
                return error("ResourceNotFoundException", "no such provisioned product");
            };
            if s.products[i].status == "UNDER_CHANGE" {
                return error("InvalidStateException", "the provisioned product is under change");
            }
            let prod = s.products.remove(i);
            let rec = short_id("rec");
            let detail = json!({"RecordId": rec, "Status": "SUCCEEDED", "ProvisionedProductId": prod.id, "ProvisionedProductName": prod.name, "RecordType": "TERMINATE_PROVISIONED_PRODUCT"});
            s.records
                .insert(rec.clone(), Record { status: "SUCCEEDED".into(), errors: vec![], detail: detail.clone() });
            s.tokens.insert(token, rec);
            s.terminated += 1;
            (200, json!({"RecordDetail": detail}))
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
    Create(HashMap<String, String>),
    Move { account: String, params: HashMap<String, String> },
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
    let end = |result: Result<Option<String>, String>| {
        let mut s = st.lock().unwrap();
        s.in_flight -= 1;
        if result.is_ok() {
            match &work {
                Work::Create(_) => s.provisioned += 1,
                Work::Move { .. } => s.updated += 1,
            }
        }
        finish(&mut s, pp, rec, result, failed_status);
    };
    if !room {
        std::thread::sleep(delay / 4);
        st.lock().unwrap().refused += 1;
        return end(Err(BUSY.to_string()));
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
            None => block_on(create_account(ct, p)).inspect(|id| {
                // the account exists from here on, while the baseline still runs
                if let Some(prod) = st.lock().unwrap().products.iter_mut().find(|x| x.id == pp) {
                    prod.physical_id = Some(id.clone());
                }
            }),
        },
        Work::Move { account, params } => match refused_ou(&ou_of(params)) {
            Some(e) => Err(e),
            None => block_on(move_to(ct, account, &ou_of(params))).map(|()| account.clone()),
        },
    };
    if let (Work::Create(_), Ok(id)) = (&work, &result) {
        let hook = st.lock().unwrap().on_account.clone();
        if let Some(f) = hook {
            f(id);
        }
    }
    std::thread::sleep(delay / 2);
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

async fn create_account(ct: &SdkConfig, p: &HashMap<String, String>) -> Result<String, String> {
    let org = aws_sdk_organizations::Client::new(ct);
    // the OU is checked first: Control Tower refuses an unknown OU before it creates anything
    find_ou(&org, &p["ManagedOrganizationalUnit"]).await?;
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
