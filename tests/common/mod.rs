//! Test harness shared by the integration tests: a moto server per test binary, fixtures seeded
//! with the AWS SDK, and a runner for the real Terraform CLI against the built provider. It is the
//! library of the `aft-test-harness` crate (tests/harness/Cargo.toml), compiled once for every test
//! binary; the tests name it `common` (`use aft_test_harness as common;`).
#![allow(dead_code, unused_imports)]

pub mod aft;
pub mod control_tower;
pub mod fixtures;
pub mod http;
pub mod moto;
pub mod proxy;
pub mod runners;
pub mod service_catalog;
pub mod terraform;

pub use fixtures::Landing;
pub use http as http_client;
pub use moto::Moto;
pub use terraform::Tf;

/// The repository root (this crate is tests/harness in it).
pub fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

/// Every `.rs` file below `dir`.
pub fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

/// A random 12-digit account id (never starting with 0, distinct per call).
pub fn random_account_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!("{}", 100_000_000_000u64 + (n % 899_999_999_999) as u64)
}

/// A unique email for a test: `<tag>-<suffix>@example.com`.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", suffix())
}

/// Text with its line breaks and runs of spaces folded into single spaces (Terraform wraps
/// diagnostics), so assertions can look for a phrase.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with its `%XX` escapes decoded (RFC 3986 percent-encoding, as AWS encodes IAM documents
/// and as the provider's EC2 client encodes its form parameters; `+` stays `+`).
pub fn percent_decode(s: &str) -> String {
    let (mut out, b) = (Vec::with_capacity(s.len()), s.as_bytes());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// A short random suffix for names.
pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_string()
}

/// Waits for scripted AWS answers: polling every 5 ms for at most 30 s, with a stop nobody
/// requests.
pub fn fast_waits() -> terraform_provider_aft::framework::poll::Waits {
    terraform_provider_aft::framework::poll::Waits {
        poll: Some(std::time::Duration::from_millis(5)),
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(30),
        stop: terraform_provider_aft::plugin::stop::StopSignal::default(),
    }
}

/// Starts one of the test servers of scripts/ (moto_launcher.py, aws_proxy.py,
/// codepipeline_shim.py, mirror_server.py), each told to listen on a port of its own choosing and
/// to print `PORT=<port>` first on its stdout; -> that port and the server's pid.
///
/// The server lives no longer than this test process: its stdin is a pipe whose other end this
/// process holds, and `AFT_LIFELINE=stdin` makes it stop itself at end of file
/// (scripts/lifeline.py), which the kernel delivers when this process exits, however it exits.
/// Its handle is never dropped (the pipe stays open) and never waited for, so its pid stays its
/// own, as a zombie once it is stopped, while this process lives: stopping it by that pid cannot
/// reach a process that reused the number. After this process exits nobody signals it.
/// `what` names the server (and where its log is) in a panic.
pub fn start_server(cmd: &mut std::process::Command, what: &str) -> (u16, u32) {
    use std::io::BufRead;
    let mut child = cmd
        .env("AFT_LIFELINE", "stdin")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = child.stdout.take().expect("a piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("{what} printed nothing in 60 s"));
    let port = line
        .trim()
        .strip_prefix("PORT=")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{what} printed {line:?}, not PORT=<port>"));
    let pid = child.id();
    std::mem::forget(child);
    (port, pid)
}
