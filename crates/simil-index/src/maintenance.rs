//! Background work built in one go: sealing the mutable segment into a new segment, and
//! rebuilding segments as one (a segment that is mostly tombstones; size tiers where graphs
//! cannot grow in place). Growth in place is `growth.rs`.
//!
//! A [`MaintenanceJob`] owns copies of the rows it needs, so it can run on
//! another thread or worker while the index keeps serving reads and writes.
//! [`super::Index::apply`] then reconciles: a copied row survives only if its
//! id still points at the same version (`seq`), so deletes and upserts made
//! during the build are respected.
//!
//! Across workers (no shared memory in the browser), [`MaintenanceJob::into_parts`] splits a
//! job into a [`JobTicket`] that stays with the index and bytes that travel; another worker's
//! [`build_job`] turns them into the built segment's bytes, and [`JobTicket::built`] reads those
//! back for [`super::Index::apply`]. Both travel in the index file format (`format.rs`:
//! checksummed, every length checked), as an index of the job's rows and as an index of the
//! one built segment.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use super::config::{FieldSpec, HnswParams, IndexConfig};
use super::segment::{MutableSegment, Row, SealedSegment, Segment};
use super::{Index, IndexError, format};

/// A number no other index instance of this process has.
pub(crate) fn next_instance() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Where graphs cannot grow in place, sealed segments of the same size tier are rebuilt
/// as one once this many exist.
pub(crate) const MERGE_FACTOR: usize = 4;

/// What a built segment replaces.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// The first `rows` rows of the mutable segment at `generation`.
    Seal { generation: u64, rows: usize },
    /// These sealed segments, rebuilt as one without their tombstones, at `generation`.
    Rebuild { generation: u64, sources: Vec<u64> },
}

/// A planned segment build; `Send`, independent of the index.
pub struct MaintenanceJob {
    pub(crate) target: Target,
    /// The index instance that planned it.
    pub(crate) instance: u64,
    pub(crate) rows: Vec<Row>,
    pub(crate) fields: Vec<FieldSpec>,
    pub(crate) params: HnswParams,
}

/// The result of [`MaintenanceJob::run`], to hand to [`super::Index::apply`].
pub struct BuiltSegment {
    pub(crate) target: Target,
    pub(crate) instance: u64,
    pub(crate) segment: SealedSegment,
}

/// What a job sent to another worker replaces, kept by the index's owner until the built
/// segment's bytes come back ([`JobTicket::built`]).
#[derive(Debug, Clone, PartialEq)]
pub struct JobTicket {
    target: Target,
    instance: u64,
}

impl MaintenanceJob {
    /// Builds the HNSW graphs (the expensive part).
    pub fn run(self) -> BuiltSegment {
        BuiltSegment {
            segment: build(&self.fields, &self.params, self.rows),
            target: self.target,
            instance: self.instance,
        }
    }

    /// Splits the job for a build in another worker: the ticket stays with the index, the
    /// bytes (the rows, fields and HNSW parameters) go to [`build_job`].
    pub fn into_parts(self) -> (JobTicket, Vec<u8>) {
        let mut config = IndexConfig::with_fields(self.fields);
        config.hnsw = self.params;
        let mut mutable = MutableSegment::new();
        let next_seq = self.rows.iter().map(|r| r.seq + 1).max().unwrap_or(0);
        self.rows.into_iter().for_each(|row| {
            mutable.push(row);
        });
        let bytes = format::encode(&carrier(config, mutable, Vec::new(), next_seq), Vec::new());
        let ticket = JobTicket {
            target: self.target,
            instance: self.instance,
        };
        (ticket, bytes)
    }

    /// Number of rows the job will index.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Whether the job rebuilds a sealed segment (rather than sealing new rows), so
    /// a caller short of time or memory can leave it for later.
    pub fn is_rebuild(&self) -> bool {
        matches!(self.target, Target::Rebuild { .. })
    }
}

/// Builds a sealed segment's graphs over `rows`, seeded by their content so that builds
/// are reproducible (natively and in wasm, here or in another worker).
fn build(fields: &[FieldSpec], params: &HnswParams, rows: Vec<Row>) -> SealedSegment {
    let seed = rows.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, r| {
        (h ^ r.seq).wrapping_mul(0x100_0000_01b3)
    });
    SealedSegment::build(fields, params, seed, rows)
}

/// An index holding only `mutable` and `sealed`: the form a job and a built segment travel in.
fn carrier(
    config: IndexConfig,
    mutable: MutableSegment,
    sealed: Vec<SealedSegment>,
    next_seq: u64,
) -> Index {
    Index {
        config,
        mutable,
        generation: 0,
        next_segment: sealed.iter().map(|s| s.id + 1).max().unwrap_or(0),
        sealed,
        locations: HashMap::new(),
        next_seq,
        instance: 0,
    }
}

/// Builds the segment of a job's bytes ([`MaintenanceJob::into_parts`]) and returns it as
/// bytes for [`JobTicket::built`]; the expensive part, for another worker.
pub fn build_job(bytes: &[u8]) -> Result<Vec<u8>, IndexError> {
    let (job, _) = format::decode(bytes, &[])?;
    if !job.sealed.is_empty() {
        return Err(IndexError::Corrupt(
            "a segment job holds sealed segments".into(),
        ));
    }
    let next_seq = job.next_seq;
    let segment = build(&job.config.fields, &job.config.hnsw, job.mutable.rows);
    let built = carrier(job.config, MutableSegment::new(), vec![segment], next_seq);
    Ok(format::encode(&built, Vec::new()))
}

impl JobTicket {
    /// The built segment in `bytes` (from [`build_job`]), for [`super::Index::apply`].
    pub fn built(self, bytes: &[u8]) -> Result<BuiltSegment, IndexError> {
        let (mut index, _) = format::decode(bytes, &[])?;
        match (
            index.sealed.pop(),
            index.sealed.is_empty(),
            index.mutable.rows.is_empty(),
        ) {
            (Some(segment), true, true) => Ok(BuiltSegment {
                target: self.target,
                instance: self.instance,
                segment,
            }),
            _ => Err(IndexError::Corrupt(
                "a built segment holds one sealed segment".into(),
            )),
        }
    }
}

fn tier(live: usize, seal_threshold: usize) -> u32 {
    let mut t = 0;
    let mut size = seal_threshold.max(1) * MERGE_FACTOR;
    while live >= size {
        t += 1;
        size = size.saturating_mul(MERGE_FACTOR);
    }
    t
}

/// Picks sealed segments to rebuild as one: where graphs cannot grow in place
/// (`can_grow` false), `MERGE_FACTOR` segments of the lowest full size tier; else, or
/// failing those, a single segment that is mostly tombstones.
pub(crate) fn pick_rebuild(
    segments: &[SealedSegment],
    seal_threshold: usize,
    can_grow: bool,
) -> Option<Vec<u64>> {
    let mut by_tier: Vec<(u32, usize, u64)> = segments
        .iter()
        .map(|s| (tier(s.live(), seal_threshold), s.live(), s.id))
        .collect();
    by_tier.sort_unstable();
    for group in by_tier.chunk_by(|a, b| a.0 == b.0) {
        if !can_grow && group.len() >= MERGE_FACTOR {
            return Some(group[..MERGE_FACTOR].iter().map(|s| s.2).collect());
        }
    }
    segments
        .iter()
        .find(|s| super::growth::mostly_dead(s.rows(), s.live()))
        .map(|s| vec![s.id])
}
