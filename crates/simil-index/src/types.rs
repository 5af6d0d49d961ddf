//! Public data types exchanged with callers: items, queries, hits and stats.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::Storage;
use super::filter::Filter;

/// A stored item: an id, any subset of the vector fields, and a JSON payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// Unique id (1 to 1024 bytes); upserting an existing id replaces the item.
    pub id: String,
    /// Vectors by field name; fields may be omitted.
    #[serde(default, deserialize_with = "crate::f32s::by_field")]
    pub vectors: BTreeMap<String, Vec<f32>>,
    /// Arbitrary JSON returned with hits and used by filters.
    #[serde(default)]
    pub payload: Value,
}

fn one() -> f32 {
    1.0
}

/// The query vector for one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldQuery {
    /// Field name.
    pub field: String,
    /// Query vector, of the field's dimension.
    #[serde(deserialize_with = "crate::f32s::vector")]
    pub vector: Vec<f32>,
    /// Weight of this field's similarity in the total score (default 1).
    #[serde(default = "one")]
    pub weight: f32,
}

/// A k-nearest-neighbour query over one or more fields.
///
/// The score of an item is `Σ weightᵢ · similarityᵢ` over the queried fields;
/// a field the item lacks contributes 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// One entry per queried field.
    #[serde(default)]
    pub vectors: Vec<FieldQuery>,
    /// Number of hits to return (1..=10 000).
    pub k: usize,
    /// Candidates gathered per field and segment on the approximate path and
    /// rescored exactly (k..=10 000; default max(k, hnsw.ef_search)).
    #[serde(default, alias = "num_candidates")]
    pub num_candidates: Option<usize>,
    /// Only items whose payload matches are returned.
    #[serde(default)]
    pub filter: Option<Filter>,
    /// Hits scoring below this are dropped.
    #[serde(default, alias = "min_score")]
    pub min_score: Option<f32>,
    /// Brute force over every item instead of the graphs.
    #[serde(default)]
    pub exact: bool,
}

impl Query {
    /// The `k` nearest items to `vector` in one field, with every option at its default.
    pub fn nearest(field: &str, vector: Vec<f32>, k: usize) -> Self {
        Query {
            vectors: vec![FieldQuery {
                field: field.to_string(),
                vector,
                weight: 1.0,
            }],
            k,
            num_candidates: None,
            filter: None,
            min_score: None,
            exact: false,
        }
    }
}

/// One search result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// Item id.
    pub id: String,
    /// Weighted similarity (higher is better).
    pub score: f32,
    /// The item's payload.
    pub payload: Value,
}

/// Kind of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SegmentKind {
    /// Receives writes; searched by brute force.
    Mutable,
    /// Immutable, searched through HNSW graphs.
    Sealed,
}

/// Size of one segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentStats {
    /// Segment kind.
    pub kind: SegmentKind,
    /// Rows including deleted ones not yet dropped.
    pub rows: usize,
    /// Rows still alive.
    pub live: usize,
}

/// Storage cost of one field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldStats {
    /// Field name.
    pub name: String,
    /// Storage of sealed vectors.
    pub storage: Storage,
    /// Bytes per sealed vector (codes, f16 copy and norm for int8), excluding graph links.
    pub bytes_per_vector: usize,
}

/// Overview returned by [`super::Index::stats`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexStats {
    /// Live items.
    pub items: usize,
    /// Mutable segment first, then sealed segments.
    pub segments: Vec<SegmentStats>,
    /// Per-field storage.
    pub fields: Vec<FieldStats>,
}
