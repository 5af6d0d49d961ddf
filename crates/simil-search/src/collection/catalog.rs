//! Collections by name, and upkeep over all of them.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{Collection, CollectionConfig};
use crate::error::{CollectionError, Result};
use crate::index::{CopyKey, GrowthTicket, JobTicket};

/// Collections by name.
#[derive(Default)]
pub struct Catalog {
    collections: BTreeMap<String, Collection>,
    /// The upkeep job out in another worker: its collection, learned field (`None`: the
    /// collection's own index) and ticket.
    out: Option<(String, Option<String>, Ticket)>,
    /// The graph copies the builder holds, by index instance.
    held: HashMap<u64, CopyKey>,
}

/// What an upkeep job out is.
enum Ticket {
    /// A segment built in one go.
    Build(JobTicket),
    /// A growth step of a graph the builder holds a copy of.
    Grow(GrowthTicket),
}

/// An upkeep job applied ([`Catalog::apply_upkeep`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Applied {
    /// The collection it changed.
    pub collection: String,
    /// Whether it grew a graph (no item changed: a saved copy is still right, only slower
    /// to search) rather than installed a built segment.
    pub grew: bool,
}

impl Catalog {
    /// Creates a collection; fails if the name is taken.
    pub fn create(&mut self, name: &str, config: CollectionConfig) -> Result<&mut Collection> {
        if self.collections.contains_key(name) {
            return Err(CollectionError::Exists(name.to_string()).into());
        }
        let collection = Collection::new(config)?;
        Ok(self
            .collections
            .entry(name.to_string())
            .or_insert(collection))
    }

    /// The collection `name`, created with `config` when there is none (a persisted
    /// collection, restored, is reopened the same way); fails when it exists with another
    /// configuration. Returns whether it was created.
    pub fn open_or_create(&mut self, name: &str, mut config: CollectionConfig) -> Result<bool> {
        let Some(existing) = self.collections.get(name) else {
            return self.create(name, config).map(|_| true);
        };
        config.index.owner = Default::default();
        if existing.config() != config {
            return Err(CollectionError::OtherConfig(name.to_string()).into());
        }
        Ok(false)
    }

    /// Stores `collection` as `name`, replacing any collection of that name.
    pub fn insert(&mut self, name: &str, collection: Collection) {
        self.collections.insert(name.to_string(), collection);
    }

    /// Reads a saved collection into `name`, replacing any of that name only when the bytes
    /// load; returns its item count.
    pub fn load(&mut self, name: &str, bytes: &[u8]) -> Result<usize> {
        let collection = Collection::from_bytes(bytes)?;
        let n = collection.len();
        self.insert(name, collection);
        Ok(n)
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

    /// Runs one step of index upkeep on the first collection (in name order) that has any;
    /// returns that collection's name (it changed, so a persisted copy is stale), or `None`
    /// when there was no work. Callers run it when idle, so searches keep answering between
    /// steps.
    pub fn maintain_step(&mut self) -> Result<Option<&str>> {
        for (name, collection) in &mut self.collections {
            if collection.maintain_step()? {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }

    /// Plans the next step of upkeep over all collections (in name order) for another worker
    /// (a [`crate::index::Builder`]), and keeps its ticket: a segment to build in one go, else
    /// (with `grow_rows` > 0) a growth step of up to `grow_rows` rows. Returns the job's bytes,
    /// or `None` when there is no work or a job is already out. Searches and writes go on
    /// meanwhile; [`Catalog::apply_upkeep`] reconciles.
    pub fn plan_upkeep(&mut self, grow_rows: usize) -> Option<Vec<u8>> {
        if self.out.is_some() {
            return None;
        }
        let build = self.collections.iter().find_map(|(name, c)| {
            let (learned, job) = c.plan_upkeep()?;
            let (ticket, bytes) = job.into_parts();
            Some((name.clone(), learned, Ticket::Build(ticket), bytes))
        });
        let held = &self.held;
        let (name, learned, ticket, bytes) = build.or_else(|| {
            if grow_rows == 0 {
                return None;
            }
            self.collections.iter().find_map(|(name, c)| {
                let is_held = |key: CopyKey| held.get(&key.instance) == Some(&key);
                let (learned, ticket, bytes) = c.plan_growth(grow_rows, is_held)?;
                Some((name.clone(), learned, Ticket::Grow(ticket), bytes))
            })
        })?;
        self.out = Some((name, learned, ticket));
        Some(bytes)
    }

    /// Grows a graph in place by up to `max_rows` rows on the first collection (in name
    /// order) with such work, leaving alone the index the job out is for; returns that
    /// collection's name, or `None` when there was no work. Growth runs here, where the
    /// graph lives: callers take small steps between searches.
    pub fn grow_step(&mut self, max_rows: usize) -> Option<&str> {
        let out = self
            .out
            .as_ref()
            .map(|(name, learned, _)| (name.clone(), learned.clone()));
        self.collections.iter_mut().find_map(|(name, c)| {
            let busy = out
                .as_ref()
                .filter(|(n, _)| n == name)
                .map(|(_, learned)| learned.as_deref());
            c.grow_step(max_rows, busy).then_some(name.as_str())
        })
    }

    /// Applies what the builder made (`bytes`) for the job out: installs the built segment
    /// or links the grown rows. Returns its collection, or `None` when the job went stale
    /// (its collection or index was dropped, replaced or changed under it: the next plan
    /// starts again). Without `bytes` (the job failed) the job is dropped. Bytes that do not
    /// read are an error, and the job is dropped all the same. A growth step that does not
    /// apply makes the next one send its graphs again.
    pub fn apply_upkeep(&mut self, bytes: Option<&[u8]>) -> Result<Option<Applied>> {
        let Some((name, learned, ticket)) = self.out.take() else {
            return Ok(None);
        };
        let collection = self.collections.get_mut(&name);
        let (applied, grew) = match (ticket, bytes, collection) {
            (Ticket::Build(ticket), Some(bytes), collection) => {
                let built = ticket.built(bytes)?;
                let applied = match collection {
                    Some(c) => c.apply_upkeep(learned.as_deref(), built)?,
                    None => false,
                };
                (applied, false)
            }
            (Ticket::Grow(ticket), bytes, collection) => {
                let instance = ticket.key().instance;
                let after = ticket.after();
                self.held.remove(&instance);
                let applied = match (bytes, collection) {
                    (Some(bytes), Some(c)) => c.apply_growth(learned.as_deref(), ticket, bytes)?,
                    _ => false,
                };
                if applied {
                    self.held.insert(instance, after);
                }
                (applied, true)
            }
            (Ticket::Build(_), None, _) => (false, false),
        };
        Ok(applied.then_some(Applied {
            collection: name,
            grew,
        }))
    }
}
