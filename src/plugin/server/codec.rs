//! The protocol's encodings at the edge of the server: DynamicValues in and out with the right
//! schema type, private data, identities. Every failure is a diagnostic, never dropped.

use crate::plugin::diagnostics::{Diagnostic, Diagnostics};
use crate::plugin::proto::tfplugin6 as pb;
use crate::plugin::traits::Private;
use crate::plugin::value::{self, Type, Value};

/// Decodes a DynamicValue (msgpack, or JSON when only JSON is set); absent is null.
pub(super) fn decode(dv: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, Diagnostics> {
    let Some(dv) = dv else { return Ok(Value::Null) };
    let r = if !dv.msgpack.is_empty() {
        value::from_msgpack(&dv.msgpack, ty)
    } else if !dv.json.is_empty() {
        value::from_json(&dv.json, ty)
    } else {
        Ok(Value::Null)
    };
    r.map_err(|e| Diagnostic::error("Invalid value from Terraform", e.message).into())
}

/// Encodes a value the provider produced.
pub(super) fn encode(v: &Value, ty: &Type) -> Result<pb::DynamicValue, Diagnostics> {
    value::to_msgpack(v, ty)
        .map(|msgpack| pb::DynamicValue { msgpack, json: Vec::new() })
        .map_err(|e| Diagnostic::error("Provider produced an invalid value", e.message).into())
}

/// Decodes a JSON state or identity stored by an earlier version of the provider.
pub(super) fn decode_stored(raw: &[u8], ty: &Type, what: &str) -> Result<Value, Diagnostics> {
    value::from_json(raw, ty).map_err(|e| Diagnostic::error(format!("Invalid stored {what}"), e.message).into())
}

/// Private data as this provider wrote it (a JSON object); empty bytes are an empty map.
pub(super) fn decode_private(b: &[u8]) -> Result<Private, Diagnostics> {
    if b.is_empty() {
        return Ok(Private::new());
    }
    serde_json::from_slice(b).map_err(|e| {
        Diagnostic::error(
            "Invalid private data from Terraform",
            format!("The private data stored with this resource is not the JSON object this provider writes: {e}."),
        )
        .into()
    })
}

/// Private data for Terraform to store (nothing when empty).
pub(super) fn encode_private(p: &Private) -> Result<Vec<u8>, Diagnostics> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::to_vec(p).map_err(|e| Diagnostic::error("Provider produced invalid private data", e.to_string()).into())
}

/// An identity for Terraform, when there is one.
pub(super) fn identity(v: Option<Value>, ty: Option<&Type>) -> Result<Option<pb::ResourceIdentityData>, Diagnostics> {
    let (Some(v), Some(ty)) = (v, ty) else { return Ok(None) };
    let dv = value::to_msgpack(&v, ty)
        .map_err(|e| Diagnostics::from(Diagnostic::error("Provider produced an invalid identity", e.message)))?;
    Ok(Some(pb::ResourceIdentityData { identity_data: Some(pb::DynamicValue { msgpack: dv, json: Vec::new() }) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_private_data_is_a_diagnostic_not_an_empty_map() {
        assert!(decode_private(b"").unwrap().is_empty());
        assert_eq!(decode_private(br#"{"a":1}"#).unwrap()["a"], 1);
        let d = decode_private(b"not json").unwrap_err();
        assert!(d.has_errors());
    }

    #[test]
    fn an_identity_that_does_not_fit_its_type_is_a_diagnostic() {
        let ty = Type::object([("account_id", Type::String)]);
        assert!(identity(None, Some(&ty)).unwrap().is_none());
        assert!(identity(Some(Value::from("x")), Some(&ty)).is_err());
        let ok = Value::object([("account_id", Value::from("123456789012"))]);
        assert!(identity(Some(ok), Some(&ty)).unwrap().is_some());
    }
}
