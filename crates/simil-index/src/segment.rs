//! Segments: the mutable brute-force segment and immutable HNSW-backed ones.

use std::sync::Arc;

use serde_json::Value;

use super::config::{FieldSpec, HnswParams};
use super::distance::{self, QueryVec, VecRef};
use super::filter::Filter;
use super::hnsw::{RowSet, SealedField};

/// Allowed-row count under which a filtered segment is brute-forced. Tests use
/// 0 so that small segments still exercise the filtered graph path.
const EXACT_ROWS: usize = if cfg!(test) { 0 } else { 2048 };

/// One item version as stored in a segment (vectors aligned with the config fields).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    /// Shared with the index's id map.
    pub id: Arc<str>,
    /// Unique, increasing per upsert: tells a row from a later version of the same id.
    pub seq: u64,
    pub payload: Value,
    /// Shared, so that the copy a [`super::MaintenanceJob`] takes costs no vector memory.
    pub vectors: Vec<Option<Arc<[f32]>>>,
}

/// A validated query, resolved against the configuration.
pub(crate) struct Plan<'q> {
    /// (field index, metric, vector, weight)
    pub fields: Vec<(usize, &'q FieldSpec, QueryVec<'q>, f32)>,
    pub want: usize,
    pub filter: Option<&'q Filter>,
    pub exact: bool,
}

/// A segment's rows: how many, which of them are alive (not deleted or replaced), and how
/// many are.
#[derive(Debug, Clone)]
pub(crate) struct Liveness {
    rows: usize,
    alive: RowSet,
    live: usize,
}

impl Liveness {
    /// `rows` rows, alive where `alive` says.
    pub(crate) fn new(rows: usize, alive: RowSet) -> Self {
        let live = alive.count();
        Self { rows, alive, live }
    }

    /// Appends an alive row; returns its number.
    pub(crate) fn push(&mut self) -> u32 {
        let row = self.rows as u32;
        self.rows += 1;
        if self.rows > self.alive.capacity() {
            self.alive.grow(self.rows.next_power_of_two());
        }
        self.alive.set(row, true);
        self.live += 1;
        row
    }

    /// Marks `row` dead (nothing if it is already).
    pub(crate) fn kill(&mut self, row: u32) {
        if self.alive.contains(row) {
            self.alive.set(row, false);
            self.live -= 1;
        }
    }

    /// Drops the first `n` rows; the rest are renumbered from 0.
    pub(crate) fn drain_front(&mut self, n: usize) {
        let mut alive = RowSet::new(self.rows - n, false);
        for row in self.alive.iter().filter(|&r| r as usize >= n) {
            alive.set(row - n as u32, true);
        }
        *self = Self::new(self.rows - n, alive);
    }
}

/// Read access shared by both segment kinds.
pub(crate) trait Segment {
    /// Its rows and which are alive.
    fn liveness(&self) -> &Liveness;
    /// Number of rows, dead or alive.
    fn rows(&self) -> usize {
        self.liveness().rows
    }
    /// Rows still alive (not deleted or replaced).
    fn alive(&self) -> &RowSet {
        &self.liveness().alive
    }
    /// Number of alive rows.
    fn live(&self) -> usize {
        self.liveness().live
    }
    fn id(&self, row: u32) -> &Arc<str>;
    fn payload(&self, row: u32) -> &Value;
    fn vector(&self, field: usize, row: u32) -> Option<VecRef<'_>>;
    /// Approximate candidates for one field, if the segment has an index.
    fn ann(&self, plan: &Plan<'_>, field: usize, allowed: Option<&RowSet>) -> Option<Vec<u32>>;

    /// Weighted exact score of `row`: Σ wᵢ·simᵢ, missing fields contributing 0;
    /// `None` if the row has none of the queried fields.
    fn score(&self, plan: &Plan<'_>, row: u32) -> Option<f32> {
        plan.fields
            .iter()
            .fold(None, |acc, &(f, spec, q, w)| match self.vector(f, row) {
                Some(v) => Some(acc.unwrap_or(0.0) + w * distance::similarity(spec.metric, q, v)),
                None => acc,
            })
    }

    /// Rows worth scoring for `plan`: every allowed row on the exact path,
    /// or the union of per-field graph candidates.
    fn candidates(&self, plan: &Plan<'_>) -> Vec<u32> {
        let mut allowed = None;
        if plan.filter.is_some() || self.live() < self.rows() {
            let mut set = self.alive().clone();
            if let Some(filter) = plan.filter {
                for row in self.alive().iter() {
                    if !filter.matches(self.payload(row)) {
                        set.set(row, false);
                    }
                }
            }
            allowed = Some(set);
        }
        let passing = allowed.as_ref().map_or(self.rows(), RowSet::count);
        // Brute force over the allowed rows when the graph would return them
        // all anyway, or when a filter or tombstones leave few rows (< 5 % of
        // the segment, or about the cost of two graph searches): exact, and no
        // slower than chasing a few allowed rows through the graph.
        #[allow(clippy::unnecessary_min_or_max)] // EXACT_ROWS is 0 under test
        let restricted = allowed.is_some() && passing <= (self.rows() / 20).max(EXACT_ROWS);
        let small = passing <= plan.want || restricted;
        if !plan.exact && !small {
            let mut rows = Vec::new();
            for &(f, ..) in &plan.fields {
                match self.ann(plan, f, allowed.as_ref()) {
                    Some(found) => rows.extend(found),
                    None => return all_rows(allowed, self.rows()),
                }
            }
            rows.sort_unstable();
            rows.dedup();
            return rows;
        }
        all_rows(allowed, self.rows())
    }
}

fn all_rows(allowed: Option<RowSet>, rows: usize) -> Vec<u32> {
    match allowed {
        Some(set) => set.iter().collect(),
        None => (0..rows as u32).collect(),
    }
}

/// The write-side segment: appended to, searched by brute force.
pub(crate) struct MutableSegment {
    pub rows: Vec<Row>,
    pub liveness: Liveness,
}

impl MutableSegment {
    pub(crate) fn new() -> Self {
        Self {
            rows: Vec::new(),
            liveness: Liveness::new(0, RowSet::new(0, false)),
        }
    }

    /// Appends a row; returns its row number.
    pub(crate) fn push(&mut self, row: Row) -> u32 {
        self.rows.push(row);
        self.liveness.push()
    }

    /// Removes the first `n` rows (they were sealed).
    pub(crate) fn drain_front(&mut self, n: usize) {
        self.rows.drain(..n);
        self.liveness.drain_front(n);
    }
}

impl Segment for MutableSegment {
    fn liveness(&self) -> &Liveness {
        &self.liveness
    }
    fn id(&self, row: u32) -> &Arc<str> {
        &self.rows[row as usize].id
    }
    fn payload(&self, row: u32) -> &Value {
        &self.rows[row as usize].payload
    }
    fn vector(&self, field: usize, row: u32) -> Option<VecRef<'_>> {
        self.rows[row as usize].vectors[field]
            .as_deref()
            .map(VecRef::F32)
    }
    fn ann(&self, _: &Plan<'_>, _: usize, _: Option<&RowSet>) -> Option<Vec<u32>> {
        None
    }
}

/// An immutable segment with one HNSW graph per field.
pub(crate) struct SealedSegment {
    /// Stable identifier, assigned when the segment is installed.
    pub id: u64,
    pub ids: Vec<Arc<str>>,
    pub seqs: Vec<u64>,
    pub payloads: Vec<Value>,
    pub liveness: Liveness,
    pub fields: Vec<SealedField>,
}

impl SealedSegment {
    /// Builds graphs for `rows` (all alive).
    pub(crate) fn build(
        specs: &[FieldSpec],
        params: &HnswParams,
        seed: u64,
        rows: Vec<Row>,
    ) -> Self {
        let fields = specs
            .iter()
            .enumerate()
            .map(|(f, spec)| {
                let vectors = rows
                    .iter()
                    .enumerate()
                    .filter_map(move |(i, r)| r.vectors[f].as_deref().map(|v| (i as u32, v)));
                SealedField::build(spec, params, seed ^ f as u64, rows.len(), vectors)
            })
            .collect();
        let n = rows.len();
        let (mut ids, mut seqs, mut payloads) = (Vec::new(), Vec::new(), Vec::new());
        for r in rows {
            ids.push(r.id);
            seqs.push(r.seq);
            payloads.push(r.payload);
        }
        Self {
            id: 0,
            ids,
            seqs,
            payloads,
            liveness: Liveness::new(n, RowSet::new(n, true)),
            fields,
        }
    }

    /// Copies the alive rows out, with their vectors at full available precision.
    pub(crate) fn live_rows(&self) -> impl Iterator<Item = Row> + '_ {
        self.alive().iter().map(|row| self.row(row))
    }

    /// A copy of `row`, with its vectors at full available precision.
    pub(crate) fn row(&self, row: u32) -> Row {
        Row {
            id: self.ids[row as usize].clone(),
            seq: self.seqs[row as usize],
            payload: self.payloads[row as usize].clone(),
            vectors: (0..self.fields.len())
                .map(|f| self.vector(f, row).map(|v| v.to_vec().into()))
                .collect(),
        }
    }

    /// Appends `row` (alive), inserting its vectors into the fields' graphs; returns its
    /// row number.
    pub(crate) fn append(&mut self, specs: &[FieldSpec], params: &HnswParams, row: Row) -> u32 {
        self.add(specs, row, |field, spec, r, v| {
            field.insert(spec, params, r, v)
        })
    }

    /// Appends `row` (alive) as [`SealedSegment::append`] does but leaves its graph nodes
    /// unlinked: the links come from a copy of the graphs grown elsewhere.
    pub(crate) fn push_unlinked(&mut self, specs: &[FieldSpec], row: Row) -> u32 {
        self.add(specs, row, |field, spec, r, v| field.push(spec, r, v))
    }

    fn add(
        &mut self,
        specs: &[FieldSpec],
        row: Row,
        mut each: impl FnMut(&mut SealedField, &FieldSpec, u32, Option<&Arc<[f32]>>),
    ) -> u32 {
        let r = self.liveness.push();
        for ((field, spec), v) in self.fields.iter_mut().zip(specs).zip(&row.vectors) {
            each(field, spec, r, v.as_ref());
        }
        self.ids.push(row.id);
        self.seqs.push(row.seq);
        self.payloads.push(row.payload);
        r
    }
}

impl Segment for SealedSegment {
    fn liveness(&self) -> &Liveness {
        &self.liveness
    }
    fn id(&self, row: u32) -> &Arc<str> {
        &self.ids[row as usize]
    }
    fn payload(&self, row: u32) -> &Value {
        &self.payloads[row as usize]
    }
    fn vector(&self, field: usize, row: u32) -> Option<VecRef<'_>> {
        self.fields[field].vector(row)
    }
    fn ann(&self, plan: &Plan<'_>, field: usize, allowed: Option<&RowSet>) -> Option<Vec<u32>> {
        let &(_, spec, q, _) = plan.fields.iter().find(|p| p.0 == field)?;
        Some(self.fields[field].search(spec.metric, q.v, allowed, plan.want))
    }
}
