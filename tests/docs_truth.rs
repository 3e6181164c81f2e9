//! Docs that quote a number the code owns quote the code's number.
//!
//! Each [`Claim`] names a doc file, the text around the number as the doc writes it (`{}` is the
//! number; line breaks and runs of spaces count as one space, since Markdown wraps lines), and
//! where the code keeps the value. The value is read from the code: a public constant, what a
//! public function does (the SDK's retry configuration, the provider block's validation and
//! defaults, the polling backoff on a paused clock), or a schema description. Every place the
//! doc writes that text must quote the code's value, and the text must be there at least once.
//! Generated pages are checked in their templates and in docs/ (tests/docs.rs keeps the two
//! equal).

use std::time::Duration;

use aws_config::retry::RetryMode;
use terraform_provider_aft::aws;
use terraform_provider_aft::context::Settings;
use terraform_provider_aft::framework::{account_factory, poll, validate};
use terraform_provider_aft::inventory;
use terraform_provider_aft::plugin::{Attr, Number, Provider, write_model};
use terraform_provider_aft::provider::{AccountFactoryBlock, AftProvider, Config, CoordinationBlock};
use terraform_provider_aft::resources::{self, account_provisioning, customization_pipeline};
use terraform_provider_aft::validation;

/// One number a doc quotes.
struct Claim {
    /// The file, from the repository root.
    doc: &'static str,
    /// The text around the number, `{}` where the number is.
    pattern: &'static str,
    /// The value the code has, written as the doc writes it.
    value: String,
    /// Where the code keeps it.
    code: &'static str,
}

fn claim(doc: &'static str, pattern: &'static str, value: impl ToString, code: &'static str) -> Claim {
    Claim { doc, pattern, value: value.to_string(), code }
}

/// Generated pages: the template and the page made from it.
const INDEX: [&str; 2] = ["templates/index.md.tmpl", "docs/index.md"];
const ACCOUNT: [&str; 2] =
    ["templates/resources/account_provisioning.md.tmpl", "docs/resources/account_provisioning.md"];
const PIPELINE: [&str; 2] =
    ["templates/resources/customization_pipeline.md.tmpl", "docs/resources/customization_pipeline.md"];

/// `100 ms`, `5 s`, `120 s`: how the prose writes a short duration.
fn secs(d: Duration) -> String {
    match d.as_millis() {
        ms if ms < 1000 => format!("{ms} ms"),
        ms => format!("{} s", ms / 1000),
    }
}

/// `2 minutes`, `15 minutes`: how the prose writes whole minutes.
fn minutes(d: Duration) -> String {
    assert_eq!(d.as_secs() % 60, 0, "{d:?} is not whole minutes");
    format!("{} minutes", d.as_secs() / 60)
}

/// `90m`, `60m`, `2h`, `8760h`: how the docs write a Terraform duration.
fn tf(d: Duration) -> String {
    match d.as_secs() {
        // the docs write `60m`, not `1h`
        s if s % 3600 == 0 && s >= 7200 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The provider block's type.
fn provider_ty() -> terraform_provider_aft::plugin::Type {
    AftProvider.schema().cty()
}

/// Whether the provider block with these settings passes validation.
fn valid(c: &Config) -> bool {
    let v = write_model(c, &provider_ty()).unwrap();
    !AftProvider.validate(&v).has_errors()
}

/// The whole numbers from 0 to 1,000 that pass validation, as `lo to hi` (they must be one run).
fn range(set: impl Fn(i64) -> Config) -> String {
    let ok: Vec<i64> = (0..=1000).filter(|n| valid(&set(*n))).collect();
    let (lo, hi) = (ok[0], ok[ok.len() - 1]);
    assert_eq!(ok.len() as i64, hi - lo + 1, "the accepted values are not one run: {ok:?}");
    format!("{lo} to {hi}")
}

/// The `account_factory` block with a `max_concurrent_operations`.
fn operations(n: i64) -> Config {
    Config {
        account_factory: Some(AccountFactoryBlock {
            max_concurrent_operations: Attr::Known(Number::Int(n)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A `coordination` block.
fn coordination(lease: Option<&str>) -> Config {
    Config {
        region: Attr::Known("us-east-1".into()),
        endpoint_url: Attr::Known("http://127.0.0.1:9".into()),
        coordination: Some(CoordinationBlock {
            owner: Attr::Known("docs".into()),
            lease_duration: lease.map_or(Attr::Null, |l| Attr::Known(l.into())),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The shortest and longest of `candidates` the validation accepts, as "`lo` to `hi`".
fn accepted(candidates: &[&str], set: impl Fn(&str) -> Config) -> String {
    let ok: Vec<&&str> = candidates.iter().filter(|c| valid(&set(c))).collect();
    let d = |s: &str| validation::duration(s).unwrap();
    let lo = ok.iter().min_by_key(|s| d(s)).unwrap();
    let hi = ok.iter().max_by_key(|s| d(s)).unwrap();
    format!("`{lo}` to `{hi}`")
}

/// The description of a provider attribute (`block.attr` for one in a nested block).
fn provider_description(path: &str) -> String {
    let schema = AftProvider.schema();
    let (block, name) = match path.split_once('.') {
        Some((b, n)) => (&schema.block.blocks.iter().find(|x| x.name == b).unwrap().block, n),
        None => (&schema.block, path),
    };
    block.attribute(name).unwrap_or_else(|| panic!("no provider attribute {path}")).description.clone()
}

/// The first pause of the adaptive polling and the factor between two pauses, on a paused clock.
fn adaptive_polling() -> (Duration, f64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    rt.block_on(async {
        let stop = terraform_provider_aft::plugin::stop::StopSignal::default();
        let mut b = poll::Backoff::new(None, Duration::from_secs(3600), &stop);
        let mut pauses = Vec::new();
        for _ in 0..2 {
            let t = tokio::time::Instant::now();
            assert!(b.wait().await);
            pauses.push(t.elapsed());
        }
        (pauses[0], pauses[1].as_millis() as f64 / pauses[0].as_millis() as f64)
    })
}

/// The lease duration `configure` gives a `coordination` block without one.
fn default_lease() -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let v = write_model(&coordination(None), &provider_ty()).unwrap();
    let ctx = rt.block_on(AftProvider.configure(&v)).unwrap_or_else(|d| panic!("{d:?}"));
    ctx.settings.coordination.as_ref().unwrap().lease_duration
}

/// The Organizations status `AccountInfo` reads from an answer with (`State`, `Status`).
fn status_read(state: Option<&str>, status: Option<&str>) -> String {
    use aws_sdk_organizations::types::{Account, AccountState, AccountStatus};
    let mut a = Account::builder().id("111111111111");
    if let Some(s) = state {
        a = a.state(AccountState::from(s));
    }
    if let Some(s) = status {
        a = a.status(AccountStatus::from(s));
    }
    aws::organizations::AccountInfo::from(&a.build()).status
}

/// (wheel, Terraform) lines of the version matrix.
fn matrix() -> Vec<String> {
    std::fs::read_to_string(repo().join("scripts/terraform-versions.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string())
        .collect()
}

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every claim the docs make, with the code's value.
fn claims() -> Vec<Claim> {
    let mut c = Vec::new();

    // SDK retries: src/aws/mod.rs retry_config (the standard mode unless AWS_RETRY_MODE=adaptive)
    let retry = aws::retry_config(None);
    let mode = match retry.mode() {
        RetryMode::Standard => "standard",
        RetryMode::Adaptive => "adaptive",
        _ => "another",
    };
    let adaptive = if aws::retry_config(Some("adaptive")).mode() == RetryMode::Adaptive { "adaptive" } else { "-" };
    let code = "src/aws/mod.rs retry_config";
    for doc in INDEX {
        c.push(claim(doc, "SDK calls use the SDK's {} retry mode", mode, code));
        c.push(claim(doc, "retry mode ({} attempts, exponential backoff", retry.max_attempts(), code));
        c.push(claim(doc, "with jitter from {} up to", secs(retry.initial_backoff()), code));
        c.push(claim(doc, "up to {}; `AWS_RETRY_MODE=adaptive` adds", secs(retry.max_backoff()), code));
        c.push(claim(doc, "`AWS_RETRY_MODE={}` adds the SDK's client-side rate limiter", adaptive, code));
    }
    let rel = "docs/reliability.md";
    c.push(claim(rel, "provider uses the SDK's {} retry mode", mode, code));
    c.push(claim(rel, "retry mode with at most {} attempts", retry.max_attempts(), code));
    c.push(claim(rel, "exponential backoff with jitter from {} to", secs(retry.initial_backoff()), code));
    c.push(claim(rel, "jitter from 100 ms to {}; when it gives up", secs(retry.max_backoff()), code));
    c.push(claim(rel, "switching to the standard mode (backoff {} to", secs(retry.initial_backoff()), code));
    c.push(claim(rel, "(backoff 100 ms to {}, 8 attempts)", secs(retry.max_backoff()), code));
    c.push(claim(rel, "(backoff 100 ms to 5 s, {} attempts)", retry.max_attempts(), code));
    c.push(claim(rel, "`AWS_RETRY_MODE={}` still selects the adaptive mode", adaptive, code));
    let design = "docs/design.md";
    c.push(claim(design, "**SDK retries**: the SDK's {} retry mode", mode, code));
    c.push(claim(design, "retry mode, {} attempts, exponential backoff", retry.max_attempts(), code));
    c.push(claim(design, "with jitter from {} up to", secs(retry.initial_backoff()), code));
    c.push(claim(design, "up to {} (`AWS_RETRY_MODE=adaptive` selects", secs(retry.max_backoff()), code));
    c.push(claim(design, "(`AWS_RETRY_MODE={}` selects the adaptive mode)", adaptive, code));

    // the Control Tower clients: src/aws/mod.rs clients::controltower_count (the advisory count of
    // operations in flight) and clients::controltower (the auto-enroll method's calls)
    let ct_conf = aws_config::SdkConfig::builder().retry_config(aws::retry_config(None)).build();
    let ct = aws::clients::controltower_count(&ct_conf).config().retry_config().unwrap().max_attempts();
    let code = "src/aws/mod.rs clients::controltower_count";
    let required = aws::clients::controltower(&ct_conf).config().retry_config().unwrap().max_attempts();
    let required_code = "src/aws/mod.rs clients::controltower";
    for doc in INDEX.into_iter().chain([design]) {
        c.push(claim(doc, "in flight before an Account Factory operation makes {} attempts", ct, code));
        c.push(claim(doc, "method's Control Tower calls make {} attempts", required, required_code));
    }
    c.push(claim(rel, "still fails after the Control Tower client's {} attempts", ct, code));
    c.push(claim("CHANGELOG.md", "the Control Tower client makes {} attempts", ct, code));

    // credentials and sessions: src/aws/mod.rs
    let code = "src/aws/mod.rs IDENTITY_LOAD_TIMEOUT";
    c.push(claim(design, "Credential loads (AssumeRole hops) may take {}.", secs(aws::IDENTITY_LOAD_TIMEOUT), code));
    c.push(claim(rel, "Raising the load timeout to {} brought it", secs(aws::IDENTITY_LOAD_TIMEOUT), code));
    for doc in INDEX {
        c.push(claim(
            doc,
            "Every assumed session lasts {}.",
            minutes(aws::SESSION_LENGTH),
            "src/aws/mod.rs SESSION_LENGTH",
        ));
    }

    // default timeouts: the resources' DEFAULT_* constants
    let code = "src/resources/account_provisioning.rs DEFAULT_CREATE/UPDATE/DELETE";
    for doc in ACCOUNT {
        c.push(claim(doc, "`timeouts`: defaults {} (create)", tf(account_provisioning::DEFAULT_CREATE), code));
        c.push(claim(doc, "(create), {} (update), 20m", tf(account_provisioning::DEFAULT_UPDATE), code));
        c.push(claim(doc, "(update), {} (delete).", tf(account_provisioning::DEFAULT_DELETE), code));
    }
    c.push(claim(design, "default to {} (create)", tf(account_provisioning::DEFAULT_CREATE), code));
    c.push(claim(design, "(create), {} (update), 20m", tf(account_provisioning::DEFAULT_UPDATE), code));
    c.push(claim(design, "(update), {} (delete).", tf(account_provisioning::DEFAULT_DELETE), code));
    c.push(claim("CHANGELOG.md", "`delete` timeout (default {})", tf(account_provisioning::DEFAULT_DELETE), code));
    let code = "src/resources/customization_pipeline.rs DEFAULT_CREATE/UPDATE/DELETE";
    for doc in PIPELINE {
        c.push(claim(doc, "`timeouts`: defaults {} (create)", tf(customization_pipeline::DEFAULT_CREATE), code));
        c.push(claim(doc, "(create), {} (update), 30m", tf(customization_pipeline::DEFAULT_UPDATE), code));
        c.push(claim(doc, "(update), {} (delete).", tf(customization_pipeline::DEFAULT_DELETE), code));
    }

    // caps: the provider block's validation (src/provider.rs validate) and Settings::default
    let ops = range(operations);
    let customizations =
        range(|n| Config { max_concurrent_customizations: Attr::Known(Number::Int(n)), ..Default::default() });
    let defaults = Settings::default();
    let code = "src/provider.rs validate (cap), src/context.rs Settings::default";
    let ops_description = provider_description("account_factory.max_concurrent_operations");
    for doc in INDEX {
        c.push(claim(doc, "`max_concurrent_operations` ({}, default", &ops, code));
        c.push(claim(doc, "(1 to 10, default {}) caps account operations", defaults.max_concurrent_operations, code));
        c.push(claim(doc, "`max_concurrent_customizations` ({}) also caps", &customizations, code));
        c.push(claim(doc, "Control Tower's quota is {} by default", account_factory::CONTROL_TOWER_LIMIT, code));
        c.push(claim(doc, "by default and can be raised to {}: raise the cap", ops.rsplit(' ').next().unwrap(), code));
    }
    // the schema description, as docs/index.md renders it
    c.push(claim(INDEX[1], "Cap on account operations in flight, from {}.", &ops, code));
    c.push(claim("README.md", "`max_concurrent_operations` ({}) caps", &ops, code));
    c.push(claim(
        "README.md",
        "`AWS Control Tower Account Factory`, `{}`, adaptive",
        defaults.max_concurrent_operations,
        code,
    ));
    c.push(claim("README.md", "running at once ({}) |", &customizations, code));
    c.push(claim(
        "README.md",
        "| `max_concurrent_customizations` | `{}` |",
        defaults.max_concurrent_customizations,
        code,
    ));
    c.push(claim("docs/guides/coordination.md", "is this cap, from {}), shared", &ops, code));
    c.push(claim(
        "docs/guides/coordination.md",
        "({} by default; the quota can be raised",
        account_factory::CONTROL_TOWER_LIMIT,
        code,
    ));
    c.push(claim(rel, "compared with `max_concurrent_operations` ({}).", &ops, code));
    c.push(claim(
        rel,
        "`max_concurrent_operations` (default {}) are in flight",
        defaults.max_concurrent_operations,
        code,
    ));
    c.push(claim("CHANGELOG.md", "`account_factory.max_concurrent_operations` accepts {}**", &ops, code));
    c.push(claim("CHANGELOG.md", "The default stays {} (", defaults.max_concurrent_operations, code));
    c.push(claim("docs/compatibility.md", "`max_concurrent_operations` 1 to 100 → {});", &ops, code));
    assert!(ops_description.contains(&format!("from {ops}.")), "{ops_description}");
    assert!(
        ops_description.ends_with(&format!("Default: `{}`.", defaults.max_concurrent_operations)),
        "{ops_description}"
    );
    assert!(ops_description.contains(&format!("is {} by default", account_factory::CONTROL_TOWER_LIMIT)));
    let customizations_description = provider_description("max_concurrent_customizations");
    assert!(
        customizations_description.ends_with(&format!("Default: `{}`.", defaults.max_concurrent_customizations)),
        "{customizations_description}"
    );
    let iam = provider_description("iam_propagation_timeout");
    assert!(iam.ends_with(&format!("Default: `{}`.", tf(defaults.iam_propagation_timeout))), "{iam}");
    c.push(claim("README.md", "| `iam_propagation_timeout` | `\"{}\"` |", tf(defaults.iam_propagation_timeout), code));

    // coordination: src/provider.rs validate (lease range) and configure (default lease)
    let lease = default_lease();
    let lease_range = accepted(&["1s", "4s", "5s", "30s", "1h", "3601s", "2h"], |s| coordination(Some(s)));
    let code = "src/provider.rs validate and configure (lease_duration)";
    let description = provider_description("coordination.lease_duration");
    assert!(description.contains(&format!("From {lease_range}. Default: `{}`.", tf(lease))), "{description}");
    c.push(claim("docs/guides/coordination.md", "lease_duration = \"{}\" # default", tf(lease), code));
    c.push(claim("CHANGELOG.md", "`lease_duration` (default `{}`, from", tf(lease), code));
    c.push(claim("CHANGELOG.md", "`2m`, from {}) while", &lease_range, code));
    c.push(claim("README.md", "none (`aft-provider-coordination`, required, `{}`)", tf(lease), code));

    // polling: src/provider.rs validate (poll_interval), src/framework/poll.rs Backoff
    let floor = ["10ms", "99ms", "100ms", "1s"].into_iter().find(|s| {
        valid(&Config {
            account_factory: Some(AccountFactoryBlock {
                poll_interval: Attr::Known((*s).into()),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    for doc in INDEX {
        c.push(claim(
            doc,
            "a fixed interval of at least `{}`.",
            floor.unwrap_or("-"),
            "src/provider.rs validate (poll_interval)",
        ));
    }
    let (first, factor) = adaptive_polling();
    c.push(claim(design, "(the first look after {}, each pause", secs(first), "src/framework/poll.rs Backoff"));
    c.push(claim(design, "each pause ×{} up to a ceiling", factor, "src/framework/poll.rs Backoff"));
    let code = "src/framework/account_factory.rs BUSY_PAUSE_MAX";
    c.push(claim(design, "busy refusals up to {})", secs(account_factory::BUSY_PAUSE_MAX), code));
    c.push(claim(rel, "after a growing pause (up to {}, ending", secs(account_factory::BUSY_PAUSE_MAX), code));
    c.push(claim("CHANGELOG.md", "after a growing pause (up to {})", secs(account_factory::BUSY_PAUSE_MAX), code));
    let code = "src/framework/account_factory.rs MAX_ROUNDS";
    c.push(claim(rel, "not counted against the {} rounds", account_factory::MAX_ROUNDS, code));
    c.push(claim("CHANGELOG.md", "counting against the {} rounds", account_factory::MAX_ROUNDS, code));

    // the bulk read: src/inventory/mod.rs MAX_AGE, IDLE, ORG_CONCURRENCY
    let code = "src/inventory/mod.rs MAX_AGE, IDLE, ORG_CONCURRENCY";
    for doc in ACCOUNT {
        c.push(claim(doc, "reused while it is younger than {}, and", minutes(inventory::MAX_AGE), code));
        c.push(claim(doc, "asked for at least every {}, so one refresh walk", secs(inventory::IDLE), code));
        c.push(claim(doc, "read concurrently, {} at a time", inventory::ORG_CONCURRENCY, code));
    }
    for doc in PIPELINE {
        c.push(claim(doc, "(while younger than {}, then", minutes(inventory::MAX_AGE), code));
        c.push(claim(doc, "asked for at least every {})", secs(inventory::IDLE), code));
    }

    // validation: src/framework/validate.rs MAX_TAGS, src/validation.rs MAX_DURATION
    for doc in ACCOUNT {
        c.push(claim(doc, "tag rules ({} tags,", validate::MAX_TAGS, "src/framework/validate.rs MAX_TAGS"));
    }
    c.push(claim(rel, "anything over {})", tf(validation::MAX_DURATION), "src/validation.rs MAX_DURATION"));

    // Organizations: src/aws/organizations.rs
    let code = "src/aws/organizations.rs NON_EMPTY_ATTEMPTS";
    c.push(claim(
        rel,
        "an answer naming no parent or root is read {} times",
        aws::organizations::NON_EMPTY_ATTEMPTS,
        code,
    ));
    let state_first =
        if status_read(Some("SUSPENDED"), Some("ACTIVE")) == "SUSPENDED" { "`State`" } else { "`Status`" };
    let fallback = if status_read(None, Some("ACTIVE")) == "ACTIVE" { "`Status`" } else { "nothing" };
    let code = "src/aws/organizations.rs AccountInfo::from";
    c.push(claim(rel, "the provider reads {} and falls back to", state_first, code));
    c.push(claim(rel, "and falls back to {}, retired by AWS", fallback, code));

    // Terraform versions: scripts/terraform-versions.txt (the matrix of tests/terraform_versions.rs)
    let versions = matrix();
    let oldest: Vec<&str> = versions[0].split('.').take(2).collect();
    let oldest = oldest.join(".");
    let listed = versions.join(", ");
    let code = "scripts/terraform-versions.txt";
    for doc in ["README.md", INDEX[0], INDEX[1], "docs/compatibility.md"] {
        c.push(claim(doc, "Terraform **{} and later**", &oldest, code));
    }
    for doc in ["README.md", INDEX[0], INDEX[1]] {
        c.push(claim(doc, "destroy) under Terraform {} and 1.15.5", &listed, code));
    }
    c.push(claim(
        "docs/compatibility.md",
        "lifecycle subset under Terraform {} (`scripts/terraform-versions.txt`)",
        &listed,
        code,
    ));
    c.push(claim("docs/compatibility.md", "`tests/state_upgrade.rs` runs under {} and 1.15.5", &versions[0], code));
    c
}

/// Folds line breaks and runs of spaces into one space.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The values a doc writes where the pattern's `{}` is.
fn quoted(text: &str, pattern: &str) -> Vec<String> {
    let (pre, post) = pattern.split_once("{}").expect("a pattern has one {}");
    let mut out = Vec::new();
    for (i, _) in text.match_indices(pre) {
        let rest = &text[i + pre.len()..];
        let window = &rest[..rest.char_indices().nth(120).map_or(rest.len(), |(j, _)| j)];
        if let Some(end) = window.find(post) {
            out.push(window[..end].to_string());
        }
    }
    out
}

#[test]
fn every_number_the_docs_quote_is_the_codes() {
    let mut wrong = Vec::new();
    let claims = claims();
    for c in &claims {
        let text = std::fs::read_to_string(repo().join(c.doc)).unwrap_or_else(|e| panic!("{}: {e}", c.doc));
        let found = quoted(&fold(&text), &fold(c.pattern));
        if found.is_empty() {
            wrong.push(format!("{}: no text `{}` (the code, {}, has {})", c.doc, c.pattern, c.code, c.value));
        }
        for f in found.iter().filter(|f| **f != c.value) {
            wrong.push(format!("{}: `{}` quotes {f}, the code ({}) has {}", c.doc, c.pattern, c.code, c.value));
        }
    }
    assert!(wrong.is_empty(), "{} of {} claims are wrong:\n{}", wrong.len(), claims.len(), wrong.join("\n"));
}

/// docs/compatibility.md's table of schema versions is every resource's, as the provider serves it.
#[test]
fn the_schema_versions_in_the_compatibility_policy_are_the_resources() {
    let text = fold(&std::fs::read_to_string(repo().join("docs/compatibility.md")).unwrap());
    let all = resources::all();
    assert!(!all.is_empty());
    for r in all {
        let identity = r.identity_schema().map_or("none".to_string(), |i| i.version.to_string());
        let row = format!("| `{}` | {} | 0.1.0 | {identity} |", r.type_name(), r.schema().version);
        assert!(text.contains(&row), "docs/compatibility.md has no row {row}");
    }
}

/// The matcher finds what it must and nothing else (a checker that cannot fail checks nothing).
#[test]
fn the_matcher_reads_the_number_between_the_words() {
    let doc = fold(
        "the SDK's standard retry mode (8 attempts, exponential\n  backoff) and the SDK's standard retry mode (9 attempts, exponential backoff)",
    );
    assert_eq!(quoted(&doc, "retry mode ({} attempts, exponential backoff"), ["8", "9"]);
    assert!(quoted(&doc, "no such {} text").is_empty());
    assert_eq!(secs(Duration::from_millis(100)), "100 ms");
    assert_eq!(secs(Duration::from_secs(120)), "120 s");
    assert_eq!(minutes(Duration::from_secs(120)), "2 minutes");
    assert_eq!(minutes(Duration::from_secs(900)), "15 minutes");
    assert_eq!(tf(Duration::from_secs(5400)), "90m");
    assert_eq!(tf(Duration::from_secs(3600)), "60m");
    assert_eq!(tf(Duration::from_secs(7200)), "2h");
}
