//! The JSON encoding: stored state and identities (UpgradeResourceState), and plain JSON of
//! known values for payloads and logs.

use std::collections::BTreeMap;

use super::{CodecError, Number, Type, Value, parse_number, type_name};

/// Decodes a JSON `DynamicValue` (used for raw state in UpgradeResourceState) of the given type.
/// Unknown attributes are dropped: old state may carry attributes a newer schema removed.
pub fn from_json(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let j: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| CodecError::new(format!("invalid JSON: {e}")))?;
    from_json_value(&j, ty)
}

/// Converts a parsed JSON value to a `Value` of the given type.
pub fn from_json_value(j: &serde_json::Value, ty: &Type) -> Result<Value, CodecError> {
    use serde_json::Value as J;
    if j.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || CodecError::new(format!("expected {}, got {j}", type_name(ty)));
    match ty {
        Type::Bool => j.as_bool().map(Value::Bool).ok_or_else(mismatch),
        Type::Number => match j {
            J::Number(n) => parse_number(&n.to_string()),
            J::String(s) => parse_number(s),
            _ => Err(mismatch()),
        },
        Type::String => match j {
            J::String(s) => Ok(Value::String(s.clone())),
            J::Bool(b) => Ok(Value::String(b.to_string())),
            J::Number(n) => Ok(Value::String(n.to_string())),
            _ => Err(mismatch()),
        },
        Type::List(et) | Type::Set(et) => {
            let items = j
                .as_array()
                .ok_or_else(mismatch)?
                .iter()
                .map(|x| from_json_value(x, et))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) { Value::Set(items) } else { Value::List(items) })
        }
        Type::Tuple(ts) => {
            let a = j.as_array().filter(|a| a.len() == ts.len()).ok_or_else(mismatch)?;
            Ok(Value::Tuple(a.iter().zip(ts).map(|(x, t)| from_json_value(x, t)).collect::<Result<_, _>>()?))
        }
        Type::Map(et) => Ok(Value::Map(
            j.as_object()
                .ok_or_else(mismatch)?
                .iter()
                .map(|(k, x)| Ok((k.clone(), from_json_value(x, et).map_err(|e| e.at(k))?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        Type::Object(fields) => {
            let o = j.as_object().ok_or_else(mismatch)?;
            let mut out = BTreeMap::new();
            for (k, ft) in fields {
                let x = o.get(k).unwrap_or(&J::Null);
                out.insert(k.clone(), from_json_value(x, ft).map_err(|e| e.at(k))?);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            let o = j.as_object().ok_or_else(mismatch)?;
            let t = Type::from_json(o.get("type").ok_or_else(mismatch)?)?;
            from_json_value(o.get("value").unwrap_or(&J::Null), &t)
        }
    }
}

/// Encodes a known value as plain JSON (unknowns become null; used for payloads and logs).
pub fn to_json_value(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Null | Value::Unknown => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Number(Number::Int(i)) => J::from(*i),
        Value::Number(Number::Float(f)) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Number(Number::Big(s)) => s.parse::<serde_json::Number>().map_or(J::String(s.clone()), J::Number),
        Value::String(s) => J::String(s.clone()),
        Value::List(x) | Value::Set(x) | Value::Tuple(x) => J::Array(x.iter().map(to_json_value).collect()),
        Value::Map(m) | Value::Object(m) => J::Object(m.iter().map(|(k, x)| (k.clone(), to_json_value(x))).collect()),
    }
}
