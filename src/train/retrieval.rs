//! Exact retrieval scoring of embeddings: ranks a gallery by cosine similarity for each query
//! and scores the ranking with [`crate::eval`] (recall@1, mAP@R).

use crate::eval;

/// Recall@1 and mAP@R of one query set.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Share of queries whose nearest gallery item has their label.
    pub recall_at_1: f64,
    /// Mean average precision at R (R = the query label's gallery count, capped at `r`).
    pub map_at_r: f64,
}

/// Rows of `data` (`dim` floats each) scaled to unit length.
pub fn normalize_rows(data: &[f32], dim: usize) -> Vec<f32> {
    let mut out = data.to_vec();
    for row in out.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        row.iter_mut().for_each(|x| *x /= norm);
    }
    out
}

/// For each query row, the labels of its `top` most cosine-similar gallery rows, best first.
pub fn rank_labels<L: Clone>(
    gallery: &[f32],
    gallery_labels: &[L],
    queries: &[f32],
    dim: usize,
    top: usize,
) -> Vec<Vec<L>> {
    let gallery = normalize_rows(gallery, dim);
    let queries = normalize_rows(queries, dim);
    queries
        .chunks(dim)
        .map(|q| {
            let mut scored: Vec<(f32, usize)> = gallery
                .chunks(dim)
                .enumerate()
                .map(|(i, g)| (q.iter().zip(g).map(|(a, b)| a * b).sum(), i))
                .collect();
            let keep = top.min(scored.len());
            if keep > 0 && keep < scored.len() {
                scored.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
                scored.truncate(keep);
            }
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            scored.truncate(keep);
            scored
                .into_iter()
                .map(|(_, i)| gallery_labels[i].clone())
                .collect()
        })
        .collect()
}

/// Recall@1 and mAP@R (R = each query's relevant gallery count, at most `r`) of `queries`
/// against `gallery`, ranked by cosine similarity.
pub fn score<L: Clone + PartialEq>(
    gallery: &[f32],
    gallery_labels: &[L],
    queries: &[f32],
    query_labels: &[L],
    dim: usize,
    r: usize,
) -> Scores {
    let ranked = rank_labels(gallery, gallery_labels, queries, dim, r.max(1));
    let relevant: Vec<usize> = eval::relevant_counts(gallery_labels, query_labels)
        .into_iter()
        .map(|c| c.min(r))
        .collect();
    Scores {
        recall_at_1: eval::recall_at_k(&ranked, query_labels, 1),
        map_at_r: eval::map_at_r(&ranked, query_labels, &relevant),
    }
}

/// How `match` answers scored against the truth, for the demo's confusion table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Confusion {
    /// Answered with the right label.
    pub correct: usize,
    /// Answered with a wrong label.
    pub wrong: usize,
    /// Answered "unknown" (no neighbour within the threshold).
    pub unknown: usize,
}

/// Counts right, wrong and unknown answers: `answers[i]` is what `match` said for a query
/// whose true label is `truth[i]` (`None` = unknown).
pub fn confusion<L: PartialEq>(answers: &[Option<L>], truth: &[L]) -> Confusion {
    let mut c = Confusion::default();
    for (answer, label) in answers.iter().zip(truth) {
        match answer {
            None => c.unknown += 1,
            Some(a) if a == label => c.correct += 1,
            Some(_) => c.wrong += 1,
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts_right_wrong_and_unknown() {
        let answers = [Some('a'), None, Some('b'), Some('b'), None];
        let truth = ['a', 'a', 'a', 'b', 'c'];
        assert_eq!(
            confusion(&answers, &truth),
            Confusion {
                correct: 2,
                wrong: 1,
                unknown: 2
            }
        );
    }

    #[test]
    fn ranking_and_scores_by_hand() {
        // 2-d gallery: a at 0°, a at 10°, b at 90°; queries: 5° (a), 80° (b), 20° (b).
        let deg = |d: f32| [d.to_radians().cos(), d.to_radians().sin()];
        let gallery: Vec<f32> = [0.0, 10.0, 90.0].into_iter().flat_map(deg).collect();
        let queries: Vec<f32> = [5.0, 80.0, 20.0].into_iter().flat_map(deg).collect();
        let ranked = rank_labels(&gallery, &['a', 'a', 'b'], &queries, 2, 3);
        assert_eq!(ranked[1], vec!['b', 'a', 'a']);
        assert_eq!(ranked[2], vec!['a', 'a', 'b']);
        let s = score(
            &gallery,
            &['a', 'a', 'b'],
            &queries,
            &['a', 'b', 'b'],
            2,
            200,
        );
        // R@1: a ✓, b ✓, b ✗ → 2/3. mAP@R: a (R=2) 1; b@80 (R=1) 1; b@20 (R=1) 0 → 2/3.
        assert!((s.recall_at_1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((s.map_at_r - 2.0 / 3.0).abs() < 1e-12);
    }
}
