//! The layer table in `src/lib.rs` holds: every `crate::` path in `src/` names a module of a
//! lower layer (or its own module), so there is no module cycle and no sideways import; and a
//! file of a resource, data source, list resource or action never reaches into another one's
//! file (they share code through a module below them).

use std::collections::BTreeMap;

use aft_test_harness as common;

/// Module name → layer number, from the table in lib.rs's `//!` docs
/// (`//! | 2 | \`resources\`, \`data_sources\` | …`).
fn layers(lib: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in lib.lines().filter_map(|l| l.strip_prefix("//! |")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Ok(layer) = cells[0].parse::<u32>() else { continue };
        for module in cells[1].split(',') {
            out.insert(module.trim().trim_matches('`').to_string(), layer);
        }
    }
    out
}

/// The code of a file without comments and string literals (so prose and messages that mention
/// `crate::` do not count).
fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Every path a file names through `crate::`, as its segments (`use crate::{a::b, c}` gives
/// `[a, b]` and `[c]`).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    fn ident(s: &str) -> &str {
        let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
        &s[..end]
    }
    fn paths(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let rest = rest.trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // split the group at its top-level commas
            let (mut depth, mut start) = (0, 0);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        paths(&group[start..i], prefix.clone(), out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        paths(&group[start..i], prefix.clone(), out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let name = ident(rest);
        if name.is_empty() {
            if !prefix.is_empty() {
                out.push(prefix);
            }
            return;
        }
        let mut p = prefix;
        p.push(name.to_string());
        match rest[name.len()..].strip_prefix("::") {
            Some(more) => paths(more, p, out),
            None => out.push(p),
        }
    }
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        paths(&code[i + "crate::".len()..], Vec::new(), &mut out);
    }
    out
}

#[test]
fn every_crate_path_goes_to_a_lower_layer_and_never_sideways() {
    let src = common::repo().join("src");
    let table = layers(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    assert!(table.len() >= 8, "the layer table in lib.rs is missing or unreadable: {table:?}");
    let files = common::rust_files(&src);
    let mut problems = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap().to_string_lossy().to_string();
        // binaries use the library from outside the table (their `crate::` is their own)
        if rel == "lib.rs" || rel == "main.rs" || rel.starts_with("bin/") {
            continue;
        }
        let own = rel.split(['/', '.']).next().unwrap().to_string();
        let own_layer =
            *table.get(&own).unwrap_or_else(|| panic!("src/{rel}: module {own} is not in lib.rs's layer table"));
        // the file's own name within its module (`resources/account_provisioning.rs` → account_provisioning)
        let own_file =
            rel.strip_prefix(&format!("{own}/")).map(|r| r.trim_end_matches(".rs").split('/').next().unwrap());
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        for path in crate_paths(&code) {
            let target = &path[0];
            let Some(&layer) = table.get(target) else {
                problems.push(format!("src/{rel}: crate::{} names a module not in the layer table", path.join("::")));
                continue;
            };
            if target == &own {
                // within a module of one file per type, files share through mod.rs only
                let per_type = ["resources", "data_sources", "list_resources", "actions"].contains(&own.as_str());
                if per_type
                    && let (Some(sub), Some(mine)) = (path.get(1), own_file)
                    && sub != mine
                    && src.join(&own).join(format!("{sub}.rs")).exists()
                {
                    problems.push(format!("src/{rel}: crate::{} reaches into another {own} file", path.join("::")));
                }
                continue;
            }
            if layer <= own_layer {
                let how = if layer == own_layer { "sideways" } else { "upwards" };
                problems.push(format!(
                    "src/{rel} (layer {own_layer}): crate::{} is {how} (layer {layer})",
                    path.join("::")
                ));
            }
        }
        // `super::other` from a per-type file is sideways too
        if let Some(mine) = own_file
            && ["resources", "data_sources", "list_resources", "actions"].contains(&own.as_str())
        {
            for (i, _) in code.match_indices("super::") {
                let rest = &code[i + "super::".len()..];
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if name != mine && src.join(&own).join(format!("{name}.rs")).exists() {
                    problems.push(format!("src/{rel}: super::{name} reaches into another {own} file"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "layer violations (see the table in src/lib.rs):\n{}", problems.join("\n"));
}

#[test]
fn the_path_reader_sees_groups_and_inline_paths() {
    let code = code_only(
        "use crate::{aws::{clients, errors::AwsError}, context::Context};\nlet x = crate::plugin::stop::global(); // crate::nothing\nlet s = \"crate::inside\";",
    );
    let got: Vec<String> = crate_paths(&code).iter().map(|p| p.join("::")).collect();
    assert_eq!(got, ["aws::clients", "aws::errors::AwsError", "context::Context", "plugin::stop::global"]);
}
