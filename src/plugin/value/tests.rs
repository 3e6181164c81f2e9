//! Golden and round-trip tests of both encodings.

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
