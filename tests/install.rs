//! Installing the provider as a user does (issue 16, first part): `scripts/dist.py` (what `make
//! dist` runs) makes the registry's archives, a packed filesystem mirror serves them, and
//! `terraform init` installs from it with no `dev_overrides`: the lock file records the
//! package's `h1:` hash, a second init verifies against it, a tampered archive is refused, and
//! the installed binary applies. The HTTPS network mirror (and its `zh:` hashes) is not here yet.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[tokio::test(flavor = "multi_thread")]
async fn terraform_init_installs_the_release_archive_from_a_mirror_and_pins_its_hash() {
    let l = Landing::new().await;
    let work = Tf::new("install").dir;
    let out = work.join("dist");
    // a throwaway signing key
    let gnupg = work.join("gnupg");
    std::fs::create_dir_all(&gnupg).unwrap();
    let keygen = Command::new("gpg")
        .args(["--batch", "--homedir"])
        .arg(&gnupg)
        .args(["--passphrase", "", "--quick-gen-key", "aft-test@example.com", "ed25519", "sign", "1d"])
        .output()
        .unwrap();
    assert!(keygen.status.success(), "gpg key: {}", String::from_utf8_lossy(&keygen.stderr));
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
    let hcl = format!(
        "{}{}",
        l.provider("  account_factory {\n    method = \"organizations\"\n  }").replace(
            "aft = { source = \"aft-rs/aft\" }",
            &format!("aft = {{ source = \"aft-rs/aft\", version = \"~> {}\" }}", &v[..v.rfind('.').unwrap()])
        ),
        account_block("a", &format!("install-{}@example.com", common::suffix()), "Sandbox", "")
    );
    assert!(hcl.contains("version = \"~> "), "{hcl}");
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
    let bad_bin = work.join("tampered");
    let mut bytes = std::fs::read(common::terraform::provider_binary()).unwrap();
    bytes.extend_from_slice(b"tampered");
    std::fs::write(&bad_bin, bytes).unwrap();
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
