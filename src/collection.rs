//! A collection: the unit a user searches. It owns an [`Index`] over its items' vector fields
//! (and, as the engine grows, the models that fill those fields and any trained head).

use std::collections::BTreeMap;

use crate::error::{CollectionError, Result};
use crate::index::{Hit, Index, IndexConfig, IndexStats, Item, Query};

/// Items with vector fields and payloads, searchable by similarity.
pub struct Collection {
    index: Index,
}

impl Collection {
    /// Creates an empty collection with the given vector fields.
    pub fn new(config: IndexConfig) -> Result<Self> {
        Ok(Collection {
            index: Index::new(config)?,
        })
    }

    /// Adds or replaces items; all are checked before any is added, so a bad item adds none.
    pub fn add(&mut self, items: Vec<Item>) -> Result<usize> {
        for item in &items {
            self.index.validate(item)?;
        }
        let n = items.len();
        for item in items {
            self.index.upsert(item)?;
        }
        Ok(n)
    }

    /// Deletes items by id; returns how many existed.
    pub fn delete(&mut self, ids: &[String]) -> usize {
        ids.iter().filter(|id| self.index.delete(id)).count()
    }

    /// The best hits for `query`.
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>> {
        Ok(self.index.search(query)?)
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
        Ok(Collection {
            index: Index::from_bytes(bytes)?,
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
