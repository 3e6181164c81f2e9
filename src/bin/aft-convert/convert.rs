//! The conversion of a parsed request repository: which module calls are converted (and under
//! which module address AFT's state holds them), the resource, import and removed blocks of each,
//! and the locals and variables they need.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use hcl_edit::expr::{Expression, ObjectKey};
use hcl_edit::structure::{Attribute, Block, Body, Structure};
use hcl_edit::{Decorate, Ident, Span};

use crate::aft::{self, Arg};
use crate::refs::{self, Found, Ref};
use crate::repo::{self, Repo, SourceFile};
use crate::report::Reports;

/// The converted configuration.
pub struct Conversion {
    /// For each source file with converted calls: its path relative to the root module, and its
    /// resources, each followed by its import block.
    pub files: Vec<(PathBuf, String)>,
    /// The copied `locals` block and `variable` blocks (empty when there are none).
    pub inputs: String,
    /// The `removed` blocks for AFT's request repository, one per converted call.
    pub removed: String,
    /// What could not be carried over as written.
    pub reports: Reports,
    /// How many module calls were converted.
    pub converted: usize,
    /// Whether an import block iterates (`for_each`, or `count` as `range`): Terraform 1.7+.
    pub repeated_imports: bool,
}

/// A module call found in the repository.
struct Call<'a> {
    file: usize,
    block: &'a Block,
    name: String,
    /// The literal `source` string.
    source: Option<String>,
    repeated: bool,
}

/// A local module call from one directory into another (a wrapper around AFT calls).
struct Edge {
    from: PathBuf,
    to: PathBuf,
    name: String,
    repeated: bool,
    at: String,
}

/// Where the calls of a directory live in the state of AFT's request repository.
#[derive(Clone)]
enum Place {
    /// The module path from the root module (empty for the root module).
    Path(Vec<String>),
    /// The calls there cannot be converted, for this reason.
    Not(String),
}

/// One converted call.
struct Converted {
    file: usize,
    name: String,
    at: String,
    address: String,
    resource: String,
    import: Option<String>,
    /// Whether the import block iterates (a `for_each` or `count` call).
    repeated: bool,
    /// References of the copied expressions, in the call's directory.
    refs: Vec<Found>,
}

/// Converts every `aft-account-request` call of the repository.
pub fn convert(repo: &Repo) -> Conversion {
    let mut reports = Reports::default();
    for json in &repo.json {
        reports.add(format!("{json}:1"), "a JSON configuration file: not read; convert its module calls by hand");
    }

    let mut calls = Vec::new();
    for (i, f) in repo.files.iter().enumerate() {
        for b in f.body.blocks().filter(|b| b.ident.as_str() == "module") {
            let Some(name) = b.labels.first().map(|l| l.as_str().to_string()) else { continue };
            let source = b.body.get_attribute("source").and_then(|a| a.value.as_str()).map(String::from);
            let repeated = b.body.has_attribute("for_each") || b.body.has_attribute("count");
            calls.push(Call { file: i, block: b, name, source, repeated });
        }
    }
    let is_aft = |c: &Call| c.source.as_deref().is_some_and(aft::is_account_request);
    let dir = |c: &Call| repo.files[c.file].dir();

    // AFT's module itself (its variables and its aws_dynamodb_table_item) is not the team's
    // configuration
    let module_dirs: HashSet<PathBuf> = calls
        .iter()
        .filter(|c| is_aft(c) && aft::is_local(c.source.as_deref().unwrap_or_default()))
        .filter_map(|c| repo::resolve(&dir(c), c.source.as_deref().unwrap_or_default()))
        .collect();
    let edges: Vec<Edge> = calls
        .iter()
        .filter(|c| !is_aft(c))
        .filter_map(|c| {
            let source = c.source.as_deref().filter(|s| aft::is_local(s))?;
            let to = repo::resolve(&dir(c), source)?;
            let at = repo.files[c.file].at(c.block.span());
            Some(Edge { from: dir(c), to, name: c.name.clone(), repeated: c.repeated, at })
        })
        .collect();
    let places = places(&repo.root, &edges);
    let reached = |d: &Path| places.contains_key(d) && !module_dirs.contains(d);

    // everything of the applied configuration that is not an AFT call is reported, once
    let aft_dirs: HashSet<PathBuf> = calls.iter().filter(|c| is_aft(c)).map(dir).collect();
    // (the root module and the directories with calls; not the inside of other modules)
    for (i, f) in repo.files.iter().enumerate() {
        let d = f.dir();
        if !reached(&d) || (d != repo.root && !aft_dirs.contains(&d)) {
            continue;
        }
        for b in f.body.blocks() {
            let labels: String = b.labels.iter().map(|l| format!(" {:?}", l.as_str())).collect();
            match b.ident.as_str() {
                "module" | "locals" | "variable" | "terraform" | "provider" => {}
                other => reports.add(
                    f.at(b.span()),
                    format!("{other}{labels} not converted: only module calls of aft-account-request are"),
                ),
            }
        }
        for c in calls.iter().filter(|c| c.file == i && !is_aft(c)) {
            let source = c.source.as_deref().unwrap_or("(not a literal string)");
            let inside = edges
                .iter()
                .find(|e| e.at == f.at(c.block.span()))
                .filter(|e| aft_dirs.contains(&e.to))
                .map(|_| "; the aft-account-request calls inside it are converted on their own")
                .unwrap_or_default();
            reports.add(
                f.at(c.block.span()),
                format!("module \"{}\" skipped: its source {source:?} is not aft-account-request{inside}", c.name),
            );
        }
    }

    let mut converted: Vec<Converted> = Vec::new();
    let mut names = HashSet::new();
    let mut emails: HashMap<String, String> = HashMap::new();
    for c in calls.iter().filter(|c| is_aft(c)) {
        let f = &repo.files[c.file];
        let at = f.at(c.block.span());
        let d = f.dir();
        if module_dirs.contains(&d) {
            continue;
        }
        let path = match places.get(&d) {
            Some(Place::Path(p)) => p,
            Some(Place::Not(why)) => {
                reports.add(at, format!("module \"{}\" not converted: {why}", c.name));
                continue;
            }
            None => {
                reports.add(
                    at,
                    format!(
                        "module \"{}\" not converted: no module call of the root module ({}) reaches {}, so AFT's \
                         pipeline never applied it; give that directory as the request directory if it is a root \
                         module of its own",
                        c.name,
                        shown_dir(&repo.root),
                        shown_dir(&d)
                    ),
                );
                continue;
            }
        };
        if !names.insert(c.name.clone()) {
            reports.add(at, format!("module \"{}\" not converted: another converted call has the same name", c.name));
            continue;
        }
        let address = path.iter().chain([&c.name]).map(|n| format!("module.{n}")).collect::<Vec<_>>().join(".");
        converted.push(convert_call(f, c, address, &mut reports, &mut emails));
    }

    let inputs = inputs(repo, &module_dirs, &converted, &mut reports);
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (i, f) in repo.files.iter().enumerate() {
        let mine: Vec<&Converted> = converted.iter().filter(|c| c.file == i).collect();
        if mine.is_empty() {
            continue;
        }
        let mut text = String::new();
        for c in mine {
            text.push_str(&format!("# aft-convert: {} ({})\n", c.address, c.at));
            for r in reports.of(&c.name) {
                text.push_str(&crate::report::comment(&format!("aft-convert: {r}")));
            }
            text.push_str(&c.resource);
            if let Some(import) = &c.import {
                text.push('\n');
                text.push_str(import);
            }
            text.push('\n');
        }
        let rel = f.rel.strip_prefix(&repo.root).unwrap_or(&f.rel).to_path_buf();
        files.push((rel, text));
    }
    let removed = converted
        .iter()
        .map(|c| format!("removed {{\n  from = {}\n\n  lifecycle {{\n    destroy = false\n  }}\n}}\n", c.address))
        .collect::<Vec<_>>()
        .join("\n");
    let repeated_imports = converted.iter().any(|c| c.import.is_some() && c.repeated);
    Conversion { files, inputs, removed, reports, converted: converted.len(), repeated_imports }
}

/// The module path of every directory the root module reaches through local module calls.
fn places(root: &Path, edges: &[Edge]) -> HashMap<PathBuf, Place> {
    let mut places = HashMap::from([(root.to_path_buf(), Place::Path(Vec::new()))]);
    let mut queue = VecDeque::from([root.to_path_buf()]);
    while let Some(d) = queue.pop_front() {
        let Some(Place::Path(prefix)) = places.get(&d).cloned() else { continue };
        for e in edges.iter().filter(|e| e.from == d) {
            let address = prefix.iter().chain([&e.name]).map(|n| format!("module.{n}")).collect::<Vec<_>>().join(".");
            let place = if e.repeated {
                Place::Not(format!(
                    "{address} ({}) calls its directory with for_each or count, whose instances the converter \
                     cannot name; convert those calls by hand",
                    e.at
                ))
            } else {
                let mut path = prefix.clone();
                path.push(e.name.clone());
                Place::Path(path)
            };
            if places.contains_key(&e.to) {
                places.insert(
                    e.to.clone(),
                    Place::Not(format!("more than one module call reaches its directory (one is {address})")),
                );
            } else {
                places.insert(e.to.clone(), place);
                queue.push_back(e.to.clone());
            }
        }
    }
    places
}

/// `dir` for messages (`.` for the directory given).
fn shown_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() { ".".to_string() } else { dir.display().to_string() }
}

/// The name of an object key written as an identifier or a literal string.
fn key_name(k: &ObjectKey) -> Option<String> {
    match k {
        ObjectKey::Ident(i) => Some(i.as_str().to_string()),
        ObjectKey::Expression(e) => e.as_str().map(String::from),
    }
}

/// `expr` without its surrounding whitespace and comments, as written.
fn bare(expr: &Expression) -> Expression {
    let mut e = expr.clone();
    e.decor_mut().clear();
    e
}

fn convert_call(
    f: &SourceFile,
    c: &Call,
    address: String,
    reports: &mut Reports,
    emails: &mut HashMap<String, String>,
) -> Converted {
    let name = c.name.as_str();
    let mut kept: Vec<Attribute> = Vec::new();
    let mut repeat: Option<(String, Expression)> = None;
    let mut email: Option<Expression> = None;
    let mut has_ct = false;
    for s in c.block.body.iter() {
        let a = match s {
            Structure::Block(b) => {
                reports.on(
                    name,
                    f.at(b.span()),
                    format!("block {} not copied: AFT's module takes no blocks", b.ident.as_str()),
                );
                continue;
            }
            Structure::Attribute(a) => a,
        };
        let key = a.key.as_str();
        match aft::classify(key) {
            Arg::Module => {}
            Arg::Dropped(why) => {
                reports.on(name, f.at(a.span()), format!("`{key} = {}` not copied: {why}", bare(&a.value)));
            }
            Arg::Repeat => {
                repeat = Some((key.to_string(), a.value.clone()));
                kept.push(a.clone());
            }
            Arg::Kept => {
                let mut a = a.clone();
                match key {
                    "control_tower_parameters" => {
                        has_ct = true;
                        email = Some(control_tower(f, name, &mut a, reports));
                    }
                    "change_management_parameters" => {
                        drop_unknown_keys(f, name, &mut a, &aft::CHANGE_MANAGEMENT_KEYS, reports);
                    }
                    "account_tags" | "custom_fields" => string_values(f, name, &a, reports),
                    _ => {}
                }
                kept.push(a);
            }
        }
    }
    if !has_ct {
        reports.on(
            name,
            f.at(c.block.span()),
            "no control_tower_parameters (AFT's module requires it): no import block",
        );
    }
    if let Some(e) = email.as_ref().and_then(|e| e.as_str()) {
        let at = f.at(c.block.span());
        if let Some(other) = emails.insert(e.to_lowercase(), at) {
            reports.on(name, f.at(c.block.span()), format!("AccountEmail {e:?} is also requested at {other}"));
        }
    }

    // the module's first argument (`source`) is gone: no blank line after the brace
    if let Some(first) = kept.first_mut() {
        let prefix = first.decor().prefix().map(|p| p.trim_start_matches(['\n', '\r']).to_string());
        if let Some(p) = prefix {
            first.decor_mut().set_prefix(p);
        }
    }
    let refs = kept.iter().flat_map(|a| refs::collect(&a.value)).collect();
    let mut block = Block::builder(Ident::new("resource")).label("aft_account_provisioning").label(name).build();
    for a in kept {
        block.body.push(a);
    }
    let mut body = Body::new();
    body.push(block);
    let resource = body.to_string();

    let to = format!("aft_account_provisioning.{name}");
    let repeated = repeat.is_some();
    let import = email.map(|e| match repeat {
        None => format!("import {{\n  to = {to}\n  id = {e}\n}}\n"),
        Some((kind, over)) if kind == "count" => {
            let mut e = e;
            refs::count_to_each(&mut e);
            format!(
                "import {{\n  for_each = range({})\n  to       = {to}[each.value]\n  id       = {e}\n}}\n",
                bare(&over)
            )
        }
        Some((_, over)) => {
            format!("import {{\n  for_each = {}\n  to       = {to}[each.key]\n  id       = {e}\n}}\n", bare(&over))
        }
    });
    let at = f.at(c.block.span());
    Converted { file: c.file, name: name.to_string(), at, address, resource, import, repeated, refs }
}

/// Checks a literal `control_tower_parameters` object against the six keys (a missing key is
/// reported; an unknown one is removed, as AFT's object type discarded it, and reported), and
/// returns the `AccountEmail` expression: the object's, or `<expression>.AccountEmail`.
fn control_tower(f: &SourceFile, name: &str, a: &mut Attribute, reports: &mut Reports) -> Expression {
    let span = a.span();
    let at = f.at(span.clone());
    if let Some(obj) = a.value.as_object_mut() {
        let keys: Vec<Option<String>> = obj.iter().map(|(k, _)| key_name(k)).collect();
        if keys.iter().all(Option::is_some) {
            let keys: Vec<String> = keys.into_iter().flatten().collect();
            for k in aft::CONTROL_TOWER_KEYS.iter().filter(|k| !keys.iter().any(|x| x == *k)) {
                reports.on(
                    name,
                    at.clone(),
                    format!("control_tower_parameters has no {k}: the resource requires all six keys; add it"),
                );
            }
            drop_keys(f, name, a, &aft::CONTROL_TOWER_KEYS, "control_tower_parameters", reports);
            let obj = a.value.as_object().expect("checked above");
            if let Some((_, v)) = obj.iter().find(|(k, _)| key_name(k).as_deref() == Some("AccountEmail")) {
                return bare(v.expr());
            }
        }
    }
    let base = bare(&a.value);
    let simple = matches!(base, Expression::Variable(_) | Expression::Traversal(_) | Expression::FuncCall(_));
    let text = if simple { format!("{base}.AccountEmail") } else { format!("({base}).AccountEmail") };
    text.parse().expect("a traversal of a parsed expression parses")
}

/// Removes (and reports) the keys of a literal object argument that are not in `known`.
fn drop_unknown_keys(f: &SourceFile, name: &str, a: &mut Attribute, known: &[&str], reports: &mut Reports) {
    let key = a.key.as_str().to_string();
    drop_keys(f, name, a, known, &key, reports);
}

fn drop_keys(f: &SourceFile, name: &str, a: &mut Attribute, known: &[&str], what: &str, reports: &mut Reports) {
    let Some(obj) = a.value.as_object_mut() else { return };
    let unknown: Vec<ObjectKey> = obj
        .iter()
        .filter(|(k, _)| key_name(k).is_some_and(|n| !known.contains(&n.as_str())))
        .map(|(k, _)| k.clone())
        .collect();
    for k in unknown {
        let span = k.span();
        if let Some(v) = obj.remove(&k) {
            reports.on(
                name,
                f.at(span),
                format!(
                    "`{} = {}` removed from {what}: not one of {} (AFT's module type discarded it; the resource \
                     refuses it)",
                    key_name(&k).unwrap_or_default(),
                    bare(v.expr()),
                    known.join(", ")
                ),
            );
        }
    }
}

/// Reports values of a literal map argument that are lists or objects: the resource takes maps
/// of strings (AFT's module took `map(any)`).
fn string_values(f: &SourceFile, name: &str, a: &Attribute, reports: &mut Reports) {
    let Some(obj) = a.value.as_object() else { return };
    for (k, v) in obj.iter() {
        if matches!(v.expr(), Expression::Array(_) | Expression::Object(_)) {
            reports.on(
                name,
                f.at(v.expr().span()),
                format!(
                    "{}.{} is a list or object; the resource takes strings only: wrap it in jsonencode(…), the \
                     text AFT wrote",
                    a.key.as_str(),
                    key_name(k).unwrap_or_default()
                ),
            );
        }
    }
}

/// The `locals` and `variable` blocks the converted calls refer to, copied as written
/// (transitively: a copied local's own references are copied too); anything else referred to is
/// reported.
fn inputs(repo: &Repo, skip: &HashSet<PathBuf>, converted: &[Converted], reports: &mut Reports) -> String {
    // definitions by (directory, name), in file order
    let mut locals: Vec<(PathBuf, String, usize, &Attribute)> = Vec::new();
    let mut variables: Vec<(PathBuf, String, usize, &Block)> = Vec::new();
    for (i, f) in repo.files.iter().enumerate() {
        if skip.contains(&f.dir()) {
            continue;
        }
        for b in f.body.blocks() {
            match b.ident.as_str() {
                "locals" => {
                    locals.extend(b.body.attributes().map(|a| (f.dir(), a.key.as_str().to_string(), i, a)));
                }
                "variable" => {
                    if let Some(l) = b.labels.first() {
                        variables.push((f.dir(), l.as_str().to_string(), i, b));
                    }
                }
                _ => {}
            }
        }
    }

    let mut queue: VecDeque<(PathBuf, usize, Found)> =
        converted.iter().flat_map(|c| c.refs.iter().map(|r| (repo.files[c.file].dir(), c.file, r.clone()))).collect();
    let mut needed_locals: BTreeSet<usize> = BTreeSet::new();
    let mut needed_vars: BTreeSet<usize> = BTreeSet::new();
    let mut told: HashSet<(PathBuf, Ref)> = HashSet::new();
    while let Some((dir, file, found)) = queue.pop_front() {
        let at = repo.files[file].at(found.span.clone());
        let local = |n: &str| locals.iter().position(|(d, name, ..)| *d == dir && name == n);
        let variable = |n: &str| variables.iter().position(|(d, name, ..)| *d == dir && name == n);
        match &found.what {
            Ref::Local(n) if local(n).is_some() => {
                let i = local(n).expect("matched");
                if needed_locals.insert(i) {
                    let (_, _, f, a) = locals[i];
                    queue.extend(refs::collect(&a.value).into_iter().map(|r| (dir.clone(), f, r)));
                }
            }
            Ref::Var(n) if variable(n).is_some() => {
                let i = variable(n).expect("matched");
                if needed_vars.insert(i) && !variables[i].3.body.has_attribute("default") {
                    let (_, _, f, b) = variables[i];
                    reports.add(
                        repo.files[f].at(b.span()),
                        format!(
                            "variable \"{n}\" has no default: copied; the converted configuration needs a value for \
                             it (a .tfvars file, or the value the calling module passed)"
                        ),
                    );
                }
            }
            // the rest is reported once per directory and name
            what if !told.insert((dir.clone(), what.clone())) => {}
            Ref::Local(n) => {
                reports.add(at, format!("local.{n} is not defined in {}: not copied", shown_dir(&dir)));
            }
            Ref::Var(n) => {
                reports.add(at, format!("variable \"{n}\" is not declared in {}: not copied", shown_dir(&dir)));
            }
            Ref::Other(what) => {
                let message = if what.starts_with("path.") {
                    format!("{what} is now the converted configuration's directory: copy the files it names next to it")
                } else if what == "terraform.workspace" {
                    format!("{what} is now the converted configuration's workspace")
                } else {
                    format!(
                        "refers to {what}, which the converter does not copy (it copies locals and variables): \
                         declare it in the converted configuration"
                    )
                };
                reports.add(at, message);
            }
        }
    }

    // one flat namespace now: a name defined differently in two directories keeps the first
    let mut text = String::new();
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut attrs = Vec::new();
    for &i in &needed_locals {
        let (d, n, f, a) = &locals[i];
        let value = bare(&a.value).to_string();
        match seen.get(n) {
            Some(v) if *v == value => continue,
            Some(_) => {
                reports.add(
                    repo.files[*f].at(a.span()),
                    format!("local.{n} of {} differs from the one copied first: not copied", shown_dir(d)),
                );
                continue;
            }
            None => {
                seen.insert(n.clone(), value);
            }
        }
        attrs.push((*a).clone());
    }
    if !attrs.is_empty() {
        if let Some(first) = attrs.first_mut() {
            let prefix = first.decor().prefix().map(|p| p.trim_start_matches(['\n', '\r']).to_string());
            if let Some(p) = prefix {
                first.decor_mut().set_prefix(p);
            }
        }
        let mut block = Block::new(Ident::new("locals"));
        for a in attrs {
            block.body.push(a);
        }
        let mut body = Body::new();
        body.push(block);
        text.push_str(&body.to_string());
    }
    let mut declared: HashSet<String> = HashSet::new();
    for &i in &needed_vars {
        let (d, n, f, b) = &variables[i];
        if !declared.insert(n.clone()) {
            reports.add(
                repo.files[*f].at(b.span()),
                format!("variable \"{n}\" of {} is declared in another directory too: copied once", shown_dir(d)),
            );
            continue;
        }
        let mut b = (*b).clone();
        let prefix = b.decor().prefix().map(|p| p.trim_start_matches(['\n', '\r']).to_string());
        if let Some(p) = prefix {
            b.decor_mut().set_prefix(p);
        }
        let mut body = Body::new();
        body.push(b);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&body.to_string());
    }
    text
}
