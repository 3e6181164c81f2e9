//! A stand-in for the Service Catalog "AWS Control Tower Account Factory", owned by the tests.
//!
//! moto has no Service Catalog provisioning (ProvisionProduct and friends answer HTTP 500), and
//! there is no Control Tower API at all. This loopback server speaks the AWS JSON 1.1 protocol for
//! exactly the calls the provider makes (DescribeProductAsAdmin, DescribeProvisioningArtifact,
//! ProvisionProduct, DescribeRecord, SearchProvisionedProducts, UpdateProvisionedProduct). A
//! provisioning takes a configurable delay, then creates the account in moto's Organizations and
//! places it in the requested OU, as Control Tower would. It records the peak number of
//! provisionings in flight so tests can check the provider's concurrency cap.
//! It is a test double, documented as such; the provider talks to it through
//! `AWS_ENDPOINT_URL_SERVICE_CATALOG`, the standard per-service endpoint variable.

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

#[derive(Clone, Debug)]
struct Provisioned {
    id: String,
    name: String,
    status: String,
    physical_id: Option<String>,
    last_record: String,
    last_success: Option<String>,
}

#[derive(Default)]
struct State {
    products: Vec<Provisioned>,
    records: HashMap<String, (String, Vec<String>)>,
    in_flight: usize,
    peak: usize,
    provisioned: usize,
    updated: usize,
    calls: Vec<String>,
}

/// A running stand-in.
pub struct ServiceCatalog {
    pub endpoint: String,
    state: Arc<Mutex<State>>,
}

impl ServiceCatalog {
    /// Starts the stand-in; accounts are created in the organization of `ct`.
    pub fn start(ct: SdkConfig, delay: Duration) -> ServiceCatalog {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                let ct = ct.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st, &ct, delay);
                });
            }
        });
        ServiceCatalog { endpoint, state }
    }

    /// The most provisionings that were in flight at once.
    pub fn peak(&self) -> usize {
        self.state.lock().unwrap().peak
    }

    /// How many ProvisionProduct and UpdateProvisionedProduct calls completed.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.lock().unwrap();
        (s.provisioned, s.updated)
    }

    /// The operations called, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.clone()
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
    let (status, resp) = handle(&op, &req, st, ct, delay);
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

fn handle(op: &str, req: &Value, st: &Arc<Mutex<State>>, ct: &SdkConfig, delay: Duration) -> (u16, Value) {
    match op {
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
            let rec = format!("rec-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let pp = format!("pp-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            {
                let mut s = st.lock().unwrap();
                if s.products.iter().any(|x| x.name == name) {
                    return error("DuplicateResourceException", &format!("provisioned product {name} exists"));
                }
                s.products.push(Provisioned {
                    id: pp.clone(),
                    name: name.clone(),
                    status: "UNDER_CHANGE".into(),
                    physical_id: None,
                    last_record: rec.clone(),
                    last_success: None,
                });
                s.records.insert(rec.clone(), ("IN_PROGRESS".into(), vec![]));
                s.in_flight += 1;
                s.peak = s.peak.max(s.in_flight);
            }
            let (st2, ct2, rec2, pp2) = (st.clone(), ct.clone(), rec.clone(), pp.clone());
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let result = block_on(create_account(&ct2, &p));
                let mut s = st2.lock().unwrap();
                s.in_flight -= 1;
                let product = s.products.iter_mut().find(|x| x.id == pp2).unwrap();
                match result {
                    Ok(id) => {
                        product.status = "AVAILABLE".into();
                        product.physical_id = Some(id);
                        product.last_success = Some(rec2.clone());
                        s.records.insert(rec2, ("SUCCEEDED".into(), vec![]));
                        s.provisioned += 1;
                    }
                    Err(e) => {
                        product.status = "ERROR".into();
                        s.records.insert(rec2, ("FAILED".into(), vec![e]));
                    }
                }
            });
            (
                200,
                json!({"RecordDetail": {"RecordId": rec, "Status": "CREATED", "ProvisionedProductName": name, "ProvisionedProductId": pp, "RecordType": "PROVISION_PRODUCT"}}),
            )
        }
        "DescribeRecord" => {
            let id = req["Id"].as_str().unwrap_or_default();
            let s = st.lock().unwrap();
            match s.records.get(id) {
                Some((status, errs)) => (
                    200,
                    json!({"RecordDetail": {
                    "RecordId": id, "Status": status,
                    "RecordErrors": errs.iter().map(|e| json!({"Code": "ProvisioningFailed", "Description": e})).collect::<Vec<_>>(),
                }, "RecordOutputs": []}),
                ),
                None => error("ResourceNotFoundException", "no such record"),
            }
        }
        "SearchProvisionedProducts" => {
            let query = req["Filters"]["SearchQuery"][0].as_str().unwrap_or_default().to_string();
            let s = st.lock().unwrap();
            let hits: Vec<Value> = s
                .products
                .iter()
                .filter(|p| match query.split_once(':') {
                    Some(("name", n)) => p.name == n,
                    Some(("physicalId", id)) => p.physical_id.as_deref() == Some(id),
                    _ => true,
                })
                .map(view)
                .collect();
            (200, json!({"ProvisionedProducts": hits, "TotalResultsCount": hits.len()}))
        }
        "UpdateProvisionedProduct" => {
            let pp = req["ProvisionedProductId"].as_str().unwrap_or_default().to_string();
            let p = params(req);
            let rec = format!("rec-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
            let account = {
                let mut s = st.lock().unwrap();
                let Some(prod) = s.products.iter_mut().find(|x| x.id == pp) else {
                    return error("ResourceNotFoundException", "no such provisioned product");
                };
                prod.status = "UNDER_CHANGE".into();
                prod.last_record = rec.clone();
                let account = prod.physical_id.clone().unwrap_or_default();
                s.records.insert(rec.clone(), ("IN_PROGRESS".into(), vec![]));
                s.in_flight += 1;
                s.peak = s.peak.max(s.in_flight);
                account
            };
            let (st2, ct2, rec2, pp2) = (st.clone(), ct.clone(), rec.clone(), pp.clone());
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let result = block_on(move_to(&ct2, &account, &p["ManagedOrganizationalUnit"]));
                let mut s = st2.lock().unwrap();
                s.in_flight -= 1;
                let product = s.products.iter_mut().find(|x| x.id == pp2).unwrap();
                product.status = "AVAILABLE".into();
                product.last_success = Some(rec2.clone());
                match result {
                    Ok(()) => {
                        s.records.insert(rec2, ("SUCCEEDED".into(), vec![]));
                        s.updated += 1;
                    }
                    Err(e) => {
                        s.records.insert(rec2, ("FAILED".into(), vec![e]));
                    }
                }
            });
            (
                200,
                json!({"RecordDetail": {"RecordId": rec, "Status": "CREATED", "ProvisionedProductId": pp, "RecordType": "UPDATE_PROVISIONED_PRODUCT"}}),
            )
        }
        other => error("InvalidParametersException", &format!("{other} is not implemented by the test stand-in")),
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

async fn find_ou(org: &aws_sdk_organizations::Client, spec: &str) -> Result<String, String> {
    if let Some(open) = spec.rfind(" (") {
        return Ok(spec[open + 2..].trim_end_matches(')').to_string());
    }
    if spec.starts_with("ou-") || spec.starts_with("r-") {
        return Ok(spec.to_string());
    }
    let root = org.list_roots().send().await.map_err(|e| e.to_string())?.roots()[0].id().unwrap().to_string();
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
    Err(format!("no OU {spec}"))
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
