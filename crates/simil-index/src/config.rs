//! Index configuration: vector fields, metrics, storage and HNSW parameters.

use serde::{Deserialize, Serialize};

use super::IndexError;

/// Largest supported vector dimension.
pub const MAX_DIM: usize = 4096;
/// Largest number of vector fields per index.
pub const MAX_FIELDS: usize = 16;
/// Largest `k` a query may ask for.
pub const MAX_K: usize = 10_000;
/// Largest `num_candidates` a query may ask for.
pub const MAX_NUM_CANDIDATES: usize = 10_000;
/// Largest accepted `ef_search` / `ef_construction`.
pub const MAX_EF: usize = 4096;
/// Largest accepted `seal_threshold`.
pub const MAX_SEAL_THRESHOLD: usize = 1 << 24;

/// How two vectors are compared. Scores are always "higher is better".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity in [-1, 1]; a zero vector scores 0.
    Cosine,
    /// Raw dot product.
    Dot,
    /// Euclidean, scored as `1 / (1 + d²)` in (0, 1].
    L2,
}

/// How vectors of a field are stored once sealed into an HNSW segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Full f32 vectors, used for both graph search and scoring.
    #[default]
    F32,
    /// int8 codes (per-dimension offset, one step per segment) for graph construction
    /// and the search pass, plus f16 vectors to rescore the best `num_candidates`.
    Int8,
    /// Only the int8 codes (`"int8_only"`): about a quarter of the f32 memory and a third
    /// of [`Storage::Int8`]. Graph construction, search and the final scores all use the
    /// vectors decoded from the codes, so scores are approximate (about 1e-3 off for unit
    /// vectors) and `get()` returns the decoded vectors.
    #[serde(rename = "int8_only")]
    Int8Only,
}

impl Storage {
    /// Whether sealed vectors of this storage are kept as int8 codes.
    pub fn is_int8(self) -> bool {
        matches!(self, Storage::Int8 | Storage::Int8Only)
    }
}

/// One named vector field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Field name, unique within the index.
    pub name: String,
    /// Number of dimensions, 1..=[`MAX_DIM`].
    pub dim: usize,
    /// Similarity metric.
    pub metric: Metric,
    /// Storage of sealed vectors.
    #[serde(default)]
    pub storage: Storage,
}

/// HNSW graph parameters for sealed segments.
///
/// instant-distance builds each graph with `m` links per node (`2m` on layer 0), as
/// hnswlib's `M` does; `m` above 32, its largest degree, builds and keeps 32 (64).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct HnswParams {
    /// Links per node, `2m` on layer 0, and the layer-assignment factor `mL = 1 / ln(m)`
    /// (2..=64; links stop growing at `m` = 32, instant-distance's largest degree).
    pub m: usize,
    /// Candidate list size while building (1..=[`MAX_EF`]).
    #[serde(alias = "ef_construction")]
    pub ef_construction: usize,
    /// Candidate list size while searching (1..=[`MAX_EF`]).
    #[serde(alias = "ef_search")]
    pub ef_search: usize,
    /// Whether links are chosen with the HNSW paper's neighbour heuristic (diverse
    /// links that bridge clusters). A new point's links are its heuristic picks, topped
    /// up with the pruned ones; a neighbour takes the new link while it has room and
    /// re-runs the heuristic only when full (hnswlib's rule, instant-distance's
    /// `NeighborUpdate::AppendOrPrune`). `false` keeps the nearest links instead: faster
    /// builds, lower recall on clustered data.
    pub heuristic: bool,
}

impl Default for HnswParams {
    fn default() -> Self {
        Self {
            m: 16,
            ef_construction: 100,
            ef_search: 100,
            heuristic: true,
        }
    }
}

fn default_seal_threshold() -> usize {
    4096
}

/// Complete index configuration (camelCase in JSON; files and callers of earlier versions
/// wrote snake_case, still read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexConfig {
    /// Vector fields; items may omit any of them.
    pub fields: Vec<FieldSpec>,
    /// HNSW parameters.
    #[serde(default)]
    pub hnsw: HnswParams,
    /// Number of rows in the mutable (brute-force) segment that triggers sealing.
    #[serde(default = "default_seal_threshold", alias = "seal_threshold")]
    pub seal_threshold: usize,
    /// Keys this crate does not read, kept as they came for the index's owner: files written
    /// before collections stored their own section held a collection's `text_fields` here.
    /// Never written back.
    #[serde(flatten, skip_serializing)]
    pub owner: serde_json::Map<String, serde_json::Value>,
}

impl IndexConfig {
    /// A configuration with these vector fields and every parameter at its default.
    pub fn with_fields(fields: Vec<FieldSpec>) -> Self {
        IndexConfig {
            fields,
            hnsw: HnswParams::default(),
            seal_threshold: default_seal_threshold(),
            owner: serde_json::Map::new(),
        }
    }
}

/// Checks a query's `k` (1..=[`MAX_K`]): the one place every search path asks.
pub fn check_k(k: usize) -> Result<(), IndexError> {
    check_range("k", k, 1, MAX_K)
}

pub(super) fn check_range(
    name: &'static str,
    got: usize,
    min: usize,
    max: usize,
) -> Result<(), IndexError> {
    if (min..=max).contains(&got) {
        Ok(())
    } else {
        Err(IndexError::OutOfRange {
            name,
            got,
            min,
            max,
        })
    }
}

impl IndexConfig {
    /// Checks dimensions, field names and parameter ranges.
    pub fn validate(&self) -> Result<(), IndexError> {
        if self.fields.is_empty() {
            return Err(IndexError::NoFields);
        }
        if self.fields.len() > MAX_FIELDS {
            return Err(IndexError::TooManyFields {
                got: self.fields.len(),
                max: MAX_FIELDS,
            });
        }
        for (i, f) in self.fields.iter().enumerate() {
            if f.name.is_empty() || f.name.len() > 128 {
                return Err(IndexError::InvalidFieldName(f.name.clone()));
            }
            if self.fields[..i].iter().any(|g| g.name == f.name) {
                return Err(IndexError::DuplicateField(f.name.clone()));
            }
            if f.dim == 0 || f.dim > MAX_DIM {
                return Err(IndexError::InvalidDimension {
                    field: f.name.clone(),
                    dim: f.dim,
                    max: MAX_DIM,
                });
            }
        }
        check_range("hnsw.m", self.hnsw.m, 2, 64)?;
        check_range("hnsw.ef_construction", self.hnsw.ef_construction, 1, MAX_EF)?;
        check_range("hnsw.ef_search", self.hnsw.ef_search, 1, MAX_EF)?;
        check_range("seal_threshold", self.seal_threshold, 1, MAX_SEAL_THRESHOLD)?;
        Ok(())
    }

    /// Position of a field by name.
    pub(crate) fn field_index(&self, name: &str) -> Result<usize, IndexError> {
        self.fields
            .iter()
            .position(|f| f.name == name)
            .ok_or_else(|| IndexError::UnknownField(name.to_string()))
    }
}
