//! The vector index: items with named vector fields and a JSON payload, searched by score.
//!
//! This first version scans exactly; HNSW segments, filters and int8 codes come with the
//! full index (issue 3) behind the same API.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// How two vectors are compared. Scores are "higher is closer" for every metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// Cosine similarity.
    Cosine,
    /// Dot product.
    Dot,
    /// Euclidean distance `d`, scored `1 / (1 + d²)`.
    L2,
}

/// One vector field of an index.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// The field's name.
    pub name: String,
    /// Its number of dimensions.
    pub dim: usize,
    /// How its vectors are compared.
    pub metric: Metric,
}

/// What an index holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexConfig {
    /// The vector fields; every item fills some of them.
    pub fields: Vec<FieldSpec>,
}

/// One item: an id, vectors by field name, and a payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The caller's id; adding an id again replaces the item.
    pub id: String,
    /// Vectors by field name.
    pub vectors: BTreeMap<String, Vec<f32>>,
    /// Metadata returned with hits.
    #[serde(default)]
    pub payload: serde_json::Value,
}

/// One field of a query with its weight.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FieldQuery {
    /// The field to compare against.
    pub field: String,
    /// The query vector.
    pub vector: Vec<f32>,
    /// The weight of this field's similarity in the score.
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

/// A search request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Query {
    /// The query vectors; the score is the weighted sum of their similarities.
    pub vectors: Vec<FieldQuery>,
    /// How many hits to return.
    pub k: usize,
}

/// One search result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    /// The item's id.
    pub id: String,
    /// Its score: higher is closer.
    pub score: f32,
    /// Its payload.
    pub payload: serde_json::Value,
}

/// Errors of the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The query or item names a field the index does not have.
    #[error("unknown field `{0}`")]
    UnknownField(String),
    /// A vector has the wrong length.
    #[error("field `{field}` expects {expected} dimensions, got {got}")]
    Dimension {
        /// The field.
        field: String,
        /// Its dimension.
        expected: usize,
        /// The vector's length.
        got: usize,
    },
    /// `k` is out of range.
    #[error("k must be in 1..=10000, got {0}")]
    K(usize),
    /// The configuration is invalid.
    #[error("invalid index configuration: {0}")]
    Config(String),
}

/// An in-memory vector index.
#[derive(Clone, Debug)]
pub struct Index {
    config: IndexConfig,
    items: HashMap<String, Item>,
}

impl Index {
    /// Creates an empty index.
    pub fn new(config: IndexConfig) -> Result<Self, IndexError> {
        if config.fields.is_empty() {
            return Err(IndexError::Config("an index needs at least one field".into()));
        }
        Ok(Index {
            config,
            items: HashMap::new(),
        })
    }

    fn field(&self, name: &str) -> Result<&FieldSpec, IndexError> {
        self.config
            .fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| IndexError::UnknownField(name.to_string()))
    }

    fn check(&self, name: &str, vector: &[f32]) -> Result<Metric, IndexError> {
        let field = self.field(name)?;
        if field.dim != vector.len() {
            return Err(IndexError::Dimension {
                field: name.to_string(),
                expected: field.dim,
                got: vector.len(),
            });
        }
        Ok(field.metric)
    }

    /// Adds an item, replacing any item with the same id.
    pub fn upsert(&mut self, item: Item) -> Result<(), IndexError> {
        for (name, vector) in &item.vectors {
            self.check(name, vector)?;
        }
        self.items.insert(item.id.clone(), item);
        Ok(())
    }

    /// Deletes an item; returns whether it existed.
    pub fn delete(&mut self, id: &str) -> bool {
        self.items.remove(id).is_some()
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the index holds no item.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `k` best items for `query`, best first, ties broken by id.
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        if query.k == 0 || query.k > 10_000 {
            return Err(IndexError::K(query.k));
        }
        let metrics = query
            .vectors
            .iter()
            .map(|q| self.check(&q.field, &q.vector))
            .collect::<Result<Vec<_>, _>>()?;
        let mut hits: Vec<Hit> = self
            .items
            .values()
            .map(|item| {
                let score = query
                    .vectors
                    .iter()
                    .zip(&metrics)
                    .filter_map(|(q, metric)| {
                        let v = item.vectors.get(&q.field)?;
                        Some(q.weight * similarity(*metric, &q.vector, v))
                    })
                    .sum();
                Hit {
                    id: item.id.clone(),
                    score,
                    payload: item.payload.clone(),
                }
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
        hits.truncate(query.k);
        Ok(hits)
    }
}

/// The similarity of `a` and `b` under `metric` (higher is closer).
pub fn similarity(metric: Metric, a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    match metric {
        Metric::Dot => dot,
        Metric::Cosine => {
            let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
            let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
            if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
        }
        Metric::L2 => {
            let d2: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
            1.0 / (1.0 + d2)
        }
    }
}
