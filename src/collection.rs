//! A collection: the unit a user searches. It owns an [`Index`] over its items' vector fields
//! (and, as the engine grows, the models that fill those fields and any trained head).

use std::collections::BTreeMap;

use crate::error::{CollectionError, Result};
use crate::index::{Hit, Index, IndexConfig, Item, Query};

/// Items with vector fields and payloads, searchable by similarity.
#[derive(Debug)]
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
        let mut staged = self.index.clone();
        let n = items.len();
        for item in items {
            staged.upsert(item)?;
        }
        self.index = staged;
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
#[derive(Debug, Default)]
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
        Ok(self.collections.entry(name.to_string()).or_insert(collection))
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
