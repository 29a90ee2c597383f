//! JSON as the contract reads it: a request type's struct is a JSON object,
//! at any depth, and a value of the wrong type is a 422 naming its field.
//!
//! serde's derived structs also accept a JSON array of their fields in
//! order, so `["Array Co"]` would pass for `{"name": "Array Co"}`; and
//! serde_json reports a number, `null` or `{}` where an enum's string
//! belongs as a syntax error ("expected value"), which is a 400 for a body
//! that is well-formed JSON. Requests are therefore read in two steps: the
//! body is parsed into a [`serde_json::Value`] (only a body that is not
//! JSON fails there: 400), and the request type is deserialized from that
//! value through [`Strict`], which accepts a struct only from an object and
//! an enum only from a string (or a one-key object), and reports anything
//! else as a data error, with the field's path: 422. [`Parsed`] is that
//! first step; it refuses an object that names a key twice (two parsers
//! could read it two ways), as serde's structs do.

use serde::de::value::StringDeserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

type Error = serde_json::Error;

/// A JSON document as parsed, every object's keys distinct.
pub struct Parsed(pub Value);

impl<'de> de::Deserialize<'de> for Parsed {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParsedVisitor).map(Parsed)
    }
}

struct ParsedVisitor;

impl<'de> Visitor<'de> for ParsedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::from(i))
    }

    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(Value::from(u))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::from(f))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Parsed(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!("duplicate field `{key}`")));
            }
            let Parsed(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// A JSON value that deserializes strictly (see the module).
pub struct Strict(pub Value);

impl Strict {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match &self.0 {
            Value::Null => de::Unexpected::Unit,
            Value::Bool(b) => de::Unexpected::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(u), _, _) => de::Unexpected::Unsigned(u),
                (_, Some(i), _) => de::Unexpected::Signed(i),
                (_, _, Some(f)) => de::Unexpected::Float(f),
                _ => de::Unexpected::Other("number"),
            },
            Value::String(s) => de::Unexpected::Str(s),
            Value::Array(_) => de::Unexpected::Seq,
            Value::Object(_) => de::Unexpected::Map,
        }
    }
}

impl<'de> de::Deserializer<'de> for Strict {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => {
                let float = n.as_f64().unwrap_or(f64::NAN);
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if float.fract() == 0.0 && float.abs() < 9.0e15 {
                    // `2047.0` is an integer, as JSON Schema counts them;
                    // below 2^53 it is exactly one.
                    #[expect(
                        clippy::cast_possible_truncation,
                        reason = "a whole number below 2^53"
                    )]
                    visitor.visit_i64(float as i64)
                } else {
                    visitor.visit_f64(float)
                }
            }
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visitor.visit_seq(Seq(items.into_iter())),
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(map) => visitor.visit_map(Fields::new(map)),
            _ => Err(de::Error::invalid_type(self.unexpected(), &"a JSON object")),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::String(variant) => {
                let variant: StringDeserializer<Error> = variant.into_deserializer();
                visitor.visit_enum(variant)
            }
            Value::Object(map) if map.len() == 1 => {
                let (variant, value) = map.into_iter().next().expect("one key");
                visitor.visit_enum(Variant { variant, value })
            }
            _ => Err(de::Error::invalid_type(self.unexpected(), &OneOf(variants))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
        ignored_any
    }
}

/// What an enum expects: "one of a, b, c".
struct OneOf(&'static [&'static str]);

impl de::Expected for OneOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "one of {}", self.0.join(", "))
    }
}

struct Seq(std::vec::IntoIter<Value>);

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|value| seed.deserialize(Strict(value)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Fields {
    entries: serde_json::map::IntoIter,
    value: Option<Value>,
}

impl Fields {
    fn new(map: Map<String, Value>) -> Self {
        Self {
            entries: map.into_iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for Fields {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(Strict(Value::String(key))).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value without its key"))?;
        seed.deserialize(Strict(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as `{"variant": value}`.
struct Variant {
    variant: String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = Error;
    type Variant = Strict;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Strict), Error> {
        let variant = seed.deserialize(Strict(Value::String(self.variant)))?;
        Ok((variant, Strict(self.value)))
    }
}

impl<'de> de::VariantAccess<'de> for Strict {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.0 {
            Value::Null => Ok(()),
            _ => Err(de::Error::invalid_type(
                self.unexpected(),
                &"a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        #[serde(default)]
        items: Vec<Inner>,
        count: Option<u8>,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        kind: Kind,
    }

    #[derive(Debug, PartialEq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        Personal,
        Company,
    }

    fn decode(json: &str) -> Result<Outer, String> {
        let Parsed(value) = serde_json::from_str(json).expect("well-formed");
        serde_path_to_error::deserialize(Strict(value))
            .map_err(|e| format!("{} at {}", e.inner(), e.path()))
    }

    #[test]
    fn objects_decode_as_before() {
        let outer = decode(
            r#"{"name":"a","inner":{"kind":"company"},"items":[{"kind":"personal"}],"count":7}"#,
        )
        .unwrap();
        assert_eq!(
            outer.inner,
            Some(Inner {
                kind: Kind::Company
            })
        );
        assert_eq!(
            outer.items,
            [Inner {
                kind: Kind::Personal
            }]
        );
        assert_eq!(outer.count, Some(7));
        let outer = decode(r#"{"name":"a","inner":null}"#).unwrap();
        assert_eq!(
            (outer.inner, outer.items.len(), outer.count),
            (None, 0, None)
        );
    }

    #[test]
    fn structs_are_objects_at_any_depth() {
        let error = decode(r#"["a", null, [], null]"#).unwrap_err();
        assert!(error.contains("expected a JSON object"), "{error}");
        let error = decode(r#"{"name":"a","items":[["personal"]]}"#).unwrap_err();
        assert!(error.ends_with("at items[0]"), "{error}");
    }

    #[test]
    fn enums_take_their_strings_only() {
        for bad in ["0", "null", "{}", "true", "[]", r#""emperor""#] {
            let json = format!(r#"{{"name":"a","inner":{{"kind":{bad}}}}}"#);
            let error = decode(&json).unwrap_err();
            assert!(error.ends_with("at inner.kind"), "{bad}: {error}");
        }
        let error = decode(r#"{"name":"a","inner":{"kind":0}}"#).unwrap_err();
        assert!(error.contains("one of personal, company"), "{error}");
    }

    #[test]
    fn whole_floats_are_integers() {
        let outer = decode(r#"{"name":"a","count":7.0}"#).unwrap();
        assert_eq!(outer.count, Some(7));
        let error = decode(r#"{"name":"a","count":7.5}"#).unwrap_err();
        assert!(error.ends_with("at count"), "{error}");
    }

    #[test]
    fn a_key_named_twice_is_refused() {
        let parsed = serde_path_to_error::deserialize::<_, Parsed>(
            &mut serde_json::Deserializer::from_str(r#"{"inner":{"kind":"a","kind":"b"}}"#),
        );
        let error = parsed.err().expect("refused");
        // The path is the object's; the message names the key.
        assert_eq!(error.path().to_string(), "inner");
        assert!(error.inner().to_string().contains("duplicate field `kind`"));
        assert!(error.inner().is_data());
    }

    #[test]
    fn numbers_keep_their_ranges_and_unknown_fields_are_named() {
        let error = decode(r#"{"name":"a","count":300}"#).unwrap_err();
        assert!(error.ends_with("at count"), "{error}");
        let error = decode(r#"{"name":"a","count":-1}"#).unwrap_err();
        assert!(error.ends_with("at count"), "{error}");
        let error = decode(r#"{"name":"a","inner":{"kind":"company","x":1}}"#).unwrap_err();
        assert!(error.contains("unknown field `x`"), "{error}");
    }
}
