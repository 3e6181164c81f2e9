//! Typed models: a configuration, plan or state read once into a struct and written once from
//! it, instead of attributes looked up by name. A model is a `serde` struct whose field names are
//! the schema's attribute names; [`check_model`] proves the two match one to one
//! (terraform-plugin-framework's rule "to catch typos"), at every depth.
//!
//! Where the protocol can send or need an unknown (a computed attribute at plan time, a
//! configuration value not yet known), the field is an [`Attr`]: null, unknown or known. A plain
//! field (`String`, `bool`, a nested struct) refuses an unknown with an error naming the
//! attribute; `Option<T>` reads null (and an unknown) as `None`, so it serves models that are only
//! read (a configuration checked at plan time), never ones written back (an unknown would come
//! back null).

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::ser::{self, Serialize};

use super::diagnostics::{Diagnostic, Diagnostics};
use super::value::Number;
use super::value::serde_codec::UNKNOWN;
use super::value::{CodecError, Type, Value, from_value, to_value};

/// An attribute that may be null, unknown (not known until apply) or known.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Attr<T> {
    #[default]
    Null,
    Unknown,
    Known(T),
}

impl<T> Attr<T> {
    /// The known value.
    pub fn known(&self) -> Option<&T> {
        match self {
            Attr::Known(t) => Some(t),
            _ => None,
        }
    }
    /// True when null.
    pub fn is_null(&self) -> bool {
        matches!(self, Attr::Null)
    }
    /// True when unknown.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Attr::Unknown)
    }
}

impl<T> From<Option<T>> for Attr<T> {
    fn from(o: Option<T>) -> Self {
        o.map_or(Attr::Null, Attr::Known)
    }
}

impl Attr<String> {
    /// The known string.
    pub fn as_str(&self) -> Option<&str> {
        self.known().map(String::as_str)
    }
}

impl<T: Serialize> Serialize for Attr<T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Attr::Null => s.serialize_none(),
            Attr::Unknown => s.serialize_unit_struct(UNKNOWN),
            Attr::Known(t) => s.serialize_some(t),
        }
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Attr<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Attr<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Terraform value, null or unknown")
            }
            fn visit_none<E>(self) -> Result<Attr<T>, E> {
                Ok(Attr::Null)
            }
            // the codec reports an unknown as a unit inside an option (see `deserialize_option`)
            fn visit_unit<E>(self) -> Result<Attr<T>, E> {
                Ok(Attr::Unknown)
            }
            fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Attr<T>, D::Error> {
                T::deserialize(d).map(Attr::Known)
            }
        }
        d.deserialize_option(V(std::marker::PhantomData))
    }
}

impl Serialize for Number {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Number::Int(i) => s.serialize_i64(*i),
            Number::Float(f) => s.serialize_f64(*f),
            Number::Big(b) => s.serialize_str(b),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Number {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, i: i64) -> Result<Number, E> {
                Ok(Number::Int(i))
            }
            fn visit_u64<E: de::Error>(self, u: u64) -> Result<Number, E> {
                Ok(i64::try_from(u).map_or_else(|_| Number::Big(u.to_string()), Number::Int))
            }
            fn visit_f64<E>(self, f: f64) -> Result<Number, E> {
                Ok(Number::Float(f))
            }
            // a number too big for i64 and f64 travels as its decimal text
            fn visit_str<E>(self, s: &str) -> Result<Number, E> {
                Ok(Number::Big(s.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `timeouts` block of `super::schema::timeouts_block` (create, update, delete). Models that
/// are written back hold it, like every block, as an [`Attr`], so an unknown block stays unknown.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Timeouts {
    pub create: Attr<String>,
    pub update: Attr<String>,
    pub delete: Attr<String>,
}

/// A map of strings whose elements may be unknown at plan time; [`known_map`] reads what is known.
pub type StringMap = BTreeMap<String, Attr<String>>;

/// The known elements of an optional map (null and unknown elements left out).
pub fn known_map(m: &Attr<StringMap>) -> BTreeMap<String, String> {
    m.known()
        .map(|m| m.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect())
        .unwrap_or_default()
}

/// A model read from a value Terraform sent. A failure means the model and the schema disagree:
/// a bug, reported as an error diagnostic instead of guessed around.
pub fn read_model<T: DeserializeOwned>(v: &Value, what: &str) -> Result<T, Diagnostics> {
    from_value(v).map_err(|e| {
        Diagnostic::error(
            "The provider could not read its own model",
            format!("{what}: {e}. This is a bug in terraform-provider-aft."),
        )
        .into()
    })
}

/// A model written as a value of `ty`, with a failure as an error diagnostic.
pub fn write_model<T: Serialize>(m: &T, ty: &Type) -> Result<Value, Diagnostics> {
    to_value(m, ty).map_err(|e| {
        Diagnostic::error(
            "The provider could not write its own model",
            format!("{e}. This is a bug in terraform-provider-aft."),
        )
        .into()
    })
}

/// Proves a model and a schema type match one to one at every depth: a value of `ty` with every
/// attribute set reads into `T` and writes back unchanged. A schema attribute the model lacks is
/// lost on the way back; a model field the schema lacks is refused.
pub fn check_model<T: Serialize + DeserializeOwned>(ty: &Type) -> Result<(), CodecError> {
    let sample = sample(ty);
    let model: T = from_value(&sample).map_err(|e| e.at("reading a full value into the model"))?;
    let back = to_value(&model, ty).map_err(|e| e.at("writing the model back"))?;
    if back == sample {
        Ok(())
    } else {
        Err(CodecError::new(format!("the model does not match the schema one to one:\n{sample:?}\n{back:?}")))
    }
}

/// A value of `ty` with every attribute and element known (one element per collection).
fn sample(ty: &Type) -> Value {
    match ty {
        Type::Bool => Value::Bool(true),
        Type::Number => Value::Number(Number::Int(7)),
        Type::String | Type::Dynamic => Value::from("x"),
        Type::List(t) => Value::List(vec![sample(t)]),
        Type::Set(t) => Value::Set(vec![sample(t)]),
        Type::Map(t) => Value::Map([("k".to_string(), sample(t))].into()),
        Type::Object(f) => Value::Object(f.iter().map(|(k, t)| (k.clone(), sample(t))).collect()),
        Type::Tuple(ts) => Value::Tuple(ts.iter().map(sample).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Default)]
    struct Inner {
        a: Attr<String>,
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Default)]
    struct Model {
        name: String,
        id: Attr<String>,
        count: Attr<i64>,
        tags: Option<BTreeMap<String, String>>,
        items: Vec<Inner>,
        flag: Option<bool>,
    }

    fn ty() -> Type {
        Type::object([
            ("name", Type::String),
            ("id", Type::String),
            ("count", Type::Number),
            ("tags", Type::map(Type::String)),
            ("items", Type::set(Type::object([("a", Type::String)]))),
            ("flag", Type::Bool),
        ])
    }

    #[test]
    fn null_unknown_and_known_round_trip() {
        let v = Value::object([
            ("name", Value::from("n")),
            ("id", Value::Unknown),
            ("count", Value::Null),
            ("tags", Value::string_map([("k", "v")])),
            ("items", Value::Set(vec![Value::object([("a", Value::Unknown)])])),
            ("flag", Value::Null),
        ]);
        let m: Model = from_value(&v).unwrap();
        assert_eq!(m.id, Attr::Unknown);
        assert_eq!(m.count, Attr::Null);
        assert_eq!(m.items, vec![Inner { a: Attr::Unknown }]);
        assert_eq!(to_value(&m, &ty()).unwrap(), v, "sets stay sets, maps stay maps");
    }

    #[test]
    fn an_unknown_where_the_model_needs_a_value_names_the_attribute() {
        let v = Value::object([("name", Value::Unknown)]);
        let e = from_value::<Model>(&v).unwrap_err();
        assert!(e.message.starts_with("name:"), "{}", e.message);
    }

    #[test]
    fn a_partial_model_reads_its_attributes_and_skips_the_rest_even_unknown() {
        #[derive(serde::Deserialize, Debug, PartialEq)]
        struct Just {
            name: String,
        }
        let v = Value::object([("name", Value::from("n")), ("id", Value::Unknown), ("items", Value::Unknown)]);
        assert_eq!(from_value::<Just>(&v).unwrap(), Just { name: "n".into() });
        let unknown = Value::object([("name", Value::Unknown)]);
        assert!(from_value::<Just>(&unknown).is_err(), "the attribute it names must still be known");
    }

    #[test]
    fn the_one_to_one_check_catches_a_missing_or_extra_field() {
        check_model::<Model>(&ty()).unwrap();
        let mut more = ty();
        if let Type::Object(f) = &mut more {
            f.insert("typo".into(), Type::String);
        }
        assert!(check_model::<Model>(&more).is_err(), "a schema attribute the model lacks");
        let mut less = ty();
        if let Type::Object(f) = &mut less {
            f.remove("flag");
        }
        assert!(check_model::<Model>(&less).is_err(), "a model field the schema lacks");
    }
}
