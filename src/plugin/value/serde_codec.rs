//! The `serde` codec between typed models (`crate::plugin::model`) and values: [`from_value`]
//! reads a model from a value, [`to_value`] writes one as a value of the schema's type. An
//! unknown travels as a unit inside an option on reading, and as the unit struct [`UNKNOWN`] on
//! writing; errors name the attribute they happened at.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

use super::{CodecError, Number, Type, Value};

/// The name `Attr` uses to tell the codec "this is an unknown", on both sides.
pub const UNKNOWN: &str = "$aft::unknown";

impl de::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError::new(msg.to_string())
    }
}

impl ser::Error for CodecError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        CodecError::new(msg.to_string())
    }
}

/// Reads a model from a value of the schema's type. A model may name only some attributes (an
/// identity read from a state): the others are skipped unread.
pub fn from_value<T: DeserializeOwned>(v: &Value) -> Result<T, CodecError> {
    T::deserialize(Reader(v))
}

/// Writes a model as a value of type `ty` (lists become sets and maps objects where the type says so).
pub fn to_value<T: Serialize>(model: &T, ty: &Type) -> Result<Value, CodecError> {
    conform(model.serialize(Writer)?, ty)
}

/// Gives a value written from a model the collection kinds of `ty`, and every attribute of an
/// object type (null when the model left it out).
fn conform(v: Value, ty: &Type) -> Result<Value, CodecError> {
    let mismatch =
        |v: &Value| CodecError::new(format!("a model wrote {v:?} where the schema has {}", super::type_name(ty)));
    Ok(match (v, ty) {
        (v @ (Value::Null | Value::Unknown), _) => v,
        (Value::List(x) | Value::Set(x) | Value::Tuple(x), Type::List(t)) => {
            Value::List(x.into_iter().map(|e| conform(e, t)).collect::<Result<_, _>>()?)
        }
        (Value::List(x) | Value::Set(x) | Value::Tuple(x), Type::Set(t)) => {
            Value::Set(x.into_iter().map(|e| conform(e, t)).collect::<Result<_, _>>()?)
        }
        (Value::List(x) | Value::Set(x) | Value::Tuple(x), Type::Tuple(ts)) if x.len() == ts.len() => {
            Value::Tuple(x.into_iter().zip(ts).map(|(e, t)| conform(e, t)).collect::<Result<_, _>>()?)
        }
        (Value::Map(m) | Value::Object(m), Type::Map(t)) => Value::Map(
            m.into_iter()
                .map(|(k, e)| Ok((k.clone(), conform(e, t).map_err(|x| x.at(&k))?)))
                .collect::<Result<_, CodecError>>()?,
        ),
        (Value::Map(mut m) | Value::Object(mut m), Type::Object(fields)) => {
            if let Some(extra) = m.keys().find(|k| !fields.contains_key(*k)) {
                return Err(CodecError::new(format!(
                    "a model wrote the attribute {extra:?}, which the schema does not have"
                )));
            }
            let mut out = BTreeMap::new();
            for (k, t) in fields {
                let e = m.remove(k).unwrap_or(Value::Null);
                out.insert(k.clone(), conform(e, t).map_err(|x| x.at(k))?);
            }
            Value::Object(out)
        }
        (v @ Value::Bool(_), Type::Bool)
        | (v @ Value::Number(_), Type::Number)
        | (v @ Value::String(_), Type::String) => v,
        (v, Type::Dynamic) => v,
        (v, _) => return Err(mismatch(&v)),
    })
}

// ---------------------------------------------------------------- reading

/// A `serde` deserializer over a borrowed value.
struct Reader<'a>(&'a Value);

impl<'de> de::Deserializer<'de> for Reader<'_> {
    type Error = CodecError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, CodecError> {
        match self.0 {
            Value::Null => v.visit_unit(),
            Value::Unknown => Err(CodecError::new("the value is not known yet")),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(Number::Int(i)) => v.visit_i64(*i),
            Value::Number(Number::Float(f)) => v.visit_f64(*f),
            Value::Number(Number::Big(s)) => v.visit_str(s),
            Value::String(s) => v.visit_str(s),
            Value::List(x) | Value::Set(x) | Value::Tuple(x) => v.visit_seq(Elements(x.iter(), 0)),
            Value::Map(m) | Value::Object(m) => v.visit_map(Entries { it: m.iter(), key: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, CodecError> {
        match self.0 {
            Value::Null => v.visit_none(),
            // `Attr` reads this as unknown; a plain `Option` as `None`
            Value::Unknown => v.visit_unit(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, CodecError> {
        match self.0 {
            Value::String(s) => v.visit_enum(s.as_str().into_deserializer()),
            other => Err(CodecError::new(format!("expected a string naming a variant, got {other:?}"))),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _name: &'static str, v: V) -> Result<V::Value, CodecError> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }

    // an attribute a partial model does not name is skipped without being read (and may be unknown)
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, CodecError> {
        v.visit_unit()
    }
}

struct Elements<'a>(std::slice::Iter<'a, Value>, usize);

impl<'de> de::SeqAccess<'de> for Elements<'_> {
    type Error = CodecError;
    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, CodecError> {
        let Some(e) = self.0.next() else { return Ok(None) };
        self.1 += 1;
        seed.deserialize(Reader(e)).map(Some).map_err(|x| x.at(&format!("[{}]", self.1 - 1)))
    }
}

struct Entries<'a> {
    it: std::collections::btree_map::Iter<'a, String, Value>,
    key: Option<(&'a String, &'a Value)>,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = CodecError;
    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, CodecError> {
        let Some((k, v)) = self.it.next() else { return Ok(None) };
        self.key = Some((k, v));
        seed.deserialize(k.as_str().into_deserializer()).map(Some)
    }
    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, CodecError> {
        let (k, v) = self.key.take().ok_or_else(|| CodecError::new("a value without its key"))?;
        // errors name the attribute they happened at
        seed.deserialize(Reader(v)).map_err(|e| e.at(k))
    }
}

// ---------------------------------------------------------------- writing

/// A `serde` serializer that builds a value (kinds made exact by [`conform`]).
struct Writer;

impl ser::Serializer for Writer {
    type Ok = Value;
    type Error = CodecError;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = ser::Impossible<Value, CodecError>;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = ser::Impossible<Value, CodecError>;

    fn serialize_bool(self, b: bool) -> Result<Value, CodecError> {
        Ok(Value::Bool(b))
    }
    fn serialize_i8(self, x: i8) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_i16(self, x: i16) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_i32(self, x: i32) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_i64(self, x: i64) -> Result<Value, CodecError> {
        Ok(Value::Number(Number::Int(x)))
    }
    fn serialize_u8(self, x: u8) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_u16(self, x: u16) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_u32(self, x: u32) -> Result<Value, CodecError> {
        self.serialize_i64(x.into())
    }
    fn serialize_u64(self, x: u64) -> Result<Value, CodecError> {
        Ok(match i64::try_from(x) {
            Ok(i) => Value::Number(Number::Int(i)),
            Err(_) => Value::Number(Number::Big(x.to_string())),
        })
    }
    fn serialize_f32(self, x: f32) -> Result<Value, CodecError> {
        self.serialize_f64(x.into())
    }
    fn serialize_f64(self, x: f64) -> Result<Value, CodecError> {
        Ok(Value::Number(Number::Float(x)))
    }
    fn serialize_char(self, c: char) -> Result<Value, CodecError> {
        Ok(Value::String(c.to_string()))
    }
    fn serialize_str(self, s: &str) -> Result<Value, CodecError> {
        Ok(Value::String(s.to_string()))
    }
    fn serialize_bytes(self, _b: &[u8]) -> Result<Value, CodecError> {
        Err(CodecError::new("Terraform values have no bytes"))
    }
    fn serialize_none(self) -> Result<Value, CodecError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, t: &T) -> Result<Value, CodecError> {
        t.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, CodecError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, CodecError> {
        Ok(if name == UNKNOWN { Value::Unknown } else { Value::Null })
    }
    fn serialize_unit_variant(self, _n: &'static str, _i: u32, variant: &'static str) -> Result<Value, CodecError> {
        Ok(Value::String(variant.to_string()))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _n: &'static str, t: &T) -> Result<Value, CodecError> {
        t.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _t: &T,
    ) -> Result<Value, CodecError> {
        Err(CodecError::new(format!("the enum variant {variant} carries data, which Terraform values cannot")))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq, CodecError> {
        Ok(Seq(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq, CodecError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _n: &'static str, len: usize) -> Result<Seq, CodecError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, CodecError> {
        Err(CodecError::new(format!("the enum variant {variant} carries data, which Terraform values cannot")))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map, CodecError> {
        Ok(Map(BTreeMap::new(), None))
    }
    fn serialize_struct(self, _n: &'static str, _len: usize) -> Result<Map, CodecError> {
        Ok(Map(BTreeMap::new(), None))
    }
    fn serialize_struct_variant(
        self,
        _n: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, CodecError> {
        Err(CodecError::new(format!("the enum variant {variant} carries data, which Terraform values cannot")))
    }
}

struct Seq(Vec<Value>);

impl ser::SerializeSeq for Seq {
    type Ok = Value;
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, t: &T) -> Result<(), CodecError> {
        self.0.push(t.serialize(Writer)?);
        Ok(())
    }
    fn end(self) -> Result<Value, CodecError> {
        Ok(Value::List(self.0))
    }
}

impl ser::SerializeTuple for Seq {
    type Ok = Value;
    type Error = CodecError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, t: &T) -> Result<(), CodecError> {
        ser::SerializeSeq::serialize_element(self, t)
    }
    fn end(self) -> Result<Value, CodecError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Seq {
    type Ok = Value;
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, t: &T) -> Result<(), CodecError> {
        ser::SerializeSeq::serialize_element(self, t)
    }
    fn end(self) -> Result<Value, CodecError> {
        ser::SerializeSeq::end(self)
    }
}

/// A map or struct being written, with the key of the entry in progress.
struct Map(BTreeMap<String, Value>, Option<String>);

impl ser::SerializeMap for Map {
    type Ok = Value;
    type Error = CodecError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<(), CodecError> {
        match key.serialize(Writer)? {
            Value::String(s) => {
                self.1 = Some(s);
                Ok(())
            }
            other => Err(CodecError::new(format!("map keys are strings in Terraform, not {other:?}"))),
        }
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), CodecError> {
        let key = self.1.take().ok_or_else(|| CodecError::new("a map value without its key"))?;
        let v = v.serialize(Writer).map_err(|e| e.at(&key))?;
        self.0.insert(key, v);
        Ok(())
    }
    fn end(self) -> Result<Value, CodecError> {
        Ok(Value::Map(self.0))
    }
}

impl ser::SerializeStruct for Map {
    type Ok = Value;
    type Error = CodecError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, v: &T) -> Result<(), CodecError> {
        let v = v.serialize(Writer).map_err(|e| e.at(key))?;
        self.0.insert(key.to_string(), v);
        Ok(())
    }
    fn end(self) -> Result<Value, CodecError> {
        Ok(Value::Object(self.0))
    }
}
