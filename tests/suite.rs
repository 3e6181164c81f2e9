//! The integration tests, in one test binary. Each file of tests/ is a module here; the modules
//! were 30 test binaries. Cargo linked each of those against the whole provider and the AWS SDK
//! (some 65 MB each), and on a 2-core machine those links and the code each of them instantiated
//! again were most of `make test`'s build; one binary is compiled and linked once. `tests/iam.rs`
//! stays a binary of its own: its emulator enforces IAM for every caller in the process
//! (`Moto::get_with`), which the other modules' tests must not meet.
//!
//! The modules still run apart: `scripts/run_tests.py` lists this binary's tests and runs each
//! module as its own process (`--exact` with the module's test names), several at once, as it ran
//! the binaries, so each module keeps its own emulator and its own work directories. By hand:
//! `cargo test --test suite migration::` runs one module (a filter matches anywhere in a test's
//! path, so `iam::` would also match `steps::iam::`; `--exact` names a single test).

mod account_provisioning;
mod account_validation;
mod aft_coexistence;
mod auto_enroll;
mod auto_enroll_steps;
mod aws_behaviour;
mod bad_input;
mod blast_radius;
mod control_tower;
mod convert;
mod coordination;
mod customization_pipeline;
mod cutover;
mod docs;
mod docs_truth;
mod examples;
mod feature_options;
mod foundation;
mod install;
mod layers;
mod list_pipelines;
mod many_runners;
mod migration;
mod permissions;
mod pipeline_runner;
mod provisioning_customizations;
mod reliability;
mod state_upgrade;
mod steps;
mod terraform_versions;
