//! A collection: the unit a user searches. It owns an [`Index`] over its items' vector fields,
//! a BM25 keyword index over their `text_fields`, and learned fields, and answers vector,
//! keyword and hybrid queries (the two rankings fused by reciprocal rank, as Elasticsearch's
//! `rrf` retriever).
//!
//! Homes by concern: [`config`] (what a collection is made with and asked), `keyword`
//! (keyword search and fusion), `learned` (learned fields, training rows), [`catalog`]
//! (collections by name); this file holds the items, the routing of a search, and the file.
//! Evaluation, calibration and match over a collection live in [`crate::eval`].

pub mod catalog;
pub mod config;
mod keyword;
mod learned;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{CollectionError, Result};
use crate::index::{
    BuiltSegment, CopyKey, GrowthTicket, Hit, Index, IndexConfig, IndexError, IndexStats, Item,
    MaintenanceJob,
};

pub use catalog::Catalog;
pub use config::{CollectionConfig, Embed, MAX_QUERY_TEXT, SearchRequest};
use keyword::Keywords;
pub(crate) use learned::label_of;
use learned::{HEAD, Learned, TEXT_HEAD};
pub use learned::{LearnedField, TrainingRows};

/// An upkeep step's outcome: applied (true), or stale (false: the index it was for was
/// dropped, replaced or changed shape meanwhile).
fn stale_is_false(applied: Option<std::result::Result<(), IndexError>>) -> Result<bool> {
    match applied {
        Some(Ok(())) => Ok(true),
        None | Some(Err(IndexError::StaleSegment)) => Ok(false),
        Some(Err(e)) => Err(e.into()),
    }
}

/// Tag of the collection's own section in a saved collection: its configuration beyond the
/// index's (JSON).
const CONFIG: [u8; 4] = *b"COLL";

/// Items with vector fields and payloads, searchable by similarity and by keywords.
pub struct Collection {
    index: Index,
    /// The keyword side; it holds the collection's `text_fields`.
    keywords: Keywords,
    /// Vector fields bound to a model (kept for the worker, which embeds).
    embed: BTreeMap<String, Embed>,
    /// Vector fields computed through a trained head from one of the `index` fields.
    learned: Vec<Learned>,
}

impl Collection {
    /// Creates an empty collection with the given fields (an [`IndexConfig`] alone makes a
    /// collection without keyword fields).
    pub fn new(config: impl Into<CollectionConfig>) -> Result<Self> {
        let config = config.into();
        config.validate()?;
        Ok(Self::around(
            Index::new(config.index)?,
            config.text_fields,
            config.embed,
        ))
    }

    fn around(index: Index, text_fields: Vec<String>, embed: BTreeMap<String, Embed>) -> Self {
        Collection {
            keywords: Keywords::new(text_fields, &index),
            index,
            embed,
            learned: Vec::new(),
        }
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
        for item in items {
            self.keywords.set(&item.id, &item.payload);
            self.index.upsert(item)?;
        }
        Ok(n)
    }

    /// Deletes items by id; returns how many existed.
    pub fn delete(&mut self, ids: &[String]) -> usize {
        for id in ids {
            self.keywords.remove(id);
            for l in &mut self.learned {
                l.index.delete(id);
            }
        }
        ids.iter().filter(|id| self.index.delete(id)).count()
    }

    /// The best hits for `request`: by vector similarity, or with `text` by BM25 over the
    /// `text_fields` (alone, or fused with the vector ranking by reciprocal rank: each hit's
    /// score is then its fused score `Σ 1/(60 + rank)`). The filter applies to both sides;
    /// `min_score` to the vector scores, or to BM25 scores in a keyword-only query.
    ///
    /// A learned field is queried with vectors of its source field (the embeddings items are
    /// added with), mapped through its head; it cannot be mixed with other fields.
    ///
    /// A `text_vector` (a text model's vector) goes through the text head of the learned field
    /// that has one (its text→image aligner) and searches that field.
    pub fn search(&self, request: &SearchRequest) -> Result<Vec<Hit>> {
        let (index, mapped) = match &request.text_vector {
            Some(vector) => self
                .route_text(&request.query, vector)
                .map(|(i, q)| (i, Some(q)))?,
            None => self.route(&request.query)?,
        };
        let query = mapped.as_ref().unwrap_or(&request.query);
        let Some(text) = request.text.as_deref() else {
            return Ok(index.search(query)?);
        };
        let ranked = self.keywords.search(text, query, &self.index, index)?;
        Ok(ranked
            .into_iter()
            .filter_map(|(id, score)| {
                let payload = self.index.payload(&id)?.clone();
                Some(Hit { id, score, payload })
            })
            .collect())
    }

    /// The field a query that names none searches: the first vector field (a collection
    /// always has one).
    pub fn default_field(&self) -> &str {
        &self.index.config().fields[0].name
    }

    /// The fields and parameters this collection was made with.
    pub fn config(&self) -> CollectionConfig {
        CollectionConfig {
            // Keys the index kept for its owner (an old file's `text_fields`) are read already.
            index: IndexConfig {
                owner: Default::default(),
                ..self.index.config().clone()
            },
            text_fields: self.keywords.fields().to_vec(),
            embed: self.embed.clone(),
        }
    }

    /// The payload of item `id`, if any.
    pub fn payload(&self, id: &str) -> Option<&Value> {
        self.index.payload(id)
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

    /// Runs one step of index upkeep (a segment built in one go, else a graph grown in
    /// place), the collection's own index first, then the learned fields'; returns whether
    /// there was anything to do. Searches stay correct before, during and after.
    pub fn maintain_step(&mut self) -> Result<bool> {
        let Some((learned, job)) = self.plan_upkeep() else {
            return Ok(self.grow_step(usize::MAX, None));
        };
        self.apply_upkeep(learned.as_deref(), job.run())?;
        Ok(true)
    }

    /// The next step of index upkeep, to build elsewhere (`MaintenanceJob::into_parts`): the
    /// learned field whose index it is (`None`: the collection's own), and the job.
    pub fn plan_upkeep(&self) -> Option<(Option<String>, MaintenanceJob)> {
        let own = self.index.plan_maintenance().map(|job| (None, job));
        own.or_else(|| {
            let mut learned = self.learned.iter();
            learned.find_map(|l| Some((Some(l.name.clone()), l.index.plan_maintenance()?)))
        })
    }

    /// Grows a graph in place by up to `max_rows` rows ([`Index::grow_step`]): the
    /// collection's own index first, then the learned fields', skipping index `busy` (the
    /// learned field whose index has a job out; `Some(None)`: the collection's own). Returns
    /// whether there was anything to do.
    pub fn grow_step(&mut self, max_rows: usize, busy: Option<Option<&str>>) -> bool {
        if busy != Some(None) && self.index.grow_step(max_rows) > 0 {
            return true;
        }
        self.learned
            .iter_mut()
            .filter(|l| busy != Some(Some(l.name.as_str())))
            .any(|l| l.index.grow_step(max_rows) > 0)
    }

    /// Installs a segment built for [`Collection::plan_upkeep`]'s job on index `learned`;
    /// returns false when the job went stale (that index was replaced or changed under it).
    pub fn apply_upkeep(&mut self, learned: Option<&str>, built: BuiltSegment) -> Result<bool> {
        stale_is_false(self.index_mut(learned).map(|index| index.apply(built)))
    }

    /// The next growth step to run in a builder ([`Index::plan_growth`]): on the collection's
    /// own index first, then the learned fields'; the learned field whose index it is, the
    /// ticket and the job's bytes, with a copy of the graphs unless `held(key)` says the
    /// builder holds it.
    pub fn plan_growth(
        &self,
        max_rows: usize,
        held: impl Fn(CopyKey) -> bool,
    ) -> Option<(Option<String>, GrowthTicket, Vec<u8>)> {
        let own = std::iter::once((None, &self.index));
        let learned = self
            .learned
            .iter()
            .map(|l| (Some(l.name.clone()), &l.index));
        own.chain(learned).find_map(|(name, index)| {
            let key = index.growth_key()?;
            let (ticket, bytes) = index.plan_growth(max_rows, !held(key))?;
            Some((name, ticket, bytes))
        })
    }

    /// Applies a builder's growth (`bytes`) for [`Collection::plan_growth`]'s ticket on index
    /// `learned`; returns false when the step went stale.
    pub fn apply_growth(
        &mut self,
        learned: Option<&str>,
        ticket: GrowthTicket,
        bytes: &[u8],
    ) -> Result<bool> {
        stale_is_false(
            self.index_mut(learned)
                .map(|index| index.apply_growth(ticket, bytes)),
        )
    }

    /// The collection's own index (`None`) or learned field `learned`'s.
    fn index_mut(&mut self, learned: Option<&str>) -> Option<&mut Index> {
        match learned {
            None => Some(&mut self.index),
            Some(name) => self
                .learned
                .iter_mut()
                .find(|l| l.name == name)
                .map(|l| &mut l.index),
        }
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

    /// Counts of items, segments and bytes per vector.
    pub fn stats(&self) -> IndexStats {
        self.index.stats()
    }

    /// The collection as bytes (the index's versioned, checksummed format), with a `COLL`
    /// section holding its keyword fields and model bindings, and one `HEAD` section per
    /// learned field: its name, source, head and index.
    pub fn to_bytes(&self) -> Vec<u8> {
        let own = serde_json::json!({ "textFields": self.keywords.fields(), "embed": self.embed });
        let extra = std::iter::once((CONFIG, own.to_string().into_bytes()))
            .chain(self.learned.iter().map(Learned::section))
            .chain(self.learned.iter().filter_map(Learned::text_section))
            .collect();
        self.index.to_bytes_with(extra)
    }

    /// A collection read back from [`Collection::to_bytes`]; corrupt input is an error.
    /// Files written before the `COLL` section kept the keyword fields in the index's
    /// configuration, where they are read from then.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (index, sections) = Index::from_bytes_with(bytes, &[CONFIG, HEAD, TEXT_HEAD])?;
        let mut own = Value::Null;
        for (tag, body) in &sections {
            if *tag == CONFIG {
                own = serde_json::from_slice(body)
                    .map_err(|e| CollectionError::BadConfig(e.to_string()))?;
            }
        }
        let text_fields = (own.get("textFields"))
            .or_else(|| index.config().owner.get("text_fields"))
            .cloned();
        let text_fields = match text_fields {
            Some(v) => serde_json::from_value(v)
                .map_err(|e| CollectionError::BadConfig(format!("text fields: {e}")))?,
            None => Vec::new(),
        };
        let embed = match own.get("embed") {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| CollectionError::BadConfig(format!("embed: {e}")))?,
            None => BTreeMap::new(),
        };
        let config = CollectionConfig {
            index: index.config().clone(),
            text_fields,
            embed,
        };
        config.validate()?;
        let mut collection = Self::around(index, config.text_fields, config.embed);
        for (tag, body) in &sections {
            if *tag == HEAD {
                let learned = collection.read_learned(body)?;
                collection.learned.push(learned);
            }
        }
        for (tag, body) in sections {
            if tag == TEXT_HEAD {
                collection.read_text_head(&body)?;
            }
        }
        Ok(collection)
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
