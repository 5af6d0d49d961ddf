//! Reciprocal-rank fusion (Cormack, Clarke & Büttcher 2009), as Elasticsearch's `rrf`
//! retriever computes it: an item's score is `Σ 1 / (rank_constant + rank)` over the rankings
//! it appears in (ranks from 1), so agreeing rankings reinforce each other and an item found
//! by only one signal still ranks.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

/// Elasticsearch's default `rank_constant`.
pub const RRF_RANK_CONSTANT: f32 = 60.0;

/// Fuses rankings of item ids (each best first) into one: `(id, fused score)`, best first, at
/// most `k`. Ties are broken by the best rank the item had in any list, then by id.
pub fn reciprocal_rank_fusion<K: Eq + Hash + Clone + Ord>(
    rankings: &[&[K]],
    rank_constant: f32,
    k: usize,
) -> Vec<(K, f32)> {
    let mut scores: HashMap<K, (f32, usize)> = HashMap::new();
    for ranking in rankings {
        let mut seen = HashSet::new();
        for (rank, id) in ranking.iter().enumerate() {
            if !seen.insert(id) {
                continue; // an id counts once per ranking, at its best rank
            }
            let e = scores.entry(id.clone()).or_insert((0.0, usize::MAX));
            e.0 += 1.0 / (rank_constant + rank as f32 + 1.0);
            e.1 = e.1.min(rank);
        }
    }
    let mut fused: Vec<(K, f32, usize)> = scores
        .into_iter()
        .map(|(id, (s, best))| (id, s, best))
        .collect();
    fused.sort_by(|a, b| {
        b.1.total_cmp(&a.1)
            .then(a.2.cmp(&b.2))
            .then_with(|| a.0.cmp(&b.0))
    });
    fused.truncate(k);
    fused.into_iter().map(|(id, s, _)| (id, s)).collect()
}

/// Hybrid search: fuses vector hits and keyword (BM25) hits, each `(id, score)` best first as
/// an index search or [`KeywordIndex::search`](super::KeywordIndex::search) returns them, with
/// [`RRF_RANK_CONSTANT`]. Only ranks matter, so cosine and BM25 scores need no common scale.
pub fn hybrid<K: Eq + Hash + Clone + Ord>(
    vector_hits: &[(K, f32)],
    keyword_hits: &[(K, f32)],
    k: usize,
) -> Vec<(K, f32)> {
    let v: Vec<K> = vector_hits.iter().map(|h| h.0.clone()).collect();
    let w: Vec<K> = keyword_hits.iter().map(|h| h.0.clone()).collect();
    reciprocal_rank_fusion(&[&v, &w], RRF_RANK_CONSTANT, k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_follow_the_formula() {
        let fused = reciprocal_rank_fusion::<u64>(&[&[1, 2, 3], &[3, 1]], 60.0, 10);
        let s = |r: f32| 1.0 / (60.0 + r);
        let expect = [(1, s(1.0) + s(2.0)), (3, s(3.0) + s(1.0)), (2, s(2.0))];
        assert_eq!(fused.len(), 3);
        for ((id, score), (eid, escore)) in fused.iter().zip(expect) {
            assert_eq!(*id, eid);
            assert!((score - escore).abs() < 1e-7);
        }
    }

    #[test]
    fn agreement_beats_one_strong_signal() {
        // 7 is second in both lists; 5 and 9 are first in one each and absent from the other.
        let fused = reciprocal_rank_fusion::<u64>(&[&[5, 7, 1], &[9, 7, 2]], 60.0, 2);
        assert_eq!(fused[0].0, 7);
        assert_eq!(fused.len(), 2);
    }

    #[test]
    fn ties_break_by_best_rank_then_id_and_duplicates_count_once() {
        let fused = reciprocal_rank_fusion::<u64>(&[&[4, 4, 8], &[8, 4]], 60.0, 10);
        // 4: ranks 1 and 2 (its repeat is skipped); 8: ranks 3 and 1.
        assert_eq!(fused[0].0, 4);
        let tie = reciprocal_rank_fusion::<u64>(&[&[2], &[1]], 60.0, 10);
        assert_eq!(tie.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2]);
        assert!(reciprocal_rank_fusion::<u64>(&[], 60.0, 5).is_empty());
    }

    #[test]
    fn hybrid_finds_items_either_signal_finds() {
        let id = |s: &str| s.to_string();
        let vector = [(id("apple"), 0.9), (id("cherry"), 0.8), (id("whale"), 0.1)];
        let keyword = [(id("sku-204"), 7.5), (id("apple"), 3.0)];
        let fused = hybrid(&vector, &keyword, 10);
        let ids: Vec<&str> = fused.iter().map(|h| h.0.as_str()).collect();
        assert_eq!(ids[0], "apple");
        assert!(ids.contains(&"sku-204") && ids.contains(&"cherry"));
    }
}
