//! Error type shared by every index operation.

use thiserror::Error;

/// Everything that can go wrong when configuring, writing, querying or loading an index.
///
/// Messages are written for the JavaScript user of the crate: they name the
/// offending field or value and the accepted range.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum IndexError {
    /// The configuration declares no vector field.
    #[error("the index needs at least one vector field")]
    NoFields,
    /// The configuration declares more fields than supported.
    #[error("an index supports at most {max} vector fields, got {got}")]
    TooManyFields {
        /// Number of fields declared.
        got: usize,
        /// Maximum supported.
        max: usize,
    },
    /// A field name is empty or too long.
    #[error("field name `{0}` is invalid: it must be 1 to 128 bytes long")]
    InvalidFieldName(String),
    /// Two fields share a name.
    #[error("field `{0}` is declared twice")]
    DuplicateField(String),
    /// A field dimension is zero or above the cap.
    #[error("field `{field}` has {dim} dimensions; it must have between 1 and {max}")]
    InvalidDimension {
        /// Field name.
        field: String,
        /// Declared dimension.
        dim: usize,
        /// Maximum supported.
        max: usize,
    },
    /// A numeric parameter is outside its accepted range.
    #[error("`{name}` must be between {min} and {max}, got {got}")]
    OutOfRange {
        /// Parameter name, e.g. `k` or `hnsw.ef_search`.
        name: &'static str,
        /// Value given.
        got: usize,
        /// Smallest accepted value.
        min: usize,
        /// Largest accepted value.
        max: usize,
    },
    /// An item or query names a field the index does not have.
    #[error("unknown vector field `{0}`")]
    UnknownField(String),
    /// A vector has the wrong number of dimensions.
    #[error("field `{field}` expects {expected} dimensions, got {got}")]
    DimensionMismatch {
        /// Field name.
        field: String,
        /// Dimension declared in the configuration.
        expected: usize,
        /// Dimension received.
        got: usize,
    },
    /// A vector contains NaN, an infinity, or a value f16 storage cannot hold.
    #[error("field `{field}` has an invalid value at position {position}: {reason}")]
    InvalidValue {
        /// Field name.
        field: String,
        /// Index of the offending component.
        position: usize,
        /// Why the value is rejected.
        reason: &'static str,
    },
    /// An item id is empty or too long.
    #[error("item ids must be 1 to 1024 bytes long, got {0} bytes")]
    InvalidId(usize),
    /// A query has no vector.
    #[error("a query needs at least one vector")]
    EmptyQuery,
    /// A query weight or min_score is not a finite number.
    #[error("`{0}` must be a finite number")]
    NotFinite(&'static str),
    /// `num_candidates` is smaller than `k`.
    #[error("num_candidates ({num_candidates}) must be at least k ({k})")]
    CandidatesBelowK {
        /// Requested k.
        k: usize,
        /// Requested num_candidates.
        num_candidates: usize,
    },
    /// A built segment no longer matches the index (another job was applied first).
    #[error("this maintenance result is stale: the segments it replaces have changed")]
    StaleSegment,
    /// The bytes do not start with the `SIML` magic.
    #[error("not a simil index: the data does not start with `SIML`")]
    BadMagic,
    /// The format version is not supported by this build.
    #[error("unsupported index format version {0} (this build reads version {1})")]
    UnsupportedVersion(u32, u32),
    /// The data ends before a declared structure.
    #[error("the index data is truncated: {0}")]
    Truncated(&'static str),
    /// A checksum does not match: the data was damaged.
    #[error("the index data is damaged: checksum mismatch in {0}")]
    ChecksumMismatch(&'static str),
    /// A declared length or count exceeds what the data or the limits allow.
    #[error("the index data declares an impossible size for {0}")]
    SizeLimit(&'static str),
    /// The data is well-formed but inconsistent.
    #[error("the index data is invalid: {0}")]
    Corrupt(String),
}
