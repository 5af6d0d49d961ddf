//! The links of an HNSW graph and its search: greedy descent through the upper layers,
//! then a layer-0 beam that checks a filter in the loop.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// Marks an empty link slot.
pub const NO_LINK: u32 = u32::MAX;

/// The links of an HNSW graph whose nodes are numbered `0..n`; node 0 is the entry point
/// on the top layer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    /// Layer-0 links, `zero_links` per node, padded with [`NO_LINK`].
    pub zero: Vec<u32>,
    /// Links per node on layer 0.
    pub zero_links: usize,
    /// Upper layers, bottom up; layer `i + 1` holds nodes `0..len`, `upper_links` each.
    pub upper: Vec<Vec<u32>>,
    /// Links per node on the upper layers.
    pub upper_links: usize,
}

/// A node and its distance to the query, ordered by distance, then id.
#[derive(Clone, Copy, PartialEq)]
struct Near(f32, u32);

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
    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.zero.len().checked_div(self.zero_links).unwrap_or(0)
    }

    /// Whether the graph has no node.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `ef` nodes nearest to the query among those `allowed` accepts, nearest first,
    /// with their distances (`dist(id)`: the query's distance to node `id`): greedy descent
    /// through the upper layers, then a beam of width `ef` on layer 0 that walks through
    /// rejected nodes without returning them (as hnswlib and Lucene filter).
    pub fn search(
        &self,
        ef: usize,
        dist: &mut dyn FnMut(u32) -> f32,
        allowed: &dyn Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let n = self.len();
        if n == 0 || ef == 0 {
            return Vec::new();
        }
        let mut entry = Near(dist(0), 0);
        for layer in self.upper.iter().rev() {
            loop {
                let start = entry;
                let node = entry.1 as usize * self.upper_links;
                for &id in &layer[node..node + self.upper_links] {
                    if id != NO_LINK {
                        let d = Near(dist(id), id);
                        if d < entry {
                            entry = d;
                        }
                    }
                }
                if entry == start {
                    break;
                }
            }
        }
        SCRATCH.with_borrow_mut(|s| {
            s.start(n);
            s.visit(entry.1);
            s.candidates.push(Reverse(entry));
            if allowed(entry.1) {
                s.results.push(entry);
            }
            while let Some(Reverse(near)) = s.candidates.pop() {
                if s.results.len() >= ef && s.results.peek().is_some_and(|w| near > *w) {
                    break;
                }
                let node = near.1 as usize * self.zero_links;
                for &id in &self.zero[node..node + self.zero_links] {
                    if id == NO_LINK || !s.visit(id) {
                        continue;
                    }
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
        })
    }
}
