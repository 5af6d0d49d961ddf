//! The links of an HNSW graph and its search: greedy descent through the upper layers,
//! then a layer-0 beam that checks a filter in the loop.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Marks an empty link slot.
pub const NO_LINK: u32 = u32::MAX;

/// Most links a node may have on a layer (instant-distance's layer-0 width).
pub const MAX_LINKS: usize = 64;

/// One upper layer of an HNSW graph: its nodes and their links.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layer {
    /// Graph ids of the layer's nodes, ascending (`0..len` in a graph built in one go).
    pub nodes: Vec<u32>,
    /// `upper_links` links per node, in the order of `nodes`, padded with [`NO_LINK`].
    pub links: Vec<u32>,
}

impl Layer {
    /// The position of node `id` on the layer, if it is on it.
    pub fn slot(&self, id: u32) -> Option<usize> {
        // Graphs built in one go hold nodes `0..len`: look there first.
        if self.nodes.get(id as usize) == Some(&id) {
            return Some(id as usize);
        }
        self.nodes.binary_search(&id).ok()
    }
}

/// The links of an HNSW graph whose nodes are numbered `0..n`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// Layer-0 links, `zero_links` per node, padded with [`NO_LINK`].
    pub zero: Vec<u32>,
    /// Links per node on layer 0.
    pub zero_links: usize,
    /// Upper layers, bottom up (`upper[0]` is layer 1).
    pub upper: Vec<Layer>,
    /// Links per node on the upper layers.
    pub upper_links: usize,
    /// Where searches start: a node on the top layer.
    pub entry: u32,
}

/// A node and its distance to the query, ordered by distance, then id (`total_cmp`: a NaN
/// distance equals itself, so a walk that meets one still ends).
#[derive(Clone, Copy)]
struct Near(f32, u32);

impl PartialEq for Near {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Near {}
impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Near {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Per-thread search state, reused across searches.
#[derive(Default)]
struct Scratch {
    /// `visited[id] == epoch` marks a node visited by the current search.
    visited: Vec<u32>,
    epoch: u32,
    candidates: BinaryHeap<Reverse<Near>>,
    results: BinaryHeap<Near>,
}

impl Scratch {
    fn start(&mut self, n: usize) {
        self.candidates.clear();
        self.results.clear();
        if self.visited.len() < n {
            self.visited.resize(n, 0);
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
    }
    /// Marks `id` visited; false if it already was.
    fn visit(&mut self, id: u32) -> bool {
        let slot = &mut self.visited[id as usize];
        let fresh = *slot != self.epoch;
        *slot = self.epoch;
        fresh
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::default();
}

impl Links {
    /// Empty links for degree `m`: `2m` links per node on layer 0, `m` above.
    pub fn new(m: usize) -> Self {
        Self {
            zero_links: 2 * m.max(1),
            upper_links: m.max(1),
            ..Self::default()
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.zero.len().checked_div(self.zero_links).unwrap_or(0)
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The links of node `id` on `layer` (0 is the bottom), if it is on that layer.
    pub fn neighbours(&self, layer: usize, id: u32) -> Option<&[u32]> {
        if layer == 0 {
            let at = id as usize * self.zero_links;
            return self.zero.get(at..at + self.zero_links);
        }
        let l = self.upper.get(layer - 1)?;
        let at = l.slot(id)? * self.upper_links;
        l.links.get(at..at + self.upper_links)
    }

    fn neighbours_mut(&mut self, layer: usize, id: u32) -> &mut [u32] {
        if layer == 0 {
            let at = id as usize * self.zero_links;
            return &mut self.zero[at..at + self.zero_links];
        }
        let width = self.upper_links;
        let l = &mut self.upper[layer - 1];
        let at = l.slot(id).expect("a node on its layer") * width;
        &mut l.links[at..at + width]
    }

    /// Walks `layer` greedily from `entry` to the node nearest the query (`dist`).
    fn greedy(&self, layer: usize, mut entry: Near, dist: &mut dyn FnMut(u32) -> f32) -> Near {
        loop {
            let start = entry;
            for &id in self.neighbours(layer, entry.1).unwrap_or_default() {
                if id != NO_LINK {
                    let d = Near(dist(id), id);
                    if d < entry {
                        entry = d;
                    }
                }
            }
            if entry == start {
                return entry;
            }
        }
    }

    /// The paper's beam search on `layer` from `entry`: up to `ef` nodes nearest to the query
    /// among those `allowed` accepts, nearest first. Rejected nodes are walked through
    /// without being returned (as hnswlib and Lucene filter).
    fn beam(
        &self,
        s: &mut Scratch,
        (layer, entry, ef): (usize, Near, usize),
        dist: &mut dyn FnMut(u32) -> f32,
        touch: &dyn Fn(&[u32]),
        allowed: &dyn Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        s.start(self.len());
        s.visit(entry.1);
        s.candidates.push(Reverse(entry));
        if allowed(entry.1) {
            s.results.push(entry);
        }
        while let Some(Reverse(near)) = s.candidates.pop() {
            if s.results.len() >= ef && s.results.peek().is_some_and(|w| near > *w) {
                break;
            }
            // The unvisited neighbours, touched together first: their points' memory loads
            // then overlap instead of each waiting for the one before.
            let mut fresh = [NO_LINK; MAX_LINKS];
            let mut count = 0;
            for &id in self.neighbours(layer, near.1).unwrap_or_default() {
                if id != NO_LINK && count < MAX_LINKS && s.visit(id) {
                    fresh[count] = id;
                    count += 1;
                }
            }
            touch(&fresh[..count]);
            for &id in &fresh[..count] {
                let d = Near(dist(id), id);
                if s.results.len() < ef || s.results.peek().is_some_and(|w| d < *w) {
                    s.candidates.push(Reverse(d));
                    if allowed(id) {
                        s.results.push(d);
                        if s.results.len() > ef {
                            s.results.pop();
                        }
                    }
                }
            }
        }
        let mut found: Vec<(f32, u32)> = s.results.drain().map(|n| (n.0, n.1)).collect();
        found.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        found
    }

    /// Up to `ef` nodes nearest to the query among those `allowed` accepts, nearest first,
    /// with their distances (`dist(id)`: the query's distance to node `id`; `touch(ids)`: a
    /// hint that those nodes are measured next, to start loading them): greedy descent
    /// through the upper layers, then a beam of width `ef` on layer 0 that walks through
    /// rejected nodes without returning them (as hnswlib and Lucene filter).
    pub fn search(
        &self,
        ef: usize,
        dist: &mut dyn FnMut(u32) -> f32,
        touch: &dyn Fn(&[u32]),
        allowed: &dyn Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        if self.is_empty() || ef == 0 {
            return Vec::new();
        }
        let mut entry = Near(dist(self.entry), self.entry);
        for layer in (1..=self.upper.len()).rev() {
            entry = self.greedy(layer, entry, dist);
        }
        SCRATCH.with_borrow_mut(|s| self.beam(s, (0, entry, ef), dist, touch, allowed))
    }

    /// Adds node `len()` on layers `0..=level` and links it as hnswlib inserts: greedy descent
    /// to its level, then on each of its layers a beam of width `ef_construction`, from which
    /// it keeps `upper_links` neighbours (by the HNSW heuristic, or the nearest without it);
    /// each neighbour links back, re-running the selection only when its list is full (and
    /// then keeping pruned links in the slots left free).
    /// `dist(a, b)` is the distance between two nodes, the new one included; `touch` as for
    /// [`Links::search`]. Returns its id.
    pub fn insert(
        &mut self,
        (level, ef_construction, heuristic): (usize, usize, bool),
        dist: &mut dyn FnMut(u32, u32) -> f32,
        touch: &dyn Fn(&[u32]),
    ) -> u32 {
        let id = self.len() as u32;
        let top = self.upper.len();
        self.zero
            .extend(std::iter::repeat_n(NO_LINK, self.zero_links));
        for layer in 0..level {
            if layer == self.upper.len() {
                self.upper.push(Layer::default());
            }
            let l = &mut self.upper[layer];
            l.nodes.push(id);
            l.links
                .extend(std::iter::repeat_n(NO_LINK, self.upper_links));
        }
        if id == 0 {
            self.entry = id;
            return id;
        }
        let mut entry = Near(dist(id, self.entry), self.entry);
        for layer in (level + 1..=top).rev() {
            entry = self.greedy(layer, entry, &mut |x| dist(id, x));
        }
        for layer in (0..=level.min(top)).rev() {
            let found = SCRATCH.with_borrow_mut(|s| {
                let at = (layer, entry, ef_construction);
                self.beam(s, at, &mut |x| dist(id, x), touch, &|_| true)
            });
            if let Some(&(d, near)) = found.iter().find(|c| c.1 != id) {
                entry = Near(d, near);
            }
            let found: Vec<(f32, u32)> = found.into_iter().filter(|c| c.1 != id).collect();
            let chosen = select(&found, self.upper_links, heuristic, dist);
            let mine = self.neighbours_mut(layer, id);
            for (slot, &(_, other)) in mine.iter_mut().zip(&chosen) {
                *slot = other;
            }
            for &(d, other) in &chosen {
                self.link(layer, other, (d, id), heuristic, dist);
            }
        }
        if level > top {
            self.entry = id;
        }
        id
    }

    /// Adds `new` (at distance `d` from `node`) to `node`'s links on `layer`: into a free slot,
    /// else by re-selecting among the old links and the new one.
    fn link(
        &mut self,
        layer: usize,
        node: u32,
        (d, new): (f32, u32),
        heuristic: bool,
        dist: &mut dyn FnMut(u32, u32) -> f32,
    ) {
        let links = self.neighbours_mut(layer, node);
        if let Some(free) = links.iter_mut().find(|l| **l == NO_LINK) {
            *free = new;
            return;
        }
        let width = links.len();
        let mut all: Vec<(f32, u32)> = links.iter().map(|&o| (dist(node, o), o)).collect();
        all.push((d, new));
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        // The slots the heuristic leaves free keep the nearest of the links it pruned (the
        // HNSW paper's keepPrunedConnections): fewer nodes lose their last way in, and recall
        // at a given beam width depends less on the luck of the levels drawn.
        let mut kept = select(&all, width, heuristic, dist);
        for &pruned in &all {
            if kept.len() == width {
                break;
            }
            if !kept.iter().any(|k| k.1 == pruned.1) {
                kept.push(pruned);
            }
        }
        let links = self.neighbours_mut(layer, node);
        links.fill(NO_LINK);
        for (slot, &(_, other)) in links.iter_mut().zip(&kept) {
            *slot = other;
        }
    }
}

/// Picks up to `m` neighbours from `candidates` (nearest first, with their distances to the
/// base node): the nearest, or by the HNSW heuristic (hnswlib's `getNeighborsByHeuristic2`),
/// which skips a candidate nearer to an already kept neighbour than to the base node.
fn select(
    candidates: &[(f32, u32)],
    m: usize,
    heuristic: bool,
    dist: &mut dyn FnMut(u32, u32) -> f32,
) -> Vec<(f32, u32)> {
    if !heuristic || candidates.len() <= m {
        return candidates.iter().take(m).copied().collect();
    }
    let mut kept: Vec<(f32, u32)> = Vec::with_capacity(m);
    for &(d, c) in candidates {
        if kept.len() == m {
            break;
        }
        if kept.iter().all(|&(_, k)| dist(c, k) >= d) {
            kept.push((d, c));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Points on a ring of the plane, inserted one by one.
    fn ring(n: usize, m: usize, heuristic: bool) -> (Links, Vec<(f32, f32)>) {
        let points: Vec<(f32, f32)> = (0..n)
            .map(|i| {
                let a = i as f32 * 2.399_963;
                let r = 1.0 + (i % 7) as f32;
                (r * a.cos(), r * a.sin())
            })
            .collect();
        let mut links = Links::new(m);
        let d = |a: (f32, f32), b: (f32, f32)| (a.0 - b.0).powi(2) + (a.1 - b.1).powi(2);
        for i in 0..n {
            let level = [0, 0, 0, 1, 0, 0, 2, 0][i % 8];
            let id = links.insert(
                (level, 32, heuristic),
                &mut |a, b| d(points[a as usize], points[b as usize]),
                &|_| {},
            );
            assert_eq!(id as usize, i);
        }
        (links, points)
    }

    #[test]
    fn insertion_keeps_the_layers_sorted_and_the_links_in_range() {
        let (links, _) = ring(300, 4, true);
        assert_eq!(links.len(), 300);
        assert_eq!(links.upper.len(), 2);
        for l in &links.upper {
            assert!(l.nodes.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(l.links.len(), l.nodes.len() * 4);
            assert!(
                l.links
                    .iter()
                    .all(|&id| id == NO_LINK || l.slot(id).is_some())
            );
        }
        assert!(links.upper[1].slot(links.entry).is_some());
        assert!(
            links
                .zero
                .iter()
                .all(|&id| id == NO_LINK || (id as usize) < 300)
        );
        // No node links to itself, and every node but the first has a link.
        for id in 0..300u32 {
            let own = links.neighbours(0, id).unwrap();
            assert!(!own.contains(&id));
            assert!(id == 0 || own.iter().any(|&l| l != NO_LINK));
        }
    }

    #[test]
    fn an_inserted_graph_finds_each_point_itself() {
        for heuristic in [true, false] {
            let (links, points) = ring(400, 6, heuristic);
            let found = (0..400u32)
                .filter(|&id| {
                    let p = points[id as usize];
                    let hits = links.search(
                        16,
                        &mut |x| {
                            let q = points[x as usize];
                            (q.0 - p.0).powi(2) + (q.1 - p.1).powi(2)
                        },
                        &|_| {},
                        &|_| true,
                    );
                    hits.first().is_some_and(|h| h.0 == 0.0)
                })
                .count();
            assert!(found >= 396, "{found} of 400 found (heuristic {heuristic})");
        }
    }

    #[test]
    fn a_search_and_an_insertion_end_where_distances_are_nan() {
        let (mut links, _) = ring(100, 4, true);
        let hits = links.search(8, &mut |_| f32::NAN, &|_| {}, &|_| true);
        assert_eq!(hits.len(), 8);
        let id = links.insert((2, 16, true), &mut |_, _| f32::NAN, &|_| {});
        assert_eq!(id, 100);
    }
}
