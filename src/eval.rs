//! Retrieval metrics, as TensorFlow Similarity and the metric-learning literature define them.
//!
//! Each function takes, per query, the ranked list of retrieved labels (best first) and the
//! query's own label; an item is relevant when its label equals the query's. The score of a
//! query set is the mean over queries.

/// Fraction of queries with at least one relevant item in their first `k` results.
pub fn recall_at_k<L: PartialEq>(ranked: &[Vec<L>], queries: &[L], k: usize) -> f64 {
    mean(ranked, queries, |list, label| {
        f64::from(u8::from(list.iter().take(k).any(|l| l == label)))
    })
}

/// Mean fraction of relevant items among each query's first `k` results (missing results
/// count as not relevant).
pub fn precision_at_k<L: PartialEq>(ranked: &[Vec<L>], queries: &[L], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    mean(ranked, queries, |list, label| {
        list.iter().take(k).filter(|l| *l == label).count() as f64 / k as f64
    })
}

/// Mean average precision at R (Musgrave et al., "A Metric Learning Reality Check"): for each
/// query, with `r` the number of relevant items in the gallery (`relevant[i]`), the mean over
/// the first `r` positions of the precision at each relevant position.
pub fn map_at_r<L: PartialEq>(ranked: &[Vec<L>], queries: &[L], relevant: &[usize]) -> f64 {
    let per_query = ranked
        .iter()
        .zip(queries)
        .zip(relevant)
        .map(|((list, label), &r)| {
            if r == 0 {
                return 0.0;
            }
            let mut hits = 0usize;
            let mut sum = 0.0;
            for (position, l) in list.iter().take(r).enumerate() {
                if l == label {
                    hits += 1;
                    sum += hits as f64 / (position + 1) as f64;
                }
            }
            sum / r as f64
        });
    average(per_query, ranked.len())
}

/// Normalised discounted cumulative gain at `k` with binary relevance: DCG of the ranking
/// divided by the DCG of an ideal one that puts `relevant[i]` relevant items first.
pub fn ndcg_at_k<L: PartialEq>(
    ranked: &[Vec<L>],
    queries: &[L],
    relevant: &[usize],
    k: usize,
) -> f64 {
    let gain = |position: usize| 1.0 / ((position + 2) as f64).log2();
    let per_query = ranked
        .iter()
        .zip(queries)
        .zip(relevant)
        .map(|((list, label), &r)| {
            let ideal: f64 = (0..r.min(k)).map(gain).sum();
            if ideal == 0.0 {
                return 0.0;
            }
            let dcg: f64 = list
                .iter()
                .take(k)
                .enumerate()
                .filter(|(_, l)| *l == label)
                .map(|(position, _)| gain(position))
                .sum();
            dcg / ideal
        });
    average(per_query, ranked.len())
}

/// How many items of each query's label the gallery holds: the `relevant` argument of
/// [`map_at_r`] and [`ndcg_at_k`].
pub fn relevant_counts<L: PartialEq>(gallery: &[L], queries: &[L]) -> Vec<usize> {
    queries
        .iter()
        .map(|q| gallery.iter().filter(|g| *g == q).count())
        .collect()
}

fn mean<L>(ranked: &[Vec<L>], queries: &[L], score: impl Fn(&[L], &L) -> f64) -> f64 {
    let scores = ranked.iter().zip(queries).map(|(list, q)| score(list, q));
    average(scores, ranked.len())
}

fn average(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    values.sum::<f64>() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    // Two queries, labels 'a' and 'b'; hand-computed values in each test.
    fn ranked() -> (Vec<Vec<char>>, Vec<char>) {
        (
            vec![vec!['b', 'a', 'a', 'c'], vec!['b', 'c', 'c', 'b']],
            vec!['a', 'b'],
        )
    }

    #[test]
    fn recall_counts_queries_with_a_hit_in_the_first_k() {
        let (r, q) = ranked();
        assert_eq!(recall_at_k(&r, &q, 1), 0.5); // only 'b' hits at rank 1
        assert_eq!(recall_at_k(&r, &q, 2), 1.0);
        assert_eq!(recall_at_k(&r, &q, 0), 0.0);
    }

    #[test]
    fn precision_is_the_share_of_relevant_items_in_the_first_k() {
        let (r, q) = ranked();
        // a: [b a a] → 2/3; b: [b c c] → 1/3; mean 1/2.
        assert!((precision_at_k(&r, &q, 3) - 0.5).abs() < 1e-12);
        // k beyond the list: a has 2 of 4 retrieved relevant, over k = 8 → 0.25; b: 2/8.
        assert!((precision_at_k(&r, &q, 8) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn map_at_r_averages_precision_at_relevant_positions_within_r() {
        let (r, q) = ranked();
        // a: R = 3, first 3 = [b a a]: hits at 2 (1/2) and 3 (2/3) → (1/2 + 2/3) / 3 = 7/18.
        // b: R = 2, first 2 = [b c]: hit at 1 (1/1) → 1/2.
        let expected = (7.0 / 18.0 + 0.5) / 2.0;
        assert!((map_at_r(&r, &q, &[3, 2]) - expected).abs() < 1e-12);
        // A perfect ranking scores 1.
        assert_eq!(map_at_r(&[vec![1, 1, 2]], &[1], &[2]), 1.0);
    }

    #[test]
    fn ndcg_discounts_by_log_rank_against_the_ideal_order() {
        let (r, q) = ranked();
        // a, k = 3, 3 relevant: dcg = 1/log2(3) + 1/log2(4); ideal = 1 + 1/log2(3) + 1/2.
        let a = (1.0 / 3f64.log2() + 0.5) / (1.0 + 1.0 / 3f64.log2() + 0.5);
        // b, k = 3, 2 relevant: dcg = 1; ideal = 1 + 1/log2(3).
        let b = 1.0 / (1.0 + 1.0 / 3f64.log2());
        assert!((ndcg_at_k(&r, &q, &[3, 2], 3) - (a + b) / 2.0).abs() < 1e-12);
    }

    #[test]
    fn relevant_counts_come_from_the_gallery() {
        assert_eq!(relevant_counts(&['a', 'b', 'a'], &['a', 'c']), vec![2, 0]);
    }

    #[test]
    fn empty_query_sets_score_zero() {
        let none: Vec<Vec<u8>> = Vec::new();
        assert_eq!(recall_at_k(&none, &[], 5), 0.0);
        assert_eq!(map_at_r(&none, &[], &[]), 0.0);
    }
}
