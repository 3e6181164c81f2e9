//! `aft-convert`: turns an AFT `aft-account-request` repository into `aft_account_provisioning`
//! resources with import blocks, and AFT's request repository into `removed` blocks.
//!
//! ```text
//! aft-convert <request-repo-dir> [--out <dir>] [--removed-out <file>]
//! ```
//!
//! It reads every `.tf` file below `<request-repo-dir>` (hidden directories such as `.terraform`
//! aside) with hcl-edit, an HCL parser that keeps expressions as written, and converts each
//! module call whose `source` is AFT's `aft-account-request` module (the last path segment, after
//! any `?ref=` query, is `aft-account-request`; for a registry address, the module name is):
//!
//! - a `resource "aft_account_provisioning" "<the module's name>"` with the call's arguments as
//!   written (`control_tower_parameters`, `account_tags`, `change_management_parameters`,
//!   `custom_fields`, `account_customizations_name`, `for_each`, `count`), comments included;
//! - an `import` block with `id` = the `AccountEmail` expression (the provider imports by email);
//!   a `for_each` call gets one `import` with the same `for_each` and
//!   `to = aft_account_provisioning.<name>[each.key]`, a `count` call one with
//!   `for_each = range(<count>)` and `[each.value]` (Terraform 1.7+);
//! - the `locals` entries and `variable` blocks the copied expressions refer to, copied as
//!   written, and those they refer to in turn;
//! - a `removed { from = module.<address> lifecycle { destroy = false } }` block for AFT's
//!   request repository, so that its pipeline forgets the module's `aws_dynamodb_table_item`
//!   instead of deleting AFT's row (Terraform 1.7+).
//!
//! Reported on stderr as `file:line: …` and in a comment of the output, never dropped silently:
//! arguments that are not the module's or that the resource cannot take (`workflow_type`,
//! `account-request-table`, `providers`, …: not copied), unknown keys of
//! `control_tower_parameters` and `change_management_parameters` (removed, as AFT's object types
//! discarded them), missing `control_tower_parameters` keys, list or object values in
//! `account_tags`/`custom_fields`, references to anything but locals and variables, other module
//! calls and blocks (skipped), calls that AFT's pipeline never applied (in a directory no module
//! call of the root module reaches: skipped), and duplicate names or emails.
//!
//! The root module is `<request-repo-dir>`, or its `terraform/` directory when it holds no `.tf`
//! file of its own (AFT's layout: the `ct-aft-account-request` pipeline applies `terraform/`).
//! `terraform` and `provider` blocks are AFT's plumbing, and `source` and `version` name the
//! module: they are left out without a report.
//!
//! Output: without `--out`, the configuration goes to stdout as one file. With `--out <dir>`
//! (created if missing; existing files are never overwritten): `<dir>/aft-convert.tf` (the
//! reports as a comment, the locals and variables), one file per request file with the same path
//! relative to the root module, `/` written as `-` (`teams/payments.tf` → `teams-payments.tf`),
//! and `<dir>/aft-request-repo/aft-removed.tf`. `--removed-out <file>` writes the `removed`
//! blocks there instead; without `--out` and `--removed-out` they are not written.
//!
//! Exit code: 0 converted with nothing to report, 2 converted with reports, 1 error (bad
//! arguments, unreadable directory, a file that is not valid HCL, nothing converted, an output
//! file that exists); nothing is written on 1.
//!
//! A second mode, `aft-convert --rename-generated <file.tf>...`, names the blocks `terraform
//! query -generate-config-out` wrote (Terraform calls them `<list name>_<n>`) after the accounts
//! (see `rename.rs`).

mod aft;
mod convert;
mod refs;
mod rename;
mod repo;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use report::comment;

const USAGE: &str = "usage: aft-convert <request-repo-dir> [--out <dir>] [--removed-out <file>]";
const RENAME_USAGE: &str = "usage: aft-convert --rename-generated <generated.tf>...";

/// The command line.
struct Args {
    dir: PathBuf,
    out: Option<PathBuf>,
    removed_out: Option<PathBuf>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut dir, mut out, mut removed_out) = (None, None, None);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--out" => out = Some(args.next().ok_or("--out needs a directory")?.into()),
                "--removed-out" => removed_out = Some(args.next().ok_or("--removed-out needs a file")?.into()),
                "-h" | "--help" => return Err(String::new()),
                s if s.starts_with('-') => return Err(format!("unknown option {s}")),
                _ if dir.is_some() => return Err(format!("one request directory only, not also {a}")),
                _ => dir = Some(PathBuf::from(a)),
            }
        }
        Ok(Args { dir: dir.ok_or("the request repository's directory is missing")?, out, removed_out })
    }
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--rename-generated") {
        let files: Vec<PathBuf> = std::env::args().skip(2).map(PathBuf::from).collect();
        return match rename::run(&files) {
            Ok(reported) => ExitCode::from(if reported { 2 } else { 0 }),
            Err(e) => {
                eprintln!("aft-convert: error: {e}\n{RENAME_USAGE}");
                ExitCode::from(1)
            }
        };
    }
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("aft-convert: {e}\n{USAGE}");
            return ExitCode::from(1);
        }
    };
    match run(&args) {
        Ok(reported) => ExitCode::from(if reported { 2 } else { 0 }),
        Err(e) => {
            eprintln!("aft-convert: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Converts and writes; true when something was reported.
fn run(args: &Args) -> Result<bool, String> {
    let repo = repo::read(&args.dir)?;
    let c = convert::convert(&repo);
    for r in &c.reports.0 {
        eprintln!("{r}");
    }
    if c.converted == 0 {
        return Err(format!("no module call of aft-account-request converted below {}", args.dir.display()));
    }

    let mut header = format!(
        "# Written by aft-convert from {}: {} module call(s) of aft-account-request as aft_account_provisioning \
         resources, each with its import block.\n",
        args.dir.display(),
        c.converted
    );
    if !c.reports.0.is_empty() {
        header.push_str(&comment(&format!("\nReports ({}):", c.reports.0.len())));
        for r in &c.reports.0 {
            header.push_str(&comment(&format!("  {r}")));
        }
    }
    if c.repeated_imports {
        // an older Terraform then says which version it needs instead of failing on `for_each`
        header.push_str("\nterraform {\n  # import blocks with for_each\n  required_version = \">= 1.7.0\"\n}\n");
    }
    let removed = format!(
        "{}\n{}",
        comment(&format!(
            "Written by aft-convert from {}.\n\
             Put this file in the terraform/ directory of the aft-account-request repository (the root module\n\
             that AFT's ct-aft-account-request pipeline applies), in the same commit that deletes the module\n\
             calls named below. The pipeline then forgets their aws_dynamodb_table_item resources without\n\
             deleting AFT's aft-request rows. Needs Terraform 1.7 or later (SSM /aft/config/terraform/version).",
            args.dir.display()
        )),
        c.removed
    );

    let mut outputs: Vec<(PathBuf, String)> = Vec::new();
    match &args.out {
        None => {
            let mut text = header;
            if !c.inputs.is_empty() {
                text.push('\n');
                text.push_str(&c.inputs);
            }
            for (rel, body) in &c.files {
                text.push_str(&format!("\n# --- {} ---\n\n{}", rel.display(), body.trim_end()));
                text.push('\n');
            }
            check(Path::new("stdout"), &text)?;
            if let Some(path) = &args.removed_out {
                outputs.push((path.clone(), removed));
            }
            write_all(&outputs)?;
            print!("{text}");
            if args.removed_out.is_none() {
                eprintln!(
                    "aft-convert: the removed blocks for AFT's request repository were not written: use --out or --removed-out"
                );
            }
        }
        Some(out) => {
            let mut main = header;
            if !c.inputs.is_empty() {
                main.push('\n');
                main.push_str(&c.inputs);
            }
            outputs.push((out.join("aft-convert.tf"), main));
            for (rel, body) in &c.files {
                let flat = rel.iter().map(|p| p.to_string_lossy()).collect::<Vec<_>>().join("-");
                let mut path = out.join(&flat);
                let mut n = 2;
                while outputs.iter().any(|(p, _)| *p == path) {
                    path = out.join(format!("{}-{n}.tf", flat.trim_end_matches(".tf")));
                    n += 1;
                }
                outputs.push((path, format!("# Converted by aft-convert from {}\n\n{body}", rel.display())));
            }
            let removed_path =
                args.removed_out.clone().unwrap_or_else(|| out.join("aft-request-repo").join("aft-removed.tf"));
            outputs.push((removed_path, removed));
            write_all(&outputs)?;
            eprintln!(
                "aft-convert: {} module call(s) converted into {} ({} report(s))",
                c.converted,
                out.display(),
                c.reports.0.len()
            );
        }
    }
    Ok(!c.reports.0.is_empty())
}

/// Parses what is about to be written, so that a converter bug never leaves invalid HCL.
fn check(path: &Path, text: &str) -> Result<(), String> {
    text.parse::<hcl_edit::structure::Body>()
        .map(|_| ())
        .map_err(|e| format!("internal error: {} would not be valid HCL ({e})", path.display()))
}

/// Writes every output, after checking that none exists and that each parses.
fn write_all(outputs: &[(PathBuf, String)]) -> Result<(), String> {
    for (path, text) in outputs {
        if path.exists() {
            return Err(format!("{} exists: not overwritten (remove it or choose another --out)", path.display()));
        }
        check(path, text)?;
    }
    for (path, text) in outputs {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
