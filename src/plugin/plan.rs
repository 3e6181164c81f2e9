//! The default plan every resource starts from.
//!
//! Create: computed attributes the configuration leaves null become unknown. Update: Terraform's
//! proposed state already carries prior computed values; a change of a `force_new` attribute is
//! reported as requiring replacement. Write-only attributes are always planned as null.

use super::diagnostics::AttrPath;
use super::schema::{AttrType, Schema};
use super::value::Value;

/// The default planned state and replacement paths for a change.
pub fn default_plan(schema: &Schema, prior: &Value, proposed: &Value) -> (Value, Vec<AttrPath>) {
    if proposed.is_null() {
        return (Value::Null, Vec::new());
    }
    let mut planned = proposed.clone();
    let mut replace = Vec::new();
    let creating = prior.is_null();
    if let Some(fields) = planned.fields_mut() {
        for a in &schema.block.attributes {
            let Some(v) = fields.get_mut(&a.name) else { continue };
            if a.write_only {
                *v = Value::Null;
                continue;
            }
            if creating && a.computed && v.is_null() {
                *v = Value::Unknown;
            }
            if !creating && a.force_new && matches!(a.ty, AttrType::Plain(_)) && prior.get(&a.name) != &*v {
                replace.push(AttrPath::attr(&a.name));
            }
        }
    }
    (planned, replace)
}

/// True when any configurable (non-computed-only) attribute or block differs between two states.
pub fn config_changed(schema: &Schema, prior: &Value, planned: &Value, ignore: &[&str]) -> bool {
    let attrs = schema.block.attributes.iter().filter(|a| a.required || a.optional).map(|a| a.name.as_str());
    let blocks = schema.block.blocks.iter().map(|b| b.name.as_str());
    attrs.chain(blocks).filter(|n| !ignore.contains(n)).any(|n| prior.get(n) != planned.get(n))
}

/// The configuration that reproduces a state (for `-generate-config-out`): computed-only
/// attributes are left out (null); what the user may set, nested blocks included, is kept.
pub fn config_of_state(schema: &Schema, state: &Value) -> Value {
    let mut out = state.clone();
    if let Some(fields) = out.fields_mut() {
        for a in &schema.block.attributes {
            if a.computed && !a.optional && !a.required {
                fields.insert(a.name.clone(), Value::Null);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::schema::{Attribute, Block};
    use crate::plugin::value::Type;

    fn schema() -> Schema {
        Schema::new(
            0,
            Block::new("")
                .attr(Attribute::required("email", Type::String, "").force_new())
                .attr(Attribute::optional("tags", Type::map(Type::String), ""))
                .attr(Attribute::computed("id", Type::String, "")),
        )
    }

    #[test]
    fn create_marks_computed_unknown() {
        let proposed = Value::object([("email", "a".into()), ("tags", Value::Null), ("id", Value::Null)]);
        let (p, r) = default_plan(&schema(), &Value::Null, &proposed);
        assert_eq!(p.get("id"), &Value::Unknown);
        assert_eq!(p.get("tags"), &Value::Null);
        assert!(r.is_empty());
    }

    #[test]
    fn update_of_force_new_requires_replace() {
        let prior = Value::object([("email", "a".into()), ("tags", Value::Null), ("id", "1".into())]);
        let proposed = Value::object([("email", "b".into()), ("tags", Value::Null), ("id", "1".into())]);
        let (_, r) = default_plan(&schema(), &prior, &proposed);
        assert_eq!(r, vec![AttrPath::attr("email")]);
        assert!(config_changed(&schema(), &prior, &proposed, &[]));
        assert!(!config_changed(&schema(), &prior, &prior, &[]));
    }
}
