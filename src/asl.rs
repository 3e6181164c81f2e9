//! Static checks of Amazon States Language definitions (the provisioning customizations state
//! machine), so a broken definition fails `terraform plan` instead of an account's framework run.
//!
//! Checked: JSON syntax; `StartAt` present and naming a state; state `Type`s; `Next`, `Default`
//! and `Catch` targets; `Next` xor `End` where required; `Fail`/`Succeed` without `Next`; Choice
//! rules (each has a comparison with a known operator, `And`/`Or`/`Not` recursively); Task
//! `Resource` is an ARN; Wait has a duration; reachability; `Parallel` branches and `Map`
//! processors recursively (their state names are scoped to the branch).

use std::collections::{BTreeSet, VecDeque};

use serde_json::{Map, Value};

/// One problem, naming the state when there is one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AslProblem {
    /// The state's path, e.g. `Fanout/branch 1/Work`; `None` for the definition itself.
    pub state: Option<String>,
    pub message: String,
}

impl std::fmt::Display for AslProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.state {
            Some(s) => write!(f, "state {s:?}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

const TYPES: [&str; 8] = ["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"];

const OPERATORS: [&str; 39] = [
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Checks a definition; an empty list means it passed.
pub fn check(definition: &str) -> Vec<AslProblem> {
    let v: Value = match serde_json::from_str(definition) {
        Ok(v) => v,
        Err(e) => {
            return vec![AslProblem {
                state: None,
                message: format!("the definition is not valid JSON: {e} (line {}, column {})", e.line(), e.column()),
            }];
        }
    };
    let mut out = Vec::new();
    check_machine(&v, "", &mut out);
    out
}

fn problem(out: &mut Vec<AslProblem>, state: Option<String>, message: impl Into<String>) {
    out.push(AslProblem { state, message: message.into() });
}

fn check_machine(v: &Value, prefix: &str, out: &mut Vec<AslProblem>) {
    let scope = if prefix.is_empty() { "the definition".to_string() } else { format!("branch {prefix:?}") };
    let Some(obj) = v.as_object() else {
        problem(out, none_or(prefix), format!("{scope} must be a JSON object"));
        return;
    };
    let Some(states) = obj.get("States").and_then(Value::as_object).filter(|s| !s.is_empty()) else {
        problem(out, none_or(prefix), format!("{scope} has no States"));
        return;
    };
    let names: BTreeSet<&str> = states.keys().map(String::as_str).collect();
    let start = match obj.get("StartAt").and_then(Value::as_str) {
        Some(s) if names.contains(s) => Some(s),
        Some(s) => {
            problem(out, none_or(prefix), format!("StartAt names {s:?}, which is not a state of {scope}"));
            None
        }
        None => {
            problem(out, none_or(prefix), format!("{scope} has no StartAt"));
            None
        }
    };
    for (name, state) in states {
        let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        check_state(&path, state, &names, out);
    }
    if let Some(start) = start {
        for name in unreachable(start, states) {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            problem(out, Some(path), format!("is unreachable from StartAt {start:?}"));
        }
    }
}

fn none_or(prefix: &str) -> Option<String> {
    if prefix.is_empty() { None } else { Some(prefix.to_string()) }
}

fn targets(state: &Value) -> Vec<&str> {
    let mut t = Vec::new();
    if let Some(n) = state.get("Next").and_then(Value::as_str) {
        t.push(n);
    }
    if let Some(d) = state.get("Default").and_then(Value::as_str) {
        t.push(d);
    }
    for key in ["Choices", "Catch"] {
        for c in state.get(key).and_then(Value::as_array).into_iter().flatten() {
            if let Some(n) = c.get("Next").and_then(Value::as_str) {
                t.push(n);
            }
        }
    }
    t
}

fn unreachable(start: &str, states: &Map<String, Value>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(s) = queue.pop_front() {
        if !seen.insert(s.clone()) {
            continue;
        }
        if let Some(st) = states.get(&s) {
            queue.extend(targets(st).into_iter().map(str::to_string));
        }
    }
    states.keys().filter(|k| !seen.contains(*k)).cloned().collect()
}

fn check_target(path: &str, what: &str, target: Option<&Value>, names: &BTreeSet<&str>, out: &mut Vec<AslProblem>) {
    match target {
        None => {}
        Some(Value::String(t)) if names.contains(t.as_str()) => {}
        Some(Value::String(t)) => problem(out, Some(path.into()), format!("{what} names {t:?}, which is not a state")),
        Some(_) => problem(out, Some(path.into()), format!("{what} must be a state name")),
    }
}

fn check_state(path: &str, state: &Value, names: &BTreeSet<&str>, out: &mut Vec<AslProblem>) {
    let p = || Some(path.to_string());
    let Some(obj) = state.as_object() else {
        problem(out, p(), "must be a JSON object");
        return;
    };
    let ty = match obj.get("Type").and_then(Value::as_str) {
        Some(t) if TYPES.contains(&t) => t,
        Some(t) => {
            problem(out, p(), format!("has unknown Type {t:?} (one of {})", TYPES.join(", ")));
            return;
        }
        None => {
            problem(out, p(), "has no Type");
            return;
        }
    };
    let has_next = obj.contains_key("Next");
    let end = obj.get("End").and_then(Value::as_bool) == Some(true);
    match ty {
        "Succeed" | "Fail" => {
            if has_next || obj.contains_key("End") {
                problem(out, p(), format!("is a {ty} state, which ends the execution: it cannot have Next or End"));
            }
        }
        "Choice" => {
            if has_next || obj.contains_key("End") {
                problem(out, p(), "is a Choice state: it cannot have Next or End (use Choices and Default)");
            }
            match obj.get("Choices").and_then(Value::as_array) {
                Some(rules) if !rules.is_empty() => {
                    for (i, r) in rules.iter().enumerate() {
                        let rp = format!("{path}, Choices[{i}]");
                        check_rule(&rp, r, true, out);
                        if r.get("Next").is_none() {
                            problem(out, Some(rp.clone()), "has no Next");
                        }
                        check_target(&rp, "Next", r.get("Next"), names, out);
                    }
                }
                _ => problem(out, p(), "is a Choice state without Choices"),
            }
            check_target(path, "Default", obj.get("Default"), names, out);
        }
        _ => {
            if has_next && end {
                problem(out, p(), "has both Next and End");
            } else if !has_next && !end {
                problem(out, p(), "has neither Next nor End: it must say where the execution goes");
            }
            check_target(path, "Next", obj.get("Next"), names, out);
        }
    }
    for (i, c) in obj.get("Catch").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let cp = format!("{path}, Catch[{i}]");
        if c.get("Next").is_none() {
            problem(out, Some(cp.clone()), "has no Next");
        }
        check_target(&cp, "Next", c.get("Next"), names, out);
    }
    match ty {
        "Task" => match obj.get("Resource").and_then(Value::as_str) {
            Some(r) if r.starts_with("arn:") && r.split(':').count() >= 6 => {}
            Some(r) => problem(out, p(), format!("has Resource {r:?}, which is not an ARN")),
            None => problem(out, p(), "is a Task without Resource"),
        },
        "Wait" if !["Seconds", "Timestamp", "SecondsPath", "TimestampPath"].iter().any(|k| obj.contains_key(*k)) => {
            problem(out, p(), "is a Wait state without Seconds, Timestamp, SecondsPath or TimestampPath");
        }
        "Parallel" => match obj.get("Branches").and_then(Value::as_array) {
            Some(bs) if !bs.is_empty() => {
                for (i, b) in bs.iter().enumerate() {
                    check_machine(b, &format!("{path}/branch {}", i + 1), out);
                }
            }
            _ => problem(out, p(), "is a Parallel state without Branches"),
        },
        "Map" => match obj.get("ItemProcessor").or_else(|| obj.get("Iterator")) {
            Some(proc) => check_machine(proc, &format!("{path}/items"), out),
            None => problem(out, p(), "is a Map state without ItemProcessor (or Iterator)"),
        },
        _ => {}
    }
}

fn check_rule(path: &str, rule: &Value, top: bool, out: &mut Vec<AslProblem>) {
    let Some(obj) = rule.as_object() else {
        problem(out, Some(path.into()), "a Choice rule must be a JSON object");
        return;
    };
    let mut comparisons = 0;
    let mut unknown = 0;
    for (k, v) in obj {
        match k.as_str() {
            "Variable" | "Comment" | "Assign" | "Output" => {}
            "Next" if top => {}
            "Condition" => comparisons += 1, // JSONata query language
            "And" | "Or" => {
                comparisons += 1;
                match v.as_array() {
                    Some(rs) if !rs.is_empty() => {
                        for (i, r) in rs.iter().enumerate() {
                            check_rule(&format!("{path}.{k}[{i}]"), r, false, out);
                        }
                    }
                    _ => problem(out, Some(path.into()), format!("{k} needs a non-empty list of rules")),
                }
            }
            "Not" => {
                comparisons += 1;
                check_rule(&format!("{path}.Not"), v, false, out);
            }
            op if OPERATORS.contains(&op) => {
                comparisons += 1;
                if !obj.contains_key("Variable") {
                    problem(out, Some(path.into()), format!("{op} needs a Variable"));
                }
            }
            other => {
                unknown += 1;
                problem(out, Some(path.into()), format!("has unknown operator {other:?}"));
            }
        }
    }
    if comparisons == 0 && unknown == 0 {
        problem(out, Some(path.into()), "has no comparison (e.g. StringEquals, IsPresent, And)");
    } else if comparisons > 1 && !obj.contains_key("Condition") {
        problem(out, Some(path.into()), "has more than one comparison; combine them with And or Or");
    }
}

/// A revision id that changes exactly when the deployed definition or role changes
/// (FNV-1a over the definition's canonical JSON and the role ARN).
pub fn revision_id(definition: &str, role_arn: &str) -> String {
    let canonical = serde_json::from_str::<serde_json::Value>(definition)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| definition.to_string());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.bytes().chain([0u8]).chain(role_arn.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn states(s: &str) -> String {
        format!(r#"{{"StartAt":"A","States":{s}}}"#)
    }

    fn one(def: &str) -> AslProblem {
        let p = check(def);
        assert_eq!(p.len(), 1, "{p:?}");
        p.into_iter().next().unwrap()
    }

    #[test]
    fn a_good_machine_passes() {
        let def = states(
            r#"{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEquals":"y","Next":"B"},
               {"And":[{"Variable":"$.a","IsPresent":true},{"Not":{"Variable":"$.b","NumericEquals":1}}],"Next":"C"}],"Default":"D"},
               "B":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Next":"P","Catch":[{"ErrorEquals":["States.ALL"],"Next":"F"}]},
               "P":{"Type":"Parallel","Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}}],"Next":"C"},
               "C":{"Type":"Wait","Seconds":1,"Next":"D"},
               "D":{"Type":"Succeed"},"F":{"Type":"Fail","Error":"E","Cause":"c"}}"#,
        );
        assert_eq!(check(&def), vec![]);
    }

    #[test]
    fn each_rule_names_the_state() {
        assert!(one("{not json").message.contains("not valid JSON"));
        assert!(one(r#"{"States":{"A":{"Type":"Succeed"}}}"#).message.contains("no StartAt"));
        assert!(one(r#"{"StartAt":"Z","States":{"A":{"Type":"Succeed"}}}"#).message.contains("\"Z\""));
        assert_eq!(one(&states(r#"{"A":{"Type":"Pass","Next":"Nope"}}"#)).state.as_deref(), Some("A"));
        assert_eq!(
            one(&states(r#"{"A":{"Type":"Pass"}}"#)).message,
            "has neither Next nor End: it must say where the execution goes"
        );
        assert!(
            one(&states(r#"{"A":{"Type":"Pass","End":true},"B":{"Type":"Succeed"}}"#)).message.contains("unreachable")
        );
        assert!(one(&states(r#"{"A":{"Type":"Sleep","End":true}}"#)).message.contains("unknown Type"));
        assert!(one(&states(r#"{"A":{"Type":"Fail","Next":"A"}}"#)).message.contains("cannot have Next"));
        assert!(one(&states(r#"{"A":{"Type":"Task","Resource":"lambda","End":true}}"#)).message.contains("not an ARN"));
        assert!(one(&states(r#"{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","Next":"B"}],"Default":"B"},"B":{"Type":"Succeed"}}"#)).message.contains("no comparison"));
        assert!(one(&states(r#"{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","StringEq":"1","Next":"B"}]},"B":{"Type":"Succeed"}}"#)).message.contains("unknown operator"));
        assert!(one(&states(r#"{"A":{"Type":"Choice","Choices":[{"Variable":"$.x","IsNull":true,"Next":"B"}],"Default":"Q"},"B":{"Type":"Succeed"}}"#)).message.contains("Default names"));
        assert!(
            one(&states(r#"{"A":{"Type":"Pass","End":true,"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Q"}]}}"#))
                .state
                .unwrap()
                .contains("Catch[0]")
        );
        let nested = one(&states(
            r#"{"A":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"X","States":{"X":{"Type":"Pass"}}}]}}"#,
        ));
        assert_eq!(nested.state.as_deref(), Some("A/branch 1/X"));
        let map = one(&states(
            r#"{"A":{"Type":"Map","End":true,"ItemProcessor":{"StartAt":"M","States":{"M":{"Type":"Task","Resource":"x","End":true}}}}}"#,
        ));
        assert_eq!(map.state.as_deref(), Some("A/items/M"));
        assert!(one(&states(r#"{"A":{"Type":"Wait","End":true}}"#)).message.contains("Wait state without"));
    }
}
