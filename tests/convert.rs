//! `aft-convert` (issue 26 item 1): an `aft-account-request` repository written the way AFT's
//! own example (`examples/account-request.tf`) and its module's `variables.tf` document it
//! (several files, AFT's `terraform/` layout, a nested directory behind a wrapper module, a
//! `for_each` call over a local map, a `count` call, locals and a variable referenced, an input
//! the resource cannot take, an input of a team's own copy of the module, a module that is not
//! aft-account-request) becomes resources with the calls' names, import blocks and removed
//! blocks. The output is read back with hcl-edit; real Terraform plans the converted
//! configuration against AFT-vended accounts in moto (only imports) and applies the removed
//! blocks to the request repository's own state (forgotten, not destroyed).

use aft_test_harness as common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::moto::venv_bin;
use common::{Landing, Tf, aft};
use hcl_edit::Decorate;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body};

const ORGS: &str = "  account_factory {\n    method = \"organizations\"\n  }";

/// The names of the request repository's aft-account-request calls.
const CALLS: [&str; 4] = ["legacy_1", "fleet", "singles", "legacy_4"];

/// One account of the request repository, as its request says.
struct Account {
    email: String,
    name: String,
    ou: &'static str,
    n: usize,
}

/// The five accounts of [`write_repo`]: `n` and OU as `aft::seed_account` vends them.
fn accounts(emails: [String; 5]) -> Vec<Account> {
    let ous = ["Sandbox", "Sandbox", "Prod", "Workloads", "Sandbox"];
    emails
        .into_iter()
        .enumerate()
        .map(|(i, email)| Account { email, name: format!("legacy{}", i + 1), ou: ous[i], n: i + 1 })
        .collect()
}

/// A stand-in for AFT's `modules/aft-account-request`: the same inputs as AFT's `variables.tf`
/// (names and types), plus `budget_alert_email`, an input a team added to its copy; one
/// `terraform_data` per request where AFT writes its `aws_dynamodb_table_item` (the AWS provider
/// cannot be installed here), whose destroy leaves a mark in `destroyed.txt`.
const MODULE_VARIABLES: &str = r#"variable "control_tower_parameters" {
  type = object({
    AccountEmail              = string
    AccountName               = string
    ManagedOrganizationalUnit = string
    SSOUserEmail              = string
    SSOUserFirstName          = string
    SSOUserLastName           = string
  })
}

variable "change_management_parameters" {
  type = object({
    change_requested_by = string
    change_reason       = string
  })
}

variable "account_tags" {
  type    = map(any)
  default = {}
}

variable "custom_fields" {
  type    = map(any)
  default = {}
}

variable "account_customizations_name" {
  type    = string
  default = ""
}

variable "workflow_type" {
  type    = string
  default = "apply"
}

# not AFT's: this team's own addition to its copy of the module
variable "budget_alert_email" {
  type    = string
  default = ""
}
"#;

const MODULE_ITEM: &str = r#"resource "terraform_data" "account-request" {
  input = var.control_tower_parameters.AccountEmail

  provisioner "local-exec" {
    when    = destroy
    command = "echo ${self.input} >> destroyed.txt"
  }
}
"#;

/// Writes the request repository in AFT's layout (`<dir>/terraform/...`) for five accounts:
/// - `terraform/account-1.tf`: AFT's example for `a[0]`, plus `workflow_type` (an input of AFT's
///   module that the resource does not take);
/// - `terraform/fleet.tf`: `a[1]` and `a[2]` from a `for_each` over a local map, with locals
///   (one of them used by no call);
/// - `terraform/singles.tf`: `a[4]` from a `count` over a local list;
/// - `terraform/teams/payments/accounts.tf`: `a[3]` in a nested directory that
///   `terraform/teams.tf` calls, with its own local and variable, a `Team` key that AFT's object
///   type discarded, and `budget_alert_email` (the team's own input);
/// - `terraform/network.tf`: a call of another module;
/// - `examples/account-request.tf`: a call that no root module applies.
fn write_repo(dir: &Path, a: &[Account]) {
    let write = |rel: &str, text: &str| {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write("terraform/modules/aft-account-request/variables.tf", MODULE_VARIABLES);
    write("terraform/modules/aft-account-request/ddb.tf", MODULE_ITEM);
    write("terraform/modules/naming/main.tf", "output \"prefix\" {\n  value = \"acme\"\n}\n");
    write("terraform/versions.tf", "terraform {\n  required_version = \">= 1.7.0\"\n}\n");
    write("terraform/network.tf", "module \"naming\" {\n  source = \"./modules/naming\"\n}\n");
    write(
        "terraform/account-1.tf",
        &format!(
            r#"module "legacy_1" {{
  source = "./modules/aft-account-request"

  control_tower_parameters = {{
    AccountEmail = "{email}"
    AccountName  = "{name}"
    # Syntax for top-level OU
    ManagedOrganizationalUnit = "{ou}"
    # Syntax for nested OU
    # ManagedOrganizationalUnit = "Sandbox (ou-xfe5-a8hb8ml8)"
    SSOUserEmail     = "owner@example.com"
    SSOUserFirstName = "Ada"
    SSOUserLastName  = "Lovelace"
  }}

  account_tags = {{
    "Owner" = "team-1"
    "Env"   = "dev"
  }}

  change_management_parameters = {{
    change_requested_by = "platform"
    change_reason       = "onboarding"
  }}

  custom_fields = {{
    tier = "t1"
  }}

  account_customizations_name = "sandbox"
  workflow_type               = "apply"
}}
"#,
            email = a[0].email,
            name = a[0].name,
            ou = a[0].ou
        ),
    );
    let entry =
        |x: &Account| format!("    {} = {{ email = \"{}\", ou = \"{}\", n = {} }}\n", x.name, x.email, x.ou, x.n);
    write(
        "terraform/fleet.tf",
        &format!(
            r#"locals {{
  sso = {{
    SSOUserEmail     = "owner@example.com"
    SSOUserFirstName = "Ada"
    SSOUserLastName  = "Lovelace"
  }}
  common_tags = {{ Env = "dev" }}
  change = {{
    change_requested_by = "platform"
    change_reason       = "onboarding"
  }}
  fleet = {{
{entries}  }}
  not_used = "by any call"
}}

module "fleet" {{
  for_each = local.fleet
  source   = "./modules/aft-account-request"

  control_tower_parameters = merge(local.sso, {{
    AccountEmail              = each.value.email
    AccountName               = each.key
    ManagedOrganizationalUnit = each.value.ou
  }})
  account_tags                 = merge(local.common_tags, {{ Owner = "team-${{each.value.n}}" }})
  change_management_parameters = local.change
  custom_fields                = {{ tier = "t${{each.value.n}}" }}
  account_customizations_name  = "sandbox"
}}
"#,
            entries = entry(&a[1]) + &entry(&a[2]),
        ),
    );
    write(
        "terraform/singles.tf",
        &format!(
            r#"locals {{
  singles = [
    {{ email = "{email}", name = "{name}" }},
  ]
}}

module "singles" {{
  count  = length(local.singles)
  source = "./modules/aft-account-request"

  control_tower_parameters = merge(local.sso, {{
    AccountEmail              = local.singles[count.index].email
    AccountName               = local.singles[count.index].name
    ManagedOrganizationalUnit = "{ou}"
  }})
  account_tags                 = {{ Owner = "team-{n}", Env = "dev" }}
  change_management_parameters = local.change
  custom_fields                = {{ tier = "t{n}" }}
  account_customizations_name  = "sandbox"
}}
"#,
            email = a[4].email,
            name = a[4].name,
            ou = a[4].ou,
            n = a[4].n
        ),
    );
    write("terraform/teams.tf", "module \"payments_team\" {\n  source = \"./teams/payments\"\n}\n");
    write(
        "terraform/teams/payments/accounts.tf",
        &format!(
            r#"locals {{
  payments_ou = "{ou}"
}}

variable "owner" {{
  type    = string
  default = "team-{n}"
}}

module "legacy_4" {{
  source = "../../modules/aft-account-request"

  control_tower_parameters = {{
    AccountEmail              = "{email}"
    AccountName               = "{name}"
    ManagedOrganizationalUnit = local.payments_ou
    SSOUserEmail              = "owner@example.com"
    SSOUserFirstName          = "Ada"
    SSOUserLastName           = "Lovelace"
    Team                      = "payments"
  }}
  account_tags = {{ Owner = var.owner, Env = "dev" }}
  change_management_parameters = {{
    change_requested_by = "platform"
    change_reason       = "onboarding"
  }}
  custom_fields               = {{ tier = "t{n}" }}
  account_customizations_name = "sandbox"
  budget_alert_email          = "finops@example.com"
}}
"#,
            email = a[3].email,
            name = a[3].name,
            ou = a[3].ou,
            n = a[3].n
        ),
    );
    write(
        "examples/account-request.tf",
        "module \"example_only\" {\n  source = \"../terraform/modules/aft-account-request\"\n\n  control_tower_parameters = {\n    AccountEmail = \"example@example.com\"\n  }\n}\n",
    );
}

/// The line (1-based) of the first line of `rel` below `dir` that contains `needle`.
fn line_of(dir: &Path, rel: &str, needle: &str) -> usize {
    let text = std::fs::read_to_string(dir.join(rel)).unwrap();
    text.lines().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle} not in {rel}")) + 1
}

/// A fresh directory under target/test-work.
fn work_dir(name: &str) -> PathBuf {
    let dir = common::repo().join("target/test-work").join(format!("{name}-{}", common::suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the built `aft-convert`: (exit code, stdout, stderr).
fn convert(args: &[&Path]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_aft-convert")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn parse(text: &str) -> Body {
    text.parse().unwrap_or_else(|e| panic!("not valid HCL ({e}):\n{text}"))
}

/// An expression as written, without the whitespace and comments around it.
fn text(e: &Expression) -> String {
    let mut e = e.clone();
    e.decor_mut().clear();
    e.to_string()
}

/// The `aft_account_provisioning` resources of a body by name.
fn resources(body: &Body) -> BTreeMap<String, Block> {
    body.blocks()
        .filter(|b| b.ident.as_str() == "resource" && b.labels[0].as_str() == "aft_account_provisioning")
        .map(|b| (b.labels[1].as_str().to_string(), b.clone()))
        .collect()
}

/// The import blocks of a body: `to` → (`for_each`, `id`), as written.
fn imports(body: &Body) -> BTreeMap<String, (Option<String>, String)> {
    body.blocks()
        .filter(|b| b.ident.as_str() == "import")
        .map(|b| {
            let get = |k: &str| b.body.get_attribute(k).map(|a| text(&a.value));
            (get("to").unwrap(), (get("for_each"), get("id").unwrap()))
        })
        .collect()
}

/// The module calls of the request repository's files, by name.
fn calls(dir: &Path) -> BTreeMap<String, Block> {
    let mut out = BTreeMap::new();
    for rel in ["account-1.tf", "fleet.tf", "singles.tf", "teams/payments/accounts.tf"] {
        let body = parse(&std::fs::read_to_string(dir.join("terraform").join(rel)).unwrap());
        for b in body.blocks().filter(|b| b.ident.as_str() == "module") {
            out.insert(b.labels[0].as_str().to_string(), b.clone());
        }
    }
    out
}

/// Every `*.tf` file directly in `dir`, concatenated.
fn tf_files(dir: &Path) -> String {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    names.sort();
    names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect::<Vec<_>>().join("\n")
}

fn fixed_emails() -> [String; 5] {
    std::array::from_fn(|i| format!("legacy{}@example.com", i + 1))
}

#[test]
fn converts_every_request_with_its_name_arguments_import_and_removed_block() {
    let base = work_dir("convert-repo");
    let dir = base.join("aft-account-request");
    write_repo(&dir, &accounts(fixed_emails()));
    let out = base.join("out");
    let (code, _, stderr) = convert(&[&dir, Path::new("--out"), &out]);
    assert_eq!(code, 2, "converted with reports:\n{stderr}");

    // every report names file:line
    let at = |rel: &str, needle: &str| format!("{}:{}:", dir.join(rel).display(), line_of(&dir, rel, needle));
    let payments = "terraform/teams/payments/accounts.tf";
    for (at, what) in [
        (at("terraform/account-1.tf", "workflow_type"), "`workflow_type = \"apply\"` not copied"),
        (
            at(payments, "budget_alert_email"),
            "`budget_alert_email = \"finops@example.com\"` not copied: not an argument of AFT's aft-account-request module",
        ),
        (at(payments, "Team "), "`Team = \"payments\"` removed from control_tower_parameters"),
        (at("terraform/network.tf", "module \"naming\""), "module \"naming\" skipped"),
        (at("terraform/teams.tf", "module \"payments_team\""), "module \"payments_team\" skipped"),
        (at("examples/account-request.tf", "module"), "module \"example_only\" not converted"),
    ] {
        assert!(stderr.lines().any(|l| l.starts_with(&at) && l.contains(what)), "a report {at} {what}:\n{stderr}");
    }
    assert_eq!(stderr.lines().filter(|l| l.starts_with(&dir.display().to_string())).count(), 6, "{stderr}");

    // the files: one per request file (nested paths flattened), the inputs, the removed blocks
    let names: BTreeSet<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    let expected =
        ["account-1.tf", "aft-convert.tf", "aft-request-repo", "fleet.tf", "singles.tf", "teams-payments-accounts.tf"];
    assert_eq!(names, expected.iter().map(|s| s.to_string()).collect(), "files written");
    let all = tf_files(&out);
    let body = parse(&all);

    // the same names; the arguments as written, less what the resource cannot take
    let res = resources(&body);
    assert_eq!(res.keys().cloned().collect::<BTreeSet<_>>(), CALLS.iter().map(|s| s.to_string()).collect());
    let modules = calls(&dir);
    for (name, r) in &res {
        let m = &modules[name];
        let keys: Vec<&str> = r.body.attributes().map(|a| a.key.as_str()).collect();
        let expected: Vec<&str> = m
            .body
            .attributes()
            .map(|a| a.key.as_str())
            .filter(|k| !["source", "workflow_type", "budget_alert_email"].contains(k))
            .collect();
        assert_eq!(keys, expected, "{name}: the module's arguments, in its order");
        for a in r.body.attributes() {
            let original = text(&m.body.get_attribute(a.key.as_str()).unwrap().value);
            if name == "legacy_4" && a.key.as_str() == "control_tower_parameters" {
                assert!(original.contains("Team") && !text(&a.value).contains("Team"), "{}", text(&a.value));
                continue;
            }
            assert_eq!(text(&a.value), original, "{name}.{} as written", a.key.as_str());
        }
    }
    assert_eq!(text(&res["fleet"].body.get_attribute("for_each").unwrap().value), "local.fleet");
    assert_eq!(text(&res["singles"].body.get_attribute("count").unwrap().value), "length(local.singles)");
    // AFT's own comments stay with the argument
    assert!(all.contains("    # Syntax for nested OU\n"), "{all}");
    // the reports are in the output too: over the resource, and all of them in aft-convert.tf
    let legacy_1 = std::fs::read_to_string(out.join("account-1.tf")).unwrap();
    let over = &legacy_1[..legacy_1.find("resource \"aft_account_provisioning\" \"legacy_1\"").unwrap()];
    assert!(
        over.lines().any(|l| l.starts_with("# ") && l.contains("`workflow_type = \"apply\"` not copied")),
        "{legacy_1}"
    );
    let header = std::fs::read_to_string(out.join("aft-convert.tf")).unwrap();
    assert_eq!(header.lines().filter(|l| l.starts_with("#   ") && l.contains(".tf:")).count(), 6, "{header}");

    // one import per call, keyed by the AccountEmail expression
    let im = imports(&body);
    let fleet_email = "merge(local.sso, {\n    AccountEmail              = each.value.email\n    AccountName               = each.key\n    ManagedOrganizationalUnit = each.value.ou\n  }).AccountEmail";
    let singles_email = "merge(local.sso, {\n    AccountEmail              = local.singles[each.value].email\n    AccountName               = local.singles[each.value].name\n    ManagedOrganizationalUnit = \"Sandbox\"\n  }).AccountEmail";
    let expected: BTreeMap<String, (Option<String>, String)> = [
        ("aft_account_provisioning.legacy_1", None, "\"legacy1@example.com\""),
        ("aft_account_provisioning.legacy_4", None, "\"legacy4@example.com\""),
        ("aft_account_provisioning.fleet[each.key]", Some("local.fleet"), fleet_email),
        ("aft_account_provisioning.singles[each.value]", Some("range(length(local.singles))"), singles_email),
    ]
    .into_iter()
    .map(|(to, fe, id)| (to.to_string(), (fe.map(String::from), id.to_string())))
    .collect();
    assert_eq!(im, expected);

    // the locals and variables the calls use (and theirs), copied as written; no others
    let locals: Vec<String> = body
        .blocks()
        .filter(|b| b.ident.as_str() == "locals")
        .flat_map(|b| b.body.attributes().map(|a| a.key.as_str().to_string()).collect::<Vec<_>>())
        .collect();
    assert_eq!(locals, ["sso", "common_tags", "change", "fleet", "singles", "payments_ou"]);
    let vars: Vec<&str> =
        body.blocks().filter(|b| b.ident.as_str() == "variable").map(|b| b.labels[0].as_str()).collect();
    assert_eq!(vars, ["owner"]);
    let owner = body.blocks().find(|b| b.ident.as_str() == "variable").unwrap();
    assert_eq!(text(&owner.body.get_attribute("default").unwrap().value), "\"team-4\"");
    assert!(!all.contains("not_used"), "an unused local is not copied");
    assert!(!all.contains("example@example.com"), "a call no root module applies is not converted");

    // the removed blocks, one per call, at the module address AFT's state holds it under
    let removed = parse(&std::fs::read_to_string(out.join("aft-request-repo/aft-removed.tf")).unwrap());
    let mut from = BTreeSet::new();
    for b in removed.blocks() {
        assert_eq!(b.ident.as_str(), "removed");
        let lifecycle = b.body.get_blocks("lifecycle").next().expect("a lifecycle block");
        assert_eq!(text(&lifecycle.body.get_attribute("destroy").unwrap().value), "false");
        from.insert(text(&b.body.get_attribute("from").unwrap().value));
    }
    let expected: BTreeSet<String> =
        ["module.legacy_1", "module.fleet", "module.singles", "module.payments_team.module.legacy_4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(from, expected);

    // stdout: the same configuration as one file; the removed blocks where --removed-out says
    let elsewhere = base.join("request-repo-removed.tf");
    let (code, stdout, _) = convert(&[&dir, Path::new("--removed-out"), &elsewhere]);
    assert_eq!(code, 2);
    let one = parse(&stdout);
    assert_eq!(resources(&one).keys().collect::<Vec<_>>(), res.keys().collect::<Vec<_>>());
    assert_eq!(imports(&one), im);
    assert_eq!(
        std::fs::read_to_string(&elsewhere).unwrap(),
        std::fs::read_to_string(out.join("aft-request-repo/aft-removed.tf")).unwrap()
    );

    // nothing is overwritten
    let (code, _, stderr) = convert(&[&dir, Path::new("--out"), &out]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("exists: not overwritten"), "{stderr}");
}

#[test]
fn exit_codes_say_clean_reported_or_failed() {
    // AFT's own example, as AFT's repository ships it: nothing to report
    let clean = work_dir("convert-clean");
    std::fs::write(
        clean.join("account-request.tf"),
        r#"module "sandbox_account_01" {
  source = "./modules/aft-account-request"

  control_tower_parameters = {
    AccountEmail              = "john.doe@example.com"
    AccountName               = "sandbox-account-01"
    ManagedOrganizationalUnit = "Sandbox"
    SSOUserEmail              = "john.doe@example.com"
    SSOUserFirstName          = "John"
    SSOUserLastName           = "Doe"
  }

  account_tags = {
    "ABC:Owner" = "john.doe@example.com"
  }

  change_management_parameters = {
    change_requested_by = "John Doe"
    change_reason       = "testing the account vending process"
  }

  custom_fields = {
    custom1 = "a"
  }

  account_customizations_name = "sandbox-customizations"
}
"#,
    )
    .unwrap();
    let (code, stdout, stderr) = convert(&[&clean]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(resources(&parse(&stdout)).len(), 1);
    assert!(!stderr.contains(".tf:"), "nothing reported:\n{stderr}");

    // a key AFT's example leaves out is reported, and so is a list where the resource needs a string
    let text = std::fs::read_to_string(clean.join("account-request.tf")).unwrap();
    let missing = text
        .replace("    SSOUserLastName           = \"Doe\"\n", "")
        .replace("custom1 = \"a\"", "custom1 = [\"a\", \"b\"]");
    std::fs::write(clean.join("account-request.tf"), missing).unwrap();
    let (code, _, stderr) = convert(&[&clean]);
    assert_eq!(code, 2, "{stderr}");
    let at = clean.join("account-request.tf").display().to_string();
    assert!(stderr.contains(&format!("{at}:4: control_tower_parameters has no SSOUserLastName")), "{stderr}");
    assert!(stderr.contains(&format!("{at}:22: custom_fields.custom1 is a list or object")), "{stderr}");

    // not HCL: an error naming the line, and nothing written
    let bad = work_dir("convert-bad");
    std::fs::write(
        bad.join("a.tf"),
        "module \"x\" {\n  source = \"./modules/aft-account-request\"\n  control_tower_parameters = {\n}\n",
    )
    .unwrap();
    let out = bad.join("out");
    let (code, _, stderr) = convert(&[&bad, Path::new("--out"), &out]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains(&format!("{}:", bad.join("a.tf").display())), "{stderr}");
    assert!(!out.exists(), "nothing written on an error");

    // no call of aft-account-request: an error
    let none = work_dir("convert-none");
    std::fs::write(none.join("main.tf"), "module \"vpc\" {\n  source = \"terraform-aws-modules/vpc/aws\"\n}\n")
        .unwrap();
    let (code, stdout, stderr) = convert(&[&none]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("module \"vpc\" skipped") && stderr.contains("no module call of aft-account-request"));
}

/// The removed blocks, put in AFT's request repository as the guide says (in `terraform/`, in the
/// commit that deletes the calls), make its Terraform forget every request's item and destroy
/// none; without them, the same deletion destroys every item.
#[test]
fn removed_blocks_make_the_request_repository_forget_its_items() {
    let base = work_dir("convert-removed");
    let dir = base.join("aft-account-request");
    write_repo(&dir, &accounts(fixed_emails()));
    let out = base.join("converted");
    assert_eq!(convert(&[&dir, Path::new("--out"), &out]).0, 2);

    // AFT's request pipeline has applied the repository (Terraform in terraform/)
    let mut tf = Tf::new("convert-request-repo");
    tf.dir = dir.join("terraform");
    tf.run(&["init", "-input=false", "-no-color"]).ok();
    tf.apply();
    let items = |tf: &Tf| -> usize {
        let st = tf.state();
        let mut n = 0;
        let mut stack = vec![st["values"]["root_module"].clone()];
        while let Some(m) = stack.pop() {
            n += m["resources"].as_array().map_or(0, |r| r.len());
            stack.extend(m["child_modules"].as_array().cloned().unwrap_or_default());
        }
        n
    };
    assert_eq!(items(&tf), 5, "one item per account");

    // the team deletes the calls
    for rel in ["account-1.tf", "fleet.tf", "singles.tf", "teams.tf"] {
        std::fs::remove_file(tf.dir.join(rel)).unwrap();
    }
    std::fs::remove_dir_all(tf.dir.join("teams")).unwrap();

    // without the removed blocks: every item would be destroyed
    let plan = tf.plan_json();
    let changes = common::terraform::changes(&plan);
    assert_eq!(changes.len(), 5, "{changes:?}");
    assert!(changes.iter().all(|(_, a)| a == &["delete"]), "{changes:?}");

    // with them: forgotten, nothing destroyed
    std::fs::copy(out.join("aft-request-repo/aft-removed.tf"), tf.dir.join("aft-removed.tf")).unwrap();
    let plan = tf.plan_json();
    let changes = common::terraform::changes(&plan);
    assert_eq!(changes.len(), 5, "{changes:?}");
    assert!(changes.iter().all(|(_, a)| a == &["forget"]), "{changes:?}");
    tf.apply();
    assert_eq!(items(&tf), 0, "the state forgot them");
    assert!(!tf.dir.join("destroyed.txt").exists(), "no item was destroyed");
    assert_eq!(tf.plan_exit(), 0);
}

/// The converted configuration, against accounts AFT vended (rows, metadata items, roles, custom
/// fields in moto): `terraform plan` shows only the imports, under the default Terraform and
/// under 1.10 (import `for_each` needs 1.7); 1.6 refuses it, and its `init` names the
/// `required_version` the converter writes. The apply imports without running anything, and the next plan is empty.
#[tokio::test(flavor = "multi_thread")]
async fn converted_configuration_plans_only_imports_of_aft_accounts() {
    let l = Landing::new().await;
    aft::request_table(&l, false).await;
    let mut seeded = Vec::new();
    for (i, ou) in ["Sandbox", "Sandbox", "Prod", "Workloads", "Sandbox"].into_iter().enumerate() {
        seeded.push(aft::seed_account(&l, i + 1, ou).await);
    }
    let dir = work_dir("convert-moto");
    let emails: [String; 5] = std::array::from_fn(|i| seeded[i].email.clone());
    let accts = accounts(emails);
    for (a, s) in accts.iter().zip(&seeded) {
        assert_eq!((a.name.as_str(), a.ou), (s.name.as_str(), s.ou), "the requests are the seeded accounts'");
    }
    write_repo(&dir, &accts);

    // (no init: the provider comes from dev_overrides)
    let plan_imports = |tf: &Tf| {
        let out = tf.run(&["plan", "-input=false", "-no-color", "-out=tfplan"]).ok();
        assert!(out.stdout.contains("Plan: 5 to import, 0 to add, 0 to change, 0 to destroy."), "{}", out.stdout);
        let plan: serde_json::Value = serde_json::from_str(&tf.run(&["show", "-json", "tfplan"]).ok().stdout).unwrap();
        let changes = common::terraform::changes(&plan);
        assert!(changes.is_empty(), "only imports: {changes:?}");
        let mut imported: Vec<String> = plan["resource_changes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["change"]["importing"].is_object())
            .map(|c| c["address"].as_str().unwrap().to_string())
            .collect();
        imported.sort();
        imported
    };
    let provider = l.provider(ORGS);

    let tf = Tf::new("convert-import");
    let (code, _, stderr) = convert(&[&dir, Path::new("--out"), &tf.dir]);
    assert_eq!(code, 2, "{stderr}");
    tf.write_file("provider.tf", &provider);
    let imported = plan_imports(&tf);
    let n = |i: usize| accts[i].name.clone();
    let expected = [
        format!("aft_account_provisioning.fleet[\"{}\"]", n(1)),
        format!("aft_account_provisioning.fleet[\"{}\"]", n(2)),
        "aft_account_provisioning.legacy_1".to_string(),
        "aft_account_provisioning.legacy_4".to_string(),
        "aft_account_provisioning.singles[0]".to_string(),
    ];
    assert_eq!(imported, expected);

    // Terraform 1.10 reads the import for_each the same way; 1.6 stops at required_version
    for (wheel, ok) in [("0.10.0", true), ("0.7.0", false)] {
        let mut old = Tf::new(&format!("convert-import-{wheel}"));
        let bin = venv_bin(&format!("terraform-{wheel}"));
        assert!(bin.exists(), "{} is missing: run make toolchain", bin.display());
        old.use_terraform(bin);
        assert_eq!(convert(&[&dir, Path::new("--out"), &old.dir]).0, 2);
        old.write_file("provider.tf", &provider);
        if ok {
            assert_eq!(plan_imports(&old), expected, "Terraform 1.10");
        } else {
            // plan stops at the import's for_each; init names the version first
            let plan = old.run(&["plan", "-input=false", "-no-color"]);
            assert_ne!(plan.code, 0);
            let text = common::one_line(&plan.stderr);
            assert!(text.contains("An argument named \"for_each\" is not expected here"), "{text}");
            let init = common::one_line(&old.run(&["init", "-input=false", "-no-color"]).stderr);
            let first = init.find("Error:").map(|i| &init[i..]).unwrap_or(&init);
            assert!(
                first.starts_with("Error: Unsupported Terraform Core version") && first.contains(">= 1.7.0"),
                "{init}"
            );
        }
    }

    tf.apply();
    assert_eq!(tf.plan_exit(), 0, "the plan after the import is empty");
    for s in &seeded {
        assert_eq!(l.notifications(&s.id).await.len(), 0, "importing runs no framework");
        assert_eq!(l.accounts_with_email(&s.email).await, vec![s.id.clone()]);
    }
    let fleet = tf.values(&format!("aft_account_provisioning.fleet[\"{}\"]", n(2)));
    assert_eq!(fleet["account_id"], seeded[2].id.as_str());
    assert_eq!(fleet["control_tower_parameters"]["ManagedOrganizationalUnit"], "Prod");
}
