//! The HNSW graph of a sealed field, in our own layout and searched by our own code.
//!
//! instant-distance builds the graph (its layer assignment and neighbour heuristic) but
//! keeps it private, searches with the full node width and has no filter hook. Its serde
//! form is public, though: after a build the links are read out of it
//! ([`Graph::from_hnsw`]) and the instant-distance value is dropped. The graph is built
//! with degree `m` (`2m` on layer 0; instant-distance's `Builder::m`, which simil's patch
//! of it adds: patches/instant-distance), so `m` means what it means in the HNSW paper and
//! in hnswlib. Nodes built wider (files of earlier versions, built at 32 / 64) keep their
//! first `m` / `2m` links on load, which instant-distance orders heuristic picks first.
//!
//! [`Graph::search`] runs `simil_kernels::Links::search`, the paper's layer-0 beam
//! search with a filter in the loop (as hnswlib and Lucene do): rows outside the allowed
//! set are traversed but never returned, so one pass finds `ef` allowed rows.
//!
//! On disk the graph keeps instant-distance's serde layout (`ef_search`, points,
//! 64-wide layer-0 nodes, 32-wide upper nodes, links padded with `u32::MAX`), so files
//! of earlier versions load unchanged.

use instant_distance::{Hnsw, Point};
use serde::{Serialize, Serializer};
use simil_kernels::{Links, NO_LINK};

use super::IndexError;
use super::codec::{self, Reader, Writer};
use super::config::MAX_EF;

/// Links per layer-0 node in instant-distance's layout.
const ZERO_LINKS: usize = 64;
/// Links per upper-layer node in instant-distance's layout.
const UPPER_LINKS: usize = 32;

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

/// An HNSW graph over points of type `P`, nodes numbered by graph id.
pub(crate) struct Graph<P> {
    points: Vec<P>,
    links: Links,
}

/// Wraps the points handed to instant-distance so that serializing its graph writes
/// the links only (each point as an empty byte string).
#[derive(Clone)]
pub(crate) struct Built<P>(pub P);

impl<P: Point> Point for Built<P> {
    fn distance(&self, other: &Self) -> f32 {
        self.0.distance(&other.0)
    }
}

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
        Links {
            zero: self.zero,
            zero_links,
            upper: self.upper,
            upper_links,
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

/// Writes nodes of `stride` links each as nodes of `width` links, padded with [`NO_LINK`].
fn pad_nodes(w: &mut Writer, links: &[u32], stride: usize, width: usize) {
    for node in links.chunks_exact(stride) {
        node.iter().for_each(|&id| w.u32(id));
        (stride..width).for_each(|_| w.u32(NO_LINK));
    }
}

impl<P: Point> Graph<P> {
    /// Takes the links out of a freshly built instant-distance graph (its points are
    /// `points`, in graph-id order), keeping `zero_links` / `upper_links` per node.
    pub(crate) fn from_hnsw(
        hnsw: &Hnsw<Built<P>>,
        points: Vec<P>,
        (zero_links, upper_links): (usize, usize),
    ) -> Result<Self, IndexError> {
        let bytes = codec::encode(hnsw).map_err(|e| IndexError::Corrupt(e.to_string()))?;
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

    /// Writes the graph in instant-distance's layout, each point as the bytes `point`
    /// appends to a writer.
    pub(crate) fn write(&self, w: &mut Writer, ef: usize, mut point: impl FnMut(&P, &mut Writer)) {
        w.u64(ef as u64);
        w.u64(self.points.len() as u64);
        let mut buf = Writer::default();
        for p in &self.points {
            buf.buf.clear();
            point(p, &mut buf);
            w.bytes(&buf.buf);
        }
        let l = &self.links;
        w.u64(self.points.len() as u64);
        pad_nodes(w, &l.zero, l.zero_links, ZERO_LINKS);
        w.u64(l.upper.len() as u64);
        for layer in &l.upper {
            w.u64((layer.len() / l.upper_links) as u64);
            pad_nodes(w, layer, l.upper_links, UPPER_LINKS);
        }
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
            &allowed,
        )
    }
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

    fn grid(side: usize, m: usize) -> Graph<P> {
        let points: Vec<Built<P>> = (0..side * side)
            .map(|i| Built(P((i % side) as f32, (i / side) as f32)))
            .collect();
        let (hnsw, _) = Builder::default().seed(7).build_hnsw(points);
        let by_id = hnsw.iter().map(|(_, p)| p.0.clone()).collect();
        Graph::from_hnsw(&hnsw, by_id, link_counts(m)).unwrap()
    }

    #[test]
    fn keeps_m_links_per_node_and_2m_on_layer_0() {
        let g = grid(20, 4);
        assert_eq!((g.links.zero_links, g.links.upper_links), (8, 4));
        assert_eq!(g.links.zero.len(), 400 * 8);
        assert!(g.links.upper.iter().all(|l| l.len() % 4 == 0));
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
        g.write(&mut w, 33, |p, w| {
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
