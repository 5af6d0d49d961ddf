//! The held-out check of a training run: a seeded part of the labels (whole labels, never
//! single items) is kept out of training, and the source vectors and the head's embeddings
//! of those items are scored leave-one-out (each item queries all the other held-out items)
//! with recall@1, recall@10 and mAP@R. The run keeps the head of the best held-out score,
//! stops when that score stops improving, and a head that scores below its source is not
//! installed unless the caller insists.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::eval;

/// Held-out retrieval scores (`{ recallAt1, recallAt10, mapAtR }` in JS).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldOutScores {
    /// Share of items whose nearest other held-out item has their label.
    #[serde(rename = "recallAt1")]
    pub recall_at_1: f64,
    /// Share of items with an item of their label among their 10 nearest.
    #[serde(rename = "recallAt10")]
    pub recall_at_10: f64,
    /// Mean average precision at R (R = the other items of the label).
    pub map_at_r: f64,
}

impl HeldOutScores {
    /// The one number runs are compared by: the mean of recall@1 and mAP@R.
    pub fn score(&self) -> f64 {
        (self.recall_at_1 + self.map_at_r) / 2.0
    }
}

/// Most items a check scores (sampled evenly over its labels, seeded), so that it stays cheap.
pub const MAX_HELD_OUT_ITEMS: usize = 600;

/// The split of a labelled set: which items train and which are held out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldOutSplit {
    /// Items (indices into the labels) that train.
    pub train: Vec<usize>,
    /// Items held out and scored (at most [`MAX_HELD_OUT_ITEMS`]).
    pub held_out: Vec<usize>,
    /// Labels held out.
    pub labels: usize,
}

/// Holds out `fraction` of the labels that have at least two items (at least two such labels,
/// so that a neighbour can be wrong), chosen by `seed`; `None` when that would leave fewer than
/// `min_train` usable labels to train on, or when `fraction` is 0. Labels with one item stay in
/// training. Held-out items beyond [`MAX_HELD_OUT_ITEMS`] are dropped evenly over the labels
/// (they train on nothing either).
pub fn hold_out_labels(
    labels: &[u32],
    fraction: f64,
    min_train: usize,
    seed: u64,
) -> Option<HeldOutSplit> {
    let mut by_label: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &l) in labels.iter().enumerate() {
        by_label.entry(l).or_default().push(i);
    }
    let mut usable: Vec<u32> = by_label
        .iter()
        .filter(|(_, items)| items.len() >= 2)
        .map(|(&l, _)| l)
        .collect();
    let count = ((usable.len() as f64 * fraction).round() as usize).max(2);
    if fraction <= 0.0 || usable.len() < count + min_train.max(2) {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4e1d_0ff5);
    usable.shuffle(&mut rng);
    let held: Vec<u32> = usable[..count].to_vec();
    let per_label = (MAX_HELD_OUT_ITEMS / count).max(2);
    let mut held_out = Vec::new();
    for l in &held {
        let mut items = by_label[l].clone();
        items.shuffle(&mut rng);
        items.truncate(per_label);
        held_out.extend(items);
    }
    held_out.sort_unstable();
    let train = (0..labels.len())
        .filter(|i| !held.contains(&labels[*i]))
        .collect();
    Some(HeldOutSplit {
        train,
        held_out,
        labels: count,
    })
}

/// Scores `rows` (`dim` floats each, cosine) leave-one-out: each row queries all the others.
pub fn leave_one_out(rows: &[f32], labels: &[u32], dim: usize) -> HeldOutScores {
    let unit = super::retrieval::normalize_rows(rows, dim);
    let n = labels.len();
    let mut ranked = Vec::with_capacity(n);
    let mut relevant = Vec::with_capacity(n);
    for (i, q) in unit.chunks(dim).enumerate() {
        let mut scored: Vec<(f32, usize)> = unit
            .chunks(dim)
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, g)| (q.iter().zip(g).map(|(a, b)| a * b).sum(), j))
            .collect();
        let r = labels.iter().filter(|&&l| l == labels[i]).count() - 1;
        let keep = r.max(10).min(scored.len());
        if keep > 0 && keep < scored.len() {
            scored.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(keep);
        }
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.push(scored.iter().map(|&(_, j)| labels[j]).collect::<Vec<_>>());
        relevant.push(r);
    }
    HeldOutScores {
        recall_at_1: eval::recall_at_k(&ranked, labels, 1),
        recall_at_10: eval::recall_at_k(&ranked, labels, 10),
        map_at_r: eval::map_at_r(&ranked, labels, &relevant),
    }
}

/// The outcome of a run's held-out check (`heldOut` in JS).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldOutReport {
    /// Labels held out.
    pub labels: usize,
    /// Items scored.
    pub items: usize,
    /// The source vectors' scores.
    pub before: HeldOutScores,
    /// The kept head's scores (the best check of the run).
    pub after: HeldOutScores,
    /// The step whose head was kept.
    pub best_step: usize,
    /// The weight α of a residual head's learned part, `normalize(x + α f(x))`, as kept: the
    /// smallest of [`SHRINK_WEIGHTS`](super::trainer::SHRINK_WEIGHTS) scoring within one
    /// standard error of the best (1 for a plain head).
    pub residual_weight: f32,
    /// Whether the run stopped before its last step because the score stopped improving.
    pub stopped_early: bool,
}

impl HeldOutReport {
    /// Whether the head scores below its source on the held-out labels.
    pub fn worse(&self) -> bool {
        self.after.score() < self.before.score()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_labels_are_held_out_seeded_and_capped() {
        // 10 labels of 5 items, one label of 1 item (never held out: it cannot be scored).
        let labels: Vec<u32> = (0..50).map(|i| i % 10).chain([10]).collect();
        let s = hold_out_labels(&labels, 0.2, 2, 3).unwrap();
        assert_eq!(s.labels, 2);
        assert_eq!(s.held_out.len(), 10);
        let held: std::collections::BTreeSet<u32> = s.held_out.iter().map(|&i| labels[i]).collect();
        assert_eq!(held.len(), 2);
        assert!(!held.contains(&10));
        assert!(s.train.iter().all(|&i| !held.contains(&labels[i])));
        assert_eq!(s.train.len() + s.held_out.len(), labels.len());
        assert_eq!(hold_out_labels(&labels, 0.2, 2, 3), Some(s.clone()));
        assert_ne!(
            hold_out_labels(&labels, 0.2, 2, 4).unwrap().held_out,
            s.held_out
        );
        // At least two labels go, and at least `min_train` stay, or there is no check.
        assert_eq!(hold_out_labels(&labels, 0.01, 2, 3).unwrap().labels, 2);
        assert!(hold_out_labels(&labels, 0.2, 9, 3).is_none());
        assert!(hold_out_labels(&labels, 0.0, 2, 3).is_none());
        // Big labels are sampled down to MAX_HELD_OUT_ITEMS in all.
        let big: Vec<u32> = (0..7000).map(|i| i % 7).collect();
        let s = hold_out_labels(&big, 0.2, 2, 1).unwrap();
        assert_eq!((s.labels, s.held_out.len()), (2, MAX_HELD_OUT_ITEMS));
        assert_eq!(s.train.len(), 5000);
    }

    #[test]
    fn leave_one_out_scores_by_hand() {
        // Directions as 2-d unit vectors: a at 0° and 10°, b at 90° and 25°.
        let deg = |d: f32| [d.to_radians().cos(), d.to_radians().sin()];
        let rows: Vec<f32> = [0.0, 10.0, 90.0, 25.0].into_iter().flat_map(deg).collect();
        let s = leave_one_out(&rows, &[0, 0, 1, 1], 2);
        // Nearest others: 0°→10° (a ✓), 10°→0° (✓), 90°→25° (b ✓), 25°→10° (a ✗).
        // R = 1 each, so mAP@R = recall@1.
        assert_eq!(s.recall_at_1, 0.75);
        assert_eq!(s.map_at_r, 0.75);
        assert_eq!(s.recall_at_10, 1.0);
        assert_eq!(s.score(), 0.75);
    }
}
