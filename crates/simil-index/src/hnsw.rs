//! Sealed per-field HNSW graphs: [`Graph`] builds (by insertion), grows and searches them.
//!
//! * **Vectors live in the graph points** ([`GraphPoint`]), so a sealed segment
//!   keeps each vector once; rows map to graph ids through `pid_of_row`.
//! * **Distances:** the query is itself a `GraphPoint`; its `distance` runs the
//!   int8 integer pass for int8 fields.
//! * **Filters and tombstones** are checked inside the graph search, which walks
//!   through rows that are filtered out or deleted without returning them.

use std::sync::Arc;

use half::f16;
use instant_distance::Point;

use super::IndexError;
use super::codec::{Reader, Writer};
use super::config::{FieldSpec, HnswParams, MAX_DIM, MAX_EF, Metric, Storage};
use super::distance::{self, VecRef};
use super::format::MAX_ROWS;
use super::graph::{self, Graph, LinksDelta};
use super::quant::{self, Int8Query, QuantParams};

/// Marks a row without a vector in `pid_of_row`.
const NO_POINT: u32 = u32::MAX;

/// A set of segment rows, as a bitmap.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowSet(Vec<u64>);

impl RowSet {
    /// A set holding rows `0..n`, or none of them.
    pub(crate) fn new(n: usize, full: bool) -> Self {
        let mut words = vec![if full { u64::MAX } else { 0 }; n.div_ceil(64)];
        if full
            && !n.is_multiple_of(64)
            && let Some(last) = words.last_mut()
        {
            *last = (1u64 << (n % 64)) - 1;
        }
        Self(words)
    }
    /// Number of rows the bitmap can hold without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.0.len() * 64
    }
    /// Makes room for rows `0..n` (new rows are absent).
    pub(crate) fn grow(&mut self, n: usize) {
        self.0.resize(n.div_ceil(64).max(self.0.len()), 0);
    }
    pub(crate) fn contains(&self, row: u32) -> bool {
        let row = row as usize;
        self.0
            .get(row / 64)
            .is_some_and(|w| w & (1 << (row % 64)) != 0)
    }
    pub(crate) fn set(&mut self, row: u32, on: bool) {
        let row = row as usize;
        if let Some(w) = self.0.get_mut(row / 64) {
            if on {
                *w |= 1 << (row % 64);
            } else {
                *w &= !(1 << (row % 64));
            }
        }
    }
    pub(crate) fn count(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.0.iter().enumerate().flat_map(|(i, &w)| {
            (0..64)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| (i * 64 + b) as u32)
        })
    }
}

/// The int8 codes of one point: a slice of a buffer shared by the points of a segment
/// (points loaded from a file own theirs).
#[derive(Debug, Clone)]
pub(crate) struct Codes {
    buf: Arc<[i8]>,
    /// Position of the point in `buf`, in points.
    index: u32,
    /// Number of codes (the dimension).
    len: u32,
}

impl Codes {
    /// Codes owned by one point.
    fn own(codes: Arc<[i8]>) -> Self {
        Self {
            len: codes.len() as u32,
            index: 0,
            buf: codes,
        }
    }
}

impl std::ops::Deref for Codes {
    type Target = [i8];
    fn deref(&self) -> &[i8] {
        let start = self.index as usize * self.len as usize;
        self.buf
            .get(start..start + self.len as usize)
            .unwrap_or_default()
    }
}

/// What a point stored as int8 codes needs for distances between codes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CodeTerms {
    /// `|x̂|²` of the decoded (prepared) vector.
    pub sq: f32,
    /// The per-point term of [`QuantParams::point_term`] (construction only, not stored).
    pub term: f32,
    /// The segment's shared step (construction only, not stored).
    pub step: f32,
}

/// A point of an instant-distance graph: a stored vector or a query.
///
/// Vectors sit behind `Arc`s, shared with the rows they come from.
#[derive(Debug, Clone)]
pub(crate) enum GraphPoint {
    /// Stored full-precision vector of segment row `row`.
    F32 {
        row: u32,
        metric: Metric,
        v: Arc<[f32]>,
        /// `|v|²`, so that a graph distance costs one dot product (not stored on disk).
        sq: f32,
    },
    /// Stored int8 codes plus f16 vector of segment row `row`.
    Int8 {
        row: u32,
        metric: Metric,
        codes: Codes,
        full: Arc<[f16]>,
        x: CodeTerms,
        /// `|full|²` (not stored on disk).
        full_sq: f32,
    },
    /// Stored int8 codes only (`int8_only`) of segment row `row`.
    Int8Only {
        row: u32,
        metric: Metric,
        codes: Codes,
        x: CodeTerms,
        /// Length of the original vector for cosine (codes hold the unit vector), else 1.
        norm: f32,
    },
    /// A query; never stored in a graph.
    Query(Box<GraphQuery>),
}

/// Query state carried into the graph search through the `Point` trait.
#[derive(Debug, Clone)]
pub(crate) struct GraphQuery {
    metric: Metric,
    raw: Vec<f32>,
    /// `|raw|²`.
    sq: f32,
    int8: Option<Int8Query>,
}

/// Graph distance between two code vectors of one segment, from an integer dot
/// product: `x̂·ŷ = a(x) + a(y) + s²·(c·d)` (see [`quant`]).
fn code_distance(metric: Metric, (a, x): (&[i8], CodeTerms), (b, y): (&[i8], CodeTerms)) -> f32 {
    let dot = x.term + y.term + x.step * y.step * distance::dot_i8(a, b) as f32;
    match metric {
        Metric::Cosine => {
            let denom = (x.sq * y.sq).sqrt();
            1.0 - if denom > 0.0 { dot / denom } else { 0.0 }
        }
        Metric::Dot => -dot,
        Metric::L2 => (x.sq + y.sq - 2.0 * dot).max(0.0),
    }
}

impl GraphPoint {
    /// A stored int8 point, with `|full|²` computed from its f16 vector.
    fn int8(row: u32, metric: Metric, codes: Codes, full: Arc<[f16]>, x: CodeTerms) -> Self {
        GraphPoint::Int8 {
            row,
            metric,
            codes,
            full_sq: distance::sq_norm(VecRef::F16(&full)),
            full,
            x,
        }
    }
    /// The stored point of an int8 storage for `row`'s vector `v`, its codes and their terms.
    fn coded(spec: &FieldSpec, row: u32, v: &[f32], codes: Codes, x: CodeTerms) -> Self {
        let metric = spec.metric;
        if spec.storage != Storage::Int8Only {
            let full: Arc<[f16]> = v.iter().map(|&x| f16::from_f32(x)).collect();
            return GraphPoint::int8(row, metric, codes, full, x);
        }
        let norm = match metric {
            Metric::Cosine => distance::sq_norm(VecRef::F32(v)).sqrt(),
            Metric::Dot | Metric::L2 => 1.0,
        };
        GraphPoint::Int8Only {
            row,
            metric,
            codes,
            x,
            norm,
        }
    }
    fn row(&self) -> u32 {
        match self {
            GraphPoint::F32 { row, .. }
            | GraphPoint::Int8 { row, .. }
            | GraphPoint::Int8Only { row, .. } => *row,
            GraphPoint::Query(_) => NO_POINT,
        }
    }
    /// The full-precision vector and its `|·|²`, where one is kept.
    fn full(&self) -> Option<(VecRef<'_>, f32)> {
        match self {
            GraphPoint::F32 { v, sq, .. } => Some((VecRef::F32(v), *sq)),
            GraphPoint::Int8 { full, full_sq, .. } => Some((VecRef::F16(full), *full_sq)),
            GraphPoint::Int8Only { .. } => None,
            GraphPoint::Query(q) => Some((VecRef::F32(&q.raw), q.sq)),
        }
    }
    /// The codes and their terms, for int8 points.
    pub(crate) fn codes(&self) -> Option<(&[i8], CodeTerms)> {
        match self {
            GraphPoint::Int8 { codes, x, .. } | GraphPoint::Int8Only { codes, x, .. } => {
                Some((codes, *x))
            }
            _ => None,
        }
    }
    fn metric(&self) -> Metric {
        match self {
            GraphPoint::F32 { metric, .. }
            | GraphPoint::Int8 { metric, .. }
            | GraphPoint::Int8Only { metric, .. } => *metric,
            GraphPoint::Query(q) => q.metric,
        }
    }
}

/// Graph distance between two vectors, or `f32::MAX` if one has no full vector.
fn full_distance(
    metric: Metric,
    a: Option<(VecRef<'_>, f32)>,
    b: Option<(VecRef<'_>, f32)>,
) -> f32 {
    match (a, b) {
        (Some((a, a_sq)), Some((b, b_sq))) => distance::graph_distance(metric, a, a_sq, b, b_sq),
        _ => f32::MAX,
    }
}

impl Point for GraphPoint {
    fn distance(&self, other: &Self) -> f32 {
        let (query, stored) = match (self, other) {
            (GraphPoint::Query(q), s) | (s, GraphPoint::Query(q)) => (q, s),
            // Construction: int8 points compare their codes, the others their vectors.
            (a, b) => {
                return match (a.codes(), b.codes()) {
                    (Some(x), Some(y)) => code_distance(a.metric(), x, y),
                    _ => full_distance(a.metric(), a.full(), b.full()),
                };
            }
        };
        match (&query.int8, stored.codes()) {
            (Some(iq), Some((codes, x))) => iq.distance(codes, x.sq),
            _ => {
                let raw = Some((VecRef::F32(&query.raw), query.sq));
                full_distance(query.metric, raw, stored.full())
            }
        }
    }
}

impl graph::Stored for GraphPoint {
    fn touch(&self) -> f32 {
        match self {
            GraphPoint::F32 { v, .. } => v.first().copied().unwrap_or_default(),
            GraphPoint::Int8 { codes, .. } | GraphPoint::Int8Only { codes, .. } => {
                codes.first().map_or(0.0, |&c| f32::from(c))
            }
            GraphPoint::Query(_) => 0.0,
        }
    }
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::Cosine => 0,
        Metric::Dot => 1,
        Metric::L2 => 2,
    }
}

impl GraphPoint {
    /// Appends the stored point (row, metric, vector or codes) to `w`; queries are never
    /// stored and write nothing.
    fn write(&self, w: &mut Writer) {
        let (tag, dim) = match self {
            GraphPoint::F32 { v, .. } => (0, v.len()),
            GraphPoint::Int8 { codes, .. } => (1, codes.len()),
            GraphPoint::Int8Only { codes, .. } => (2, codes.len()),
            GraphPoint::Query(_) => return,
        };
        w.u8(tag);
        w.u32(self.row());
        w.u8(metric_code(self.metric()));
        w.u32(dim as u32);
        match self {
            GraphPoint::F32 { v, .. } => w.f32s(v),
            GraphPoint::Int8 { codes, full, x, .. } => {
                w.f32(x.sq);
                w.buf.extend(codes.iter().map(|&c| c as u8));
                full.iter()
                    .for_each(|h| w.buf.extend_from_slice(&h.to_bits().to_le_bytes()));
            }
            GraphPoint::Int8Only { codes, x, norm, .. } => {
                w.f32(x.sq);
                w.f32(*norm);
                w.buf.extend(codes.iter().map(|&c| c as u8));
            }
            GraphPoint::Query(_) => {}
        }
    }
}

fn parse_point(bytes: &[u8]) -> Result<GraphPoint, IndexError> {
    let mut r = Reader::new(bytes, "graph point");
    let tag = r.u8()?;
    let row = r.u32()?;
    let metric = match r.u8()? {
        0 => Metric::Cosine,
        1 => Metric::Dot,
        2 => Metric::L2,
        _ => return Err(IndexError::Corrupt("unknown metric in graph point".into())),
    };
    let dim = r.u32()? as usize;
    if dim == 0 || dim > MAX_DIM {
        return Err(IndexError::SizeLimit("graph point"));
    }
    // Construction-only terms are not stored: `SealedField::read` computes them.
    let terms = |sq: f32| CodeTerms {
        sq,
        term: 0.0,
        step: 0.0,
    };
    let non_finite = || IndexError::Corrupt("non-finite number in graph point".into());
    let point = match tag {
        0 => {
            let v: Arc<[f32]> = r.f32s(dim)?.into();
            GraphPoint::F32 {
                row,
                metric,
                sq: distance::sq_norm(VecRef::F32(&v)),
                v,
            }
        }
        1 => {
            let x_sq = r.f32()?;
            let codes = Codes::own(r.take(dim)?.iter().map(|&b| b as i8).collect());
            let full = r
                .take(dim * 2)?
                .chunks_exact(2)
                .map(|c| f16::from_bits(u16::from_le_bytes([c[0], c[1]])))
                .collect::<Arc<[f16]>>();
            if !x_sq.is_finite() || full.iter().any(|h| !h.is_finite()) {
                return Err(non_finite());
            }
            GraphPoint::int8(row, metric, codes, full, terms(x_sq))
        }
        2 => {
            let x_sq = r.f32()?;
            let norm = r.f32()?;
            if !x_sq.is_finite() || !norm.is_finite() {
                return Err(non_finite());
            }
            GraphPoint::Int8Only {
                row,
                metric,
                codes: Codes::own(r.take(dim)?.iter().map(|&b| b as i8).collect()),
                x: terms(x_sq),
                norm,
            }
        }
        _ => return Err(IndexError::Corrupt("unknown graph point kind".into())),
    };
    r.finish()?;
    Ok(point)
}

/// One field of a sealed segment: its graph, row mapping and quantizer.
pub(crate) struct SealedField {
    graph: Graph<GraphPoint>,
    /// Graph id of each segment row, or `NO_POINT` if the row lacks this field.
    pid_of_row: Vec<u32>,
    quant: Option<QuantParams>,
    /// Beam width of a search (at least the number of rows wanted).
    ef: usize,
}

impl SealedField {
    /// Builds the graph over `(row, vector)` pairs of a segment with `n_rows` rows, inserting
    /// them one by one in row order ([`Graph::insert`], levels drawn from `seed` and the row).
    pub(crate) fn build<'a>(
        spec: &FieldSpec,
        params: &HnswParams,
        seed: u64,
        n_rows: usize,
        vectors: impl Iterator<Item = (u32, &'a [f32])> + Clone,
    ) -> Self {
        let (quant, points) = Self::build_points(spec, vectors);
        let mut graph = Graph::empty(graph::link_counts(params.m));
        let mut pid_of_row = vec![NO_POINT; n_rows];
        for point in points {
            let row = point.row();
            let level = graph::random_level(seed ^ (u64::from(row) << 32), params.m);
            let pid = graph.insert(point, level, params.ef_construction, params.heuristic);
            pid_of_row[row as usize] = pid;
        }
        Self {
            graph,
            pid_of_row,
            quant,
            ef: params.ef_search,
        }
    }

    /// Adds segment row `row` (the segment's last so far), with its vector if it has one in
    /// this field: int8 storages encode it with the segment's quantizer (values outside
    /// the range it learned are clamped), and the graph grows by one node (hnswlib's
    /// insertion, [`Graph::insert`]) on a level drawn as HNSW draws it.
    pub(crate) fn insert(
        &mut self,
        spec: &FieldSpec,
        params: &HnswParams,
        row: u32,
        vector: Option<&Arc<[f32]>>,
    ) {
        debug_assert_eq!(row as usize, self.pid_of_row.len());
        let Some(v) = vector else {
            self.pid_of_row.push(NO_POINT);
            return;
        };
        let point = self.point(spec, row, v);
        let level = graph::random_level(u64::from(row) << 32, params.m);
        let pid = self
            .graph
            .insert(point, level, params.ef_construction, params.heuristic);
        self.pid_of_row.push(pid);
    }

    /// Adds segment row `row` as [`SealedField::insert`] does but without linking it: its
    /// links come from a [`LinksDelta`] computed where a copy of the graph grew by the same
    /// rows ([`SealedField::apply_delta`]).
    pub(crate) fn push(&mut self, spec: &FieldSpec, row: u32, vector: Option<&Arc<[f32]>>) {
        debug_assert_eq!(row as usize, self.pid_of_row.len());
        let pid = match vector {
            Some(v) => self.graph.push(self.point(spec, row, v)),
            None => NO_POINT,
        };
        self.pid_of_row.push(pid);
    }

    /// The graph point of row `row`'s vector `v` (int8 storages: encoded by the quantizer).
    fn point(&self, spec: &FieldSpec, row: u32, v: &Arc<[f32]>) -> GraphPoint {
        let metric = spec.metric;
        match &self.quant {
            None => GraphPoint::F32 {
                row,
                metric,
                sq: distance::sq_norm(VecRef::F32(v)),
                v: Arc::clone(v),
            },
            Some(q) => {
                let (codes, sq) = q.encode(&quant::prepare(metric, v));
                let x = CodeTerms {
                    sq,
                    term: q.point_term(&codes),
                    step: q.step(),
                };
                GraphPoint::coded(spec, row, v, Codes::own(codes.into()), x)
            }
        }
    }

    /// Number of segment rows the field maps.
    pub(crate) fn rows(&self) -> usize {
        self.pid_of_row.len()
    }

    /// Number of graph nodes.
    pub(crate) fn nodes(&self) -> usize {
        self.graph.points().len()
    }

    /// The layer-0 links, to compare with after a batch of insertions ([`LinksDelta::between`]).
    pub(crate) fn zero_links(&self) -> Vec<u32> {
        self.graph.links().zero.clone()
    }

    /// What insertions changed since the layer-0 links were `before`.
    pub(crate) fn delta(&self, before: &[u32]) -> LinksDelta {
        LinksDelta::between(before, self.graph.links())
    }

    /// Reads a delta for this field once its points are pushed ([`SealedField::push`]).
    pub(crate) fn read_delta(
        &self,
        r: &mut Reader<'_>,
        params: &HnswParams,
        nodes: usize,
    ) -> Result<LinksDelta, IndexError> {
        LinksDelta::read(r, nodes, graph::link_counts(params.m))
    }

    /// Links the pushed points as `delta` says.
    pub(crate) fn apply_delta(&mut self, delta: LinksDelta) {
        delta.apply(self.graph.links_mut());
    }

    /// Changes the search's beam width; the graph is unchanged.
    pub(crate) fn set_ef(&mut self, ef: usize) {
        self.ef = ef;
    }

    /// The `ef_search` the graph searches with.
    #[cfg(test)]
    pub(crate) fn ef(&self) -> usize {
        self.ef
    }

    /// The quantizer (int8 storages) and graph points of `(row, vector)` pairs.
    pub(crate) fn build_points<'a>(
        spec: &FieldSpec,
        vectors: impl Iterator<Item = (u32, &'a [f32])> + Clone,
    ) -> (Option<QuantParams>, Vec<GraphPoint>) {
        let metric = spec.metric;
        let quant = spec.storage.is_int8().then(|| {
            let prepared = vectors.clone().map(|(_, v)| quant::prepare(metric, v));
            QuantParams::learn(spec.dim, prepared)
        });
        let Some(q) = &quant else {
            let points = vectors
                .map(|(row, v)| GraphPoint::F32 {
                    row,
                    metric,
                    v: v.into(),
                    sq: distance::sq_norm(VecRef::F32(v)),
                })
                .collect();
            return (None, points);
        };
        // All codes of the segment in one buffer: no per-point allocation, and no small
        // long-lived blocks left scattered between the freed f32 rows.
        let step = q.step();
        let mut store = Vec::new();
        let mut terms = Vec::new();
        for (_, v) in vectors.clone() {
            let (codes, sq) = q.encode(&quant::prepare(metric, v));
            terms.push(CodeTerms {
                sq,
                term: q.point_term(&codes),
                step,
            });
            store.extend_from_slice(&codes);
        }
        let buf: Arc<[i8]> = store.into();
        let points: Vec<GraphPoint> = vectors
            .zip(terms)
            .enumerate()
            .map(|(i, ((row, v), x))| {
                let codes = Codes {
                    buf: Arc::clone(&buf),
                    index: i as u32,
                    len: spec.dim as u32,
                };
                GraphPoint::coded(spec, row, v, codes, x)
            })
            .collect();
        (quant, points)
    }

    /// The stored vector of `row`, if it has one.
    pub(crate) fn vector(&self, row: u32) -> Option<VecRef<'_>> {
        let pid = *self.pid_of_row.get(row as usize)?;
        if pid == NO_POINT {
            return None;
        }
        match self.graph.point(pid) {
            GraphPoint::Int8Only { codes, norm, .. } => Some(VecRef::I8 {
                codes,
                quant: self.quant.as_ref()?,
                norm: *norm,
            }),
            point => point.full().map(|(v, _)| v),
        }
    }

    /// Bytes used by one stored vector (excluding graph links).
    pub(crate) fn bytes_per_vector(spec: &FieldSpec) -> usize {
        match spec.storage {
            Storage::F32 => 4 * spec.dim,
            Storage::Int8 => 3 * spec.dim + 4,
            Storage::Int8Only => spec.dim + 8,
        }
    }

    /// Up to `want` rows nearest to `q` by graph distance, restricted to
    /// `allowed` rows when given, nearest first.
    pub(crate) fn search(
        &self,
        metric: Metric,
        q: &[f32],
        allowed: Option<&RowSet>,
        want: usize,
    ) -> Vec<u32> {
        let query = GraphPoint::Query(Box::new(GraphQuery {
            metric,
            raw: q.to_vec(),
            sq: distance::sq_norm(VecRef::F32(q)),
            int8: self.quant.as_ref().map(|p| Int8Query::new(metric, q, p)),
        }));
        let allows = |pid: u32| allowed.is_none_or(|set| set.contains(self.graph.point(pid).row()));
        let mut found: Vec<(f32, u32)> = self
            .graph
            .search(&query, self.ef.max(want), allows)
            .into_iter()
            .map(|(d, pid)| (d, self.graph.point(pid).row()))
            .collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found.truncate(want);
        found.into_iter().map(|(_, row)| row).collect()
    }
}

impl SealedField {
    /// Appends the field (row mapping, quantizer, graph) to `w`.
    pub(crate) fn write(&self, w: &mut Writer) {
        let order = self.graph.disk_order();
        let disk = |p: u32| match &order {
            Some(order) if p != NO_POINT => order[p as usize],
            _ => p,
        };
        self.pid_of_row.iter().for_each(|&p| w.u32(disk(p)));
        self.write_quant(w);
        let mut graph = Writer::default();
        self.graph
            .write(&mut graph, self.ef, order.as_deref(), GraphPoint::write);
        w.bytes(&graph.buf);
    }

    /// Reads a field written by [`SealedField::write`] for a segment of `n_rows`
    /// rows, checking the graph structure before handing it to instant-distance.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        spec: &FieldSpec,
        params: &HnswParams,
        n_rows: usize,
    ) -> Result<Self, IndexError> {
        let mut pid_of_row = Vec::with_capacity(n_rows.min(r.remaining() / 4));
        for _ in 0..n_rows {
            pid_of_row.push(r.u32()?);
        }
        let quant = read_quant(r, spec)?;
        let bytes = r.bytes(usize::MAX)?;
        let (graph, ef) = Graph::read(bytes, graph::link_counts(params.m), |b| {
            parse_stored(b, &quant)
        })?;
        check_points(spec, &pid_of_row, graph.points())?;
        Ok(Self {
            graph,
            pid_of_row,
            quant,
            ef,
        })
    }

    fn write_quant(&self, w: &mut Writer) {
        match &self.quant {
            None => w.u8(0),
            Some(q) => {
                w.u8(1);
                w.f32s(&q.offset);
                w.f32s(&q.scale);
            }
        }
    }

    /// Appends the field as it is in memory (graph ids unchanged, unlike
    /// [`SealedField::write`]), for a copy that grows in another worker
    /// ([`SealedField::read_as_is`]).
    pub(crate) fn write_as_is(&self, w: &mut Writer) {
        w.u64(self.pid_of_row.len() as u64);
        self.pid_of_row.iter().for_each(|&p| w.u32(p));
        self.write_quant(w);
        w.u64(self.ef as u64);
        w.u64(self.graph.points().len() as u64);
        let mut buf = Writer::default();
        for point in self.graph.points() {
            buf.buf.clear();
            point.write(&mut buf);
            w.bytes(&buf.buf);
        }
        graph::write_links(w, self.graph.links());
    }

    /// Reads a field written by [`SealedField::write_as_is`], checked as [`SealedField::read`]
    /// checks a file.
    pub(crate) fn read_as_is(
        r: &mut Reader<'_>,
        spec: &FieldSpec,
        params: &HnswParams,
    ) -> Result<Self, IndexError> {
        let n_rows = r.count(4, MAX_ROWS)?;
        let mut pid_of_row = Vec::with_capacity(n_rows);
        for _ in 0..n_rows {
            pid_of_row.push(r.u32()?);
        }
        let quant = read_quant(r, spec)?;
        let ef = r.u64()?;
        if ef == 0 || ef > MAX_EF as u64 {
            return Err(IndexError::SizeLimit("graph ef_search"));
        }
        let n = r.count(8, n_rows)?;
        let mut points = Vec::with_capacity(n);
        for _ in 0..n {
            points.push(parse_stored(r.bytes(usize::MAX)?, &quant)?);
        }
        check_points(spec, &pid_of_row, &points)?;
        let links = graph::read_links_as_is(r, n, graph::link_counts(params.m))?;
        Ok(Self {
            graph: Graph::from_parts(points, links),
            pid_of_row,
            quant,
            ef: ef as usize,
        })
    }
}

/// Reads a field's quantizer flag and parameters, which must match its storage.
fn read_quant(r: &mut Reader<'_>, spec: &FieldSpec) -> Result<Option<QuantParams>, IndexError> {
    let corrupt = |m: &str| IndexError::Corrupt(format!("field `{}`: {m}", spec.name));
    let quant = match r.u8()? {
        0 => None,
        1 => Some(QuantParams {
            offset: r.f32s(spec.dim)?,
            scale: r.f32s(spec.dim)?,
        }),
        _ => return Err(corrupt("bad quantizer flag")),
    };
    if quant.is_some() != spec.storage.is_int8() {
        return Err(corrupt("storage does not match the configuration"));
    }
    Ok(quant)
}

/// Parses a stored point; int8 points get back the construction terms of their codes, so
/// that the graph can grow ([`SealedField::insert`]).
fn parse_stored(bytes: &[u8], quant: &Option<QuantParams>) -> Result<GraphPoint, IndexError> {
    let mut point = parse_point(bytes)?;
    if let (GraphPoint::Int8 { codes, x, .. } | GraphPoint::Int8Only { codes, x, .. }, Some(q)) =
        (&mut point, quant)
        && codes.len() == q.offset.len()
    {
        x.term = q.point_term(codes);
        x.step = q.step();
    }
    Ok(point)
}

/// Checks that every point is of the field's storage, metric and dimension, and that the
/// row mapping and the points agree both ways.
fn check_points(
    spec: &FieldSpec,
    pid_of_row: &[u32],
    points: &[GraphPoint],
) -> Result<(), IndexError> {
    let corrupt = |m: &str| IndexError::Corrupt(format!("field `{}`: {m}", spec.name));
    for (pid, point) in points.iter().enumerate() {
        let ok = match point {
            GraphPoint::F32 { metric, v, .. } => {
                spec.storage == Storage::F32 && *metric == spec.metric && v.len() == spec.dim
            }
            GraphPoint::Int8 { metric, codes, .. } => {
                spec.storage == Storage::Int8 && *metric == spec.metric && codes.len() == spec.dim
            }
            GraphPoint::Int8Only { metric, codes, .. } => {
                spec.storage == Storage::Int8Only
                    && *metric == spec.metric
                    && codes.len() == spec.dim
            }
            GraphPoint::Query(_) => false,
        };
        if !ok || pid_of_row.get(point.row() as usize) != Some(&(pid as u32)) {
            return Err(corrupt("graph point does not match its row"));
        }
    }
    let mapped = pid_of_row.iter().filter(|&&p| p != NO_POINT).count();
    if mapped != points.len() {
        return Err(corrupt("row mapping does not match the graph"));
    }
    Ok(())
}
