//! A collection: the unit a user searches. It owns an [`Index`] over its items' vector fields
//! and a BM25 keyword index over their `text_fields`, and answers vector, keyword and hybrid
//! queries (the two rankings fused by reciprocal rank, as Elasticsearch's `rrf` retriever).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::{CollectionError, Result};
use crate::index::{Hit, Index, IndexConfig, IndexError, IndexStats, Item, MAX_K, Query};
use crate::text::{KeywordIndex, hybrid};

/// Longest keyword query accepted, in bytes.
pub const MAX_QUERY_TEXT: usize = 4096;

/// Candidates each side of a hybrid query contributes to the fusion when the query does not
/// say (`num_candidates`).
const DEFAULT_POOL: usize = 100;

/// Items with vector fields and payloads, searchable by similarity and by keywords.
pub struct Collection {
    index: Index,
    /// Each item's keyword text (its `text_fields`, joined), by id.
    texts: BTreeMap<String, String>,
    /// BM25 over `texts`, built at the first keyword query after a change (BM25 normalises by
    /// the average text length, so a rebuild keeps scores exact).
    keywords: OnceLock<KeywordIndex>,
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
        }
    }

    /// Adds or replaces items; all are checked before any is added, so a bad item adds none.
    pub fn add(&mut self, items: Vec<Item>) -> Result<usize> {
        for item in &items {
            self.index.validate(item)?;
        }
        let n = items.len();
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
        ids.iter().filter(|id| self.index.delete(id)).count()
    }

    /// The best hits for `query`: by vector similarity, or with `query.text` by BM25 over the
    /// `text_fields` (alone, or fused with the vector ranking by reciprocal rank: each hit's
    /// score is then its fused score `Σ 1/(60 + rank)`). The filter applies to both sides;
    /// `min_score` to the vector scores, or to BM25 scores in a keyword-only query.
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>> {
        let Some(text) = query.text.as_deref() else {
            return Ok(self.index.search(query)?);
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
            let vector_hits: Vec<(String, f32)> = self
                .index
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

    /// The item with `id`, if any.
    pub fn get(&self, id: &str) -> Option<Item> {
        self.index.get(id)
    }

    /// Runs one step of index upkeep (sealing the exact segment into an HNSW graph, or
    /// merging sealed segments); returns whether there was anything to do. Searches stay
    /// correct before, during and after.
    pub fn maintain_step(&mut self) -> Result<bool> {
        let Some(job) = self.index.plan_maintenance() else {
            return Ok(false);
        };
        self.index.apply(job.run())?;
        Ok(true)
    }

    /// Sets the HNSW `ef_search` (recall against speed) without rebuilding the graphs; see
    /// [`Index::set_ef_search`].
    pub fn set_ef_search(&mut self, ef: usize) -> Result<()> {
        Ok(self.index.set_ef_search(ef)?)
    }

    /// Counts of items, segments and bytes per vector.
    pub fn stats(&self) -> IndexStats {
        self.index.stats()
    }

    /// The collection as bytes (the index's versioned, checksummed format).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.index.to_bytes()
    }

    /// A collection read back from [`Collection::to_bytes`]; corrupt input is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Ok(Self::around(Index::from_bytes(bytes)?))
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
    use crate::index::{FieldSpec, Filter, HnswParams, Metric, Storage};

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
}
