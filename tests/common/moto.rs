//! One moto server per test binary on a free loopback port, with Step Functions execution on.
//! It stops itself when the test process exits ([`super::start_server`]).

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
        let logdir = super::repo().join("target/test-logs");
        std::fs::create_dir_all(&logdir).unwrap();
        // moto binds a free port itself and names it (a port found free here and bound once moto
        // has imported, seconds later, could be taken in between); its log is named after it
        let log = logdir.join(format!("moto-starting-{}.log", std::process::id()));
        let mut cmd = Command::new(&python);
        cmd.arg(super::repo().join("scripts/moto_launcher.py"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .envs(env.iter().copied())
            .env_remove("MOTO_ACCOUNT_ID")
            .stderr(std::fs::File::create(&log).unwrap());
        let (port, pid) = super::start_server(&mut cmd, &format!("moto (log: {})", log.display()));
        let named = logdir.join(format!("moto-{port}.log"));
        std::fs::rename(&log, &named).unwrap();
        let log = named;
        let start = Instant::now();
        while http::get(port, "/moto-api/").is_err() {
            assert!(start.elapsed() < Duration::from_secs(60), "moto did not answer; see {}", log.display());
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
        let shim_log = std::fs::File::create(format!("{}.shim", log.display())).unwrap();
        let mut shim = Command::new(&python);
        shim.arg(super::repo().join("scripts/codepipeline_shim.py"))
            .arg("0")
            .arg(format!("http://127.0.0.1:{port}"))
            .stderr(shim_log);
        let (shim_port, _) =
            super::start_server(&mut shim, &format!("the CodePipeline shim (log: {}.shim)", log.display()));
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
