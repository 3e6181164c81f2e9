//! The msgpack encoding of `DynamicValue`, directed by the schema's type: unknowns are
//! extension 0 (refined unknowns, extension 12, decode as unknown), `dynamic` values carry their
//! type as JSON beside the value.

use std::collections::BTreeMap;

use super::{CodecError, Number, Type, Value, infer_type, parse_number, type_name, value_kind};

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
