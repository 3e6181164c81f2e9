//! scripts/aws_proxy.py in front of moto, owned by the tests: counts every AWS call by
//! `service:Action` and, when asked, answers a seeded fraction of them with faults (throttling,
//! 500, 503, dropped connections), and makes moto behave as AWS documents where moto is kinder
//! (asynchronous CreateAccount, PENDING_CLOSURE, IAM propagation: [`Proxy::behave`]). It stops
//! itself when the test process exits ([`super::start_server`]).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::http;
use super::moto::{Moto, venv_bin};

/// How long a CreateAccount stays IN_PROGRESS behind [`Proxy::like_aws`].
pub const CREATE_ACCOUNT_SECONDS: f64 = 1.5;
/// How long a new role stays unusable behind [`Proxy::like_aws`].
pub const ROLE_PROPAGATION_SECONDS: f64 = 1.5;

/// A running proxy.
pub struct Proxy {
    pub port: u16,
    pub endpoint: String,
    pub pid: u32,
}

impl Proxy {
    /// Starts a proxy in front of the shared moto (extra CLI arguments, e.g. `--fault-kinds`).
    pub fn start(args: &[&str]) -> Proxy {
        let moto = Moto::get();
        let mut cmd = Command::new(venv_bin("python"));
        cmd.arg(super::repo().join("scripts/aws_proxy.py"))
            .args(["--upstream", &moto.endpoint, "--port", "0"])
            .args(args)
            .stderr(Stdio::null());
        let (port, pid) = super::start_server(&mut cmd, "scripts/aws_proxy.py");
        let start = Instant::now();
        while http::get(port, "/__proxy/stats").is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "the proxy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Proxy { port, endpoint: format!("http://127.0.0.1:{port}"), pid }
    }

    /// A proxy that behaves as AWS documents (see docs/reliability.md), with delays short
    /// enough for `make test`: CreateAccount takes [`CREATE_ACCOUNT_SECONDS`], a new role is
    /// unusable for [`ROLE_PROPAGATION_SECONDS`], a closed account is PENDING_CLOSURE for a while.
    /// `routes` sends services moto lacks to their stand-ins (`servicecatalog=http://…`).
    pub fn like_aws(routes: &[String], extra: &[&str]) -> Proxy {
        let behave = serde_json::json!({
            "create_account_seconds": CREATE_ACCOUNT_SECONDS,
            "role_propagation_seconds": ROLE_PROPAGATION_SECONDS,
            "close_account_seconds": 2.0,
        })
        .to_string();
        let mut args: Vec<&str> = vec!["--behave", &behave];
        for r in routes {
            args.extend(["--route", r.as_str()]);
        }
        args.extend(extra);
        Proxy::start(&args)
    }

    /// The counters: `total`, `faults`, `by_action`, `faults_by_kind`.
    pub fn stats(&self) -> serde_json::Value {
        serde_json::from_str(&http::get(self.port, "/__proxy/stats").unwrap()).unwrap()
    }

    /// The calls counted since the last reset, by `service:Action`.
    pub fn calls(&self) -> std::collections::BTreeMap<String, u64> {
        let stats = self.stats();
        stats["by_action"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap())).collect()
    }

    /// The calls counted since the last reset that change something in AWS (every action that is
    /// not a read, and not the session calls).
    pub fn writes(&self) -> Vec<String> {
        writes(&self.calls())
    }

    /// Counts every AWS call of the Terraform runs in `tf`, CodePipeline (the emulator's shim)
    /// included: a proxy started for it.
    pub fn counting(tf: &mut super::Tf) -> Proxy {
        let proxy = Proxy::start(&["--route", &format!("codepipeline={}", super::Moto::get().codepipeline_endpoint)]);
        tf.env("AWS_ENDPOINT_URL", &proxy.endpoint);
        tf.env("AWS_ENDPOINT_URL_CODEPIPELINE", &proxy.endpoint);
        proxy
    }

    /// Zeroes the counters.
    pub fn reset(&self) {
        http::request(self.port, "POST", "/__proxy/reset", "application/json", "{}").unwrap();
    }

    /// Changes the fault rate and seed.
    pub fn faults(&self, rate: f64, seed: u64) {
        let body = format!("{{\"fault_rate\": {rate}, \"seed\": {seed}}}");
        let (status, out) = http::request(self.port, "POST", "/__proxy/config", "application/json", &body).unwrap();
        assert_eq!(status, 200, "{out}");
    }

    /// Turns on AWS behaviours (`create_account_seconds`, `create_account_failures`,
    /// `close_account_seconds`, `close_account_quota`, `role_propagation_seconds`).
    pub fn behave(&self, behaviours: serde_json::Value) {
        let body = serde_json::json!({ "behave": behaviours }).to_string();
        let (status, out) = http::request(self.port, "POST", "/__proxy/config", "application/json", &body).unwrap();
        assert_eq!(status, 200, "{out}");
    }

    /// What the behaviours did: `counts` by kind (`create_account_async`, `role_not_propagated:…`, …).
    pub fn behaviour(&self) -> serde_json::Value {
        serde_json::from_str(&http::get(self.port, "/__proxy/behaviour").unwrap()).unwrap()
    }

    /// How many times one behaviour acted (keys of [`Proxy::behaviour`]'s `counts`, by prefix).
    pub fn acted(&self, prefix: &str) -> u64 {
        let b = self.behaviour();
        b["counts"]
            .as_object()
            .map(|m| m.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v.as_u64().unwrap_or(0)).sum())
            .unwrap_or(0)
    }

    /// Stops the proxy.
    pub fn stop(&self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// Of these calls (by `service:Action`), those that change something in AWS.
pub fn writes(calls: &std::collections::BTreeMap<String, u64>) -> Vec<String> {
    const READS: [&str; 6] = ["Get", "BatchGet", "List", "Describe", "Scan", "Query"];
    calls
        .keys()
        .filter(|k| {
            let action = k.split(':').nth(1).unwrap_or_default();
            // REST services are counted by method and path (`lambda:GET /2015-03-31/…`)
            let read = READS.iter().any(|r| action.starts_with(r)) || action.starts_with("GET ");
            !read && *k != "sts:AssumeRole" && *k != "sts:GetCallerIdentity"
        })
        .cloned()
        .collect()
}
