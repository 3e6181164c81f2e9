//! Installing the provider as a user does: `scripts/dist.py` (what `make dist` runs) makes the
//! registry's archives, and `terraform init` installs them with no `dev_overrides` from a packed
//! filesystem mirror, from a provider network mirror over HTTPS and through the provider registry
//! protocol over HTTPS (scripts/mirror_server.py, a throwaway CA trusted through SSL_CERT_FILE).
//! The lock file records the package's `h1:` hash and, where SHA256SUMS arrives signed (the
//! registry protocol), the `zh:` hash of every line of SHA256SUMS; a second init on a fresh
//! directory verifies against that lock file; a tampered archive is refused; the installed binary
//! plans and applies.

use aft_test_harness as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::fixtures::account_block;
use common::moto::venv_bin;
use common::{Landing, Tf};

fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Runs scripts/dist.py on `binary` into `out`; with `gpg` (home, key id) it also signs.
fn dist(binary: &Path, out: &Path, gpg: Option<(&Path, &str)>) {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(common::repo().join("scripts/dist.py")).arg("--binary").arg(binary).arg("--out").arg(out);
    if let Some((home, key)) = gpg {
        cmd.arg("--gpg-key").arg(key).arg("--gpg-home").arg(home);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "dist.py: {}", String::from_utf8_lossy(&o.stderr));
}

/// What Terraform calls `h1:`: the sha256 of the sorted `sha256  name` lines of the package's
/// files, base64 (computed here with Python's zipfile, independently of Terraform).
fn h1_of(zip: &Path) -> String {
    let script = "import hashlib,base64,sys,zipfile\n\
                  z=zipfile.ZipFile(sys.argv[1])\n\
                  lines=''.join(f'{hashlib.sha256(z.read(n)).hexdigest()}  {n}\\n' for n in sorted(z.namelist()))\n\
                  print('h1:'+base64.b64encode(hashlib.sha256(lines.encode()).digest()).decode())";
    let o = Command::new(venv_bin("python")).arg("-c").arg(script).arg(zip).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

fn sha256_hex(path: &Path) -> String {
    let o = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8(o.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// A packed filesystem mirror holding one archive, and the CLI configuration that installs from it.
fn mirror(root: &Path, zip: &Path) -> PathBuf {
    let dir = root.join("registry.terraform.io/aft-rs/aft");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(zip, dir.join(zip.file_name().unwrap())).unwrap();
    let rc = root.join("mirror.tfrc");
    std::fs::write(
        &rc,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/aft-rs/aft\"]\n  }}\n}}\n",
            root.display()
        ),
    )
    .unwrap();
    rc
}

/// A working directory that installs from `rc` (no dev_overrides).
fn installing(name: &str, rc: &Path) -> Tf {
    let mut tf = Tf::new(name);
    tf.env("TF_CLI_CONFIG_FILE", &rc.display().to_string());
    tf
}

/// A throwaway GPG signing key in a home of its own. gpg starts an agent for that home on first
/// use and leaves it running after the test; dropping this stops it, through the agent's own
/// socket (`gpgconf --kill`), not by a pid.
struct SigningKey {
    home: PathBuf,
    /// The key id.
    id: String,
    /// The ASCII-armoured public key file.
    public: PathBuf,
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").arg("--homedir").arg(&self.home).args(["--kill", "gpg-agent"]).output();
    }
}

/// Makes a [`SigningKey`] in `home`.
fn signing_key(home: &Path) -> SigningKey {
    std::fs::create_dir_all(home).unwrap();
    let gpg = |args: &[&str]| {
        let o = Command::new("gpg").args(["--batch", "--homedir"]).arg(home).args(args).output().unwrap();
        assert!(o.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    // from here on, a failure still stops the agent the key generation started
    let mut key = SigningKey { home: home.to_path_buf(), id: String::new(), public: home.join("public.asc") };
    gpg(&["--passphrase", "", "--quick-gen-key", "aft-test@example.com", "ed25519", "sign", "1d"]);
    let listing = gpg(&["--list-keys", "--with-colons", "aft-test@example.com"]);
    key.id = listing.lines().find(|l| l.starts_with("pub:")).unwrap().split(':').nth(4).unwrap().to_string();
    std::fs::write(&key.public, gpg(&["--armor", "--export", "aft-test@example.com"])).unwrap();
    key
}

/// The configuration every install test uses: the provider pinned by a `~> X.Y` constraint, and
/// one account.
fn pinned_config(l: &Landing, email: &str) -> String {
    let v = version();
    let hcl = format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"organizations\"\n  }").replace(
            "aft = { source = \"aft-rs/aft\" }",
            &format!("aft = {{ source = \"aft-rs/aft\", version = \"~> {}\" }}", &v[..v.rfind('.').unwrap()])
        ),
        account_block("a", email, "Sandbox", "")
    );
    assert!(hcl.contains("version = \"~> "), "{hcl}");
    hcl
}

/// scripts/mirror_server.py serving `dist` over HTTPS on 127.0.0.1, stopped by its pid on drop.
struct MirrorServer {
    port: u16,
    pid: u32,
    ca: PathBuf,
}

impl MirrorServer {
    fn start(dist: &Path, certs: &Path, key: &SigningKey) -> MirrorServer {
        let mut cmd = Command::new(venv_bin("python"));
        cmd.arg(common::repo().join("scripts/mirror_server.py"))
            .arg("--dist")
            .arg(dist)
            .arg("--cert-dir")
            .arg(certs)
            .arg("--gpg-key-id")
            .arg(&key.id)
            .arg("--gpg-public-key")
            .arg(&key.public)
            .stderr(Stdio::inherit());
        let (port, pid) = common::start_server(&mut cmd, "scripts/mirror_server.py");
        MirrorServer { port, pid, ca: certs.join("ca.pem") }
    }

    /// A CLI configuration installing from the network mirror protocol.
    fn network_mirror_rc(&self, dir: &Path) -> PathBuf {
        let rc = dir.join("network-mirror.tfrc");
        std::fs::write(
            &rc,
            format!(
                "provider_installation {{\n  network_mirror {{\n    url = \"https://127.0.0.1:{}/mirror/\"\n  }}\n}}\n",
                self.port
            ),
        )
        .unwrap();
        rc
    }

    /// A CLI configuration installing through the registry protocol: a `host` block sends
    /// registry.terraform.io's provider service to this server.
    fn registry_rc(&self, dir: &Path) -> PathBuf {
        let rc = dir.join("registry.tfrc");
        std::fs::write(
            &rc,
            format!(
                "host \"registry.terraform.io\" {{\n  services = {{\n    \"providers.v1\" = \"https://127.0.0.1:{}/v1/providers/\"\n  }}\n}}\nprovider_installation {{\n  direct {{}}\n}}\n",
                self.port
            ),
        )
        .unwrap();
        rc
    }
}

impl Drop for MirrorServer {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.pid.to_string()).status();
    }
}

/// A working directory that installs from `rc` over HTTPS, trusting `server`'s throwaway CA.
fn installing_https(name: &str, rc: &Path, server: &MirrorServer) -> Tf {
    let mut tf = installing(name, rc);
    tf.env("SSL_CERT_FILE", &server.ca.display().to_string());
    tf
}

/// The provider binary with bytes appended: what an altered archive would carry.
fn tampered_binary(work: &Path) -> PathBuf {
    let bad = work.join("tampered");
    let mut bytes = std::fs::read(common::terraform::provider_binary()).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&bad, bytes).unwrap();
    bad
}

/// The `hashes` of the lock file's one provider entry.
fn locked_hashes(lock: &str) -> Vec<String> {
    let start = lock.find("hashes = [").expect("hashes in the lock file");
    let end = start + lock[start..].find(']').unwrap();
    lock[start..end].split('"').skip(1).step_by(2).map(str::to_string).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_init_installs_the_release_archive_from_a_mirror_and_pins_its_hash() {
    let l = Landing::new().await;
    let work = Tf::new("install").dir;
    let out = work.join("dist");
    // a throwaway signing key
    let gnupg = work.join("gnupg");
    let _key = signing_key(&gnupg);
    dist(&common::terraform::provider_binary(), &out, Some((&gnupg, "aft-test@example.com")));

    let v = version();
    let zip = out.join(format!("terraform-provider-aft_{v}_linux_amd64.zip"));
    let manifest = out.join(format!("terraform-provider-aft_{v}_manifest.json"));
    let sums = out.join(format!("terraform-provider-aft_{v}_SHA256SUMS"));
    // the registry's layout: the binary inside, the manifest, the sums of both, the signature
    let listing = Command::new("unzip").arg("-Z1").arg(&zip).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&listing.stdout).trim(), format!("terraform-provider-aft_v{v}"));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    assert_eq!(m, serde_json::json!({"version": 1, "metadata": {"protocol_versions": ["6.0"]}}));
    let sums_text = std::fs::read_to_string(&sums).unwrap();
    for f in [&zip, &manifest] {
        let line = format!("{}  {}", sha256_hex(f), f.file_name().unwrap().to_string_lossy());
        assert!(sums_text.lines().any(|l| l == line), "{line} not in SHA256SUMS:\n{sums_text}");
    }
    let verify = Command::new("gpg")
        .args(["--batch", "--homedir"])
        .arg(&gnupg)
        .arg("--verify")
        .arg(out.join(format!("terraform-provider-aft_{v}_SHA256SUMS.sig")))
        .arg(&sums)
        .output()
        .unwrap();
    assert!(verify.status.success(), "signature: {}", String::from_utf8_lossy(&verify.stderr));

    // install from a packed filesystem mirror
    let rc = mirror(&work.join("mirror"), &zip);
    let hcl = pinned_config(&l, &format!("install-{}@example.com", common::suffix()));
    let tf = installing("install-first", &rc);
    tf.write(&hcl);
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    let lock = std::fs::read_to_string(tf.path(".terraform.lock.hcl")).unwrap();
    assert!(lock.contains(&format!("version     = \"{v}\"")), "{lock}");
    assert!(lock.contains(&h1_of(&zip)), "the lock file pins the package's h1 hash:\n{lock}");
    // the installed binary applies
    tf.apply();
    assert!(tf.values("aft_account_provisioning.a")["account_id"].is_string());
    assert_eq!(tf.plan_exit(), 0);

    // a fresh directory with that lock file verifies against it
    let again = installing("install-again", &rc);
    again.write(&hcl);
    again.write_file(".terraform.lock.hcl", &lock);
    again.run(&["init", "-input=false", "-no-color"]).ok();

    // a tampered archive (another binary under the same name) is refused
    let bad_bin = tampered_binary(&work);
    let bad_out = work.join("dist-tampered");
    dist(&bad_bin, &bad_out, None);
    let bad_rc = mirror(&work.join("mirror-tampered"), &bad_out.join(zip.file_name().unwrap()));
    let refused = installing("install-tampered", &bad_rc);
    refused.write(&hcl);
    refused.write_file(".terraform.lock.hcl", &lock);
    let out = refused.run(&["init", "-input=false", "-no-color"]);
    assert_ne!(out.code, 0, "a tampered archive was installed");
    let words = common::one_line(&out.stderr);
    assert!(words.contains("checksum"), "{words}");
}

#[tokio::test(flavor = "multi_thread")]
async fn terraform_init_installs_over_https_from_a_network_mirror_and_through_the_registry_protocol() {
    let l = Landing::new().await;
    let work = Tf::new("install-https").dir;
    let key = signing_key(&work.join("gnupg"));
    let out = work.join("dist");
    dist(&common::terraform::provider_binary(), &out, Some((&key.home, "aft-test@example.com")));
    let v = version();
    let zip = out.join(format!("terraform-provider-aft_{v}_linux_amd64.zip"));
    let sums = std::fs::read_to_string(out.join(format!("terraform-provider-aft_{v}_SHA256SUMS"))).unwrap();
    let server = MirrorServer::start(&out, &work.join("certs"), &key);
    let hcl = pinned_config(&l, &format!("install-https-{}@example.com", common::suffix()));
    let h1 = h1_of(&zip);

    // the network mirror protocol refuses a server it cannot verify: no SSL_CERT_FILE, no install
    let nm_rc = server.network_mirror_rc(&work);
    let untrusted = installing("install-https-untrusted", &nm_rc);
    untrusted.write(&hcl);
    let refused = untrusted.run(&["init", "-input=false", "-no-color"]);
    assert_ne!(refused.code, 0, "installed from a server whose certificate nobody trusts");
    assert!(
        common::one_line(&refused.stderr).contains("certificate signed by unknown authority"),
        "{}",
        refused.stderr
    );

    // trusted through the throwaway CA, it installs, pins h1, and the binary plans and applies
    let nm = installing_https("install-https-mirror", &nm_rc, &server);
    nm.write(&hcl);
    nm.run(&["init", "-input=false", "-no-color"]).ok();
    let lock = std::fs::read_to_string(nm.path(".terraform.lock.hcl")).unwrap();
    assert!(lock.contains(&format!("version     = \"{v}\"")), "{lock}");
    // Terraform records a mirror's zh: hashes only when they come signed; a network mirror's
    // come unsigned (they only check the download), so the lock holds the package's h1 alone.
    assert_eq!(locked_hashes(&lock), vec![h1.clone()], "{lock}");
    nm.apply();
    assert!(nm.values("aft_account_provisioning.a")["account_id"].is_string());
    assert_eq!(nm.plan_exit(), 0);

    // the registry protocol: SHA256SUMS signed by the throwaway key, so the lock file records the
    // zh: hash of every line of SHA256SUMS beside the h1
    let reg_rc = server.registry_rc(&work);
    let reg = installing_https("install-https-registry", &reg_rc, &server);
    reg.write(&hcl);
    let init = reg.run(&["init", "-input=false", "-no-color"]).ok();
    assert!(common::one_line(&init.stdout).contains(&format!("self-signed, key ID {}", key.id)), "{}", init.stdout);
    let lock = std::fs::read_to_string(reg.path(".terraform.lock.hcl")).unwrap();
    let mut expected: Vec<String> =
        sums.lines().map(|l| format!("zh:{}", l.split_whitespace().next().unwrap())).collect();
    expected.push(h1.clone());
    expected.sort();
    let mut got = locked_hashes(&lock);
    got.sort();
    assert_eq!(got, expected, "the lock file holds the h1 and every zh: of SHA256SUMS:\n{lock}\n{sums}");
    assert_eq!(reg.plan_exit(), 2, "the registry-installed binary plans");

    // a fresh directory with that lock file verifies against it, through both protocols
    for (name, rc) in [("install-https-again-registry", &reg_rc), ("install-https-again-mirror", &nm_rc)] {
        let again = installing_https(name, rc, &server);
        again.write(&hcl);
        again.write_file(".terraform.lock.hcl", &lock);
        again.run(&["init", "-input=false", "-no-color"]).ok();
        assert_eq!(std::fs::read_to_string(again.path(".terraform.lock.hcl")).unwrap(), lock, "{name}");
    }

    // a server whose archive was altered after SHA256SUMS was signed: both protocols refuse it,
    // with no lock file to compare against (the registry checks the signed sums, the mirror its zh:)
    let bad_out = work.join("dist-tampered");
    dist(&tampered_binary(&work), &work.join("dist-tampered-build"), None);
    std::fs::create_dir_all(&bad_out).unwrap();
    for entry in std::fs::read_dir(&out).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), bad_out.join(entry.file_name())).unwrap();
    }
    std::fs::copy(
        work.join("dist-tampered-build").join(zip.file_name().unwrap()),
        bad_out.join(zip.file_name().unwrap()),
    )
    .unwrap();
    let bad = MirrorServer::start(&bad_out, &work.join("certs-tampered"), &key);
    for (name, rc) in [
        ("install-https-bad-registry", bad.registry_rc(&bad_out)),
        ("install-https-bad-mirror", bad.network_mirror_rc(&bad_out)),
    ] {
        let tf = installing_https(name, &rc, &bad);
        tf.write(&hcl);
        let out = tf.run(&["init", "-input=false", "-no-color"]);
        assert_ne!(out.code, 0, "{name}: a tampered archive was installed");
        let words = common::one_line(&out.stderr);
        assert!(words.contains("checksum") || words.contains("does not match"), "{name}: {words}");
        assert!(!tf.path(".terraform.lock.hcl").exists(), "{name}: a lock file was written");
    }
}
