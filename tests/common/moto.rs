//! One moto server per test binary on a free loopback port, with Step Functions execution on.
//! It stops itself when the test process exits ([`super::spawn_server`]).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;

use super::http;

/// A running moto server.
pub struct Moto {
    pub port: u16,
    pub endpoint: String,
    pub pid: u32,
    /// scripts/codepipeline_shim.py in front of moto's CodePipeline (moto sends ISO timestamps
    /// where AWS sends epoch seconds, which the Rust SDK rejects).
    pub codepipeline_endpoint: String,
}

static MOTO: OnceLock<Moto> = OnceLock::new();

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `.venv` the Makefile creates.
pub fn venv_bin(name: &str) -> PathBuf {
    super::repo().join(".venv/bin").join(name)
}

impl Moto {
    /// The shared server, started on first use.
    pub fn get() -> &'static Moto {
        MOTO.get_or_init(|| Moto::start(&[]))
    }

    /// The shared server started with extra environment for scripts/moto_launcher.py (e.g.
    /// `AFT_MOTO_IAM=aws`); panics when the server already runs, since it would lack them. Call
    /// it before anything else of the test binary uses moto.
    pub fn get_with(env: &[(&str, &str)]) -> &'static Moto {
        let mut started = false;
        let moto = MOTO.get_or_init(|| {
            started = true;
            Moto::start(env)
        });
        assert!(started, "moto already runs without {env:?}: call Moto::get_with before anything else uses moto");
        moto
    }

    fn start(env: &[(&str, &str)]) -> Moto {
        let python = venv_bin("python");
        assert!(
            venv_bin("moto_server").exists(),
            "{} is missing: run `make test` (it installs the toolchain into .venv)",
            venv_bin("moto_server").display()
        );
        // moto with only the AWS managed policy the provider attaches (AdministratorAccess) in each
        // account: stock moto loads all ~1,580 into six partitions of every new account.
        let port = free_port();
        let logdir = super::repo().join("target/test-logs");
        std::fs::create_dir_all(&logdir).unwrap();
        let log = logdir.join(format!("moto-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let mut cmd = Command::new(&python);
        cmd.arg(super::repo().join("scripts/moto_launcher.py"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .envs(env.iter().copied())
            .env_remove("MOTO_ACCOUNT_ID")
            .stdout(out)
            .stderr(err);
        let pid = super::keep_server(super::spawn_server(&mut cmd, "moto"));
        let start = Instant::now();
        loop {
            if http::get(port, "/moto-api/").is_ok() {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "moto did not start; see {}", log.display());
            std::thread::sleep(Duration::from_millis(50));
        }
        let (status, _) = http::request(
            port,
            "POST",
            "/moto-api/config",
            "application/json",
            r#"{"stepfunctions":{"execute_state_machine":true}}"#,
        )
        .unwrap();
        assert!((200..300).contains(&status), "enabling Step Functions execution: HTTP {status}");
        let shim_port = free_port();
        let shim_log = std::fs::File::create(format!("{}.shim", log.display())).unwrap();
        let mut shim = Command::new(&python);
        shim.arg(super::repo().join("scripts/codepipeline_shim.py"))
            .arg(shim_port.to_string())
            .arg(format!("http://127.0.0.1:{port}"))
            .stdout(shim_log.try_clone().unwrap())
            .stderr(shim_log);
        super::keep_server(super::spawn_server(&mut shim, "the CodePipeline shim"));
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", shim_port)).is_err() {
            assert!(start.elapsed() < Duration::from_secs(30), "the CodePipeline shim did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Moto {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            pid,
            codepipeline_endpoint: format!("http://127.0.0.1:{shim_port}"),
        }
    }

    /// An SDK config for the default moto account (123456789012).
    pub fn config(&self) -> SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "test",
            )))
            .build()
    }

    /// An SDK config acting in `account` (moto honours AssumeRole into any account).
    pub async fn account(&self, account: &str) -> SdkConfig {
        let base = self.config();
        let out = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"))
            .role_session_name("tests")
            .send()
            .await
            .expect("assume role in moto");
        let c = out.credentials().unwrap();
        base.to_builder()
            .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                c.access_key_id(),
                c.secret_access_key(),
                Some(c.session_token().to_string()),
                None,
                "moto-assumed",
            )))
            .build()
    }
}
