//! Retrieval metrics, as TensorFlow Similarity and the metric-learning literature define them,
//! and the distance threshold behind `match` (a label, or "unknown").
//!
//! Each metric takes, per query, the ranked list of retrieved labels (best first) and the
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

/// What a calibration aims for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CalibrationTarget {
    /// The largest threshold (most matches) whose precision is at least this.
    Precision(f64),
    /// The threshold with the best F1 score.
    BestF1,
}

/// A distance threshold and how it scored on the labelled set it was calibrated on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Matches are accepted when the nearest neighbour is at most this far.
    pub threshold: f32,
    /// Correct accepted matches / accepted matches.
    pub precision: f64,
    /// Correct accepted matches / queries.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Calibrates the match threshold from each labelled query's nearest neighbour: its distance
/// and whether its label is the query's. Returns `None` when no threshold reaches the target
/// (or there are no queries). NaN distances never match.
pub fn calibrate(nearest: &[(f32, bool)], target: CalibrationTarget) -> Option<Calibration> {
    let mut sorted: Vec<(f32, bool)> = nearest
        .iter()
        .copied()
        .filter(|(d, _)| !d.is_nan())
        .collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = nearest.len() as f64;
    let mut correct = 0usize;
    let mut best: Option<Calibration> = None;
    for (i, &(distance, is_match)) in sorted.iter().enumerate() {
        correct += usize::from(is_match);
        // Only thresholds between distinct distances are reachable.
        if sorted.get(i + 1).is_some_and(|next| next.0 == distance) {
            continue;
        }
        let precision = correct as f64 / (i + 1) as f64;
        let recall = correct as f64 / total;
        let f1 = if correct == 0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        let candidate = Calibration {
            threshold: distance,
            precision,
            recall,
            f1,
        };
        let better = match target {
            CalibrationTarget::Precision(p) => precision >= p,
            CalibrationTarget::BestF1 => best.is_none_or(|b| f1 > b.f1),
        };
        if better {
            best = Some(candidate);
        }
    }
    best
}

/// The label of the nearest neighbour when it lies within `threshold`, else `None` (unknown).
/// `neighbours` are `(distance, label)`, in any order.
pub fn match_label<L>(neighbours: &[(f32, L)], threshold: f32) -> Option<&L> {
    neighbours
        .iter()
        .filter(|(d, _)| !d.is_nan())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(d, _)| *d <= threshold)
        .map(|(_, label)| label)
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

/// The metrics over a collection: `evaluate`, `calibrate` and `match_label` as a user's
/// searches meet them.
pub mod collection;

pub use collection::{Evaluation, LabelledQueries, Match, ScoreCalibration, evaluate};

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
    fn calibration_reaches_the_target_precision_with_the_most_matches() {
        // Sorted: 0.1 ok, 0.2 ok, 0.3 wrong, 0.4 ok, 0.5 wrong.
        let nearest = [
            (0.4, true),
            (0.1, true),
            (0.5, false),
            (0.2, true),
            (0.3, false),
        ];
        let c = calibrate(&nearest, CalibrationTarget::Precision(0.75)).unwrap();
        // At 0.4: 3 correct of 4 accepted → precision 0.75, recall 3/5.
        assert_eq!(c.threshold, 0.4);
        assert!((c.precision - 0.75).abs() < 1e-12 && (c.recall - 0.6).abs() < 1e-12);
        let strict = calibrate(&nearest, CalibrationTarget::Precision(1.0)).unwrap();
        assert_eq!((strict.threshold, strict.recall), (0.2, 0.4));
        // F1 per threshold: 0.1 → 1/3, 0.2 → 4/7, 0.3 → 1/2, 0.4 → 2/3, 0.5 → 3/5.
        let f1 = calibrate(&nearest, CalibrationTarget::BestF1).unwrap();
        assert_eq!(f1.threshold, 0.4);
        assert!((f1.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(
            calibrate(&[(0.1, false)], CalibrationTarget::Precision(0.5)),
            None
        );
        assert_eq!(calibrate(&[], CalibrationTarget::BestF1), None);
    }

    #[test]
    fn tied_distances_are_one_threshold() {
        // Both at 0.2: accepting one accepts the other, so precision there is 1/2, not 1.
        let c = calibrate(
            &[(0.2, true), (0.2, false)],
            CalibrationTarget::Precision(0.9),
        );
        assert_eq!(c, None);
    }

    #[test]
    fn match_gives_the_nearest_label_within_the_threshold() {
        let neighbours = [(0.5, "cat"), (0.2, "dog"), (f32::NAN, "bird")];
        assert_eq!(match_label(&neighbours, 0.3), Some(&"dog"));
        assert_eq!(match_label(&neighbours, 0.1), None);
        assert_eq!(match_label::<&str>(&[], 1.0), None);
    }

    #[test]
    fn empty_query_sets_score_zero() {
        let none: Vec<Vec<u8>> = Vec::new();
        assert_eq!(recall_at_k(&none, &[], 5), 0.0);
        assert_eq!(map_at_r(&none, &[], &[]), 0.0);
    }
}
