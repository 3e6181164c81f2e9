//! docs/ is generated: `scripts/docs.py --check` renders docs/index.md and every resource, data
//! source, list resource and action page from this build's schema, templates/ and examples/, and
//! fails with a diff when a committed page differs (`make docs` rewrites them).

use aft_test_harness as common;

use std::process::Command;

use common::moto::venv_bin;
use common::terraform::provider_binary;

#[test]
fn docs_are_generated_from_the_schema_templates_and_examples() {
    let provider_dir = provider_binary().parent().unwrap().to_path_buf();
    let out = Command::new(venv_bin("python"))
        .arg(common::repo().join("scripts/docs.py"))
        .arg("--check")
        .arg("--provider-dir")
        .arg(&provider_dir)
        .current_dir(common::repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/docs.py --check failed:\nSTDOUT:\n{}\nSTDERR:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
