//! A bounded fuzz test of the codec: random bytes, truncations and mutations of valid encodings,
//! decoded with every kind of type, must come back as `Ok` or `Err`, never a panic or a hang.
//! `make test` runs `AFT_FUZZ_CASES` cases (default 20,000); `make fuzz` runs millions.

#[cfg(test)]
mod tests {
    use crate::plugin::value::{self, Number, Type, Value};

    /// xorshift64*: seeded, so a failure can be replayed with `AFT_FUZZ_SEED`.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn types() -> Vec<Type> {
        let nested = Type::object([
            ("name", Type::String),
            ("count", Type::Number),
            ("on", Type::Bool),
            ("tags", Type::map(Type::String)),
            ("ids", Type::list(Type::String)),
            ("set", Type::set(Type::Number)),
            ("any", Type::Dynamic),
        ]);
        vec![
            Type::String,
            Type::Number,
            Type::Bool,
            Type::Dynamic,
            Type::list(Type::String),
            Type::map(Type::list(Type::Number)),
            Type::set(Type::String),
            nested.clone(),
            Type::list(nested.clone()),
            Type::object([("inner", nested), ("blob", Type::Dynamic)]),
            Type::Tuple(vec![Type::String, Type::Number, Type::Bool]),
        ]
    }

    /// Valid encodings to mutate.
    fn seeds() -> Vec<(Vec<u8>, usize)> {
        let tys = types();
        let nested = Value::object([
            ("name", Value::from("acct")),
            ("count", Value::Number(Number::Int(42))),
            ("on", Value::Bool(true)),
            ("tags", Value::string_map([("k", "v"), ("Owner", "ada")])),
            ("ids", Value::List(vec![Value::from("a"), Value::Unknown])),
            ("set", Value::Set(vec![Value::Number(Number::Int(1)), Value::Number(Number::Int(2))])),
            ("any", Value::string_map([("x", "y")])),
        ]);
        let mut out = Vec::new();
        for (v, ti) in [
            (Value::from("hello"), 0),
            (Value::Number(Number::Int(i64::MAX)), 1),
            (Value::Bool(false), 2),
            (Value::List(vec![Value::from("x"), Value::Null]), 4),
            (nested.clone(), 7),
            (Value::List(vec![nested.clone(), Value::Unknown]), 8),
            (Value::object([("inner", nested), ("blob", Value::List(vec![Value::from("z")]))]), 9),
        ] {
            if let Ok(b) = value::to_msgpack(&v, &tys[ti]) {
                out.push((b, ti));
            }
        }
        out
    }

    #[test]
    fn malformed_msgpack_and_json_never_panic() {
        let cases: u64 = std::env::var("AFT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
        let seed: u64 = std::env::var("AFT_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x5eed);
        let mut rng = Rng(seed | 1);
        let tys = types();
        let seeds = seeds();
        assert!(seeds.len() >= 6, "the seed encodings themselves must encode");
        let (mut ok, mut err) = (0u64, 0u64);
        for case in 0..cases {
            let (bytes, ty) = match rng.below(4) {
                // random bytes
                0 => (
                    (0..rng.below(64)).map(|_| rng.next() as u8).collect::<Vec<_>>(),
                    tys[rng.below(tys.len())].clone(),
                ),
                // a valid encoding cut short
                1 => {
                    let (b, t) = &seeds[rng.below(seeds.len())];
                    (b[..rng.below(b.len())].to_vec(), tys[*t].clone())
                }
                // a valid encoding with a few bytes flipped
                2 => {
                    let (b, t) = &seeds[rng.below(seeds.len())];
                    let mut b = b.clone();
                    for _ in 0..=rng.below(4) {
                        let i = rng.below(b.len());
                        b[i] ^= rng.next() as u8;
                    }
                    (b, tys[*t].clone())
                }
                // a valid encoding read with the wrong type
                _ => {
                    let (b, _) = &seeds[rng.below(seeds.len())];
                    (b.clone(), tys[rng.below(tys.len())].clone())
                }
            };
            match value::from_msgpack(&bytes, &ty) {
                Ok(v) => {
                    ok += 1;
                    // whatever decodes must encode again, and read back as the same value
                    let again = value::to_msgpack(&v, &ty).unwrap_or_else(|e| {
                        panic!("case {case}: {v:?} decoded from {bytes:?} but does not encode: {e}")
                    });
                    let back = value::from_msgpack(&again, &ty)
                        .unwrap_or_else(|e| panic!("case {case}: the re-encoding of {v:?} does not decode: {e}"));
                    assert_eq!(back, v, "case {case}: {bytes:?} does not survive a round trip");
                }
                Err(_) => err += 1,
            }
            // the same bytes as JSON (raw state and identities arrive as JSON)
            if let Ok(v) = value::from_json(&bytes, &ty) {
                let back = value::from_json_value(&value::to_json_value(&v), &ty)
                    .unwrap_or_else(|e| panic!("case {case}: {v:?} read from JSON does not read back: {e}"));
                assert_eq!(back, v, "case {case}: JSON {bytes:?} does not survive a round trip");
            }
        }
        assert!(ok > 0, "some inputs must decode, or the round trip is never checked");
        assert!(err > 0, "malformed input must be rejected");
        eprintln!("codec fuzz: {cases} cases from seed {seed}: {ok} decoded, {err} rejected, no panic");
    }
}
