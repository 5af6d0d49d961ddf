//! The HNSW graph of a sealed field, in our own layout, searched and grown by our own code.
//!
//! instant-distance builds a graph in one go (its layer assignment and neighbour heuristic)
//! but keeps it private, searches with the full node width, has no filter hook and cannot
//! add to a built graph. Its serde form is public, though: after a build the links are read
//! out of it ([`Graph::from_hnsw`]) and the instant-distance value is dropped. The graph is
//! built with degree `m` (`2m` on layer 0; instant-distance's `Builder::m`, which simil's
//! patch of it adds: patches/instant-distance), so `m` means what it means in the HNSW paper
//! and in hnswlib. Nodes built wider (files of earlier versions, built at 32 / 64) keep their
//! first `m` / `2m` links on load, which instant-distance orders heuristic picks first.
//!
//! [`Graph::search`] runs `simil_kernels::Links::search`, the paper's layer-0 beam
//! search with a filter in the loop (as hnswlib and Lucene do): rows outside the allowed
//! set are traversed but never returned, so one pass finds `ef` allowed rows.
//! [`Graph::insert`] adds a node as hnswlib does (`Links::insert`); instant-distance stays the
//! reference its tests compare the recall of grown graphs against.
//!
//! On disk the graph keeps instant-distance's serde layout (`ef_search`, points,
//! 64-wide layer-0 nodes, 32-wide upper nodes, links padded with `u32::MAX`), so files
//! of earlier versions load unchanged. That layout numbers nodes by layer, highest first;
//! a grown graph is renumbered so as it is written ([`Graph::disk_order`]).

#[cfg(test)]
use instant_distance::Hnsw;
use instant_distance::Point;
#[cfg(test)]
use serde::{Serialize, Serializer};
use simil_kernels::{Layer, Links, NO_LINK};

use super::IndexError;
use super::codec::{Reader, Writer};
use super::config::MAX_EF;

/// Links per layer-0 node in instant-distance's layout.
const ZERO_LINKS: usize = 64;
/// Links per upper-layer node in instant-distance's layout.
const UPPER_LINKS: usize = 32;

#[cfg(test)]
/// The degree `M` instant-distance builds a graph with for HNSW parameter `m` (2..=32;
/// layer-0 nodes get `2M`).
pub(crate) fn build_degree(m: usize) -> usize {
    m.clamp(2, UPPER_LINKS)
}

/// A node's links per layer: `(layer 0, upper layers)` for HNSW parameter `m`, capped
/// at what instant-distance builds.
pub(crate) fn link_counts(m: usize) -> (usize, usize) {
    ((2 * m).clamp(2, ZERO_LINKS), m.clamp(1, UPPER_LINKS))
}

/// The level HNSW draws for a new node, `floor(-ln(u) · mL)` with `mL = 1 / ln(m)`, `u`
/// uniform in (0, 1] from a hash of `key` (splitmix64, so builds are reproducible); at
/// most 15.
pub(crate) fn random_level(key: u64, m: usize) -> usize {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let u = ((z >> 11) as f64 + 1.0) / (1u64 << 53) as f64;
    let ml = 1.0 / (m.max(2) as f64).ln();
    ((-u.ln() * ml) as usize).min(15)
}

/// A graph's point, as searches reach it.
pub(crate) trait Stored: Point {
    /// Reads the start of the point's data (a cache warm-up; the value is unused).
    fn touch(&self) -> f32 {
        0.0
    }
}

/// Reads the start of each of `ids`' points, one after another without waiting for any: the
/// cache misses overlap, and the distances computed next find the points loaded (the graph
/// is far larger than the cache, and a wasm search has no prefetch instruction).
fn touch<P: Stored>(points: &[P], ids: &[u32]) {
    let sum: f32 = ids.iter().map(|&id| points[id as usize].touch()).sum();
    std::hint::black_box(sum);
}

/// An HNSW graph over points of type `P`, nodes numbered by graph id.
pub(crate) struct Graph<P> {
    points: Vec<P>,
    links: Links,
}

#[cfg(test)]
/// Wraps the points handed to instant-distance so that serializing its graph writes
/// the links only (each point as an empty byte string).
#[derive(Clone)]
pub(crate) struct Built<P>(pub P);

#[cfg(test)]
impl<P: Point> Point for Built<P> {
    fn distance(&self, other: &Self) -> f32 {
        self.0.distance(&other.0)
    }
}

#[cfg(test)]
impl<P> Serialize for Built<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&[])
    }
}

/// The parts of an instant-distance graph in its serde layout.
struct Layout<'a> {
    ef: usize,
    points: Vec<&'a [u8]>,
    zero: Vec<u32>,
    upper: Vec<Vec<u32>>,
}

impl Layout<'_> {
    fn links(self, zero_links: usize, upper_links: usize) -> Links {
        let upper = self.upper.into_iter().map(|links| Layer {
            nodes: (0..(links.len() / upper_links) as u32).collect(),
            links,
        });
        Links {
            zero: self.zero,
            zero_links,
            upper: upper.collect(),
            upper_links,
            entry: 0,
        }
    }
}

/// Reads `nodes` nodes of `width` links each, keeping the first `keep` of every node and
/// checking each id against `bound`, so that a search can never index out of range.
fn read_links(
    r: &mut Reader<'_>,
    nodes: usize,
    width: usize,
    keep: usize,
    bound: usize,
) -> Result<Vec<u32>, IndexError> {
    let mut links = Vec::with_capacity(nodes * keep);
    for _ in 0..nodes {
        for slot in 0..width {
            let id = r.u32()?;
            if id != NO_LINK && id as usize >= bound {
                return Err(IndexError::Corrupt(
                    "graph: neighbour id out of range".into(),
                ));
            }
            if slot < keep {
                links.push(id);
            }
        }
    }
    Ok(links)
}

/// Walks instant-distance's serde layout (`ef_search`, points, layer 0, upper layers).
fn read_layout(
    bytes: &[u8],
    zero_links: usize,
    upper_links: usize,
) -> Result<Layout<'_>, IndexError> {
    let bad = |m: &str| IndexError::Corrupt(format!("graph: {m}"));
    let mut r = Reader::new(bytes, "graph");
    let ef = r.u64()?;
    if ef == 0 || ef > MAX_EF as u64 {
        return Err(IndexError::SizeLimit("graph ef_search"));
    }
    let n = r.count(8, NO_LINK as usize - 1)?;
    let mut points = Vec::with_capacity(n);
    for _ in 0..n {
        points.push(r.bytes(usize::MAX)?);
    }
    if r.count(4 * ZERO_LINKS, n)? != n {
        return Err(bad("layer 0 size differs from the point count"));
    }
    let zero = read_links(&mut r, n, ZERO_LINKS, zero_links, n)?;
    let layers = r.count(8, 64)?;
    let mut upper = Vec::with_capacity(layers);
    let mut bound = n;
    for _ in 0..layers {
        let len = r.count(4 * UPPER_LINKS, bound)?;
        if len == 0 {
            return Err(bad("empty upper layer"));
        }
        upper.push(read_links(&mut r, len, UPPER_LINKS, upper_links, len)?);
        bound = len;
    }
    r.finish()?;
    Ok(Layout {
        ef: ef as usize,
        points,
        zero,
        upper,
    })
}

impl<P: Stored> Graph<P> {
    #[cfg(test)]
    /// Takes the links out of a freshly built instant-distance graph (its points are
    /// `points`, in graph-id order), keeping `zero_links` / `upper_links` per node.
    pub(crate) fn from_hnsw(
        hnsw: &Hnsw<Built<P>>,
        points: Vec<P>,
        (zero_links, upper_links): (usize, usize),
    ) -> Result<Self, IndexError> {
        let bytes =
            super::codec::serde::encode(hnsw).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        let layout = read_layout(&bytes, zero_links, upper_links)?;
        if layout.points.len() != points.len() {
            return Err(IndexError::Corrupt("graph: point count".into()));
        }
        Ok(Self {
            points,
            links: layout.links(zero_links, upper_links),
        })
    }

    /// Reads a graph written by [`Graph::write`] (or by instant-distance's serde form),
    /// parsing each point with `parse`. Returns the graph and its stored `ef_search`.
    pub(crate) fn read(
        bytes: &[u8],
        (zero_links, upper_links): (usize, usize),
        mut parse: impl FnMut(&[u8]) -> Result<P, IndexError>,
    ) -> Result<(Self, usize), IndexError> {
        let layout = read_layout(bytes, zero_links, upper_links)?;
        let points = layout
            .points
            .iter()
            .map(|b| parse(b))
            .collect::<Result<Vec<_>, _>>()?;
        let ef = layout.ef;
        let graph = Self {
            points,
            links: layout.links(zero_links, upper_links),
        };
        Ok((graph, ef))
    }

    /// The order instant-distance's layout needs (nodes by layer, highest first, the entry
    /// point first of all): for each graph id, its id on disk. `None` when the ids already
    /// are in that order, as in a graph built in one go; nodes inserted since need renumbering.
    pub(crate) fn disk_order(&self) -> Option<Vec<u32>> {
        let l = &self.links;
        let identity = |layer: &Layer| {
            layer
                .nodes
                .last()
                .is_none_or(|&n| n as usize + 1 == layer.nodes.len())
        };
        if l.entry == 0 && l.upper.iter().all(identity) {
            return None;
        }
        let mut level = vec![0u8; self.points.len()];
        for layer in &l.upper {
            layer.nodes.iter().for_each(|&n| level[n as usize] += 1);
        }
        let mut ids: Vec<u32> = (0..self.points.len() as u32).collect();
        ids.sort_by_key(|&id| (std::cmp::Reverse(level[id as usize]), id != l.entry, id));
        let mut order = vec![0; ids.len()];
        for (disk, &id) in ids.iter().enumerate() {
            order[id as usize] = disk as u32;
        }
        Some(order)
    }

    /// Writes the graph in instant-distance's layout, each point as the bytes `point`
    /// appends to a writer, node ids renumbered by `order` ([`Graph::disk_order`]).
    pub(crate) fn write(
        &self,
        w: &mut Writer,
        ef: usize,
        order: Option<&[u32]>,
        mut point: impl FnMut(&P, &mut Writer),
    ) {
        let l = &self.links;
        let n = self.points.len();
        // Graph ids in disk order, and the disk id of a graph id.
        let by_disk: Vec<u32> = match order {
            None => (0..n as u32).collect(),
            Some(order) => {
                let mut ids = vec![0; n];
                order
                    .iter()
                    .enumerate()
                    .for_each(|(id, &d)| ids[d as usize] = id as u32);
                ids
            }
        };
        let disk = |id: u32| match order {
            Some(order) if id != NO_LINK => order[id as usize],
            _ => id,
        };
        w.u64(ef as u64);
        w.u64(n as u64);
        let mut buf = Writer::default();
        for &id in &by_disk {
            buf.buf.clear();
            point(&self.points[id as usize], &mut buf);
            w.bytes(&buf.buf);
        }
        w.u64(n as u64);
        for &id in &by_disk {
            let links = l.neighbours(0, id).unwrap_or_default();
            links.iter().for_each(|&other| w.u32(disk(other)));
            (links.len()..ZERO_LINKS).for_each(|_| w.u32(NO_LINK));
        }
        w.u64(l.upper.len() as u64);
        for (layer, nodes) in l.upper.iter().enumerate() {
            w.u64(nodes.nodes.len() as u64);
            // On disk, layer `i` holds the first `len` ids.
            for &id in &by_disk[..nodes.nodes.len()] {
                let links = l.neighbours(layer + 1, id).unwrap_or_default();
                links.iter().for_each(|&other| w.u32(disk(other)));
                (links.len()..UPPER_LINKS).for_each(|_| w.u32(NO_LINK));
            }
        }
    }

    /// Adds `point` on layers `0..=level` ([`Links::insert`]); returns its graph id.
    pub(crate) fn insert(
        &mut self,
        point: P,
        level: usize,
        ef_construction: usize,
        heuristic: bool,
    ) -> u32 {
        self.points.push(point);
        let points = &self.points;
        self.links.insert(
            (level, ef_construction, heuristic),
            &mut |a, b| points[a as usize].distance(&points[b as usize]),
            &|ids| touch(points, ids),
        )
    }

    /// An empty graph with `zero_links` / `upper_links` links per node.
    pub(crate) fn empty((zero_links, upper_links): (usize, usize)) -> Self {
        Self {
            points: Vec::new(),
            links: Links {
                zero_links,
                upper_links,
                ..Links::default()
            },
        }
    }

    /// A graph of `points` (by graph id) and their `links`.
    pub(crate) fn from_parts(points: Vec<P>, links: Links) -> Self {
        Self { points, links }
    }

    /// Appends `point` with no links yet (a [`LinksDelta`] brings them); returns its id.
    pub(crate) fn push(&mut self, point: P) -> u32 {
        self.points.push(point);
        (self.points.len() - 1) as u32
    }

    /// The links.
    pub(crate) fn links(&self) -> &Links {
        &self.links
    }

    /// The links, to apply a [`LinksDelta`] to.
    pub(crate) fn links_mut(&mut self) -> &mut Links {
        &mut self.links
    }

    /// The point with graph id `id`.
    pub(crate) fn point(&self, id: u32) -> &P {
        &self.points[id as usize]
    }

    /// The points, by graph id.
    pub(crate) fn points(&self) -> &[P] {
        &self.points
    }

    /// Up to `ef` nodes nearest to `query` among those `allowed` accepts, nearest first,
    /// with their distances ([`Links::search`]).
    pub(crate) fn search(
        &self,
        query: &P,
        ef: usize,
        allowed: impl Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        self.links.search(
            ef,
            &mut |id| query.distance(&self.points[id as usize]),
            &|ids| touch(&self.points, ids),
            &allowed,
        )
    }
}

/// The links a batch of insertions changed, in graph ids shared by a graph and its copy in
/// another worker (the same points appended in the same order): the layer-0 lists that
/// differ (every new node's among them), the upper layers whole (a few percent of the nodes)
/// and the entry point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinksDelta {
    /// Node count after the batch.
    pub nodes: usize,
    /// `(node, its layer-0 list)`, lists `zero_links` wide, flat.
    pub zero: Vec<(u32, Vec<u32>)>,
    pub upper: Vec<Layer>,
    pub entry: u32,
}

impl LinksDelta {
    /// What changed from `before` (the layer-0 links before the batch) to `after`.
    pub(crate) fn between(before: &[u32], after: &Links) -> Self {
        let w = after.zero_links;
        let zero = after
            .zero
            .chunks_exact(w)
            .enumerate()
            .filter(|&(node, list)| before.get(node * w..(node + 1) * w) != Some(list))
            .map(|(node, list)| (node as u32, list.to_vec()))
            .collect();
        Self {
            nodes: after.len(),
            zero,
            upper: after.upper.clone(),
            entry: after.entry,
        }
    }

    /// Appends the delta to `w`.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u64(self.nodes as u64);
        w.u32(self.entry);
        w.u64(self.zero.len() as u64);
        for (node, list) in &self.zero {
            w.u32(*node);
            list.iter().for_each(|&id| w.u32(id));
        }
        write_layers(w, &self.upper);
    }

    /// Reads a delta for links `zero_links` / `upper_links` wide that must end with `nodes`
    /// nodes, checking every id so that a search or an insertion can never index out of range.
    pub(crate) fn read(
        r: &mut Reader<'_>,
        nodes: usize,
        (zero_links, upper_links): (usize, usize),
    ) -> Result<Self, IndexError> {
        let entry = read_head(r, nodes)?;
        let changed = r.count(4 * (zero_links + 1), nodes)?;
        let mut zero = Vec::with_capacity(changed);
        for _ in 0..changed {
            let node = r.u32()?;
            if node as usize >= nodes {
                return Err(IndexError::Corrupt("graph delta: node out of range".into()));
            }
            zero.push((node, read_links(r, 1, zero_links, zero_links, nodes)?));
        }
        let upper = read_layers(r, nodes, upper_links)?;
        check_entry(entry, nodes, &upper)?;
        Ok(Self {
            nodes,
            zero,
            upper,
            entry,
        })
    }

    /// Applies the delta to `links`, which must hold `self.nodes` nodes.
    pub(crate) fn apply(self, links: &mut Links) {
        let w = links.zero_links;
        links.zero.resize(self.nodes * w, NO_LINK);
        for (node, list) in self.zero {
            let at = node as usize * w;
            links.zero[at..at + w].copy_from_slice(&list);
        }
        links.upper = self.upper;
        links.entry = self.entry;
    }
}

/// Reads the node count, which must be `nodes`, and the entry point that follow it.
fn read_head(r: &mut Reader<'_>, nodes: usize) -> Result<u32, IndexError> {
    if r.u64()? != nodes as u64 {
        return Err(IndexError::Corrupt("graph links: node count".into()));
    }
    r.u32()
}

/// Writes upper layers as they are in memory: per layer its nodes, then their links.
fn write_layers(w: &mut Writer, layers: &[Layer]) {
    w.u64(layers.len() as u64);
    for layer in layers {
        w.u64(layer.nodes.len() as u64);
        layer.nodes.iter().for_each(|&n| w.u32(n));
        layer.links.iter().for_each(|&id| w.u32(id));
    }
}

/// Reads layers written by [`write_layers`] over `nodes` nodes, checking what a search and an
/// insertion rely on: each layer's nodes ascending, on the layer below too, and linked only
/// to nodes of their layer.
fn read_layers(
    r: &mut Reader<'_>,
    nodes: usize,
    upper_links: usize,
) -> Result<Vec<Layer>, IndexError> {
    let bad = |m: &str| Err(IndexError::Corrupt(format!("graph layers: {m}")));
    let count = r.count(8, 64)?;
    let mut layers: Vec<Layer> = Vec::with_capacity(count);
    for _ in 0..count {
        let below = layers.last();
        let len = r.count(
            4 * (upper_links + 1),
            below.map_or(nodes, |l| l.nodes.len()),
        )?;
        let mut on = Vec::with_capacity(len);
        for _ in 0..len {
            on.push(r.u32()?);
        }
        let ascending = on.windows(2).all(|p| p[0] < p[1]);
        let inside = on.iter().all(|&n| match below {
            Some(l) => l.nodes.binary_search(&n).is_ok(),
            None => (n as usize) < nodes,
        });
        if len == 0 || !ascending || !inside {
            return bad("nodes out of order or not on the layer below");
        }
        let links = read_links(r, len, upper_links, upper_links, nodes)?;
        if links
            .iter()
            .any(|&id| id != NO_LINK && on.binary_search(&id).is_err())
        {
            return bad("a link to a node off the layer");
        }
        layers.push(Layer { nodes: on, links });
    }
    Ok(layers)
}

/// Checks that `entry` is a node of the top layer (of layer 0 when there is no other).
fn check_entry(entry: u32, nodes: usize, upper: &[Layer]) -> Result<(), IndexError> {
    let ok = match upper.last() {
        Some(top) => top.nodes.binary_search(&entry).is_ok(),
        None => nodes == 0 || (entry as usize) < nodes,
    };
    if ok {
        Ok(())
    } else {
        Err(IndexError::Corrupt(
            "graph: entry point off the top layer".into(),
        ))
    }
}

/// Writes `links` as they are in memory (graph ids unchanged, unlike [`Graph::write`]), for a
/// copy of the graph in another worker.
pub(crate) fn write_links(w: &mut Writer, links: &Links) {
    w.u64(links.len() as u64);
    w.u32(links.entry);
    links.zero.iter().for_each(|&id| w.u32(id));
    write_layers(w, &links.upper);
}

/// Reads links written by [`write_links`] for a graph of `nodes` nodes, checked as
/// [`LinksDelta::read`] checks.
pub(crate) fn read_links_as_is(
    r: &mut Reader<'_>,
    nodes: usize,
    (zero_links, upper_links): (usize, usize),
) -> Result<Links, IndexError> {
    let entry = read_head(r, nodes)?;
    let zero = read_links(r, nodes, zero_links, zero_links, nodes)?;
    let upper = read_layers(r, nodes, upper_links)?;
    check_entry(entry, nodes, &upper)?;
    Ok(Links {
        zero,
        zero_links,
        upper,
        upper_links,
        entry,
    })
}

#[cfg(test)]
mod tests {
    use instant_distance::Builder;

    use super::*;

    /// A point on the plane.
    #[derive(Clone, Debug, PartialEq)]
    struct P(f32, f32);

    impl Point for P {
        fn distance(&self, o: &Self) -> f32 {
            (self.0 - o.0).powi(2) + (self.1 - o.1).powi(2)
        }
    }

    impl Stored for P {}
    impl Stored for V {}

    fn grid(side: usize, m: usize) -> Graph<P> {
        let points: Vec<Built<P>> = (0..side * side)
            .map(|i| Built(P((i % side) as f32, (i / side) as f32)))
            .collect();
        let (hnsw, _) = Builder::default().seed(7).build_hnsw(points);
        let by_id = hnsw.iter().map(|(_, p)| p.0.clone()).collect();
        Graph::from_hnsw(&hnsw, by_id, link_counts(m)).unwrap()
    }

    /// A point of a cloud in several dimensions (squared L2).
    #[derive(Clone, Debug, PartialEq)]
    struct V(Vec<f32>);

    impl Point for V {
        fn distance(&self, o: &Self) -> f32 {
            self.0
                .iter()
                .zip(&o.0)
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        }
    }

    /// `n` points uniform in the `dim`-cube, from a fixed xorshift sequence.
    fn cloud(n: usize, dim: usize) -> Vec<V> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        (0..n)
            .map(|_| V((0..dim).map(|_| next()).collect()))
            .collect()
    }

    /// instant-distance's graph over `points`, built in one go at degree `m`.
    fn built(points: &[V], m: usize) -> Graph<V> {
        let wrapped: Vec<Built<V>> = points.iter().cloned().map(Built).collect();
        let (hnsw, _) = Builder::default()
            .m(build_degree(m))
            .ef_construction(64)
            .ml(1.0 / (m as f32).ln())
            .neighbor_update(instant_distance::NeighborUpdate::AppendOrPrune)
            .seed(7)
            .build_hnsw(wrapped);
        let by_id = hnsw.iter().map(|(_, p)| p.0.clone()).collect();
        Graph::from_hnsw(&hnsw, by_id, link_counts(m)).unwrap()
    }

    /// Recall@10 of `g` at beam width `ef` over the first `queries` points of `probe`.
    fn recall(g: &Graph<V>, probe: &[V], ef: usize) -> f64 {
        let mut hits = 0;
        for q in probe {
            let mut truth: Vec<f32> = g.points().iter().map(|p| q.distance(p)).collect();
            truth.sort_by(f32::total_cmp);
            let found = g.search(q, ef, |_| true);
            hits += found.iter().take(10).filter(|f| f.0 <= truth[9]).count();
        }
        hits as f64 / (10 * probe.len()) as f64
    }

    /// instant-distance is the reference: a graph grown by insertion from a small one finds
    /// what its graph built in one go over the same points finds, and written (renumbered by
    /// layer) and read back it answers alike.
    #[test]
    fn a_grown_graph_finds_what_instant_distance_builds_find() {
        let (n, m) = (3000, 8);
        let points = cloud(n + 100, 12);
        let (points, probe) = points.split_at(n);
        let reference = built(points, m);
        let mut grown = built(&points[..300], m);
        for (i, p) in points[300..].iter().enumerate() {
            let level = random_level(i as u64, m);
            grown.insert(p.clone(), level, 64, true);
        }
        assert_eq!(grown.points().len(), n);
        let mut inserted = Graph::empty(link_counts(m));
        for (i, p) in points.iter().enumerate() {
            inserted.insert(p.clone(), random_level(i as u64 ^ 99, m), 64, true);
        }
        let want = recall(&reference, probe, 24);
        for (how, g) in [("grown", &grown), ("inserted from empty", &inserted)] {
            let got = recall(g, probe, 24);
            eprintln!("recall@10 at ef 24: instant-distance {want}, {how} {got}");
            assert!(got >= 0.9 && got >= want - 0.02, "{how} {got} vs {want}");
        }

        let order = grown.disk_order().expect("inserted nodes are renumbered");
        assert!(reference.disk_order().is_none());
        let mut w = Writer::default();
        grown.write(&mut w, 24, Some(&order), |p, w| w.f32s(&p.0));
        let (back, _) = Graph::read(&w.buf, link_counts(m), |b| {
            Ok(V(Reader::new(b, "point").f32s(12)?))
        })
        .unwrap();
        assert!(back.disk_order().is_none());
        for q in probe {
            let answers = |g: &Graph<V>| -> Vec<(f32, Vec<f32>)> {
                let found = g.search(q, 24, |_| true);
                found
                    .into_iter()
                    .map(|(d, id)| (d, g.point(id).0.clone()))
                    .collect()
            };
            assert_eq!(answers(&back), answers(&grown));
        }
    }

    #[test]
    fn keeps_m_links_per_node_and_2m_on_layer_0() {
        let g = grid(20, 4);
        assert_eq!((g.links.zero_links, g.links.upper_links), (8, 4));
        assert_eq!(g.links.zero.len(), 400 * 8);
        assert!(
            g.links
                .upper
                .iter()
                .all(|l| l.links.len() == 4 * l.nodes.len())
        );
        assert_eq!(link_counts(48), (64, 32));
    }

    #[test]
    fn a_beam_as_wide_as_the_graph_returns_every_allowed_node_nearest_first() {
        let g = grid(20, 8);
        let q = P(3.3, 11.6);
        let odd = |id: u32| id % 2 == 1;
        let found = g.search(&q, 400, odd);
        assert_eq!(found.len(), 200);
        assert!(found.iter().all(|&(_, id)| odd(id)));
        assert!(found.windows(2).all(|w| w[0].0 <= w[1].0));
        let exact = (0..400u32)
            .filter(|&id| odd(id))
            .map(|id| q.distance(g.point(id)))
            .fold(f32::MAX, f32::min);
        assert_eq!(found[0].0, exact);
    }

    #[test]
    fn write_then_read_gives_the_same_graph() {
        let g = grid(12, 6);
        let mut w = Writer::default();
        g.write(&mut w, 33, None, |p, w| {
            w.f32(p.0);
            w.f32(p.1);
        });
        let (back, ef) = Graph::read(&w.buf, link_counts(6), |b| {
            let mut r = Reader::new(b, "point");
            Ok(P(r.f32()?, r.f32()?))
        })
        .unwrap();
        assert_eq!(ef, 33);
        assert_eq!(back.points, g.points);
        assert_eq!(back.links, g.links);
        // Fewer links kept on read: each node's first ones.
        let (narrow, _) = Graph::read(&w.buf, link_counts(2), |b| {
            let mut r = Reader::new(b, "point");
            Ok(P(r.f32()?, r.f32()?))
        })
        .unwrap();
        assert_eq!(narrow.links.zero[..4], g.links.zero[..4]);
        assert_eq!(narrow.links.zero[4..8], g.links.zero[12..16]);
    }
}
