//! The foundation, end to end: Terraform loads the built provider, the provider talks to moto,
//! schemas carry descriptions, bad input is pinned to its attribute, and the plugin channel is
//! strict mutual TLS.

use aft_test_harness as common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::{Landing, Tf, terraform::provider_binary};

fn data_source_config(l: &Landing, by: &str) -> String {
    format!(
        "{}\ndata \"aft_account\" \"this\" {{\n  {by}\n}}\n\noutput \"name\" {{\n  value = data.aft_account.this.name\n}}\n",
        l.provider("")
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn data_source_reads_a_seeded_account_through_the_full_lifecycle() {
    let l = Landing::new().await;
    let email = format!("seeded-{}@example.com", common::suffix());
    let id = l.create_account(&email, "Seeded", Some("Sandbox")).await;
    l.put_metadata(&id, &email, "Seeded", &l.ous["Sandbox"], &[("Owner", "team-a")]).await;

    let tf = Tf::new("ds-by-id");
    tf.write(&data_source_config(&l, &format!("account_id = \"{id}\"")));
    tf.run(&["validate", "-no-color"]).ok();
    let plan = tf.run(&["plan", "-input=false", "-no-color"]).ok();
    assert!(plan.stdout.contains("name = \"Seeded\""), "{}", plan.stdout);
    tf.apply();
    assert_eq!(tf.plan_exit(), 0, "a second plan must show no changes");

    let v = tf.values("data.aft_account.this");
    assert_eq!(v["account_id"], id.as_str());
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["email"], email.as_str());
    assert_eq!(v["name"], "Seeded");
    assert_eq!(v["status"], "ACTIVE");
    assert_eq!(v["parent_ou_id"], l.ous["Sandbox"].as_str());
    assert_eq!(v["joined_method"], "CREATED");
    assert_eq!(v["account_customizations_name"], "sandbox");
    assert_eq!(v["account_tags"]["Owner"], "team-a");
    assert_eq!(v["arn"].as_str().unwrap().rsplit('/').next().unwrap(), id);
    let st = tf.state();
    assert_eq!(st["values"]["outputs"]["name"]["value"], "Seeded");
    tf.destroy();

    // by email, in another case than stored: AFT compares emails ignoring case
    let tf = Tf::new("ds-by-email");
    tf.write(&data_source_config(&l, &format!("email = \"{}\"", email.to_uppercase())));
    tf.apply();
    assert_eq!(tf.values("data.aft_account.this")["account_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn data_source_reports_an_unmanaged_account() {
    let l = Landing::new().await;
    let email = format!("unmanaged-{}@example.com", common::suffix());
    let id = l.create_account(&email, "Unmanaged", None).await;
    let tf = Tf::new("ds-unmanaged");
    tf.write(&data_source_config(&l, &format!("account_id = \"{id}\"")));
    let out = tf.run(&["plan", "-input=false", "-json"]);
    assert_ne!(out.code, 0);
    let errs = out.errors();
    assert!(errs.iter().any(|d| d["summary"] == "Account is not managed by AFT"), "{errs:?}");
}

#[test]
fn schema_lists_the_provider_block_and_aft_account_with_descriptions() {
    let tf = Tf::new("schema");
    tf.write("terraform {\n  required_providers {\n    aft = { source = \"aft-rs/aft\" }\n  }\n}\n");
    let out = tf.run(&["providers", "schema", "-json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let p = &v["provider_schemas"]["registry.terraform.io/aft-rs/aft"];
    let provider = &p["provider"]["block"];
    assert!(provider["description"].as_str().unwrap().contains("Account Factory"));
    for a in ["region", "profile", "endpoint_url", "metadata_table", "iam_propagation_timeout"] {
        assert!(provider["attributes"][a]["description"].as_str().is_some_and(|d| !d.is_empty()), "{a}");
        assert_eq!(provider["attributes"][a]["optional"], true, "{a}");
    }
    for b in ["assume_role", "role_names", "feature_options", "account_factory"] {
        assert_eq!(provider["block_types"][b]["nesting_mode"], "single", "{b}");
    }
    let ds = &p["data_source_schemas"]["aft_account"]["block"];
    assert!(ds["description"].as_str().unwrap().contains("AFT-managed account"));
    assert_eq!(ds["attributes"]["account_tags"]["type"], serde_json::json!(["map", "string"]));
    assert_eq!(ds["attributes"]["name"]["computed"], true);
}

fn diag_on(out: &common::terraform::Out, code_fragment: &str) -> serde_json::Value {
    let errs = out.errors();
    errs.iter()
        .find(|d| d["snippet"]["code"].as_str().is_some_and(|c| c.contains(code_fragment)))
        .cloned()
        .unwrap_or_else(|| panic!("no error diagnostic pointing at `{code_fragment}`: {errs:#?}\n{}", out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_provider_argument_is_reported_on_its_attribute() {
    let l = Landing::new().await;
    let tf = Tf::new("bad-provider");
    tf.write(&format!(
        "{}\ndata \"aft_account\" \"x\" {{\n  account_id = \"123456789012\"\n}}\n",
        l.provider("  account_factory {\n    method = \"bogus\"\n  }\n  max_concurrent_customizations = 0")
    ));
    let out = tf.run(&["plan", "-input=false", "-json"]);
    assert_ne!(out.code, 0);
    let d = diag_on(&out, "method = \"bogus\"");
    assert!(d["detail"].as_str().unwrap().contains("control_tower"), "{d}");
    diag_on(&out, "max_concurrent_customizations = 0");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_data_source_argument_is_reported_on_its_attribute() {
    let l = Landing::new().await;
    let tf = Tf::new("bad-ds");
    tf.write(&format!(
        "{}\ndata \"aft_account\" \"x\" {{\n  email = \"not-an-email\"\n}}\n\ndata \"aft_account\" \"y\" {{\n  account_id = \"12345\"\n}}\n",
        l.provider("")
    ));
    let out = tf.run(&["validate", "-json"]);
    assert_ne!(out.code, 0);
    diag_on(&out, "email = \"not-an-email\"");
    diag_on(&out, "account_id = \"12345\"");
}

#[test]
fn run_by_hand_the_binary_explains_itself_and_exits_nonzero() {
    let out = Command::new(provider_binary()).env_remove("TF_PLUGIN_MAGIC_COOKIE").output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("This binary is a plugin"), "{err}");
    assert!(out.stdout.is_empty(), "nothing may reach stdout: go-plugin reads it");
}

fn client_cert() -> (String, rustls::pki_types::CertificateDer<'static>, rustls::pki_types::PrivateKeyDer<'static>) {
    // Terraform's client certificate: ECDSA P-521, self-signed, CA-flagged
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P521_SHA512).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (
        cert.pem(),
        cert.der().clone(),
        rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}

#[derive(Debug)]
struct AcceptAnyServer;
impl rustls::client::danger::ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let p = rustls::crypto::aws_lc_rs::default_provider();
        rustls::crypto::verify_tls12_signature(m, c, d, &p.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let p = rustls::crypto::aws_lc_rs::default_provider();
        rustls::crypto::verify_tls13_signature(m, c, d, &p.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms.supported_schemes()
    }
}

/// Completes a TLS handshake and one read over `network` (`unix` or `tcp`, as the handshake line
/// names it); Ok(()) if the server kept the connection.
async fn connect(
    network: &str,
    addr: &str,
    client: Option<(rustls::pki_types::CertificateDer<'static>, rustls::pki_types::PrivateKeyDer<'static>)>,
) -> Result<(), String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let b = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer));
    let mut cfg = match client {
        Some((c, k)) => b.with_client_auth_cert(vec![c], k).unwrap(),
        None => b.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    match network {
        "unix" => {
            let sock = tokio::net::UnixStream::connect(addr).await.map_err(|e| e.to_string())?;
            preface(connector.connect(name, sock).await.map_err(|e| e.to_string())?).await
        }
        _ => {
            let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            preface(connector.connect(name, tcp).await.map_err(|e| e.to_string())?).await
        }
    }
}

/// Sends the HTTP/2 preface; Ok(()) when the server answers with its SETTINGS frame.
async fn preface(mut tls: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) -> Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // HTTP/2 preface: a server that accepted us answers with its SETTINGS frame
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 9];
    tokio::time::timeout(std::time::Duration::from_secs(5), tls.read_exact(&mut buf))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| e.to_string())?;
    if buf[3] == 0x04 { Ok(()) } else { Err(format!("unexpected frame {buf:?}")) }
}

/// Starts the binary as Terraform does, with `env` added; -> the child and its handshake line's
/// fields.
fn start_plugin(pem: &str, env: &[(&str, &str)]) -> (std::process::Child, Vec<String>) {
    let mut cmd = Command::new(provider_binary());
    cmd.env("TF_PLUGIN_MAGIC_COOKIE", "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2")
        .env("PLUGIN_PROTOCOL_VERSIONS", "5,6")
        .env("PLUGIN_CLIENT_CERT", pem)
        .env_remove("TF_DISABLE_PLUGIN_TLS")
        .env_remove("AFT_PLUGIN_TRANSPORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let parts: Vec<String> = line.trim().split('|').map(str::to_string).collect();
    assert_eq!(parts.len(), 6, "{line}");
    assert_eq!(parts[..2], ["1", "6"], "{line}");
    assert_eq!(parts[4], "grpc");
    assert!(parts[5].len() > 50, "the server certificate is in the handshake line");
    (child, parts)
}

#[tokio::test(flavor = "multi_thread")]
async fn plugin_channel_accepts_only_terraforms_client_certificate_on_both_transports() {
    let (pem, der, key) = client_cert();
    let (_, other_der, other_key) = client_cert();
    let sockets = Tf::new("plugin-sockets").dir.join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    let dir = sockets.display().to_string();
    // go-plugin's default on Unix: a socket in PLUGIN_UNIX_SOCKET_DIR; TCP when asked for
    for env in [vec![("PLUGIN_UNIX_SOCKET_DIR", dir.as_str())], vec![("AFT_PLUGIN_TRANSPORT", "tcp")]] {
        let (mut child, parts) = start_plugin(&pem, &env);
        let (network, addr) = (parts[2].as_str(), parts[3].as_str());
        if env[0].0 == "AFT_PLUGIN_TRANSPORT" {
            assert_eq!(network, "tcp");
            assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        } else {
            assert_eq!(network, "unix");
            let path = std::path::Path::new(addr);
            assert_eq!(path.parent(), Some(sockets.as_path()), "the socket is in PLUGIN_UNIX_SOCKET_DIR");
            assert!(std::os::unix::fs::FileTypeExt::is_socket(&std::fs::metadata(path).unwrap().file_type()));
        }
        let wrong = connect(network, addr, Some((other_der.clone(), other_key.clone_key()))).await;
        let none = connect(network, addr, None).await;
        let right = connect(network, addr, Some((der.clone(), key.clone_key()))).await;
        let _ = child.kill();
        let _ = child.wait();
        assert!(wrong.is_err(), "{network}: a client with another certificate must be refused");
        assert!(none.is_err(), "{network}: a client without a certificate must be refused");
        assert_eq!(right, Ok(()), "{network}: Terraform's certificate must be accepted");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_talks_to_the_provider_over_a_unix_socket_and_the_socket_is_removed() {
    let l = Landing::new().await;
    let mut tf = Tf::new("unix-socket");
    let sockets = tf.dir.join("sockets");
    std::fs::create_dir_all(&sockets).unwrap();
    tf.env("PLUGIN_UNIX_SOCKET_DIR", &sockets.display().to_string());
    tf.env("TF_LOG_PROVIDER", "DEBUG");
    tf.write(&data_source_config(&l, "account_id = \"000000000000\""));
    let out = tf.run(&["validate", "-no-color"]).ok();
    let log = common::one_line(&out.stderr);
    assert!(log.contains("network=unix"), "{log}");
    assert!(log.contains(&format!("{}/plugin", sockets.display())), "the socket is in PLUGIN_UNIX_SOCKET_DIR: {log}");
    let left: Vec<_> = std::fs::read_dir(&sockets).unwrap().collect();
    assert!(left.is_empty(), "sockets left behind after Terraform stopped the provider: {left:?}");
}
