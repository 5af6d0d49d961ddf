//! A collection: the unit a user searches. It owns an [`Index`] over its items' vector fields
//! and a BM25 keyword index over their `text_fields`, and answers vector, keyword and hybrid
//! queries (the two rankings fused by reciprocal rank, as Elasticsearch's `rrf` retriever).

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CollectionError, Result};
use crate::eval::{self, CalibrationTarget};
use crate::index::codec::{Reader, Writer};
use crate::index::{
    ExtraSection, FieldSpec, Hit, Index, IndexConfig, IndexError, IndexStats, Item, MAX_FIELDS,
    MAX_K, Metric, Query,
};
use crate::text::{KeywordIndex, hybrid};
use crate::train::HeadConfig;
use crate::train::head::{DenseHead, MAX_HEAD_PARAMS};

/// Longest keyword query accepted, in bytes.
pub const MAX_QUERY_TEXT: usize = 4096;

/// Candidates each side of a hybrid query contributes to the fusion when the query does not
/// say (`num_candidates`).
const DEFAULT_POOL: usize = 100;

/// Tag of a learned field's section in a saved collection.
const HEAD: [u8; 4] = *b"HEAD";
/// Longest field name in a saved learned field, in bytes.
const MAX_NAME_BYTES: usize = 128;

/// Items with vector fields and payloads, searchable by similarity and by keywords.
pub struct Collection {
    index: Index,
    /// Each item's keyword text (its `text_fields`, joined), by id.
    texts: BTreeMap<String, String>,
    /// BM25 over `texts`, built at the first keyword query after a change (BM25 normalises by
    /// the average text length, so a rebuild keeps scores exact).
    keywords: OnceLock<KeywordIndex>,
    /// Vector fields computed through a trained head from one of the `index` fields.
    learned: Vec<Learned>,
}

/// A learned vector field: `head(source)` for every item that has `source`, kept in an index
/// of its own that mirrors every item's id and payload (filters apply there too).
struct Learned {
    name: String,
    source: String,
    head: DenseHead,
    index: Index,
}

impl Learned {
    /// `item` as this field's index holds it: same id and payload, the head applied to its
    /// source vector (no vector when it has none).
    fn item(&self, item: &Item) -> Item {
        Item {
            id: item.id.clone(),
            vectors: item
                .vectors
                .get(&self.source)
                .map(|v| (self.name.clone(), self.head.apply(v)))
                .into_iter()
                .collect(),
            payload: item.payload.clone(),
        }
    }
}

/// A learned vector field, as [`Collection::learned_fields`] lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedField {
    /// The learned field's name.
    pub name: String,
    /// The field its vectors are computed from (and queries are given in).
    pub source: String,
    /// Dimension of the learned vectors.
    pub dim: usize,
    /// The shape of the head that computes them.
    pub head: HeadConfig,
}

/// One field's vectors, labelled from a payload key, to train a head on
/// ([`Collection::training_rows`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRows {
    /// Width of each row.
    pub dim: usize,
    /// Labelled rows, row-major, in item id order.
    pub rows: Vec<f32>,
    /// Each labelled row's class, an index into `classes`.
    pub labels: Vec<u32>,
    /// The labels, in the order first seen.
    pub classes: Vec<String>,
    /// Rows without a usable label, row-major, in item id order.
    pub unlabelled: Vec<f32>,
}

/// Labelled query vectors for [`Collection::evaluate`] and [`Collection::calibrate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelledQueries {
    /// The field to search (a learned field takes vectors of its source field).
    pub field: String,
    /// The payload key holding the items' labels.
    pub label_key: String,
    /// The query vectors.
    pub vectors: Vec<Vec<f32>>,
    /// Each query's label.
    pub labels: Vec<String>,
}

/// Retrieval quality over labelled queries: the mean over queries of each metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// A `min_score` for [`Collection::match_label`] and how it did on the labelled queries it
/// was calibrated on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

/// The nearest item to a vector and its label, if close enough ([`Collection::match_label`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Match {
    /// The nearest item's label, when its score reaches `min_score`; `None` means unknown.
    pub label: Option<String>,
    /// The nearest item's id, if the collection has any item with the field.
    pub id: Option<String>,
    /// The nearest item's score.
    pub score: Option<f32>,
}

/// The label `payload[key]` carries: a string, or a number or boolean as its JSON text.
fn label_of(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// Index configuration of a learned field `name` of `dim` dimensions, stored as `source` is.
fn learned_config(main: &IndexConfig, name: &str, source: &FieldSpec, dim: usize) -> IndexConfig {
    IndexConfig {
        fields: vec![FieldSpec {
            name: name.to_string(),
            dim,
            metric: Metric::Cosine,
            storage: source.storage,
        }],
        hnsw: main.hnsw.clone(),
        seal_threshold: main.seal_threshold,
        text_fields: Vec::new(),
    }
}

/// The text of `payload`'s `fields`: strings, and strings inside arrays, joined by spaces.
fn keyword_text(fields: &[String], payload: &Value) -> String {
    let mut out = String::new();
    let mut push = |v: &Value| {
        if let Value::String(s) = v {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        }
    };
    for field in fields {
        match payload.get(field) {
            Some(Value::Array(values)) => values.iter().for_each(&mut push),
            Some(v) => push(v),
            None => {}
        }
    }
    out
}

impl Collection {
    /// Creates an empty collection with the given vector fields.
    pub fn new(config: IndexConfig) -> Result<Self> {
        Ok(Self::around(Index::new(config)?))
    }

    fn around(index: Index) -> Self {
        let fields = &index.config().text_fields;
        let texts = if fields.is_empty() {
            BTreeMap::new()
        } else {
            index
                .payloads()
                .map(|(id, payload)| (id.to_string(), keyword_text(fields, payload)))
                .filter(|(_, text)| !text.is_empty())
                .collect()
        };
        Collection {
            index,
            texts,
            keywords: OnceLock::new(),
            learned: Vec::new(),
        }
    }

    fn learned(&self, name: &str) -> Option<&Learned> {
        self.learned.iter().find(|l| l.name == name)
    }

    /// The spec of the collection's own vector field `name`; learned and unknown fields are
    /// errors.
    fn main_field(&self, name: &str) -> Result<&FieldSpec> {
        if self.learned(name).is_some() {
            return Err(CollectionError::LearnedSource(name.to_string()).into());
        }
        self.index
            .config()
            .fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| CollectionError::UnknownField(name.to_string()).into())
    }

    /// Adds or replaces items; all are checked before any is added, so a bad item adds none.
    /// Learned fields are computed from their source fields; an item may not carry them.
    pub fn add(&mut self, items: Vec<Item>) -> Result<usize> {
        for item in &items {
            if let Some(l) = self
                .learned
                .iter()
                .find(|l| item.vectors.contains_key(&l.name))
            {
                return Err(CollectionError::ComputedField(l.name.clone()).into());
            }
            self.index.validate(item)?;
        }
        // Every learned field's item, computed and checked before anything changes.
        let mut learned_items: Vec<Vec<Item>> = Vec::with_capacity(self.learned.len());
        for l in &self.learned {
            let mut out = Vec::with_capacity(items.len());
            for item in &items {
                let learned = l.item(item);
                l.index.validate(&learned)?;
                out.push(learned);
            }
            learned_items.push(out);
        }
        let n = items.len();
        for (l, items) in self.learned.iter_mut().zip(learned_items) {
            for item in items {
                l.index.upsert(item)?;
            }
        }
        let fields = self.index.config().text_fields.clone();
        for item in items {
            if !fields.is_empty() {
                let text = keyword_text(&fields, &item.payload);
                if text.is_empty() {
                    self.texts.remove(&item.id);
                } else {
                    self.texts.insert(item.id.clone(), text);
                }
                self.keywords = OnceLock::new();
            }
            self.index.upsert(item)?;
        }
        Ok(n)
    }

    /// Deletes items by id; returns how many existed.
    pub fn delete(&mut self, ids: &[String]) -> usize {
        for id in ids {
            if self.texts.remove(id).is_some() {
                self.keywords = OnceLock::new();
            }
        }
        for l in &mut self.learned {
            ids.iter().for_each(|id| {
                l.index.delete(id);
            });
        }
        ids.iter().filter(|id| self.index.delete(id)).count()
    }

    /// The index a query's vectors go to, and the query with learned fields' vectors mapped
    /// through their heads: learned fields (all the same one) are queried with vectors of
    /// their source field.
    fn route(&self, query: &Query) -> Result<(&Index, Option<Query>)> {
        let Some(learned) = query.vectors.iter().find_map(|fq| self.learned(&fq.field)) else {
            return Ok((&self.index, None));
        };
        if let Some(other) = query.vectors.iter().find(|fq| fq.field != learned.name) {
            return Err(CollectionError::MixedFields {
                learned: learned.name.clone(),
                other: other.field.clone(),
            }
            .into());
        }
        let mut mapped = query.clone();
        for fq in &mut mapped.vectors {
            let expected = learned.head.input_dim();
            if fq.vector.len() != expected {
                return Err(CollectionError::LearnedQueryDim {
                    field: learned.name.clone(),
                    source_field: learned.source.clone(),
                    expected,
                    got: fq.vector.len(),
                }
                .into());
            }
            if let Some(position) = fq.vector.iter().position(|x| !x.is_finite()) {
                return Err(IndexError::InvalidValue {
                    field: learned.name.clone(),
                    position,
                    reason: "vectors must not contain NaN or infinity",
                }
                .into());
            }
            fq.vector = learned.head.apply(&fq.vector);
        }
        Ok((&learned.index, Some(mapped)))
    }

    /// The best hits for `query`: by vector similarity, or with `query.text` by BM25 over the
    /// `text_fields` (alone, or fused with the vector ranking by reciprocal rank: each hit's
    /// score is then its fused score `Σ 1/(60 + rank)`). The filter applies to both sides;
    /// `min_score` to the vector scores, or to BM25 scores in a keyword-only query.
    ///
    /// A learned field is queried with vectors of its source field (the embeddings items are
    /// added with), mapped through its head; it cannot be mixed with other fields.
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>> {
        let (index, mapped) = self.route(query)?;
        let query = mapped.as_ref().unwrap_or(query);
        let Some(text) = query.text.as_deref() else {
            return Ok(index.search(query)?);
        };
        if self.index.config().text_fields.is_empty() {
            return Err(CollectionError::NoTextFields.into());
        }
        if text.len() > MAX_QUERY_TEXT {
            return Err(CollectionError::TextTooLong {
                got: text.len(),
                max: MAX_QUERY_TEXT,
            }
            .into());
        }
        if !(1..=MAX_K).contains(&query.k) {
            return Err(IndexError::OutOfRange {
                name: "k",
                got: query.k,
                min: 1,
                max: MAX_K,
            }
            .into());
        }
        let pool = query
            .num_candidates
            .unwrap_or(DEFAULT_POOL)
            .max(query.k)
            .min(MAX_K);
        let keywords = self.keywords.get_or_init(|| {
            KeywordIndex::build(self.texts.iter().map(|(id, t)| (id.clone(), [t.as_str()])))
        });
        let keyword_hits: Vec<(String, f32)> = keywords
            .search(text, self.texts.len())
            .into_iter()
            .filter(|(id, _)| {
                self.index
                    .payload(id)
                    .is_some_and(|p| query.filter.as_ref().is_none_or(|f| f.matches(p)))
            })
            .take(pool)
            .collect();
        let ranked = if query.vectors.is_empty() {
            let mut hits = keyword_hits;
            hits.retain(|(_, score)| query.min_score.is_none_or(|m| *score >= m));
            hits.truncate(query.k);
            hits
        } else {
            let vector_query = Query {
                k: pool,
                num_candidates: query.num_candidates.map(|n| n.max(pool)),
                text: None,
                ..query.clone()
            };
            let vector_hits: Vec<(String, f32)> = index
                .search(&vector_query)?
                .into_iter()
                .map(|h| (h.id, h.score))
                .collect();
            hybrid(&vector_hits, &keyword_hits, query.k)
        };
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                let payload = self.index.payload(&id)?.clone();
                Some(Hit { id, score, payload })
            })
            .collect())
    }

    /// The vector fields and index parameters this collection was made with.
    pub fn config(&self) -> &IndexConfig {
        self.index.config()
    }

    /// The item with `id`, if any, its learned vectors included.
    pub fn get(&self, id: &str) -> Option<Item> {
        let mut item = self.index.get(id)?;
        for l in &self.learned {
            if let Some(mut learned) = l.index.get(id)
                && let Some(v) = learned.vectors.remove(&l.name)
            {
                item.vectors.insert(l.name.clone(), v);
            }
        }
        Some(item)
    }

    /// Runs one step of index upkeep (sealing the exact segment into an HNSW graph, or
    /// merging sealed segments), the collection's own index first, then the learned fields';
    /// returns whether there was anything to do. Searches stay correct before, during and
    /// after.
    pub fn maintain_step(&mut self) -> Result<bool> {
        let indexes =
            std::iter::once(&mut self.index).chain(self.learned.iter_mut().map(|l| &mut l.index));
        for index in indexes {
            if let Some(job) = index.plan_maintenance() {
                index.apply(job.run())?;
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sets the HNSW `ef_search` (recall against speed) without rebuilding the graphs, for
    /// every field, learned ones included; see [`Index::set_ef_search`].
    pub fn set_ef_search(&mut self, ef: usize) -> Result<()> {
        self.index.set_ef_search(ef)?;
        for l in &mut self.learned {
            l.index.set_ef_search(ef)?;
        }
        Ok(())
    }

    /// Adds the learned vector field `name`: `head` applied to each item's `source` vector
    /// (items added later get it too), searched by cosine similarity with queries given in
    /// `source`'s space. A learned field of that name is replaced (retraining). Nothing
    /// changes on error.
    pub fn learn_field(&mut self, name: &str, source: &str, head: DenseHead) -> Result<()> {
        let spec = self.main_field(source)?.clone();
        if head.input_dim() != spec.dim {
            return Err(CollectionError::HeadInputMismatch {
                field: source.to_string(),
                dim: spec.dim,
                input: head.input_dim(),
            }
            .into());
        }
        if self.index.config().fields.iter().any(|f| f.name == name) {
            return Err(CollectionError::FieldNameTaken(name.to_string()).into());
        }
        let replaces = self.learned.iter().position(|l| l.name == name);
        if replaces.is_none() && self.learned.len() >= MAX_FIELDS {
            return Err(IndexError::TooManyFields {
                got: self.learned.len() + 1,
                max: MAX_FIELDS,
            }
            .into());
        }
        let config = learned_config(self.index.config(), name, &spec, head.output_dim());
        let mut learned = Learned {
            name: name.to_string(),
            source: source.to_string(),
            head,
            index: Index::new(config)?,
        };
        let mut ids: Vec<&str> = self.index.payloads().map(|(id, _)| id).collect();
        ids.sort_unstable();
        for id in ids {
            if let Some(item) = self.index.get(id) {
                let item = learned.item(&item);
                learned.index.upsert(item)?;
            }
        }
        match replaces {
            Some(i) => self.learned[i] = learned,
            None => self.learned.push(learned),
        }
        Ok(())
    }

    /// The learned vector fields, in the order they were added.
    pub fn learned_fields(&self) -> Vec<LearnedField> {
        self.learned
            .iter()
            .map(|l| LearnedField {
                name: l.name.clone(),
                source: l.source.clone(),
                dim: l.head.output_dim(),
                head: l.head.config().clone(),
            })
            .collect()
    }

    /// The vectors of the collection's own field `field`, labelled by each item's
    /// `payload[label_key]` (a string, or a number or boolean as its JSON text): every live
    /// item with that vector, in id order; items without a usable label go to `unlabelled`.
    pub fn training_rows(&self, field: &str, label_key: &str) -> Result<TrainingRows> {
        let dim = self.main_field(field)?.dim;
        let mut ids: Vec<&str> = self.index.payloads().map(|(id, _)| id).collect();
        ids.sort_unstable();
        let mut out = TrainingRows {
            dim,
            rows: Vec::new(),
            labels: Vec::new(),
            classes: Vec::new(),
            unlabelled: Vec::new(),
        };
        let mut class_of: HashMap<String, u32> = HashMap::new();
        for id in ids {
            let Some(mut item) = self.index.get(id) else {
                continue;
            };
            let Some(vector) = item.vectors.remove(field) else {
                continue;
            };
            match label_of(&item.payload, label_key) {
                Some(label) => {
                    let next = class_of.len() as u32;
                    let class = *class_of.entry(label.clone()).or_insert_with(|| {
                        out.classes.push(label);
                        next
                    });
                    out.rows.extend(vector);
                    out.labels.push(class);
                }
                None => out.unlabelled.extend(vector),
            }
        }
        Ok(out)
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

    /// Retrieval quality of `field` over labelled queries: each query searches the collection
    /// (a learned field through its head) and an item is relevant when its label
    /// (`payload[label_key]`) is the query's. R, for mAP@R and the ideal NDCG ranking, counts
    /// the items of the query's label that have the field (only those can be found).
    pub fn evaluate(&self, queries: &LabelledQueries, k: usize) -> Result<Evaluation> {
        Self::check_queries(queries)?;
        if !(1..=MAX_K).contains(&k) {
            return Err(IndexError::OutOfRange {
                name: "k",
                got: k,
                min: 1,
                max: MAX_K,
            }
            .into());
        }
        // Items of each label that have the searched field.
        let (index, field) = match self.learned(&queries.field) {
            Some(l) => (&l.index, l.name.as_str()),
            None => (&self.index, self.main_field(&queries.field)?.name.as_str()),
        };
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
            let q = Query::nearest(&queries.field, vector.clone(), k.max(r).min(MAX_K));
            let hits = self.search(&q)?;
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
            recall_at_k: eval::recall_at_k(&ranked, &labels, k),
            precision_at_k: eval::precision_at_k(&ranked, &labels, k),
            ndcg_at_k: eval::ndcg_at_k(&ranked, &labels, &relevant, k),
            map_at_r: eval::map_at_r(&ranked, &labels, &relevant),
        })
    }

    /// The `min_score` that best meets `target` for [`Collection::match_label`] on labelled
    /// queries: each query's nearest item counts as a correct match when its label is the
    /// query's (see [`eval::calibrate`], with distance = −score).
    pub fn calibrate(
        &self,
        queries: &LabelledQueries,
        target: CalibrationTarget,
    ) -> Result<ScoreCalibration> {
        Self::check_queries(queries)?;
        let mut nearest = Vec::with_capacity(queries.vectors.len());
        for (vector, label) in queries.vectors.iter().zip(&queries.labels) {
            let hits = self.search(&Query::nearest(&queries.field, vector.clone(), 1))?;
            nearest.push(match hits.first() {
                Some(hit) => (
                    -hit.score,
                    label_of(&hit.payload, &queries.label_key).as_ref() == Some(label),
                ),
                // Nothing to match: never accepted, still counted against recall.
                None => (f32::NAN, false),
            });
        }
        let c = eval::calibrate(&nearest, target).ok_or(CollectionError::NoThreshold)?;
        Ok(ScoreCalibration {
            min_score: -c.threshold,
            precision: c.precision,
            recall: c.recall,
            f1: c.f1,
        })
    }

    /// The item nearest to `vector` in `field` (a learned field takes a vector of its
    /// source) and its label `payload[label_key]`, given only when its score is at least
    /// `min_score` (else unknown).
    pub fn match_label(
        &self,
        field: &str,
        vector: Vec<f32>,
        label_key: &str,
        min_score: f32,
    ) -> Result<Match> {
        let hits = self.search(&Query::nearest(field, vector, 1))?;
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

    /// Counts of items, segments and bytes per vector.
    pub fn stats(&self) -> IndexStats {
        self.index.stats()
    }

    /// The collection as bytes (the index's versioned, checksummed format), with one `HEAD`
    /// section per learned field: its name, source, head and index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let extra: Vec<ExtraSection> = self
            .learned
            .iter()
            .map(|l| {
                let mut w = Writer::default();
                w.bytes(l.name.as_bytes());
                w.bytes(l.source.as_bytes());
                w.bytes(l.head.to_safetensors());
                w.bytes(&l.index.to_bytes());
                (HEAD, w.buf)
            })
            .collect();
        self.index.to_bytes_with(extra)
    }

    /// A collection read back from [`Collection::to_bytes`]; corrupt input is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (index, sections) = Index::from_bytes_with(bytes, &[HEAD])?;
        let mut collection = Self::around(index);
        for (_, body) in sections {
            let learned = collection.read_learned(&body)?;
            collection.learned.push(learned);
        }
        Ok(collection)
    }

    /// Parses a `HEAD` section and checks it against the collection read so far.
    fn read_learned(&self, body: &[u8]) -> Result<Learned> {
        let bad = |why: String| CollectionError::BadLearnedField(why);
        let mut r = Reader::new(body, "learned field");
        let name = r.str(MAX_NAME_BYTES)?.to_string();
        let source = r.str(MAX_NAME_BYTES)?.to_string();
        let head = DenseHead::from_safetensors(r.bytes(4 * MAX_HEAD_PARAMS + (1 << 20))?)?;
        let index = Index::from_bytes(r.bytes(usize::MAX)?)?;
        r.finish()?;
        if self.learned(&name).is_some() {
            return Err(bad(format!("`{name}` is stored twice")).into());
        }
        if self.index.config().fields.iter().any(|f| f.name == name) {
            return Err(bad(format!("`{name}` is also a vector field")).into());
        }
        let spec = self
            .index
            .config()
            .fields
            .iter()
            .find(|f| f.name == source)
            .ok_or_else(|| bad(format!("`{name}`: no source field `{source}`")))?;
        if head.input_dim() != spec.dim {
            return Err(bad(format!(
                "`{name}`: the head takes {} dimensions, `{source}` has {}",
                head.input_dim(),
                spec.dim
            ))
            .into());
        }
        match index.config().fields.as_slice() {
            [f] if f.name == name && f.dim == head.output_dim() => {}
            _ => {
                return Err(bad(format!("`{name}`: its index does not hold it alone")).into());
            }
        }
        if index.len() != self.index.len()
            || index
                .payloads()
                .any(|(id, _)| self.index.payload(id).is_none())
        {
            return Err(bad(format!("`{name}`: its items differ from the collection's")).into());
        }
        Ok(Learned {
            name,
            source,
            head,
            index,
        })
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the collection is empty.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Collections by name.
#[derive(Default)]
pub struct Catalog {
    collections: BTreeMap<String, Collection>,
}

impl Catalog {
    /// Creates a collection; fails if the name is taken.
    pub fn create(&mut self, name: &str, config: IndexConfig) -> Result<&mut Collection> {
        if self.collections.contains_key(name) {
            return Err(CollectionError::Exists(name.to_string()).into());
        }
        let collection = Collection::new(config)?;
        Ok(self
            .collections
            .entry(name.to_string())
            .or_insert(collection))
    }

    /// Stores `collection` as `name`, replacing any collection of that name.
    pub fn insert(&mut self, name: &str, collection: Collection) {
        self.collections.insert(name.to_string(), collection);
    }

    /// The names of the collections, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.collections.keys().map(String::as_str)
    }

    /// The collection called `name`.
    pub fn get(&self, name: &str) -> Result<&Collection> {
        self.collections
            .get(name)
            .ok_or_else(|| CollectionError::NotFound(name.to_string()).into())
    }

    /// The collection called `name`, mutably.
    pub fn get_mut(&mut self, name: &str) -> Result<&mut Collection> {
        self.collections
            .get_mut(name)
            .ok_or_else(|| CollectionError::NotFound(name.to_string()).into())
    }

    /// Drops a collection; returns whether it existed.
    pub fn drop_collection(&mut self, name: &str) -> bool {
        self.collections.remove(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::Error;
    use crate::index::{FieldQuery, Filter, HnswParams, Storage};

    /// Items on a 2-d circle (angle in degrees) with a name and tags.
    fn fruit_stand() -> Collection {
        let config = IndexConfig {
            fields: vec![FieldSpec {
                name: "v".into(),
                dim: 2,
                metric: Metric::Cosine,
                storage: Storage::F32,
            }],
            hnsw: HnswParams::default(),
            seal_threshold: 3,
            text_fields: vec!["name".into(), "tags".into()],
        };
        let mut c = Collection::new(config).unwrap();
        let items = [
            (
                "strawberry",
                5.0,
                json!({ "name": "strawberry", "aisle": 1 }),
            ),
            (
                "sku",
                170.0,
                json!({ "name": "SKU-204", "tags": ["fruit", "red"], "aisle": 2 }),
            ),
            ("whale", 90.0, json!({ "name": "blue whale", "aisle": 1 })),
            ("piano", 120.0, json!({ "name": "grand piano", "aisle": 2 })),
            ("rain", 60.0, json!({ "aisle": 1 })),
        ];
        c.add(
            items
                .iter()
                .map(|(id, deg, payload)| {
                    let r = f32::to_radians(*deg);
                    Item {
                        id: id.to_string(),
                        vectors: [("v".to_string(), vec![r.cos(), r.sin()])].into(),
                        payload: payload.clone(),
                    }
                })
                .collect(),
        )
        .unwrap();
        while c.maintain_step().unwrap() {}
        c
    }

    fn ids(hits: &[Hit]) -> Vec<&str> {
        hits.iter().map(|h| h.id.as_str()).collect()
    }

    fn text_query(text: &str, vector: Option<Vec<f32>>, k: usize) -> Query {
        let mut q = Query::nearest("v", vector.unwrap_or_default(), k);
        if q.vectors[0].vector.is_empty() {
            q.vectors.clear();
        }
        q.text = Some(text.into());
        q
    }

    #[test]
    fn keyword_query_ranks_by_bm25_and_honours_filters_and_changes() {
        let mut c = fruit_stand();
        let hits = c.search(&text_query("red fruit", None, 10)).unwrap();
        assert_eq!(
            ids(&hits),
            ["sku"],
            "only the SKU shares a word with the query"
        );
        assert!(hits[0].score > 0.0);
        assert_eq!(hits[0].payload["aisle"], 2);

        let mut q = text_query("whale piano", None, 10);
        q.filter = Some(Filter::Eq {
            field: "aisle".into(),
            value: json!(1),
        });
        assert_eq!(ids(&c.search(&q).unwrap()), ["whale"]);

        // Upsert changes the text; delete removes it.
        c.add(vec![Item {
            id: "piano".into(),
            vectors: [("v".to_string(), vec![0.0, 1.0])].into(),
            payload: json!({ "name": "red fruit bowl" }),
        }])
        .unwrap();
        assert_eq!(
            ids(&c.search(&text_query("bowl", None, 10)).unwrap()),
            ["piano"]
        );
        assert!(c.search(&text_query("grand", None, 10)).unwrap().is_empty());
        c.delete(&["piano".to_string()]);
        assert!(c.search(&text_query("bowl", None, 10)).unwrap().is_empty());
    }

    #[test]
    fn hybrid_ranks_first_what_either_signal_finds_and_survives_a_reload() {
        let c = fruit_stand();
        // The query vector sits next to the strawberry (5°); its words match only the SKU
        // (170°, far from the query). Both must lead, ahead of items neither signal favours.
        let q = text_query("red fruit", Some(vec![1.0, 0.0]), 2);
        let hits = c.search(&q).unwrap();
        assert_eq!(ids(&hits), ["sku", "strawberry"]);
        // The SKU is last on the vector side (5th of 5) and first by BM25; the strawberry is
        // first on the vector side only.
        let s = |r: f32| 1.0 / (60.0 + r);
        assert!(
            (hits[0].score - (s(5.0) + s(1.0))).abs() < 1e-6,
            "{}",
            hits[0].score
        );
        assert!((hits[1].score - s(1.0)).abs() < 1e-6, "{}", hits[1].score);

        let reloaded = Collection::from_bytes(&c.to_bytes()).unwrap();
        assert_eq!(reloaded.search(&q).unwrap(), hits);
    }

    #[test]
    fn bad_keyword_queries_are_typed_errors() {
        let c = fruit_stand();
        let long = "a".repeat(MAX_QUERY_TEXT + 1);
        assert!(matches!(
            c.search(&text_query(&long, None, 3)),
            Err(Error::Collection(CollectionError::TextTooLong { .. }))
        ));
        assert!(matches!(
            c.search(&text_query("fruit", None, 0)),
            Err(Error::Index(IndexError::OutOfRange { name: "k", .. }))
        ));
        let plain = Collection::new(IndexConfig {
            text_fields: Vec::new(),
            ..c.config().clone()
        })
        .unwrap();
        assert!(matches!(
            plain.search(&text_query("fruit", None, 3)),
            Err(Error::Collection(CollectionError::NoTextFields))
        ));
    }

    // ---- Learned fields ----

    use burn::prelude::Device;

    use crate::eval::CalibrationTarget;
    use crate::train::HeadConfig;

    /// A head of random (seeded) weights, through its saved bytes as a trainer delivers it.
    fn head(input: usize, output: usize, seed: u64) -> DenseHead {
        let config = HeadConfig {
            input,
            hidden: vec![16],
            output,
        };
        let model = config.init(seed, &Device::flex()).unwrap();
        let bytes = pollster::block_on(model.to_safetensors()).unwrap();
        DenseHead::from_safetensors(&bytes).unwrap()
    }

    /// Deterministic values in [-1, 1).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f32 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        }
    }

    const CLASSES: [&str; 3] = ["a", "b", "c"];

    /// A vector of cluster `class` (around `2·e_class`) in 8-d.
    fn cluster_vector(rng: &mut Lcg, class: usize) -> Vec<f32> {
        (0..8)
            .map(|d| if d == class { 2.0 } else { 0.0 } + 0.5 * rng.next())
            .collect()
    }

    /// 30 items, 10 per cluster, with the class (and a word) in the payload; seals at 16.
    fn clusters() -> Collection {
        let config = IndexConfig {
            fields: vec![FieldSpec {
                name: "v".into(),
                dim: 8,
                metric: Metric::Cosine,
                storage: Storage::F32,
            }],
            hnsw: HnswParams::default(),
            seal_threshold: 16,
            text_fields: vec!["word".into()],
        };
        let mut c = Collection::new(config).unwrap();
        let mut rng = Lcg(7);
        let items = (0..30)
            .map(|i| Item {
                id: format!("i{i:02}"),
                vectors: [("v".to_string(), cluster_vector(&mut rng, i % 3))].into(),
                payload: json!({ "class": CLASSES[i % 3], "word": format!("w{}", i % 5) }),
            })
            .collect();
        c.add(items).unwrap();
        c
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    /// Ids of every item with `v`, best first, by cosine of the head's outputs.
    fn brute_force(c: &Collection, head: &DenseHead, q: &[f32]) -> Vec<(String, f32)> {
        let hq = head.apply(q);
        let mut ids: Vec<String> = c.index.payloads().map(|(id, _)| id.to_string()).collect();
        ids.sort();
        let mut scored: Vec<(String, f32)> = ids
            .into_iter()
            .filter_map(|id| {
                let v = c.get(&id)?.vectors.get("v")?.clone();
                Some((id, cosine(&hq, &head.apply(&v))))
            })
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scored
    }

    /// Checks a learned search of `q` (k = 10) against brute force over the head's outputs.
    fn assert_like_brute_force(c: &Collection, head: &DenseHead, q: &[f32]) {
        let hits = c.search(&Query::nearest("h", q.to_vec(), 10)).unwrap();
        let expected = brute_force(c, head, q);
        assert_eq!(hits.len(), 10.min(expected.len()));
        for (hit, (id, score)) in hits.iter().zip(&expected) {
            assert_eq!(&hit.id, id, "{hits:?} vs {expected:?}");
            assert!((hit.score - score).abs() < 1e-5, "{} vs {score}", hit.score);
        }
    }

    #[test]
    fn learned_field_search_matches_brute_force_through_the_head() {
        let mut c = clusters();
        let h = head(8, 6, 1);
        c.learn_field("h", "v", h.clone()).unwrap();
        assert_eq!(
            c.learned_fields(),
            vec![LearnedField {
                name: "h".into(),
                source: "v".into(),
                dim: 6,
                head: h.config().clone(),
            }]
        );
        let mut rng = Lcg(99);
        let queries: Vec<Vec<f32>> = (0..6).map(|i| cluster_vector(&mut rng, i % 3)).collect();
        // Exact (mutable segment) first, then through the sealed graphs.
        for q in &queries {
            assert_like_brute_force(&c, &h, q);
        }
        while c.maintain_step().unwrap() {}
        assert!(
            c.learned[0]
                .index
                .stats()
                .segments
                .iter()
                .any(|s| s.kind == crate::index::SegmentKind::Sealed)
        );
        for q in &queries {
            assert_like_brute_force(&c, &h, q);
        }
        // get() carries the learned vector; len() counts items once.
        let item = c.get("i04").unwrap();
        let expected = h.apply(&item.vectors["v"]);
        for (a, b) in item.vectors["h"].iter().zip(&expected) {
            assert!((a - b).abs() < 1e-6);
        }
        assert_eq!(c.len(), 30);
        // Evaluation routes through the head too: the clusters stay apart.
        let eval = c
            .evaluate(
                &LabelledQueries {
                    field: "h".into(),
                    label_key: "class".into(),
                    vectors: queries.clone(),
                    labels: (0..6).map(|i| CLASSES[i % 3].to_string()).collect(),
                },
                5,
            )
            .unwrap();
        assert_eq!((eval.queries, eval.k), (6, 5));
        assert!(eval.recall_at_k == 1.0 && eval.map_at_r > 0.5, "{eval:?}");
    }

    #[test]
    fn learned_field_follows_adds_deletes_and_upserts() {
        let mut c = clusters();
        let h = head(8, 6, 2);
        c.learn_field("h", "v", h.clone()).unwrap();
        let all = |c: &Collection, q: &[f32]| -> Vec<String> {
            let mut q = Query::nearest("h", q.to_vec(), 100);
            q.exact = true;
            c.search(&q).unwrap().into_iter().map(|h| h.id).collect()
        };
        let mut rng = Lcg(5);
        let q = cluster_vector(&mut rng, 1);
        assert!(all(&c, &q).contains(&"i01".to_string()));
        assert_eq!(c.delete(&["i01".to_string()]), 1);
        assert!(!all(&c, &q).contains(&"i01".to_string()));
        assert!(c.get("i01").is_none());
        // A new item is found through the learned field with its own source vector.
        let v = cluster_vector(&mut rng, 2);
        c.add(vec![Item {
            id: "new".into(),
            vectors: [("v".to_string(), v.clone())].into(),
            payload: json!({ "class": "c" }),
        }])
        .unwrap();
        let hits = c.search(&Query::nearest("h", v.clone(), 1)).unwrap();
        assert_eq!(hits[0].id, "new");
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        // An upsert moves it; an item without the source has no learned vector either.
        let moved = cluster_vector(&mut rng, 0);
        c.add(vec![
            Item {
                id: "new".into(),
                vectors: [("v".to_string(), moved.clone())].into(),
                payload: json!({ "class": "a" }),
            },
            Item {
                id: "bare".into(),
                vectors: BTreeMap::new(),
                payload: json!({ "class": "a" }),
            },
        ])
        .unwrap();
        assert_eq!(c.get("new").unwrap().vectors["h"], h.apply(&moved));
        assert_eq!(c.get("new").unwrap().payload["class"], "a");
        assert!(c.get("bare").unwrap().vectors.is_empty());
        assert!(!all(&c, &q).contains(&"bare".to_string()));
        assert_eq!(c.len(), 31);
        while c.maintain_step().unwrap() {}
        assert_like_brute_force(&c, &h, &moved);
        // Learned vectors are computed, never given: the whole batch is refused.
        let err = c
            .add(vec![
                Item {
                    id: "ok".into(),
                    vectors: [("v".to_string(), v.clone())].into(),
                    payload: Value::Null,
                },
                Item {
                    id: "given".into(),
                    vectors: [("h".to_string(), vec![0.0; 6])].into(),
                    payload: Value::Null,
                },
            ])
            .unwrap_err();
        assert!(matches!(
            err,
            Error::Collection(CollectionError::ComputedField(ref f)) if f == "h"
        ));
        assert!(c.get("ok").is_none());
    }

    #[test]
    fn filters_and_hybrid_queries_work_on_a_learned_field() {
        let mut c = clusters();
        let h = head(8, 6, 3);
        c.learn_field("h", "v", h.clone()).unwrap();
        while c.maintain_step().unwrap() {}
        let mut rng = Lcg(11);
        let q = cluster_vector(&mut rng, 0);
        let mut query = Query::nearest("h", q.clone(), 5);
        query.filter = Some(Filter::Eq {
            field: "class".into(),
            value: json!("b"),
        });
        let hits = c.search(&query).unwrap();
        assert_eq!(hits.len(), 5);
        assert!(hits.iter().all(|h| h.payload["class"] == "b"), "{hits:?}");
        let expected: Vec<String> = brute_force(&c, &h, &q)
            .into_iter()
            .filter(|(id, _)| c.get(id).unwrap().payload["class"] == "b")
            .map(|(id, _)| id)
            .take(5)
            .collect();
        assert_eq!(ids(&hits), expected);

        // Hybrid: the vector side is the learned ranking, fused with BM25's.
        let mut hybrid_query = Query::nearest("h", q.clone(), 4);
        hybrid_query.text = Some("w3".into());
        let got = c.search(&hybrid_query).unwrap();
        let vector_side: Vec<(String, f32)> = c
            .search(&Query::nearest("h", q.clone(), 30))
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect();
        let keyword_side: Vec<(String, f32)> = c
            .search(&text_query("w3", None, 30))
            .unwrap()
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect();
        assert_eq!(keyword_side.len(), 6);
        let fused = hybrid(&vector_side, &keyword_side, 4);
        let fused: Vec<&str> = fused.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids(&got), fused);
    }

    #[test]
    fn learned_fields_survive_a_reload_and_damage_is_an_error() {
        let mut c = clusters();
        let h = head(8, 6, 4);
        c.learn_field("h", "v", h.clone()).unwrap();
        c.maintain_step().unwrap(); // The main index sealed, the learned one not yet.
        let mut rng = Lcg(21);
        let queries: Vec<Vec<f32>> = (0..4).map(|i| cluster_vector(&mut rng, i % 3)).collect();
        for _ in 0..2 {
            let bytes = c.to_bytes();
            let loaded = Collection::from_bytes(&bytes).unwrap();
            assert_eq!(loaded.learned_fields(), c.learned_fields());
            for q in &queries {
                for field in ["h", "v"] {
                    let query = Query::nearest(field, q.clone(), 10);
                    assert_eq!(loaded.search(&query).unwrap(), c.search(&query).unwrap());
                }
            }
            assert_eq!(loaded.get("i07"), c.get("i07"));
            assert_eq!(loaded.to_bytes(), bytes);
            // Any damage is an error, never a panic: the learned field's section ends the file.
            for at in [bytes.len() - 1, bytes.len() - 200, bytes.len() / 2, 30] {
                let mut damaged = bytes.clone();
                damaged[at] ^= 0x10;
                assert!(Collection::from_bytes(&damaged).is_err(), "flip at {at}");
            }
            assert!(Collection::from_bytes(&bytes[..bytes.len() - 1]).is_err());
            while c.maintain_step().unwrap() {}
        }
        // The reloaded collection keeps computing its learned field.
        let mut loaded = Collection::from_bytes(&c.to_bytes()).unwrap();
        let v = cluster_vector(&mut rng, 1);
        loaded
            .add(vec![Item {
                id: "later".into(),
                vectors: [("v".to_string(), v.clone())].into(),
                payload: json!({}),
            }])
            .unwrap();
        assert_eq!(
            loaded.search(&Query::nearest("h", v, 1)).unwrap()[0].id,
            "later"
        );
        // A plain index reader refuses the file rather than dropping the learned field.
        assert!(Index::from_bytes(&c.to_bytes()).is_err());
    }

    #[test]
    fn relearning_replaces_the_head_and_bad_requests_change_nothing() {
        let mut c = clusters();
        c.learn_field("h", "v", head(8, 6, 5)).unwrap();
        let second = head(8, 5, 6);
        c.learn_field("h", "v", second.clone()).unwrap();
        assert_eq!(c.learned_fields().len(), 1);
        assert_eq!(c.learned_fields()[0].dim, 5);
        assert_eq!(c.get("i00").unwrap().vectors["h"].len(), 5);
        let mut rng = Lcg(3);
        assert_like_brute_force(&c, &second, &cluster_vector(&mut rng, 2));

        let before = c.learned_fields();
        let code = |e: Error| (e.code(), e);
        let (k, e) = code(c.learn_field("g", "nope", head(8, 4, 7)).unwrap_err());
        assert!(
            matches!(e, Error::Collection(CollectionError::UnknownField(_))) && k == "collection"
        );
        let e = c.learn_field("g", "h", head(5, 4, 7)).unwrap_err();
        assert!(
            matches!(e, Error::Collection(CollectionError::LearnedSource(_))),
            "{e}"
        );
        let e = c.learn_field("v", "v", head(8, 4, 7)).unwrap_err();
        assert!(
            matches!(e, Error::Collection(CollectionError::FieldNameTaken(_))),
            "{e}"
        );
        let e = c.learn_field("g", "v", head(7, 4, 7)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Collection(CollectionError::HeadInputMismatch {
                    dim: 8,
                    input: 7,
                    ..
                })
            ),
            "{e}"
        );
        assert_eq!(c.learned_fields(), before);
        // A second learned field lives beside the first.
        c.learn_field("g", "v", head(8, 4, 8)).unwrap();
        assert_eq!(c.learned_fields().len(), 2);
        assert_eq!(c.get("i03").unwrap().vectors.len(), 3);
    }

    #[test]
    fn queries_mixing_or_misshaping_learned_fields_are_typed_errors() {
        let mut c = clusters();
        c.learn_field("h", "v", head(8, 6, 9)).unwrap();
        let mut q = Query::nearest("h", vec![0.5; 8], 3);
        q.vectors.push(FieldQuery {
            field: "v".into(),
            vector: vec![0.5; 8],
            weight: 1.0,
        });
        let e = c.search(&q).unwrap_err();
        assert!(
            matches!(e, Error::Collection(CollectionError::MixedFields { .. })),
            "{e}"
        );
        assert_eq!(e.code(), "collection");
        // A vector of the learned space (6) where the source's (8) is expected.
        let e = c.search(&Query::nearest("h", vec![0.5; 6], 3)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Collection(CollectionError::LearnedQueryDim {
                    expected: 8,
                    got: 6,
                    ..
                })
            ),
            "{e}"
        );
        assert!(e.to_string().contains('8') && e.to_string().contains('6'));
        let mut nan = vec![0.5; 8];
        nan[2] = f32::NAN;
        assert!(matches!(
            c.search(&Query::nearest("h", nan, 3)),
            Err(Error::Index(IndexError::InvalidValue { position: 2, .. }))
        ));
    }

    /// Hand-made: 2-d unit vectors at the given angles (degrees), labels in `class`.
    fn angles(items: &[(&str, f32, Value)]) -> Collection {
        let config = IndexConfig {
            fields: vec![
                FieldSpec {
                    name: "v".into(),
                    dim: 2,
                    metric: Metric::Cosine,
                    storage: Storage::F32,
                },
                FieldSpec {
                    name: "w".into(),
                    dim: 1,
                    metric: Metric::Dot,
                    storage: Storage::F32,
                },
            ],
            hnsw: HnswParams::default(),
            seal_threshold: 100,
            text_fields: Vec::new(),
        };
        let mut c = Collection::new(config).unwrap();
        c.add(
            items
                .iter()
                .map(|(id, deg, payload)| Item {
                    id: id.to_string(),
                    vectors: [("v".to_string(), unit(*deg))].into(),
                    payload: payload.clone(),
                })
                .collect(),
        )
        .unwrap();
        c
    }

    fn unit(deg: f32) -> Vec<f32> {
        let r = deg.to_radians();
        vec![r.cos(), r.sin()]
    }

    #[test]
    fn training_rows_are_in_id_order_with_first_seen_classes() {
        let mut c = angles(&[
            ("b", 10.0, json!({ "y": "x" })),
            ("a", 20.0, json!({ "y": 2 })),
            ("d", 30.0, json!({ "z": "x" })),
            ("c", 40.0, json!({ "y": "x" })),
            ("f", 50.0, json!({ "y": true })),
            ("g", 60.0, json!({ "y": ["x"] })),
        ]);
        c.add(vec![Item {
            id: "e".into(),
            vectors: [("w".to_string(), vec![1.0])].into(),
            payload: json!({ "y": "x" }),
        }])
        .unwrap();
        let rows = c.training_rows("v", "y").unwrap();
        // Labelled, by id: a (2), b (x), c (x), f (true); d has no label, g an array; e no `v`.
        assert_eq!(rows.dim, 2);
        assert_eq!(rows.classes, ["2", "x", "true"]);
        assert_eq!(rows.labels, [0, 1, 1, 2]);
        let expected: Vec<f32> = [20.0, 10.0, 40.0, 50.0]
            .into_iter()
            .flat_map(unit)
            .collect();
        assert_eq!(rows.rows, expected);
        let unlabelled: Vec<f32> = [30.0, 60.0].into_iter().flat_map(unit).collect();
        assert_eq!(rows.unlabelled, unlabelled);

        assert!(matches!(
            c.training_rows("nope", "y"),
            Err(Error::Collection(CollectionError::UnknownField(_)))
        ));
        c.learn_field("h", "v", head(2, 3, 1)).unwrap();
        assert!(matches!(
            c.training_rows("h", "y"),
            Err(Error::Collection(CollectionError::LearnedSource(_)))
        ));
    }

    /// a1 at 0°, a2 at 10°, b1 at 20°, b2 at 90°.
    fn two_classes() -> Collection {
        angles(&[
            ("a1", 0.0, json!({ "class": "a" })),
            ("a2", 10.0, json!({ "class": "a" })),
            ("b1", 20.0, json!({ "class": "b" })),
            ("b2", 90.0, json!({ "class": "b" })),
        ])
    }

    fn labelled(queries: &[(f32, &str)]) -> LabelledQueries {
        LabelledQueries {
            field: "v".into(),
            label_key: "class".into(),
            vectors: queries.iter().map(|(deg, _)| unit(*deg)).collect(),
            labels: queries.iter().map(|(_, l)| l.to_string()).collect(),
        }
    }

    #[test]
    fn evaluate_matches_hand_computed_metrics() {
        let c = two_classes();
        // Query a at 2°: a1 (2° away), a2 (8°), b1 (18°), b2 (88°) → a a b b.
        // Query b at 16°: b1 (4°), a2 (6°), a1 (16°), b2 (74°) → b a a b.
        // Both labels have R = 2 items.
        let q = labelled(&[(2.0, "a"), (16.0, "b")]);
        // k = 1 (2 hits each, R = 2): recall 1, precision 1, NDCG 1;
        // mAP@R: a → (1/1 + 2/2)/2 = 1, b → (1/1)/2 = 1/2; mean 3/4.
        let e = c.evaluate(&q, 1).unwrap();
        assert_eq!((e.queries, e.k), (2, 1));
        assert_eq!(
            (e.recall_at_k, e.precision_at_k, e.ndcg_at_k),
            (1.0, 1.0, 1.0)
        );
        assert!((e.map_at_r - 0.75).abs() < 1e-12, "{e:?}");
        // k = 3: a → [a a b], b → [b a a]. Precision (2/3 + 1/3)/2 = 1/2.
        // NDCG: ideal 1 + 1/log2 3; a's DCG the same (1), b's DCG 1 → 1/(1 + 1/log2 3).
        let e = c.evaluate(&q, 3).unwrap();
        assert_eq!(e.recall_at_k, 1.0);
        assert!((e.precision_at_k - 0.5).abs() < 1e-12);
        let b = 1.0 / (1.0 + 1.0 / 3f64.log2());
        assert!((e.ndcg_at_k - (1.0 + b) / 2.0).abs() < 1e-12, "{e:?}");
        assert!((e.map_at_r - 0.75).abs() < 1e-12);

        let mut bad = q.clone();
        bad.labels.pop();
        assert!(matches!(
            c.evaluate(&bad, 1),
            Err(Error::Collection(CollectionError::QueryLabels {
                vectors: 2,
                labels: 1
            }))
        ));
        assert!(matches!(
            c.evaluate(&labelled(&[]), 1),
            Err(Error::Collection(CollectionError::NoQueries))
        ));
        assert!(c.evaluate(&q, 0).is_err());
    }

    #[test]
    fn calibrate_finds_the_hand_computed_min_score() {
        let c = two_classes();
        // Nearest hits: a@2° → a1 at 2° (right); b@16° → b1 at 4° (right);
        // a@60° → b2 at 30° (wrong); b@52° → b1 at 32° (right).
        let q = labelled(&[(2.0, "a"), (16.0, "b"), (60.0, "a"), (52.0, "b")]);
        let cos = |deg: f32| deg.to_radians().cos();
        // By score: cos 2° ✓, cos 4° ✓, cos 30° ✗, cos 32° ✓. Precision 1 holds down to
        // cos 4° (2 of 4 found: recall 1/2, F1 2/3).
        let p = c.calibrate(&q, CalibrationTarget::Precision(1.0)).unwrap();
        assert!((p.min_score - cos(4.0)).abs() < 1e-6, "{p:?}");
        assert_eq!((p.precision, p.recall), (1.0, 0.5));
        assert!((p.f1 - 2.0 / 3.0).abs() < 1e-12);
        // F1 by threshold: 2/5, 2/3, 4/7, 3/4 → best at cos 32° (precision = recall = 3/4).
        let f = c.calibrate(&q, CalibrationTarget::BestF1).unwrap();
        assert!((f.min_score - cos(32.0)).abs() < 1e-6, "{f:?}");
        assert_eq!((f.precision, f.recall, f.f1), (0.75, 0.75, 0.75));
        assert!(matches!(
            c.calibrate(&labelled(&[(60.0, "a")]), CalibrationTarget::Precision(0.5)),
            Err(Error::Collection(CollectionError::NoThreshold))
        ));
    }

    #[test]
    fn match_label_is_unknown_below_min_score() {
        let c = two_classes();
        // 16° is nearest b1 (4° away): cos 4° ≈ 0.99756.
        let m = c.match_label("v", unit(16.0), "class", 0.99).unwrap();
        assert_eq!(m.label.as_deref(), Some("b"));
        assert_eq!(m.id.as_deref(), Some("b1"));
        assert!((m.score.unwrap() - 4f32.to_radians().cos()).abs() < 1e-6);
        let m = c.match_label("v", unit(16.0), "class", 0.999).unwrap();
        assert_eq!((m.label, m.id.as_deref()), (None, Some("b1")));
        // No item has `w`: nothing to match.
        let m = c.match_label("w", vec![1.0], "class", 0.0).unwrap();
        assert_eq!(
            m,
            Match {
                label: None,
                id: None,
                score: None
            }
        );
    }
}
