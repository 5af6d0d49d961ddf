//! Vectors in serde, read from either spelling a caller has: a sequence of numbers (JSON, a
//! JS array) or the little-endian bytes of `f32`s (a browser sends a `Uint8Array` view of a
//! `Float32Array`, which `serde-wasm-bindgen` copies in one go instead of number by number).
//! Written out, vectors are always number sequences.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserialize, Deserializer, Error, SeqAccess, Visitor};

/// One vector, read from numbers or from `f32` bytes.
struct F32s(Vec<f32>);

impl<'de> Deserialize<'de> for F32s {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(F32sVisitor).map(F32s)
    }
}

struct F32sVisitor;

impl<'de> Visitor<'de> for F32sVisitor {
    type Value = Vec<f32>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of numbers or the bytes of a Float32Array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f32>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
        while let Some(x) = seq.next_element()? {
            out.push(x);
        }
        Ok(out)
    }

    fn visit_bytes<E: Error>(self, bytes: &[u8]) -> Result<Vec<f32>, E> {
        if !bytes.len().is_multiple_of(4) {
            return Err(E::custom(format!(
                "{} bytes are not a whole number of f32s",
                bytes.len()
            )));
        }
        let floats = bytes.chunks_exact(4);
        Ok(floats
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    fn visit_byte_buf<E: Error>(self, bytes: Vec<u8>) -> Result<Vec<f32>, E> {
        self.visit_bytes(&bytes)
    }
}

/// A vector (`#[serde(deserialize_with = "f32s::vector")]`).
pub fn vector<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<f32>, D::Error> {
    F32s::deserialize(deserializer).map(|v| v.0)
}

/// An optional vector (`#[serde(default, deserialize_with = "f32s::optional_vector")]`).
pub fn optional_vector<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<f32>>, D::Error> {
    Ok(Option::<F32s>::deserialize(deserializer)?.map(|v| v.0))
}

/// A list of vectors.
pub fn vectors<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Vec<f32>>, D::Error> {
    let list = Vec::<F32s>::deserialize(deserializer)?;
    Ok(list.into_iter().map(|v| v.0).collect())
}

/// Vectors by field name.
pub fn by_field<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, Vec<f32>>, D::Error> {
    let map = BTreeMap::<String, F32s>::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(k, v)| (k, v.0)).collect())
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde::de::IntoDeserializer;
    use serde::de::value::{BytesDeserializer, Error};

    #[derive(Deserialize)]
    struct One {
        #[serde(deserialize_with = "super::vector")]
        v: Vec<f32>,
    }

    #[test]
    fn numbers_and_bytes_read_alike() {
        let from_json: One = serde_json::from_str(r#"{"v":[1.5,-2,0.25]}"#).unwrap();
        let bytes: Vec<u8> = [1.5f32, -2.0, 0.25]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let from_bytes = super::vector(BytesDeserializer::<Error>::new(&bytes)).unwrap();
        assert_eq!(from_json.v, vec![1.5, -2.0, 0.25]);
        assert_eq!(from_bytes, from_json.v);
    }

    #[test]
    fn ragged_bytes_and_non_numbers_are_rejected() {
        let ragged = super::vector(BytesDeserializer::<Error>::new(&[0, 0, 128]));
        assert!(
            ragged
                .unwrap_err()
                .to_string()
                .contains("not a whole number of f32s")
        );
        let text = super::vector("abc".into_deserializer());
        let text: Result<_, Error> = text;
        assert!(text.is_err());
        assert!(serde_json::from_str::<One>(r#"{"v":["x"]}"#).is_err());
    }
}
