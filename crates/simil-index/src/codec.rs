//! Bounded little-endian byte reader/writer (also used by `simil`'s collection files),
//! and, for tests, a minimal binary serde encoder that reads the links out of a graph
//! instant-distance built (the reference grown graphs are compared against).
//!
//! The encoder supports only the shapes the graph uses: integers, `f32`,
//! byte strings, sequences (u64 length prefix), tuples and structs (fields in
//! order, no prefix) and newtype structs. The reader checks every length
//! against the bytes that remain before anything is allocated.

use super::IndexError;

/// Appends little-endian primitives to a buffer.
#[derive(Default)]
pub struct Writer {
    /// Bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// Appends a byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Appends a little-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a little-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends a little-endian f32.
    pub fn f32(&mut self, v: f32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Appends each value as a little-endian f32.
    pub fn f32s(&mut self, v: &[f32]) {
        v.iter().for_each(|&x| self.f32(x));
    }
    /// Writes a u64 length followed by the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        self.u64(v.len() as u64);
        self.buf.extend_from_slice(v);
    }
}

/// Reads little-endian primitives, failing with a typed error instead of panicking.
pub struct Reader<'a> {
    buf: &'a [u8],
    what: &'static str,
}

impl<'a> Reader<'a> {
    /// Reads from `buf`; `what` names the structure in error messages.
    pub fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, what }
    }
    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }
    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], IndexError> {
        if n > self.buf.len() {
            return Err(IndexError::Truncated(self.what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], IndexError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    /// Reads a byte.
    pub fn u8(&mut self) -> Result<u8, IndexError> {
        Ok(self.array::<1>()?[0])
    }
    /// Reads a little-endian u32.
    pub fn u32(&mut self) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Reads a little-endian u64.
    pub fn u64(&mut self) -> Result<u64, IndexError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Reads a little-endian f32.
    pub fn f32(&mut self) -> Result<f32, IndexError> {
        Ok(f32::from_le_bytes(self.array()?))
    }
    /// Reads `n` finite f32 values.
    pub fn f32s(&mut self, n: usize) -> Result<Vec<f32>, IndexError> {
        self.check_len(n, 4)?;
        let v: Vec<f32> = self
            .take(n * 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if v.iter().all(|x| x.is_finite()) {
            Ok(v)
        } else {
            Err(IndexError::Corrupt(format!(
                "non-finite number in {}",
                self.what
            )))
        }
    }
    fn check_len(&self, n: usize, elem_size: usize) -> Result<(), IndexError> {
        match n.checked_mul(elem_size) {
            Some(total) if total <= self.buf.len() => Ok(()),
            _ => Err(IndexError::SizeLimit(self.what)),
        }
    }
    /// Reads a u64 count of elements of at least `elem_size` bytes each, checked
    /// against `cap` and against the remaining bytes.
    pub fn count(&mut self, elem_size: usize, cap: usize) -> Result<usize, IndexError> {
        let n = self.u64()?;
        let n = usize::try_from(n).map_err(|_| IndexError::SizeLimit(self.what))?;
        if n > cap {
            return Err(IndexError::SizeLimit(self.what));
        }
        self.check_len(n, elem_size)?;
        Ok(n)
    }
    /// Reads a length-prefixed byte string of at most `cap` bytes.
    pub fn bytes(&mut self, cap: usize) -> Result<&'a [u8], IndexError> {
        let n = self.count(1, cap)?;
        self.take(n)
    }
    /// Reads a length-prefixed UTF-8 string of at most `cap` bytes.
    pub fn str(&mut self, cap: usize) -> Result<&'a str, IndexError> {
        std::str::from_utf8(self.bytes(cap)?)
            .map_err(|_| IndexError::Corrupt(format!("invalid UTF-8 in {}", self.what)))
    }
    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<(), IndexError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(IndexError::Corrupt(format!(
                "trailing bytes in {}",
                self.what
            )))
        }
    }
}

/// The serde encoder (tests only: instant-distance's graphs are the reference).
#[cfg(test)]
pub(crate) mod serde {
    use serde::ser::{self, Impossible, Serialize};

    use super::{IndexError, Writer};

    /// Error raised inside the serde codec.
    #[derive(Debug)]
    pub(crate) struct CodecError(pub String);

    impl std::fmt::Display for CodecError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl std::error::Error for CodecError {}
    impl ser::Error for CodecError {
        fn custom<T: std::fmt::Display>(msg: T) -> Self {
            Self(msg.to_string())
        }
    }
    impl From<IndexError> for CodecError {
        fn from(e: IndexError) -> Self {
            Self(e.to_string())
        }
    }

    /// Serializes `value` with the binary codec.
    pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
        let mut enc = Encoder(Writer::default());
        value.serialize(&mut enc)?;
        Ok(enc.0.buf)
    }

    struct Encoder(Writer);

    fn unsupported<T>(what: &str) -> Result<T, CodecError> {
        Err(CodecError(format!("graph codec does not support {what}")))
    }

    impl ser::Serializer for &mut Encoder {
        type Ok = ();
        type Error = CodecError;
        type SerializeSeq = Self;
        type SerializeTuple = Self;
        type SerializeTupleStruct = Self;
        type SerializeTupleVariant = Impossible<(), CodecError>;
        type SerializeMap = Impossible<(), CodecError>;
        type SerializeStruct = Self;
        type SerializeStructVariant = Impossible<(), CodecError>;

        fn serialize_bool(self, v: bool) -> Result<(), CodecError> {
            self.0.u8(v.into());
            Ok(())
        }
        fn serialize_i8(self, v: i8) -> Result<(), CodecError> {
            self.0.u8(v as u8);
            Ok(())
        }
        fn serialize_i16(self, _: i16) -> Result<(), CodecError> {
            unsupported("i16")
        }
        fn serialize_i32(self, v: i32) -> Result<(), CodecError> {
            self.0.u32(v as u32);
            Ok(())
        }
        fn serialize_i64(self, v: i64) -> Result<(), CodecError> {
            self.0.u64(v as u64);
            Ok(())
        }
        fn serialize_u8(self, v: u8) -> Result<(), CodecError> {
            self.0.u8(v);
            Ok(())
        }
        fn serialize_u16(self, _: u16) -> Result<(), CodecError> {
            unsupported("u16")
        }
        fn serialize_u32(self, v: u32) -> Result<(), CodecError> {
            self.0.u32(v);
            Ok(())
        }
        fn serialize_u64(self, v: u64) -> Result<(), CodecError> {
            self.0.u64(v);
            Ok(())
        }
        fn serialize_f32(self, v: f32) -> Result<(), CodecError> {
            self.0.f32(v);
            Ok(())
        }
        fn serialize_f64(self, _: f64) -> Result<(), CodecError> {
            unsupported("f64")
        }
        fn serialize_char(self, _: char) -> Result<(), CodecError> {
            unsupported("char")
        }
        fn serialize_str(self, _: &str) -> Result<(), CodecError> {
            unsupported("str")
        }
        fn serialize_bytes(self, v: &[u8]) -> Result<(), CodecError> {
            self.0.bytes(v);
            Ok(())
        }
        fn serialize_none(self) -> Result<(), CodecError> {
            unsupported("Option")
        }
        fn serialize_some<T: ?Sized + Serialize>(self, _: &T) -> Result<(), CodecError> {
            unsupported("Option")
        }
        fn serialize_unit(self) -> Result<(), CodecError> {
            Ok(())
        }
        fn serialize_unit_struct(self, _: &'static str) -> Result<(), CodecError> {
            Ok(())
        }
        fn serialize_unit_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
        ) -> Result<(), CodecError> {
            unsupported("enum")
        }
        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            v: &T,
        ) -> Result<(), CodecError> {
            v.serialize(self)
        }
        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<(), CodecError> {
            unsupported("enum")
        }
        fn serialize_seq(self, len: Option<usize>) -> Result<Self, CodecError> {
            match len {
                Some(len) => {
                    self.0.u64(len as u64);
                    Ok(self)
                }
                None => unsupported("sequences of unknown length"),
            }
        }
        fn serialize_tuple(self, _: usize) -> Result<Self, CodecError> {
            Ok(self)
        }
        fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self, CodecError> {
            Ok(self)
        }
        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, CodecError> {
            unsupported("enum")
        }
        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, CodecError> {
            unsupported("map")
        }
        fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, CodecError> {
            Ok(self)
        }
        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, CodecError> {
            unsupported("enum")
        }
    }

    macro_rules! compound {
        ($trait:ident, $method:ident $(, $key:ident)?) => {
            impl ser::$trait for &mut Encoder {
                type Ok = ();
                type Error = CodecError;
                fn $method<T: ?Sized + Serialize>(&mut self, $($key: &'static str,)? v: &T) -> Result<(), CodecError> {
                    v.serialize(&mut **self)
                }
                fn end(self) -> Result<(), CodecError> {
                    Ok(())
                }
            }
        };
    }
    compound!(SerializeSeq, serialize_element);
    compound!(SerializeTuple, serialize_element);
    compound!(SerializeTupleStruct, serialize_field);
    compound!(SerializeStruct, serialize_field, _key);
}
