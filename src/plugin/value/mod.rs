//! Terraform values and their wire codecs.
//!
//! This module owns the cty type model (`Type`), the value tree (`Value`) with null and unknown, and the
//! type-directed msgpack and JSON encodings Terraform uses for `DynamicValue`. Decoding always
//! follows the schema's type, so a number stays a number, a set stays a set, and an unknown nested
//! anywhere (including refined unknowns, msgpack ext 12) is kept as `Value::Unknown`.

use std::collections::BTreeMap;
use std::fmt;

use thiserror::Error;

mod json;
mod msgpack;
pub(crate) mod serde_codec;
#[cfg(test)]
mod tests;

pub use json::{from_json, from_json_value, to_json_value};
pub use msgpack::{from_msgpack, to_msgpack};
pub use serde_codec::{from_value, to_value};

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

impl Number {
    /// The number as i64 when it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Number::Int(i) => Some(*i),
            Number::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(*f as i64),
            _ => None,
        }
    }
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
    pub(crate) fn new(message: impl Into<String>) -> Self {
        CodecError { message: message.into() }
    }
    pub(crate) fn at(self, step: &str) -> Self {
        CodecError { message: format!("{step}: {}", self.message) }
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

pub(super) fn parse_number(s: &str) -> Result<Value, CodecError> {
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
