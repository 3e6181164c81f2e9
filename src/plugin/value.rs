//! Terraform values and their wire codecs.
//!
//! Owns the cty type model (`Type`), the value tree (`Value`) with null and unknown, and the
//! type-directed msgpack and JSON encodings Terraform uses for `DynamicValue`. Decoding always
//! follows the schema's type, so a number stays a number, a set stays a set, and an unknown nested
//! anywhere (including refined unknowns, msgpack ext 12) is kept as `Value::Unknown`.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

/// A cty type, as carried by a schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Type {
    Bool,
    Number,
    String,
    /// `dynamic`: the value carries its own type on the wire.
    Dynamic,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Object(BTreeMap<String, Type>),
    Tuple(Vec<Type>),
}

impl Type {
    /// `list(t)`
    pub fn list(t: Type) -> Type {
        Type::List(Box::new(t))
    }
    /// `set(t)`
    pub fn set(t: Type) -> Type {
        Type::Set(Box::new(t))
    }
    /// `map(t)`
    pub fn map(t: Type) -> Type {
        Type::Map(Box::new(t))
    }
    /// `object({...})` from (name, type) pairs.
    pub fn object<I: IntoIterator<Item = (S, Type)>, S: Into<String>>(fields: I) -> Type {
        Type::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// True when `dynamic` appears anywhere in the type.
    pub fn has_dynamic(&self) -> bool {
        match self {
            Type::Dynamic => true,
            Type::List(t) | Type::Set(t) | Type::Map(t) => t.has_dynamic(),
            Type::Object(f) => f.values().any(Type::has_dynamic),
            Type::Tuple(ts) => ts.iter().any(Type::has_dynamic),
            _ => false,
        }
    }

    /// The JSON form of the type used in schemas (`"string"`, `["list","string"]`, ...).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Type::Bool => json!("bool"),
            Type::Number => json!("number"),
            Type::String => json!("string"),
            Type::Dynamic => json!("dynamic"),
            Type::List(t) => json!(["list", t.to_json()]),
            Type::Set(t) => json!(["set", t.to_json()]),
            Type::Map(t) => json!(["map", t.to_json()]),
            Type::Object(f) => {
                let m: serde_json::Map<String, serde_json::Value> =
                    f.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                json!(["object", m])
            }
            Type::Tuple(ts) => json!(["tuple", ts.iter().map(Type::to_json).collect::<Vec<_>>()]),
        }
    }

    /// Parses the JSON form of a type (the inverse of [`Type::to_json`]).
    pub fn from_json(v: &serde_json::Value) -> Result<Type, CodecError> {
        let bad = || CodecError::new(format!("invalid type specification {v}"));
        match v {
            serde_json::Value::String(s) => match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                _ => Err(bad()),
            },
            serde_json::Value::Array(a) if a.len() == 2 => {
                let kind = a[0].as_str().ok_or_else(bad)?;
                match kind {
                    "list" => Ok(Type::list(Type::from_json(&a[1])?)),
                    "set" => Ok(Type::set(Type::from_json(&a[1])?)),
                    "map" => Ok(Type::map(Type::from_json(&a[1])?)),
                    "object" => {
                        let o = a[1].as_object().ok_or_else(bad)?;
                        let mut f = BTreeMap::new();
                        for (k, t) in o {
                            f.insert(k.clone(), Type::from_json(t)?);
                        }
                        Ok(Type::Object(f))
                    }
                    "tuple" => {
                        let ts = a[1].as_array().ok_or_else(bad)?;
                        Ok(Type::Tuple(ts.iter().map(Type::from_json).collect::<Result<_, _>>()?))
                    }
                    _ => Err(bad()),
                }
            }
            // object types with optional attributes carry a third element; we ignore it
            serde_json::Value::Array(a) if a.len() == 3 && a[0] == "object" => {
                Type::from_json(&serde_json::Value::Array(a[..2].to_vec()))
            }
            _ => Err(bad()),
        }
    }
}

/// A Terraform number: integers stay exact, big numbers keep their decimal text.
#[derive(Clone, Debug, PartialEq)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A number that fits neither i64 nor f64 exactly, as its decimal string.
    Big(String),
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Big(s) => f.write_str(s),
        }
    }
}

/// A Terraform value. Maps and objects keep their keys sorted, as cty does.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    /// Not known until apply (plain or refined unknown on the wire).
    Unknown,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Set(Vec<Value>),
    Tuple(Vec<Value>),
    Map(BTreeMap<String, Value>),
    Object(BTreeMap<String, Value>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Number(Number::Int(i))
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Null, Into::into)
    }
}

impl Value {
    /// True for `Value::Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    /// True for `Value::Unknown`.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }
    /// True when this value or anything inside it is unknown.
    pub fn contains_unknown(&self) -> bool {
        match self {
            Value::Unknown => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().any(Value::contains_unknown),
            Value::Map(m) | Value::Object(m) => m.values().any(Value::contains_unknown),
            _ => false,
        }
    }
    /// An attribute of an object (or an element of a map); `Null` when absent.
    pub fn get(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        match self {
            Value::Object(m) | Value::Map(m) => m.get(name).unwrap_or(&NULL),
            _ => &NULL,
        }
    }
    /// Mutable access to the fields of an object or map.
    pub fn fields_mut(&mut self) -> Option<&mut BTreeMap<String, Value>> {
        match self {
            Value::Object(m) | Value::Map(m) => Some(m),
            _ => None,
        }
    }
    /// Sets an attribute on an object; no-op on other values.
    pub fn set(&mut self, name: &str, v: impl Into<Value>) {
        if let Some(m) = self.fields_mut() {
            m.insert(name.to_string(), v.into());
        }
    }
    /// The string, if this is a known string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    /// The bool, if this is a known bool.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    /// The number as i64 when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(Number::Int(i)) => Some(*i),
            Value::Number(Number::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }
    /// Elements of a list, set or tuple.
    pub fn elements(&self) -> &[Value] {
        match self {
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v,
            _ => &[],
        }
    }
    /// A map (or object) of known strings, skipping null and unknown elements.
    pub fn as_string_map(&self) -> BTreeMap<String, String> {
        match self {
            Value::Map(m) | Value::Object(m) => {
                m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect()
            }
            _ => BTreeMap::new(),
        }
    }
    /// Builds a `map(string)` value.
    pub fn string_map<I: IntoIterator<Item = (K, V)>, K: Into<String>, V: Into<String>>(it: I) -> Value {
        Value::Map(it.into_iter().map(|(k, v)| (k.into(), Value::String(v.into()))).collect())
    }
    /// Builds an object from (name, value) pairs.
    pub fn object<I: IntoIterator<Item = (K, Value)>, K: Into<String>>(it: I) -> Value {
        Value::Object(it.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// A value that does not fit its type, or bytes that are not a valid encoding.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct CodecError {
    /// What went wrong, with the attribute path where known.
    pub message: String,
}

impl CodecError {
    fn new(message: impl Into<String>) -> Self {
        CodecError { message: message.into() }
    }
    fn at(self, step: &str) -> Self {
        CodecError { message: format!("{step}: {}", self.message) }
    }
}

// ---------------------------------------------------------------- msgpack

/// Decodes a msgpack `DynamicValue` of the given type.
pub fn from_msgpack(bytes: &[u8], ty: &Type) -> Result<Value, CodecError> {
    let mut rd = bytes;
    let raw = rmpv::decode::read_value(&mut rd).map_err(|e| CodecError::new(format!("invalid msgpack: {e}")))?;
    if !rd.is_empty() {
        return Err(CodecError::new("invalid msgpack: trailing bytes"));
    }
    from_rmpv(&raw, ty)
}

/// Encodes a value of the given type as a msgpack `DynamicValue`.
pub fn to_msgpack(v: &Value, ty: &Type) -> Result<Vec<u8>, CodecError> {
    let raw = to_rmpv(v, ty)?;
    let mut out = Vec::with_capacity(64);
    rmpv::encode::write_value(&mut out, &raw).map_err(|e| CodecError::new(e.to_string()))?;
    Ok(out)
}

fn from_rmpv(raw: &rmpv::Value, ty: &Type) -> Result<Value, CodecError> {
    use rmpv::Value as R;
    // ext 0 is a plain unknown, ext 12 a refined unknown (its payload refines, we only need "unknown")
    if let R::Ext(code, _) = raw {
        return match code {
            0 | 12 => Ok(Value::Unknown),
            _ => Err(CodecError::new(format!("unsupported msgpack extension {code}"))),
        };
    }
    if raw.is_nil() {
        return Ok(Value::Null);
    }
    let mismatch = || CodecError::new(format!("expected {}, got {}", type_name(ty), raw_kind(raw)));
    match ty {
        Type::Bool => raw.as_bool().map(Value::Bool).ok_or_else(mismatch),
        Type::Number => match raw {
            R::Integer(i) => {
                if let Some(i) = i.as_i64() {
                    Ok(Value::Number(Number::Int(i)))
                } else {
                    Ok(Value::Number(Number::Big(i.as_u64().unwrap_or_default().to_string())))
                }
            }
            R::F32(f) => Ok(Value::Number(Number::Float(f64::from(*f)))),
            R::F64(f) => Ok(Value::Number(Number::Float(*f))),
            R::String(s) => parse_number(s.as_str().ok_or_else(mismatch)?),
            _ => Err(mismatch()),
        },
        Type::String => match raw {
            R::String(s) => s.as_str().map(|s| Value::String(s.to_string())).ok_or_else(mismatch),
            _ => Err(mismatch()),
        },
        Type::List(et) | Type::Set(et) => {
            let arr = raw.as_array().ok_or_else(mismatch)?;
            let items = arr
                .iter()
                .enumerate()
                .map(|(i, x)| from_rmpv(x, et).map_err(|e| e.at(&format!("[{i}]"))))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if matches!(ty, Type::Set(_)) { Value::Set(items) } else { Value::List(items) })
        }
        Type::Tuple(ts) => {
            let arr = raw.as_array().ok_or_else(mismatch)?;
            if arr.len() != ts.len() {
                return Err(mismatch());
            }
            Ok(Value::Tuple(arr.iter().zip(ts).map(|(x, t)| from_rmpv(x, t)).collect::<Result<_, _>>()?))
        }
        Type::Map(et) => {
            let m = raw.as_map().ok_or_else(mismatch)?;
            let mut out = BTreeMap::new();
            for (k, x) in m {
                let k = k.as_str().ok_or_else(|| CodecError::new("map key is not a string"))?;
                out.insert(k.to_string(), from_rmpv(x, et).map_err(|e| e.at(&format!("[{k:?}]")))?);
            }
            Ok(Value::Map(out))
        }
        Type::Object(fields) => {
            let m = raw.as_map().ok_or_else(mismatch)?;
            let mut out: BTreeMap<String, Value> = fields.keys().map(|k| (k.clone(), Value::Null)).collect();
            for (k, x) in m {
                let k = k.as_str().ok_or_else(|| CodecError::new("object key is not a string"))?;
                let ft = fields.get(k).ok_or_else(|| CodecError::new(format!("unsupported attribute {k:?}")))?;
                out.insert(k.to_string(), from_rmpv(x, ft).map_err(|e| e.at(k))?);
            }
            Ok(Value::Object(out))
        }
        Type::Dynamic => {
            // [type as JSON bytes, value]
            let arr = raw.as_array().filter(|a| a.len() == 2).ok_or_else(mismatch)?;
            let tjson = match &arr[0] {
                R::Binary(b) => serde_json::from_slice(b),
                R::String(s) => serde_json::from_slice(s.as_bytes()),
                _ => return Err(mismatch()),
            }
            .map_err(|e| CodecError::new(format!("invalid dynamic type: {e}")))?;
            from_rmpv(&arr[1], &Type::from_json(&tjson)?)
        }
    }
}

fn to_rmpv(v: &Value, ty: &Type) -> Result<rmpv::Value, CodecError> {
    use rmpv::Value as R;
    let mismatch = || CodecError::new(format!("cannot encode {} as {}", value_kind(v), type_name(ty)));
    match v {
        Value::Null => return Ok(R::Nil),
        Value::Unknown => return Ok(R::Ext(0, vec![0])),
        _ => {}
    }
    match (ty, v) {
        (Type::Bool, Value::Bool(b)) => Ok(R::Boolean(*b)),
        (Type::Number, Value::Number(n)) => Ok(match n {
            Number::Int(i) => R::from(*i),
            Number::Float(f) => R::F64(*f),
            Number::Big(s) => R::from(s.as_str()),
        }),
        (Type::String, Value::String(s)) => Ok(R::from(s.as_str())),
        (Type::List(et), Value::List(items))
        | (Type::Set(et), Value::Set(items))
        | (Type::Set(et), Value::List(items)) => {
            Ok(R::Array(items.iter().map(|x| to_rmpv(x, et)).collect::<Result<_, _>>()?))
        }
        (Type::Tuple(ts), Value::Tuple(items)) if ts.len() == items.len() => {
            Ok(R::Array(items.iter().zip(ts).map(|(x, t)| to_rmpv(x, t)).collect::<Result<_, _>>()?))
        }
        (Type::Map(et), Value::Map(m) | Value::Object(m)) => Ok(R::Map(
            m.iter()
                .map(|(k, x)| Ok((R::from(k.as_str()), to_rmpv(x, et).map_err(|e| e.at(k))?)))
                .collect::<Result<_, CodecError>>()?,
        )),
        (Type::Object(fields), Value::Object(m)) => {
            if let Some(extra) = m.keys().find(|k| !fields.contains_key(*k)) {
                return Err(CodecError::new(format!("unsupported attribute {extra:?}")));
            }
            Ok(R::Map(
                fields
                    .iter()
                    .map(|(k, ft)| {
                        let x = m.get(k).unwrap_or(&Value::Null);
                        Ok((R::from(k.as_str()), to_rmpv(x, ft).map_err(|e| e.at(k))?))
                    })
                    .collect::<Result<_, CodecError>>()?,
            ))
        }
        (Type::Dynamic, _) => {
            let t = infer_type(v);
            let tjson = serde_json::to_vec(&t.to_json()).map_err(|e| CodecError::new(e.to_string()))?;
            Ok(R::Array(vec![R::Binary(tjson), to_rmpv(v, &t)?]))
        }
        _ => Err(mismatch()),
    }
}

/// The type a known value most naturally has (used for `dynamic`).
pub fn infer_type(v: &Value) -> Type {
    match v {
        Value::Null | Value::Unknown => Type::Dynamic,
        Value::Bool(_) => Type::Bool,
        Value::Number(_) => Type::Number,
        Value::String(_) => Type::String,
        Value::List(x) => Type::list(x.first().map_or(Type::Dynamic, infer_type)),
        Value::Set(x) => Type::set(x.first().map_or(Type::Dynamic, infer_type)),
        Value::Tuple(x) => Type::Tuple(x.iter().map(infer_type).collect()),
        Value::Map(m) => Type::map(m.values().next().map_or(Type::Dynamic, infer_type)),
        Value::Object(m) => Type::Object(m.iter().map(|(k, x)| (k.clone(), infer_type(x))).collect()),
    }
}

fn parse_number(s: &str) -> Result<Value, CodecError> {
    if let Ok(i) = s.parse::<i64>() {
        return Ok(Value::Number(Number::Int(i)));
    }
    let valid = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        && s.chars().any(|c| c.is_ascii_digit());
    if !valid {
        return Err(CodecError::new(format!("invalid number {s:?}")));
    }
    match s.parse::<f64>() {
        // keep the text when f64 would round it
        Ok(f) if f.is_finite() && !s.contains(['e', 'E']) && format!("{f}") == s => Ok(Value::Number(Number::Float(f))),
        _ => Ok(Value::Number(Number::Big(s.to_string()))),
    }
}

fn type_name(t: &Type) -> String {
    t.to_json().to_string()
}

fn raw_kind(r: &rmpv::Value) -> &'static str {
    use rmpv::Value as R;
    match r {
        R::Nil => "null",
        R::Boolean(_) => "bool",
        R::Integer(_) | R::F32(_) | R::F64(_) => "number",
        R::String(_) => "string",
        R::Binary(_) => "binary",
        R::Array(_) => "array",
        R::Map(_) => "map",
        R::Ext(..) => "extension",
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Unknown => "unknown",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::List(_) => "list",
        Value::Set(_) => "set",
        Value::Tuple(_) => "tuple",
        Value::Map(_) => "map",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------- JSON

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

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(t: &[(&str, Type)]) -> Type {
        Type::object(t.iter().map(|(k, v)| (*k, v.clone())))
    }

    #[test]
    fn unknown_is_ext0_golden() {
        assert_eq!(to_msgpack(&Value::Unknown, &Type::String).unwrap(), vec![0xd4, 0x00, 0x00]);
        assert_eq!(from_msgpack(&[0xd4, 0x00, 0x00], &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn refined_unknown_ext12_decodes_as_unknown() {
        // ext 12 with a payload map {1: false} (refinement: not null), as Terraform >= 1.6 sends
        let bytes = [0xc7, 0x03, 0x0c, 0x81, 0x01, 0xc2];
        assert_eq!(from_msgpack(&bytes, &Type::String).unwrap(), Value::Unknown);
    }

    #[test]
    fn float_golden() {
        let bytes = to_msgpack(&Value::Number(Number::Float(1.5)), &Type::Number).unwrap();
        assert_eq!(bytes, vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(from_msgpack(&bytes, &Type::Number).unwrap(), Value::Number(Number::Float(1.5)));
    }

    #[test]
    fn integer_golden() {
        assert_eq!(to_msgpack(&Value::from(5), &Type::Number).unwrap(), vec![0x05]);
        assert_eq!(from_msgpack(&[0xcd, 0x01, 0x00], &Type::Number).unwrap(), Value::from(256));
    }

    #[test]
    fn big_number_beyond_2_pow_53_as_string() {
        // cty sends numbers that do not fit float64 exactly as a msgpack string
        let s = "123456789012345678901234567890";
        let mut bytes = vec![0xbe];
        bytes.extend_from_slice(s.as_bytes());
        let v = from_msgpack(&bytes, &Type::Number).unwrap();
        assert_eq!(v, Value::Number(Number::Big(s.to_string())));
        assert_eq!(to_msgpack(&v, &Type::Number).unwrap(), bytes);
        // 2^53 + 1 as an integer stays exact
        let big = (1i64 << 53) + 1;
        let b = to_msgpack(&Value::from(big), &Type::Number).unwrap();
        assert!(b[0] == 0xcf || b[0] == 0xd3, "a 64-bit integer, not a float");
        assert_eq!(from_msgpack(&b, &Type::Number).unwrap(), Value::from(big));
    }

    #[test]
    fn nested_unknown_in_map_golden() {
        let v = Value::Map([("a".to_string(), Value::from("x")), ("b".to_string(), Value::Unknown)].into());
        let t = Type::map(Type::String);
        let bytes = to_msgpack(&v, &t).unwrap();
        assert_eq!(bytes, vec![0x82, 0xa1, b'a', 0xa1, b'x', 0xa1, b'b', 0xd4, 0x00, 0x00]);
        let back = from_msgpack(&bytes, &t).unwrap();
        assert_eq!(back, v);
        assert!(back.contains_unknown());
    }

    #[test]
    fn set_golden() {
        let t = Type::set(Type::String);
        let v = Value::Set(vec!["a".into(), "b".into()]);
        let bytes = to_msgpack(&v, &t).unwrap();
        assert_eq!(bytes, vec![0x92, 0xa1, b'a', 0xa1, b'b']);
        assert_eq!(from_msgpack(&bytes, &t).unwrap(), v);
        // the same bytes decode as a list under a list type
        assert_eq!(from_msgpack(&bytes, &Type::list(Type::String)).unwrap(), Value::List(vec!["a".into(), "b".into()]));
    }

    #[test]
    fn object_fills_missing_attributes_with_null_and_rejects_unknown_ones() {
        let t = obj(&[("a", Type::String), ("b", Type::Bool)]);
        let bytes = [0x81, 0xa1, b'a', 0xa1, b'x'];
        assert_eq!(from_msgpack(&bytes, &t).unwrap(), Value::object([("a", "x".into()), ("b", Value::Null)]));
        let bad = [0x81, 0xa1, b'z', 0xc0];
        assert!(from_msgpack(&bad, &t).unwrap_err().message.contains("\"z\""));
    }

    #[test]
    fn type_mismatch_names_the_path() {
        let t = obj(&[("tags", Type::map(Type::String))]);
        let bytes = [0x81, 0xa4, b't', b'a', b'g', b's', 0x81, 0xa1, b'k', 0x05];
        let e = from_msgpack(&bytes, &t).unwrap_err();
        assert!(e.message.starts_with("tags: [\"k\"]"), "{}", e.message);
    }

    #[test]
    fn truncated_and_garbage_input_is_an_error_not_a_panic() {
        let t = obj(&[("a", Type::list(Type::Number))]);
        for bytes in [&[0x81u8, 0xa1][..], &[0xff, 0xff], &[], &[0x91, 0x92, 0x93]] {
            assert!(from_msgpack(bytes, &t).is_err());
        }
    }

    #[test]
    fn dynamic_roundtrip() {
        let v = Value::object([("n", Value::from(1))]);
        let bytes = to_msgpack(&v, &Type::Dynamic).unwrap();
        assert_eq!(from_msgpack(&bytes, &Type::Dynamic).unwrap(), v);
    }

    #[test]
    fn json_state_decodes_with_type() {
        let t = obj(&[("id", Type::String), ("n", Type::Number), ("s", Type::set(Type::String))]);
        let v = from_json(br#"{"id":"x","n":3,"s":["a"],"removed":1}"#, &t).unwrap();
        assert_eq!(v.get("n"), &Value::from(3));
        assert_eq!(v.get("s"), &Value::Set(vec!["a".into()]));
    }

    #[test]
    fn type_json_roundtrip() {
        let t = obj(&[("a", Type::list(Type::map(Type::Number))), ("b", Type::Tuple(vec![Type::Bool]))]);
        assert_eq!(Type::from_json(&t.to_json()).unwrap(), t);
    }
}
