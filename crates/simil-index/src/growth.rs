//! Growing a sealed graph in place: rows of the mutable segment, and of smaller sealed
//! segments, are inserted one by one into the graphs of the largest sealed segment
//! (hnswlib's insertion, [`super::graph::Graph::insert`]) instead of being sealed into new
//! segments that tier merges rebuild from scratch.
//!
//! A collection that grows in batches then inserts each item once and keeps one graph,
//! searched as one, as hnswlib does; the brute-force segment stays small. A new segment is
//! still built in one go ([`Index::plan_maintenance`], in another worker) when there is no
//! graph yet or the mutable segment holds at least as many rows as the largest graph (a
//! bulk add), and a segment that is mostly tombstones is rebuilt without them.
//!
//! Growth works in place, so it runs where the index lives, in steps of a few rows between
//! searches ([`Index::grow_step`]); a job out meanwhile goes stale (each step bumps the
//! generation jobs are checked against).

use super::config::Storage;
use super::segment::Segment;
use super::{Index, Location};

/// Where the rows of a growth step come from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Source {
    /// The oldest rows of the mutable segment.
    Mutable,
    /// The sealed segment at this position of `Index::sealed`.
    Sealed(usize),
}

/// The rows one growth step moves ([`Index::plan_step`]), valid at the generation it was
/// planned at.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// Position in `Index::sealed` of the segment the rows grow into.
    pub target: usize,
    pub source: Source,
    /// Row numbers in the source, ascending.
    pub rows: Vec<u32>,
    /// Rows of the mutable segment drained once they moved.
    pub done: usize,
}

/// Whether a sealed segment holding `live` of `rows` rows is mostly tombstones (then it is
/// rebuilt without them rather than grown).
pub(crate) fn mostly_dead(rows: usize, live: usize) -> bool {
    rows - live > live
}

impl Index {
    /// Whether the index's graphs grow in place: not with an `int8_only` field, whose
    /// vectors are only their codes, which a segment's quantizer, learned from the rows it
    /// was built from, could clamp for later rows (the other storages keep a full vector and
    /// use the codes only to walk the graph). Those are sealed and rebuilt by size tier.
    pub(crate) fn grows(&self) -> bool {
        !self
            .config
            .fields
            .iter()
            .any(|f| f.storage == Storage::Int8Only)
    }

    /// The position in `sealed` of the segment rows grow into: the largest by live rows
    /// (the first of equals), unless it is mostly tombstones.
    fn growth_target(&self) -> Option<usize> {
        if !self.grows() {
            return None;
        }
        let (at, s) = self
            .sealed
            .iter()
            .enumerate()
            .rev()
            .max_by_key(|(_, s)| s.live())?;
        (!mostly_dead(s.rows(), s.live())).then_some(at)
    }

    /// Whether the mutable segment is sealed into a new segment built in one go: it is past
    /// `seal_threshold` and there is no graph to grow, or one no larger than it.
    pub(crate) fn seal_in_one_go(&self) -> bool {
        self.mutable.rows.len() >= self.config.seal_threshold
            && self
                .growth_target()
                .is_none_or(|t| self.mutable.live() >= self.sealed[t].live())
    }

    /// The target and source of the next growth step, if there is work.
    fn growth(&self) -> Option<(usize, Source)> {
        let target = self.growth_target()?;
        if !self.mutable.rows.is_empty() {
            return (!self.seal_in_one_go()).then_some((target, Source::Mutable));
        }
        let smallest = self
            .sealed
            .iter()
            .enumerate()
            .filter(|&(at, s)| at != target && !mostly_dead(s.rows(), s.live()))
            .min_by_key(|(_, s)| s.live())?;
        Some((target, Source::Sealed(smallest.0)))
    }

    /// Whether [`Index::grow_step`] has work.
    pub fn can_grow(&self) -> bool {
        self.growth().is_some()
    }

    /// Inserts up to `max_rows` live rows into the largest sealed segment's graphs: the
    /// mutable segment's, oldest first, or else those of the smallest other sealed segment
    /// (dropped once empty). Returns how many rows it took, dead ones of the mutable segment
    /// included (0: no work). Searches are exact
    /// about every item before and after each step; a job planned before it goes stale.
    pub fn grow_step(&mut self, max_rows: usize) -> usize {
        match self.plan_step(max_rows) {
            Some(step) => self.take_step(&step, true),
            None => 0,
        }
    }

    /// The rows the next growth step moves, up to `max_rows` live ones.
    pub(crate) fn plan_step(&self, max_rows: usize) -> Option<Step> {
        let (target, source) = self.growth()?;
        let max_rows = max_rows.max(1);
        let rows: Vec<u32> = match source {
            Source::Mutable => self.mutable.alive().iter().take(max_rows).collect(),
            Source::Sealed(at) => self.sealed[at].alive().iter().take(max_rows).collect(),
        };
        // Dead rows of the mutable segment before the last one moved go with it.
        let done = match (source, rows.last()) {
            (Source::Sealed(_), _) => 0,
            (Source::Mutable, Some(&last)) if rows.len() == max_rows => last as usize + 1,
            (Source::Mutable, _) => self.mutable.rows.len(),
        };
        Some(Step {
            target,
            source,
            rows,
            done,
        })
    }

    /// Whether `field` of source row `row` of `step` has a vector.
    pub(crate) fn step_has_vector(&self, step: &Step, row: u32, field: usize) -> bool {
        match step.source {
            Source::Mutable => self.mutable.rows[row as usize].vectors[field].is_some(),
            Source::Sealed(at) => self.sealed[at].fields[field].vector(row).is_some(),
        }
    }

    /// Moves the rows of `step` (planned at this generation) into its target: inserted into
    /// the graphs (`link`), or pushed unlinked for links grown elsewhere. A row deleted or
    /// replaced since the plan moves dead. Returns how many rows the step took.
    pub(crate) fn take_step(&mut self, step: &Step, link: bool) -> usize {
        self.generation += 1;
        let segment = self.sealed[step.target].id;
        for &r in &step.rows {
            let (row, alive) = match step.source {
                Source::Mutable => (
                    self.mutable.rows[r as usize].clone(),
                    self.mutable.alive().contains(r),
                ),
                Source::Sealed(at) => {
                    let source = &mut self.sealed[at];
                    let alive = source.alive().contains(r);
                    source.liveness.kill(r);
                    (source.row(r), alive)
                }
            };
            let (id, seq) = (row.id.clone(), row.seq);
            let (fields, hnsw) = (&self.config.fields, &self.config.hnsw);
            let target = &mut self.sealed[step.target];
            let at = if link {
                target.append(fields, hnsw, row)
            } else {
                target.push_unlinked(fields, row)
            };
            match self.locations.get_mut(&id) {
                Some(loc) if alive && loc.seq == seq => {
                    *loc = Location {
                        segment: Some(segment),
                        row: at,
                        seq,
                    }
                }
                _ => target.liveness.kill(at),
            }
        }
        match step.source {
            Source::Mutable => {
                self.drain_mutable(step.done);
                step.done
            }
            Source::Sealed(at) => {
                if self.sealed[at].live() == 0 {
                    self.sealed.remove(at);
                }
                step.rows.len()
            }
        }
    }

    /// Drops the first `n` rows of the mutable segment (sealed or moved) and renumbers the
    /// locations of the rest.
    pub(crate) fn drain_mutable(&mut self, n: usize) {
        self.mutable.drain_front(n);
        for row in self.mutable.alive().iter() {
            let r = &self.mutable.rows[row as usize];
            if let Some(loc) = self.locations.get_mut(&r.id) {
                loc.row = row;
            }
        }
    }
}
