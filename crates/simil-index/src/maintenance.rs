//! Background work: sealing the mutable segment and merging sealed segments.
//!
//! A [`MaintenanceJob`] owns copies of the rows it needs, so it can run on
//! another thread or worker while the index keeps serving reads and writes.
//! [`super::Index::apply`] then reconciles: a copied row survives only if its
//! id still points at the same version (`seq`), so deletes and upserts made
//! during the build are respected.

use super::config::{FieldSpec, HnswParams};
use super::segment::{Row, SealedSegment, Segment};

/// Sealed segments of the same size tier merge once this many exist.
pub(crate) const MERGE_FACTOR: usize = 4;

/// What a built segment replaces.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// The first `rows` rows of the mutable segment at `generation`.
    Seal { generation: u64, rows: usize },
    /// These sealed segments.
    Merge { sources: Vec<u64> },
}

/// A planned segment build; `Send`, independent of the index.
pub struct MaintenanceJob {
    pub(crate) target: Target,
    pub(crate) rows: Vec<Row>,
    pub(crate) fields: Vec<FieldSpec>,
    pub(crate) params: HnswParams,
}

/// The result of [`MaintenanceJob::run`], to hand to [`super::Index::apply`].
pub struct BuiltSegment {
    pub(crate) target: Target,
    pub(crate) segment: SealedSegment,
}

impl MaintenanceJob {
    /// Builds the HNSW graphs (the expensive part).
    pub fn run(self) -> BuiltSegment {
        // Deterministic seed from the content, so wasm builds are reproducible.
        let seed = self.rows.iter().fold(0x9e37_79b9_7f4a_7c15u64, |h, r| {
            (h ^ r.seq).wrapping_mul(0x100_0000_01b3)
        });
        BuiltSegment {
            segment: SealedSegment::build(&self.fields, &self.params, seed, self.rows),
            target: self.target,
        }
    }

    /// Number of rows the job will index.
    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Whether the job merges sealed segments (rather than sealing new rows), so
    /// a caller short of time or memory can leave merges for later.
    pub fn is_merge(&self) -> bool {
        matches!(self.target, Target::Merge { .. })
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

/// Picks sealed segments to merge: `MERGE_FACTOR` segments of the lowest full
/// size tier, or else a single segment that is mostly tombstones.
pub(crate) fn pick_merge(segments: &[SealedSegment], seal_threshold: usize) -> Option<Vec<u64>> {
    let mut by_tier: Vec<(u32, usize, u64)> = segments
        .iter()
        .map(|s| (tier(s.live(), seal_threshold), s.live(), s.id))
        .collect();
    by_tier.sort_unstable();
    for group in by_tier.chunk_by(|a, b| a.0 == b.0) {
        if group.len() >= MERGE_FACTOR {
            return Some(group[..MERGE_FACTOR].iter().map(|s| s.2).collect());
        }
    }
    segments
        .iter()
        .find(|s| s.rows() - s.live() > s.live())
        .map(|s| vec![s.id])
}
