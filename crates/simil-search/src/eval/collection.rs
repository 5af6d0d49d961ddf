//! Evaluation, calibration and match over a collection: labelled queries searched the way a
//! user searches, scored with the metrics of this module.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{CalibrationTarget, calibrate as calibrate_distances};
use crate::collection::{Collection, SearchRequest, label_of};
use crate::error::{CollectionError, Error, Result};
use crate::index::{Hit, MAX_K, Query, check_k};

/// Labelled query vectors for [`evaluate`] and [`calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelledQueries {
    /// The field to search (a learned field takes vectors of its source field).
    pub field: String,
    /// The payload key holding the items' labels.
    #[serde(alias = "label_key")]
    pub label_key: String,
    /// The query vectors.
    #[serde(deserialize_with = "simil_index::f32s::vectors")]
    pub vectors: Vec<Vec<f32>>,
    /// Each query's label.
    pub labels: Vec<String>,
}

/// Retrieval quality over labelled queries: the mean over queries of each metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Number of queries.
    pub queries: usize,
    /// The `k` of the `@k` metrics.
    pub k: usize,
    /// Fraction of queries with an item of their label among the first `k` hits.
    pub recall_at_k: f64,
    /// Mean fraction of the first `k` hits that have the query's label.
    pub precision_at_k: f64,
    /// Normalised discounted cumulative gain at `k`, binary relevance.
    pub ndcg_at_k: f64,
    /// Mean average precision at R (R: the items of the query's label).
    pub map_at_r: f64,
}

/// A `min_score` for [`match_label`] and how it did on the labelled queries it was calibrated
/// on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreCalibration {
    /// Accept the nearest item's label when its score is at least this.
    pub min_score: f32,
    /// Correct accepted matches / accepted matches.
    pub precision: f64,
    /// Correct accepted matches / queries.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// The nearest item to a vector and its label, if close enough ([`match_label`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The nearest item's label, when its score reaches `min_score`; `None` means unknown.
    pub label: Option<String>,
    /// The nearest item's id, if the collection has any item with the field.
    pub id: Option<String>,
    /// The nearest item's score.
    pub score: Option<f32>,
}

impl CalibrationTarget {
    /// A target precision in (0, 1], or the best F1 when none is given.
    pub fn from_precision(precision: Option<f64>) -> Result<Self> {
        match precision {
            None => Ok(CalibrationTarget::BestF1),
            Some(p) if p > 0.0 && p <= 1.0 => Ok(CalibrationTarget::Precision(p)),
            Some(p) => Err(Error::Input("precision", format!("{p} is not in (0, 1]"))),
        }
    }
}

/// Checks labelled queries: as many labels as vectors, at least one.
fn check_queries(queries: &LabelledQueries) -> Result<()> {
    if queries.vectors.len() != queries.labels.len() {
        return Err(CollectionError::QueryLabels {
            vectors: queries.vectors.len(),
            labels: queries.labels.len(),
        }
        .into());
    }
    if queries.vectors.is_empty() {
        return Err(CollectionError::NoQueries.into());
    }
    Ok(())
}

/// The `k` nearest items to `vector` in `field`, as a user's search finds them.
fn nearest(c: &Collection, field: &str, vector: &[f32], k: usize) -> Result<Vec<Hit>> {
    c.search(&SearchRequest::from(Query::nearest(
        field,
        vector.to_vec(),
        k,
    )))
}

/// Retrieval quality of `field` over labelled queries: each query searches the collection
/// (a learned field through its head) and an item is relevant when its label
/// (`payload[label_key]`) is the query's. R, for mAP@R and the ideal NDCG ranking, counts the
/// items of the query's label that have the field (only those can be found).
pub fn evaluate(c: &Collection, queries: &LabelledQueries, k: usize) -> Result<Evaluation> {
    check_queries(queries)?;
    check_k(k)?;
    // Items of each label that have the searched field.
    let (index, field) = c.field_index(&queries.field)?;
    let mut gallery: HashMap<String, usize> = HashMap::new();
    for (id, payload) in index.payloads() {
        if let Some(label) = label_of(payload, &queries.label_key)
            && index.get(id).is_some_and(|i| i.vectors.contains_key(field))
        {
            *gallery.entry(label).or_default() += 1;
        }
    }
    let relevant: Vec<usize> = queries
        .labels
        .iter()
        .map(|l| gallery.get(l).copied().unwrap_or(0))
        .collect();
    let mut ranked = Vec::with_capacity(queries.vectors.len());
    for (vector, &r) in queries.vectors.iter().zip(&relevant) {
        let hits = nearest(c, &queries.field, vector, k.max(r).min(MAX_K))?;
        ranked.push(
            hits.iter()
                .map(|h| label_of(&h.payload, &queries.label_key))
                .collect::<Vec<_>>(),
        );
    }
    let labels: Vec<Option<String>> = queries.labels.iter().cloned().map(Some).collect();
    Ok(Evaluation {
        queries: labels.len(),
        k,
        recall_at_k: super::recall_at_k(&ranked, &labels, k),
        precision_at_k: super::precision_at_k(&ranked, &labels, k),
        ndcg_at_k: super::ndcg_at_k(&ranked, &labels, &relevant, k),
        map_at_r: super::map_at_r(&ranked, &labels, &relevant),
    })
}

/// The `min_score` that best meets `target` for [`match_label`] on labelled queries: each
/// query's nearest item counts as a correct match when its label is the query's (see
/// [`super::calibrate`], with distance = −score).
pub fn calibrate(
    c: &Collection,
    queries: &LabelledQueries,
    target: CalibrationTarget,
) -> Result<ScoreCalibration> {
    check_queries(queries)?;
    let mut nearest_items = Vec::with_capacity(queries.vectors.len());
    for (vector, label) in queries.vectors.iter().zip(&queries.labels) {
        let hits = nearest(c, &queries.field, vector, 1)?;
        nearest_items.push(match hits.first() {
            Some(hit) => (
                -hit.score,
                label_of(&hit.payload, &queries.label_key).as_ref() == Some(label),
            ),
            // Nothing to match: never accepted, still counted against recall.
            None => (f32::NAN, false),
        });
    }
    let best = calibrate_distances(&nearest_items, target).ok_or(CollectionError::NoThreshold)?;
    Ok(ScoreCalibration {
        min_score: -best.threshold,
        precision: best.precision,
        recall: best.recall,
        f1: best.f1,
    })
}

/// What [`match_label`] looks for: `{ field?, labelKey, minScore }`; `field` defaults to the
/// collection's first vector field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MatchQuery {
    /// The field to search (a learned field takes a vector of its source).
    #[serde(default)]
    pub field: Option<String>,
    /// The payload key holding the items' labels.
    pub label_key: String,
    /// The least score at which the nearest item's label is given.
    pub min_score: f32,
}

/// The item nearest to `vector` and its label `payload[labelKey]`, given only when its score
/// is at least `minScore` (else unknown).
pub fn match_label(c: &Collection, vector: &[f32], query: &MatchQuery) -> Result<Match> {
    let (label_key, min_score) = (&query.label_key, query.min_score);
    let field = query.field.as_deref().unwrap_or(c.default_field());
    let hits = nearest(c, field, vector, 1)?;
    Ok(match hits.into_iter().next() {
        Some(hit) => Match {
            label: (hit.score >= min_score)
                .then(|| label_of(&hit.payload, label_key))
                .flatten(),
            id: Some(hit.id),
            score: Some(hit.score),
        },
        None => Match {
            label: None,
            id: None,
            score: None,
        },
    })
}
