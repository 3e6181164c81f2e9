//! The harness of the tests that run Terraform against AWS as it behaves (tests/reliability.rs,
//! tests/many_runners.rs): the vending method under test, the behaving proxy with the Account
//! Factory stand-in behind it, a seeded generator so a failing round can be replayed, and a loop
//! that applies until a plan is empty.

use std::time::Duration;

use super::control_tower::ControlTower;
use super::fixtures::CUSTOMIZATIONS_ASL;
use super::proxy::Proxy;
use super::service_catalog::ServiceCatalog;
use super::{Landing, Tf};

/// The `account_factory` block of the `organizations` method.
pub const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// A small seeded generator (xorshift64*), so a failing round can be replayed.
pub struct Rng(pub u64);

impl Rng {
    #[allow(clippy::should_implement_trait)] // a seeded generator's next number, not an iterator
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// A number from the environment (seeds, rounds, delays), or `default`.
pub fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The vending method under test and what it runs against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Method {
    Organizations,
    ControlTower,
    /// `organizations_auto_enroll`: CreateAccount, then Control Tower's auto-enrollment (issue 27).
    AutoEnroll,
}

impl Method {
    /// The `method` value of the `account_factory` block.
    pub fn name(self) -> &'static str {
        match self {
            Method::Organizations => "organizations",
            Method::ControlTower => "control_tower",
            Method::AutoEnroll => "organizations_auto_enroll",
        }
    }
}

/// The AWS a test talks to: the behaving proxy, and the Account Factory stand-in behind it for
/// `control_tower`.
pub struct Aws {
    pub method: Method,
    pub proxy: Proxy,
    pub sc: Option<ServiceCatalog>,
    /// For `organizations_auto_enroll`: the auto-enrollment stand-in (Sandbox, Workloads and Prod
    /// registered) and a Service Catalog stand-in without products (the provider counts products
    /// in flight too).
    pub ct: Option<(ControlTower, ServiceCatalog)>,
}

impl Aws {
    /// `extra`: more proxy arguments (fault kinds, fault services). Every Account Factory record
    /// takes `AFT_SC_DELAY_MS` (default 1,500 ms); Service Catalog and Control Tower calls go to
    /// the stand-in.
    pub fn start(l: &Landing, method: Method, extra: &[&str]) -> Aws {
        let sc = (method == Method::ControlTower)
            .then(|| ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(env_or("AFT_SC_DELAY_MS", 1_500))));
        let ct = (method == Method::AutoEnroll).then(|| {
            let ct = ControlTower::start(&l.ct_cfg, Duration::from_millis(env_or("AFT_CT_ENROLL_DELAY_MS", 1_500)));
            for ou in ["Sandbox", "Workloads", "Prod"] {
                ct.register(&l.ous[ou]);
            }
            (ct, ServiceCatalog::start(l.ct_cfg.clone(), Duration::from_millis(200)))
        });
        let mut routes: Vec<String> = sc.iter().flat_map(ServiceCatalog::routes).collect();
        routes.extend(ct.iter().flat_map(|(ct, sc)| ct.routes(sc)));
        Aws { method, proxy: Proxy::like_aws(&routes, extra), sc, ct }
    }

    /// A working directory whose AWS calls go through the proxy.
    pub fn tf(&self, name: &str) -> Tf {
        let mut tf = Tf::new(&format!("{name}-{:?}", self.method).to_lowercase());
        tf.env("AWS_ENDPOINT_URL", &self.proxy.endpoint);
        tf
    }

    /// The provider block with this method.
    pub fn provider(&self, l: &Landing) -> String {
        self.provider_with(l, "", "")
    }

    /// The provider block with this method, `account_factory` lines (`af`) and other provider
    /// blocks or lines (`extra`).
    pub fn provider_with(&self, l: &Landing, af: &str, extra: &str) -> String {
        l.provider(&format!("  account_factory {{\n    method = \"{}\"\n{af}  }}\n{extra}", self.method.name()))
    }

    /// What the behaviour layer and the stand-in did, for the closing figures.
    pub fn figures(&self) -> String {
        let b = self.proxy.behaviour();
        match (&self.sc, &self.ct) {
            (Some(sc), _) => format!("{}; account factory {:?}", b["counts"], sc.report()),
            (None, Some((ct, _))) => format!("{}; auto-enrollment {:?}", b["counts"], ct.report()),
            (None, None) => b["counts"].to_string(),
        }
    }
}

/// A landing zone with the customization state machine and the pipeline role.
pub async fn landing() -> Landing {
    let l = Landing::new().await;
    l.create_customizations(CUSTOMIZATIONS_ASL).await;
    l.create_pipeline_role().await;
    l
}

/// `n` emails unique to this test: `<tag><i>-<suffix>@example.com`.
pub fn emails(tag: &str, n: usize) -> Vec<String> {
    let s = super::suffix();
    (0..n).map(|i| format!("{tag}{i}-{s}@example.com")).collect()
}

/// Applies until it succeeds and a plan is empty (at most `tries` applies).
pub fn converge(tf: &Tf, tries: usize) -> usize {
    for n in 1..=tries {
        let out = tf.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        if out.code == 0 && tf.plan_exit() == 0 {
            return n;
        }
        eprintln!("converge attempt {n} did not finish:\n{}\n{}", out.stdout, out.stderr);
    }
    panic!("no convergence after {tries} applies");
}
