//! Vector index for in-browser similarity search.
//!
//! Writes go to a mutable segment searched by brute force. [`Index::plan_maintenance`]
//! seals it into an immutable segment with one HNSW graph per field once it holds
//! `seal_threshold` rows and there is no larger graph; otherwise [`Index::grow_step`]
//! inserts its rows into the largest graph, and smaller graphs into it (`growth.rs`).
//! Deletes are tombstones, filtered at search time and dropped when a segment that is
//! mostly tombstones is rebuilt.
//! Queries gather candidates per segment (graph or brute force), score them
//! exactly, and merge the segments' results by score.
//!
//! A crate of its own, re-exported as `simil::index`; its per-query loops are the crate
//! `simil-kernels`, compiled for speed inside the size-optimised wasm build.

pub mod codec;
mod config;
mod distance;
mod error;
pub mod f32s;
mod filter;
mod format;
mod graph;
mod growth;
mod growth_job;
mod hnsw;
mod maintenance;
mod quant;
mod segment;
mod types;

#[cfg(test)]
mod job_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::Value;

pub use config::{
    FieldSpec, HnswParams, IndexConfig, MAX_DIM, MAX_EF, MAX_FIELDS, MAX_K, MAX_NUM_CANDIDATES,
    Metric, Storage, check_k,
};
pub use error::IndexError;
pub use filter::Filter;
pub use growth_job::{Builder, CopyKey, GrowthTicket};
pub use maintenance::{BuiltSegment, JobTicket, MaintenanceJob, build_job};
pub use types::{FieldQuery, FieldStats, Hit, IndexStats, Item, Query, SegmentKind, SegmentStats};

use config::check_range;
use distance::QueryVec;
use hnsw::SealedField;
use maintenance::Target;
use segment::{MutableSegment, Plan, Row, SealedSegment, Segment};
/// The SIMD dot product the index scores with, for other plain-Rust kernels.
pub use simil_kernels::dot;

/// A section its owner stores after an index's own ([`Index::to_bytes_with`]): a 4-byte tag
/// and the body.
pub type ExtraSection = ([u8; 4], Vec<u8>);

/// Largest accepted item id, in bytes.
const MAX_ID_BYTES: usize = 1024;

/// Where the current version of an item lives.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Location {
    /// `None` for the mutable segment, else a sealed segment id.
    segment: Option<u64>,
    row: u32,
    seq: u64,
}

/// A multi-field vector index with payload filters; see the module docs.
pub struct Index {
    config: IndexConfig,
    mutable: MutableSegment,
    /// Bumped each time rows are sealed out of the mutable segment.
    generation: u64,
    sealed: Vec<SealedSegment>,
    /// Where each id lives; the key shares its allocation with the row's id.
    locations: HashMap<Arc<str>, Location>,
    next_seq: u64,
    next_segment: u64,
    /// This index instance, unique in the process and never saved: a job planned on one
    /// instance is stale on any other (a collection replaced under the same name).
    instance: u64,
}

fn check_vector(spec: &FieldSpec, v: &[f32]) -> Result<(), IndexError> {
    if v.len() != spec.dim {
        return Err(IndexError::DimensionMismatch {
            field: spec.name.clone(),
            expected: spec.dim,
            got: v.len(),
        });
    }
    let limit = match spec.storage {
        Storage::F32 => f32::MAX,
        Storage::Int8 | Storage::Int8Only => half::f16::MAX.to_f32(),
    };
    match v.iter().position(|x| !x.is_finite() || x.abs() > limit) {
        None => Ok(()),
        Some(position) => Err(IndexError::InvalidValue {
            field: spec.name.clone(),
            position,
            reason: if v[position].is_finite() {
                "int8 fields take values of magnitude at most 65504 (the f16 range)"
            } else {
                "vectors must not contain NaN or infinity"
            },
        }),
    }
}

impl Index {
    /// Creates an empty index after validating `config`.
    pub fn new(config: IndexConfig) -> Result<Self, IndexError> {
        config.validate()?;
        Ok(Self {
            config,
            mutable: MutableSegment::new(),
            generation: 0,
            sealed: Vec::new(),
            locations: HashMap::new(),
            next_seq: 0,
            next_segment: 0,
            instance: maintenance::next_instance(),
        })
    }

    /// The configuration the index was created with.
    pub fn config(&self) -> &IndexConfig {
        &self.config
    }

    /// Inserts `item`, replacing (and tombstoning) any item with the same id.
    /// Vectors are checked for dimension and finiteness; fields may be omitted.
    pub fn upsert(&mut self, item: Item) -> Result<(), IndexError> {
        self.validate(&item)?;
        let mut vectors = vec![None; self.config.fields.len()];
        for (name, v) in item.vectors {
            let f = self.config.field_index(&name)?;
            vectors[f] = Some(v.into());
        }
        self.delete(&item.id);
        let seq = self.next_seq;
        self.next_seq += 1;
        let id: Arc<str> = item.id.into();
        let row = self.mutable.push(Row {
            id: Arc::clone(&id),
            seq,
            payload: item.payload,
            vectors,
        });
        self.locations.insert(
            id,
            Location {
                segment: None,
                row,
                seq,
            },
        );
        Ok(())
    }

    /// Checks that `upsert(item)` would accept `item` (id, field names, dimensions, values)
    /// without changing anything, so a batch can be checked whole before any of it lands.
    pub fn validate(&self, item: &Item) -> Result<(), IndexError> {
        if item.id.is_empty() || item.id.len() > MAX_ID_BYTES {
            return Err(IndexError::InvalidId(item.id.len()));
        }
        for (name, v) in &item.vectors {
            let f = self.config.field_index(name)?;
            check_vector(&self.config.fields[f], v)?;
        }
        Ok(())
    }

    /// Deletes the item with `id`; returns whether it existed.
    pub fn delete(&mut self, id: &str) -> bool {
        let Some(loc) = self.locations.remove(id) else {
            return false;
        };
        match loc.segment {
            None => self.mutable.liveness.kill(loc.row),
            Some(s) => {
                if let Some(seg) = self.sealed.iter_mut().find(|seg| seg.id == s) {
                    seg.liveness.kill(loc.row);
                }
            }
        }
        true
    }

    fn segment_of(&self, loc: &Location) -> Option<&dyn Segment> {
        match loc.segment {
            None => Some(&self.mutable),
            Some(s) => self
                .sealed
                .iter()
                .find(|seg| seg.id == s)
                .map(|s| s as &dyn Segment),
        }
    }

    /// The current version of item `id`. Vectors of sealed `int8` fields come
    /// back at f16 precision, those of sealed `int8_only` fields decoded from
    /// their codes.
    pub fn get(&self, id: &str) -> Option<Item> {
        let loc = self.locations.get(id)?;
        let seg = self.segment_of(loc)?;
        let vectors: BTreeMap<String, Vec<f32>> = self
            .config
            .fields
            .iter()
            .enumerate()
            .filter_map(|(f, spec)| Some((spec.name.clone(), seg.vector(f, loc.row)?.to_vec())))
            .collect();
        Some(Item {
            id: id.to_string(),
            vectors,
            payload: seg.payload(loc.row).clone(),
        })
    }

    /// The payload of item `id`.
    pub fn payload(&self, id: &str) -> Option<&Value> {
        let loc = self.locations.get(id)?;
        Some(self.segment_of(loc)?.payload(loc.row))
    }

    /// Every live item's id and payload, in no particular order.
    pub fn payloads(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.locations
            .iter()
            .filter_map(|(id, loc)| Some((&**id, self.segment_of(loc)?.payload(loc.row))))
    }

    /// Sets `ef_search` (the graph search's beam width: higher is slower and finds more of
    /// the true neighbours) for the sealed graphs and those sealed from now on, without
    /// rebuilding any graph.
    pub fn set_ef_search(&mut self, ef: usize) -> Result<(), IndexError> {
        check_range("ef_search", ef, 1, MAX_EF)?;
        self.config.hnsw.ef_search = ef;
        for segment in &mut self.sealed {
            segment.fields.iter_mut().for_each(|f| f.set_ef(ef));
        }
        Ok(())
    }

    /// Number of live items.
    pub fn len(&self) -> usize {
        self.locations.len()
    }

    /// Whether the index holds no live item.
    pub fn is_empty(&self) -> bool {
        self.locations.is_empty()
    }

    fn plan<'q>(&'q self, query: &'q Query) -> Result<Plan<'q>, IndexError> {
        check_k(query.k)?;
        let want = query
            .num_candidates
            .unwrap_or(query.k.max(self.config.hnsw.ef_search));
        check_range("num_candidates", want, 1, MAX_NUM_CANDIDATES)?;
        if want < query.k {
            return Err(IndexError::CandidatesBelowK {
                k: query.k,
                num_candidates: want,
            });
        }
        if query.vectors.is_empty() {
            return Err(IndexError::EmptyQuery);
        }
        if query.min_score.is_some_and(|m| !m.is_finite()) {
            return Err(IndexError::NotFinite("min_score"));
        }
        let mut fields = Vec::with_capacity(query.vectors.len());
        for fq in &query.vectors {
            let f = self.config.field_index(&fq.field)?;
            let spec = &self.config.fields[f];
            check_vector(spec, &fq.vector)?;
            if !fq.weight.is_finite() {
                return Err(IndexError::NotFinite("weight"));
            }
            fields.push((f, spec, QueryVec::new(&fq.vector), fq.weight));
        }
        Ok(Plan {
            fields,
            want,
            filter: query.filter.as_ref(),
            exact: query.exact,
        })
    }

    /// The `k` best items, by score descending then id ascending.
    ///
    /// Items are scored on the fields they have (a missing field adds 0; an
    /// item with none of the queried fields is never returned).
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        let plan = self.plan(query)?;
        let segments = std::iter::once(&self.mutable as &dyn Segment)
            .chain(self.sealed.iter().map(|s| s as &dyn Segment));
        let mut scored: Vec<(f32, &dyn Segment, u32)> = Vec::new();
        for seg in segments {
            for row in seg.candidates(&plan) {
                if let Some(score) = seg.score(&plan, row)
                    && query.min_score.is_none_or(|m| score >= m)
                {
                    scored.push((score, seg, row));
                }
            }
        }
        scored.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| a.1.id(a.2).cmp(b.1.id(b.2)))
        });
        scored.truncate(query.k);
        Ok(scored
            .into_iter()
            .map(|(score, seg, row)| Hit {
                id: seg.id(row).to_string(),
                score,
                payload: seg.payload(row).clone(),
            })
            .collect())
    }

    /// The next segment to build in one go, if any (the rest of upkeep grows the largest
    /// graph in place: [`Index::grow_step`]): the mutable segment sealed into a new segment
    /// when it holds `seal_threshold` rows and there is no larger graph to grow, or a sealed
    /// segment that is mostly tombstones rebuilt without them (where graphs cannot grow,
    /// segments of a size tier are also rebuilt as one).
    /// Run at most one job at a time: a second job planned before the first is
    /// applied, or a growth step taken meanwhile, makes it stale.
    pub fn plan_maintenance(&self) -> Option<MaintenanceJob> {
        let (target, rows) = if self.seal_in_one_go() {
            let rows = self
                .mutable
                .alive()
                .iter()
                .map(|r| self.mutable.rows[r as usize].clone())
                .collect();
            let target = Target::Seal {
                generation: self.generation,
                rows: self.mutable.rows.len(),
            };
            (target, rows)
        } else {
            let sources =
                maintenance::pick_rebuild(&self.sealed, self.config.seal_threshold, self.grows())?;
            let rows = self
                .sealed
                .iter()
                .filter(|s| sources.contains(&s.id))
                .flat_map(SealedSegment::live_rows)
                .collect();
            let target = Target::Rebuild {
                generation: self.generation,
                sources,
            };
            (target, rows)
        };
        Some(MaintenanceJob {
            target,
            instance: self.instance,
            rows,
            fields: self.config.fields.clone(),
            params: self.config.hnsw.clone(),
        })
    }

    /// Installs a built segment in place of the rows it was built from. Rows
    /// deleted or replaced while it was building stay deleted.
    pub fn apply(&mut self, built: BuiltSegment) -> Result<(), IndexError> {
        if built.instance != self.instance {
            return Err(IndexError::StaleSegment);
        }
        let fresh = match &built.target {
            Target::Seal { generation, rows } => {
                *generation == self.generation && *rows <= self.mutable.rows.len()
            }
            Target::Rebuild {
                generation,
                sources,
            } => {
                *generation == self.generation
                    && sources
                        .iter()
                        .all(|id| self.sealed.iter().any(|s| s.id == *id))
            }
        };
        if !fresh || built.segment.fields.len() != self.config.fields.len() {
            return Err(IndexError::StaleSegment);
        }
        let mut segment = built.segment;
        segment.id = self.next_segment;
        self.next_segment += 1;
        for row in 0..segment.rows() as u32 {
            let seq = segment.seqs[row as usize];
            match self.locations.get_mut(&segment.ids[row as usize]) {
                Some(loc) if loc.seq == seq => {
                    *loc = Location {
                        segment: Some(segment.id),
                        row,
                        seq,
                    }
                }
                _ => segment.liveness.kill(row),
            }
        }
        self.generation += 1;
        match built.target {
            Target::Seal { rows, .. } => self.drain_mutable(rows),
            Target::Rebuild { sources, .. } => self.sealed.retain(|s| !sources.contains(&s.id)),
        }
        if segment.live() > 0 {
            self.sealed.push(segment);
        }
        Ok(())
    }

    /// Runs upkeep until none is left: jobs ([`Index::plan_maintenance`]) built here, and
    /// growth ([`Index::grow_step`]).
    pub fn maintain(&mut self) {
        loop {
            if let Some(job) = self.plan_maintenance() {
                if self.apply(job.run()).is_err() {
                    break;
                }
            } else if self.grow_step(usize::MAX) == 0 {
                break;
            }
        }
    }

    /// Item count, segment sizes and per-field storage cost.
    pub fn stats(&self) -> IndexStats {
        let seg = |kind, s: &dyn Segment| SegmentStats {
            kind,
            rows: s.rows(),
            live: s.live(),
        };
        IndexStats {
            items: self.len(),
            segments: std::iter::once(seg(SegmentKind::Mutable, &self.mutable))
                .chain(self.sealed.iter().map(|s| seg(SegmentKind::Sealed, s)))
                .collect(),
            fields: self
                .config
                .fields
                .iter()
                .map(|spec| FieldStats {
                    name: spec.name.clone(),
                    storage: spec.storage,
                    bytes_per_vector: SealedField::bytes_per_vector(spec),
                })
                .collect(),
        }
    }

    /// Serializes the index (graphs included) in the `SIML` format.
    pub fn to_bytes(&self) -> Vec<u8> {
        format::encode(self, Vec::new())
    }

    /// Serializes the index like [`Index::to_bytes`], followed by `extra` sections (tag and
    /// body, each checksummed like the index's own) that [`Index::from_bytes_with`] returns.
    /// Tags must differ from the index's own (`META`, `MUTB`, `SEGM`).
    pub fn to_bytes_with(&self, extra: Vec<ExtraSection>) -> Vec<u8> {
        debug_assert!(
            extra
                .iter()
                .all(|(tag, _)| ![b"META", b"MUTB", b"SEGM"].contains(&tag))
        );
        format::encode(self, extra)
    }

    /// Loads an index written by [`Index::to_bytes`]; damaged or hostile input
    /// yields an error, never a panic. Extra sections are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, IndexError> {
        Ok(format::decode(bytes, &[])?.0)
    }

    /// Loads an index written by [`Index::to_bytes_with`], returning its extra sections in
    /// order; sections with tags outside `allowed` are rejected as corrupt.
    pub fn from_bytes_with(
        bytes: &[u8],
        allowed: &[[u8; 4]],
    ) -> Result<(Self, Vec<ExtraSection>), IndexError> {
        format::decode(bytes, allowed)
    }
}
