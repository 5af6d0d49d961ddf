//! Class-balanced, seeded batches (`classes_per_batch × examples_per_class`, as TensorFlow
//! Similarity's samplers make them) and a split that holds whole classes out.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::TrainError;

/// Draws balanced batches of item indices from a labelled set, reproducibly from a seed.
#[derive(Debug, Clone)]
pub struct BalancedSampler {
    classes: Vec<Vec<usize>>,
    classes_per_batch: usize,
    examples_per_class: usize,
    rng: ChaCha8Rng,
}

impl BalancedSampler {
    /// A sampler over `labels` (one per item). Classes with fewer than two items are left out
    /// (they cannot form a positive pair); at least `classes_per_batch` classes must remain.
    pub fn new(
        labels: &[u32],
        classes_per_batch: usize,
        examples_per_class: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if classes_per_batch < 2 || examples_per_class < 2 {
            return Err(TrainError::Config(format!(
                "batches need at least 2 classes of at least 2 examples, got {classes_per_batch} × {examples_per_class}"
            )));
        }
        let mut by_class: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, &label) in labels.iter().enumerate() {
            by_class.entry(label).or_default().push(i);
        }
        let classes: Vec<Vec<usize>> = by_class.into_values().filter(|v| v.len() >= 2).collect();
        if classes.len() < classes_per_batch {
            return Err(TrainError::NotEnoughClasses {
                usable: classes.len(),
                needed: classes_per_batch,
            });
        }
        Ok(BalancedSampler {
            classes,
            classes_per_batch,
            examples_per_class,
            rng: ChaCha8Rng::seed_from_u64(seed),
        })
    }

    /// Items per batch.
    pub fn batch_size(&self) -> usize {
        self.classes_per_batch * self.examples_per_class
    }

    /// The next batch: `classes_per_batch` distinct classes, `examples_per_class` items of
    /// each (distinct when the class has that many, else drawn again), class by class.
    pub fn next_batch(&mut self) -> Vec<usize> {
        let mut batch = Vec::with_capacity(self.batch_size());
        let chosen: Vec<usize> =
            rand::seq::index::sample(&mut self.rng, self.classes.len(), self.classes_per_batch)
                .into_vec();
        for c in chosen {
            let items = &self.classes[c];
            if items.len() >= self.examples_per_class {
                batch.extend(items.choose_multiple(&mut self.rng, self.examples_per_class));
            } else {
                let mut shuffled = items.clone();
                shuffled.shuffle(&mut self.rng);
                batch.extend(shuffled.iter().cycle().take(self.examples_per_class));
            }
        }
        batch
    }
}

/// Splits item indices by class: items whose label is in `held_out` go to the second list,
/// the others to the first. Both keep the items' order.
pub fn hold_out_classes(labels: &[u32], held_out: &[u32]) -> (Vec<usize>, Vec<usize>) {
    (0..labels.len()).partition(|&i| !held_out.contains(&labels[i]))
}

/// Picks `round(fraction × classes)` of the distinct labels for training, at random from
/// `seed`; returns `(train_classes, held_out_classes)`, each sorted.
pub fn split_classes(labels: &[u32], fraction: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
    let mut classes: Vec<u32> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    classes.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let cut = ((classes.len() as f64 * fraction).round() as usize).min(classes.len());
    let (mut train, mut held) = (classes[..cut].to_vec(), classes[cut..].to_vec());
    train.sort_unstable();
    held.sort_unstable();
    (train, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> Vec<u32> {
        // Class 0: 6 items, 1: 3 items, 2: 4 items, 3: 1 item (unusable).
        vec![0, 1, 0, 2, 0, 1, 2, 0, 3, 2, 0, 1, 2, 0]
    }

    #[test]
    fn batches_are_balanced_and_within_classes() {
        let labels = labels();
        let mut s = BalancedSampler::new(&labels, 2, 4, 7).unwrap();
        for _ in 0..50 {
            let batch = s.next_batch();
            assert_eq!(batch.len(), 8);
            let first = labels[batch[0]];
            let second = labels[batch[4]];
            assert_ne!(first, second);
            assert!(batch[..4].iter().all(|&i| labels[i] == first));
            assert!(batch[4..].iter().all(|&i| labels[i] == second));
            assert!(first != 3 && second != 3, "a one-item class was drawn");
            // Class 0 and 2 have ≥ 4 items: their picks are distinct.
            for half in [&batch[..4], &batch[4..]] {
                if labels[half[0]] != 1 {
                    let mut h = half.to_vec();
                    h.sort_unstable();
                    h.dedup();
                    assert_eq!(h.len(), 4);
                }
            }
        }
    }

    #[test]
    fn every_usable_class_is_drawn_and_seeds_reproduce() {
        let labels = labels();
        let mut a = BalancedSampler::new(&labels, 2, 2, 1).unwrap();
        let mut b = BalancedSampler::new(&labels, 2, 2, 1).unwrap();
        let mut c = BalancedSampler::new(&labels, 2, 2, 2).unwrap();
        let (ra, rb, rc): (Vec<_>, Vec<_>, Vec<_>) = (
            (0..30).map(|_| a.next_batch()).collect(),
            (0..30).map(|_| b.next_batch()).collect(),
            (0..30).map(|_| c.next_batch()).collect(),
        );
        assert_eq!(ra, rb);
        assert_ne!(ra, rc);
        let mut seen: Vec<u32> = ra.iter().flatten().map(|&i| labels[i]).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, vec![0, 1, 2]);
    }

    #[test]
    fn too_few_classes_or_tiny_batches_are_errors() {
        let labels = labels();
        assert!(matches!(
            BalancedSampler::new(&labels, 4, 2, 0),
            Err(TrainError::NotEnoughClasses {
                usable: 3,
                needed: 4
            })
        ));
        assert!(BalancedSampler::new(&labels, 2, 1, 0).is_err());
    }

    #[test]
    fn held_out_classes_are_whole() {
        let labels = labels();
        let (train, held) = hold_out_classes(&labels, &[2, 3]);
        assert_eq!(held, vec![3, 6, 8, 9, 12]);
        assert_eq!(train.len() + held.len(), labels.len());
        assert!(train.iter().all(|&i| labels[i] < 2));
        let (tc, hc) = split_classes(&labels, 0.5, 3);
        assert_eq!(tc.len(), 2);
        assert_eq!(hc.len(), 2);
        let mut all = [tc.clone(), hc].concat();
        all.sort_unstable();
        assert_eq!(all, vec![0, 1, 2, 3]);
        assert_eq!(split_classes(&labels, 0.5, 3).0, tc);
    }
}
