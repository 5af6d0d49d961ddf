//! The options of a head-training run as the JS API takes them (camelCase, every field
//! optional), and the recipe that fills in what they leave out from the labelled set itself
//! ([`DataShape`] → [`Recipe`]; the rule and its measurements are in README.md's training
//! paragraph and BENCHMARKS.md, "Metric learning"):
//!
//! - batches of about 256 items: `examplesPerClass` = the median items per label (2..=16),
//!   `classesPerBatch` = 256 / that (at most the labels that train): MNIST 7 × 16, emoji
//!   identities 128 × 2;
//! - square grey image rows (side² values in [0, 1]) get the digits' augmentation, a plain
//!   512 → 256 head at 2e-3, and the SimCLR term on the unlabelled items (when there are any),
//!   450 steps (MNIST's unseen digits score as after 600, in three quarters of the time);
//! - frozen embeddings get a residual head (`normalize(x + f(x))`, `f` starting at zero, weight
//!   decay 1e-4 toward it; `f` linear: on the emoji identities it beat a 512-unit `f` both on
//!   the held-back identities and on an unseen domain) at 1e-3 and no self-supervised term
//!   (without an augmentation two views of a vector are the same), about 70 passes over the
//!   items (100..=800 steps);
//! - a residual head is kept near its source where the labels say nothing: the
//!   source-neighbour term ([`KEEP_SOURCE`] × [`source_neighbours`](super::loss::source_neighbours):
//!   items of different labels, and unlabelled items, keep the source's ranking of each other)
//!   and, after the run,
//!   the one-standard-error rule on `f`'s weight α (see
//!   [`Trainer::with_held_out`](super::Trainer::with_held_out)). Neither reads data outside the
//!   labelled set; measured on an unseen domain (MNIST digits through the emoji-trained head:
//!   recall@1 0.840 → 0.795 without them, 0.835 with them; the identities' recall@1 0.716 →
//!   0.698, still +0.14 over the source);
//! - a fifth of the labels (at least 2, and only when 8 still train: with MNIST's 7 digits,
//!   holding 2 out cost the unseen digits 0.045 of recall@1) are held out, scored every
//!   twentieth of the run; the best head is kept and the run stops after 5 checks without
//!   improvement.

use serde::Deserialize;

use super::heldout::{HeldOutReport, HeldOutSplit, hold_out_labels};
use super::loss::{Distance, Loss};
use super::{
    Augment, HeadConfig, HeadInit, MetricHead, Progress, SelfSupervised, TrainConfig, TrainError,
    TrainSet, Trainer,
};
use crate::compute::Compute;

/// Augmentation of square grey images; unset ranges take [`Augment::digits`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AugmentOptions {
    /// Side of the square images (rows hold `side × side` values).
    pub side: usize,
    /// Largest shift in pixels (default 2).
    pub max_shift: Option<f32>,
    /// Largest rotation in degrees (default 12).
    pub max_rotation_deg: Option<f32>,
    /// Largest relative change of scale (default 0.1).
    pub max_scale: Option<f32>,
}

/// The self-supervised term; unset values take the defaults (weight 1, 128 items, 0.2).
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelfSupervisedOptions {
    /// Weight of the term next to the supervised loss.
    pub weight: Option<f32>,
    /// Unlabelled items per step.
    pub batch: Option<usize>,
    /// Softmax temperature.
    pub temperature: Option<f32>,
}

/// How to train a metric head; every field is optional.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeadTrainingOptions {
    /// Hidden layer widths (default `[512]`, none for a residual head).
    pub hidden: Option<Vec<usize>>,
    /// Output embedding width (default 256; a residual head keeps its input's width).
    pub output: Option<usize>,
    /// Most optimiser steps (default: the recipe's; the held-out check may stop sooner).
    pub steps: Option<usize>,
    /// Loss name, as [`Loss::from_name`] knows them (default `supervised_contrastive`).
    pub loss: Option<String>,
    /// Distance the loss compares with (default cosine).
    pub distance: Option<Distance>,
    /// Peak learning rate (default 2e-3 for image rows, 1e-3 for embeddings).
    pub learning_rate: Option<f64>,
    /// Warm-up steps (default a tenth of the steps).
    pub warmup_steps: Option<usize>,
    /// L2 weight decay (default 1e-4 for a residual head, else 0).
    pub weight_decay: Option<f32>,
    /// Classes per batch (default 256 / `examples_per_class`, at most the labels).
    pub classes_per_batch: Option<usize>,
    /// Items per class in a batch (default the median items per label, 2..=16).
    pub examples_per_class: Option<usize>,
    /// Seed of the initial weights, the sampler and the augmentations (default 1).
    pub seed: Option<u64>,
    /// The self-supervised term: absent for the recipe's (image rows with unlabelled items),
    /// `true` for the default term, `false` for none, an object to tune it.
    pub self_supervised: Option<SelfSupervisedSetting>,
    /// Augmentation of image rows (default: the digits' ranges for square grey image rows).
    pub augment: Option<AugmentOptions>,
    /// A residual head, `normalize(x + f(x))` (default: for frozen embeddings).
    pub residual: Option<bool>,
    /// Share of the labels held out to check the head on (default 0.2, at least 2 labels, only
    /// when 8 still train; 0 for no check).
    pub hold_out: Option<f64>,
    /// Install a head that scores below its source on the held-out labels (default false).
    pub keep_if_worse: Option<bool>,
    /// Weight of the source-neighbour term, which keeps the source's ranking of items of
    /// different labels (default [`KEEP_SOURCE`] for a residual head, else 0; 0 for none).
    pub keep_source: Option<f32>,
}

/// `selfSupervised: false` turns the term off; an object tunes it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum SelfSupervisedSetting {
    /// `true` keeps the default term, `false` drops it.
    Enabled(bool),
    /// The term with these values.
    With(SelfSupervisedOptions),
}

/// What the recipe reads from a labelled set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataShape {
    /// Width of a row.
    pub dim: usize,
    /// Labels with at least two items that train (held-out labels not counted).
    pub labels: usize,
    /// Median items of those labels.
    pub items_per_label: usize,
    /// Labelled items that train.
    pub items: usize,
    /// Unlabelled items.
    pub unlabelled: usize,
    /// The side of square grey images, when every row is `side²` values in [0, 1] (side ≥ 8);
    /// otherwise the rows are taken for frozen embeddings.
    pub image_side: Option<usize>,
}

impl DataShape {
    /// The shape of `rows` (n × `dim`) labelled by `labels`, with `unlabelled` rows.
    pub fn of(rows: &[f32], labels: &[u32], unlabelled: &[f32], dim: usize) -> Self {
        let mut counts: Vec<usize> = {
            let mut by = std::collections::HashMap::new();
            labels
                .iter()
                .for_each(|&l| *by.entry(l).or_insert(0usize) += 1);
            by.into_values().filter(|&c| c >= 2).collect()
        };
        counts.sort_unstable();
        let side = (dim as f64).sqrt().round() as usize;
        let grey = |r: &[f32]| r.iter().all(|v| (0.0..=1.0).contains(v));
        let image = side >= 8 && side * side == dim && grey(rows) && grey(unlabelled);
        DataShape {
            dim,
            labels: counts.len(),
            items_per_label: counts.get(counts.len() / 2).copied().unwrap_or(0),
            items: labels.len(),
            unlabelled: unlabelled.len() / dim.max(1),
            image_side: image.then_some(side),
        }
    }
}

/// Items a batch aims at.
pub const BATCH_ITEMS: usize = 256;

/// A run's settings once the options and the data have been read (`recipe` in JS).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipe {
    /// What the rule read.
    pub data: DataShape,
    /// Classes per batch.
    pub classes_per_batch: usize,
    /// Items per class in a batch.
    pub examples_per_class: usize,
    /// Most steps (the held-out check may stop sooner).
    pub steps: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Weight decay.
    pub weight_decay: f32,
    /// Whether the SimCLR term runs.
    pub self_supervised: bool,
    /// Whether image rows are augmented.
    pub augment: bool,
    /// Whether the head is residual.
    pub residual: bool,
    /// Weight of the source-neighbour term (0: none).
    pub keep_source: f32,
    /// Share of the labels held out.
    pub hold_out: f64,
}

/// The source-neighbour term's weight for a residual head (see the module's rule). Measured
/// natively (examples/train_emoji.rs with `--unseen`, split seed 1): weight 0, 2, 5, 10 gave
/// the unseen digits recall@1 0.800, 0.805, 0.835, 0.835 and the identities 0.724, 0.703,
/// 0.698, 0.670: 5 is the smallest that keeps the unseen domain.
pub const KEEP_SOURCE: f32 = 5.0;

/// Longest run accepted, in steps.
pub const MAX_STEPS: usize = 1_000_000;

impl HeadTrainingOptions {
    /// The head shape and training configuration for `data` (see the module's rule); every
    /// option set overrides its part of the rule.
    pub fn resolve(&self, data: &DataShape) -> Result<(HeadConfig, TrainConfig), TrainError> {
        let image = data.image_side.is_some();
        let examples_per_class = self
            .examples_per_class
            .unwrap_or_else(|| data.items_per_label.clamp(2, 16));
        let classes_per_batch = self.classes_per_batch.unwrap_or_else(|| {
            (BATCH_ITEMS / examples_per_class.max(1)).clamp(2, data.labels.max(2))
        });
        let passes = 70 * data.items / (classes_per_batch * examples_per_class).max(1);
        let steps = self
            .steps
            .unwrap_or(if image { 450 } else { passes.clamp(100, 800) });
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(TrainError::Config(format!(
                "steps must be 1..={MAX_STEPS}, got {steps}"
            )));
        }
        let learning_rate = self
            .learning_rate
            .unwrap_or(if image { 2e-3 } else { 1e-3 });
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(TrainError::Config(format!(
                "learningRate must be a positive number, got {learning_rate}"
            )));
        }
        let residual = self.residual(data);
        let output = self.output.unwrap_or(if residual { data.dim } else { 256 });
        if residual && output != data.dim {
            return Err(TrainError::Config(format!(
                "a residual head keeps its input's width ({}), not {output}",
                data.dim
            )));
        }
        let head = HeadConfig {
            input: data.dim,
            hidden: self
                .hidden
                .clone()
                .unwrap_or_else(|| if residual { vec![] } else { vec![512] }),
            output,
        };
        let ssl_default = SelfSupervised {
            weight: 1.0,
            batch: 128,
            temperature: 0.2,
        };
        let self_supervised = match self.self_supervised {
            None => (image && self.augment(data).is_some()).then_some(ssl_default),
            Some(SelfSupervisedSetting::Enabled(true)) => Some(ssl_default),
            Some(SelfSupervisedSetting::Enabled(false)) => None,
            Some(SelfSupervisedSetting::With(o)) => Some(SelfSupervised {
                weight: o.weight.unwrap_or(ssl_default.weight),
                batch: o.batch.unwrap_or(ssl_default.batch),
                temperature: o.temperature.unwrap_or(ssl_default.temperature),
            }),
        };
        let keep_source = self
            .keep_source
            .unwrap_or(if residual { KEEP_SOURCE } else { 0.0 });
        if !(keep_source.is_finite() && keep_source >= 0.0) {
            return Err(TrainError::Config(format!(
                "keepSource must be a number ≥ 0, got {keep_source}"
            )));
        }
        let config = TrainConfig {
            loss: Loss::from_name(self.loss.as_deref().unwrap_or("supervised_contrastive"))?,
            distance: self.distance.unwrap_or(Distance::Cosine),
            steps,
            learning_rate,
            warmup_steps: self.warmup_steps.unwrap_or(steps / 10),
            weight_decay: self
                .weight_decay
                .unwrap_or(if residual { 1e-4 } else { 0.0 }),
            classes_per_batch,
            examples_per_class,
            seed: self.seed.unwrap_or(1),
            self_supervised,
            keep_source,
        };
        Ok((head, config))
    }

    /// Whether the head is residual: as asked, else for frozen embeddings whose width is kept.
    fn residual(&self, data: &DataShape) -> bool {
        self.residual.unwrap_or_else(|| {
            data.image_side.is_none() && self.output.is_none_or(|o| o == data.dim)
        })
    }

    /// The augmentation, if any: as asked, else the digits' ranges for image rows.
    pub fn augment(&self, data: &DataShape) -> Option<Augment> {
        let asked = self.augment.map(|a| (a.side, Some(a)));
        let (side, a) = asked.or(data.image_side.map(|s| (s, None)))?;
        let d = Augment::digits(side);
        Some(Augment {
            side,
            max_shift: a.and_then(|a| a.max_shift).unwrap_or(d.max_shift),
            max_rotation_deg: a
                .and_then(|a| a.max_rotation_deg)
                .unwrap_or(d.max_rotation_deg),
            max_scale: a.and_then(|a| a.max_scale).unwrap_or(d.max_scale),
        })
    }

    /// The held-out split of `labels` these options ask for (`None`: no check, also when fewer
    /// than 8 labels would remain to train on).
    pub fn split(&self, labels: &[u32]) -> Option<HeldOutSplit> {
        let fraction = self.hold_out.unwrap_or(0.2);
        hold_out_labels(labels, fraction, 8, self.seed.unwrap_or(1))
    }

    /// Prepares a run of a metric head as these options and the data say, with autodiff on
    /// `compute`: `rows` (n × `dim`, row-major) labelled by `labels`, and `unlabelled`
    /// (m × `dim`) for the self-supervised term. The held-out labels' items are kept out of
    /// training and checked (see [`Trainer::with_held_out`]).
    pub async fn run(
        &self,
        compute: &Compute,
        rows: &[f32],
        labels: &[u32],
        unlabelled: &[f32],
        dim: usize,
    ) -> Result<HeadRun, TrainError> {
        if dim == 0 || rows.len() != labels.len() * dim {
            return Err(TrainError::BatchShape {
                rows: rows.len() / dim.max(1),
                labels: labels.len(),
            });
        }
        let split = self.split(labels);
        let pick = |items: &[usize]| -> (Vec<f32>, Vec<u32>) {
            let rows = items
                .iter()
                .flat_map(|&i| rows[i * dim..(i + 1) * dim].iter().copied());
            (rows.collect(), items.iter().map(|&i| labels[i]).collect())
        };
        let (train_rows, train_labels) = match &split {
            Some(s) => pick(&s.train),
            None => (rows.to_vec(), labels.to_vec()),
        };
        let data = DataShape::of(&train_rows, &train_labels, unlabelled, dim);
        let (head, config) = self.resolve(&data)?;
        let augment = self.augment(&data);
        let residual = self.residual(&data);
        let device = compute.device().clone().autodiff();
        let model = if residual {
            let norm = typical_norm(&train_rows, dim);
            MetricHead::residual(dim, &head.hidden, 1.0 / norm, config.seed, &device)?
        } else {
            head.init(config.seed, &device)?
        };
        let set = TrainSet {
            inputs: &train_rows,
            labels: &train_labels,
            unlabelled,
            dim,
            augment,
        };
        let mut trainer = Trainer::new(model, set, &config, &device)?;
        if let Some(s) = &split {
            let (held_rows, held_labels) = pick(&s.held_out);
            let every = (config.steps / 20).max(10);
            trainer = trainer
                .with_held_out(&held_rows, &held_labels, s.labels, every, 5)
                .await?;
        }
        let recipe = Recipe {
            data,
            classes_per_batch: config.classes_per_batch,
            examples_per_class: config.examples_per_class,
            steps: config.steps,
            learning_rate: config.learning_rate,
            weight_decay: config.weight_decay,
            self_supervised: trainer.self_supervised(),
            augment: augment.is_some(),
            residual,
            keep_source: config.keep_source,
            hold_out: if split.is_some() {
                self.hold_out.unwrap_or(0.2)
            } else {
                0.0
            },
        };
        Ok(HeadRun {
            trainer,
            recipe,
            keep_if_worse: self.keep_if_worse.unwrap_or(false),
        })
    }
}

/// The median norm of `rows` (1 when they are all zero).
fn typical_norm(rows: &[f32], dim: usize) -> f32 {
    let mut norms: Vec<f32> = rows
        .chunks(dim)
        .map(|r| r.iter().map(|v| v * v).sum::<f32>().sqrt())
        .collect();
    norms.sort_by(f32::total_cmp);
    norms
        .get(norms.len() / 2)
        .copied()
        .filter(|&n| n > 0.0)
        .unwrap_or(1.0)
}

/// One head-training run as the browser's worker takes it: the trainer, the recipe it
/// follows, and whether to install a head that the held-out check finds worse.
pub struct HeadRun {
    trainer: Trainer<MetricHead>,
    recipe: Recipe,
    keep_if_worse: bool,
}

/// How a run went (`{ losses, recipe, heldOut, installed, reason }` in JS).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    /// The loss of every step.
    pub losses: Vec<f32>,
    /// What the run followed.
    pub recipe: Recipe,
    /// The held-out check, when there was one.
    pub held_out: Option<HeldOutReport>,
    /// Whether the head should be installed as a learned field.
    pub installed: bool,
    /// Why not, when it should not.
    pub reason: Option<String>,
}

impl HeadRun {
    /// Runs up to `steps` more steps, fewer when the run finishes first.
    pub async fn run(&mut self, steps: usize) -> Result<Vec<Progress>, TrainError> {
        self.trainer.run(steps).await
    }

    /// Whether the run is done (every step, or stopped by the held-out check).
    pub fn is_finished(&self) -> bool {
        self.trainer.is_finished()
    }

    /// The recipe this run follows.
    pub fn recipe(&self) -> &Recipe {
        &self.recipe
    }

    /// How the run went so far, and whether its head should be installed: not when it scores
    /// below its source on the held-out labels, unless `keepIfWorse`.
    pub fn summary(&self) -> RunSummary {
        let held_out = self.trainer.held_out();
        let worse = held_out.filter(HeldOutReport::worse);
        let reason = worse.map(|h| {
            format!(
                "the learned field scores below its source on {} held-out labels (recall@1 {:.3} vs {:.3}, mAP@R {:.3} vs {:.3}); pass keepIfWorse: true to install it anyway",
                h.labels, h.after.recall_at_1, h.before.recall_at_1, h.after.map_at_r, h.before.map_at_r
            )
        });
        RunSummary {
            losses: self.trainer.losses().to_vec(),
            recipe: self.recipe.clone(),
            held_out,
            installed: worse.is_none() || self.keep_if_worse,
            reason: reason.filter(|_| !self.keep_if_worse),
        }
    }

    /// The kept head (the best of the held-out check, else the last) as safetensors bytes.
    pub async fn head_bytes(&self) -> Result<Vec<u8>, TrainError> {
        self.trainer.model().to_safetensors().await
    }

    /// The kept head.
    pub fn model(&self) -> MetricHead {
        self.trainer.model()
    }
}

/// Classes of `labels` with at least two items (the ones a balanced batch can use).
pub fn usable_classes(labels: &[u32]) -> usize {
    let mut counts = std::collections::HashMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    counts.values().filter(|&&c| c >= 2).count()
}

#[cfg(test)]
mod tests {
    use super::super::heldout::leave_one_out;
    use super::super::models::embed_rows;
    use super::super::trainer::{SHRINK_WEIGHTS, standard_error};
    use super::*;

    fn shape(dim: usize, labels: usize, per_label: usize, image: bool) -> DataShape {
        DataShape {
            dim,
            labels,
            items_per_label: per_label,
            items: labels * per_label,
            unlabelled: 100,
            image_side: image.then(|| (dim as f64).sqrt() as usize),
        }
    }

    #[test]
    fn the_data_shape_reads_labels_items_and_image_rows() {
        // 3 labels: 4, 2 and 1 items (the last cannot pair); 8×8 grey rows.
        let labels = [0, 0, 1, 0, 1, 2, 0];
        let rows: Vec<f32> = (0..7 * 64).map(|i| (i % 10) as f32 / 10.0).collect();
        let d = DataShape::of(&rows, &labels, &rows[..2 * 64], 64);
        assert_eq!(
            (d.labels, d.items_per_label, d.items, d.unlabelled),
            (2, 4, 7, 2)
        );
        assert_eq!(d.image_side, Some(8));
        // Negative values, or a width that is no square: frozen embeddings.
        let neg: Vec<f32> = rows.iter().map(|v| v - 0.5).collect();
        assert_eq!(DataShape::of(&neg, &labels, &[], 64).image_side, None);
        let wide = &rows[..7 * 48];
        assert_eq!(DataShape::of(wide, &labels, &[], 48).image_side, None);
    }

    #[test]
    fn the_rule_reads_the_data() {
        let o = HeadTrainingOptions::default();
        // MNIST: 7 labels × 700 grey 28×28 images, unlabelled ones → 7 × 16, SimCLR, 450 steps.
        let mnist = shape(784, 7, 700, true);
        let (head, c) = o.resolve(&mnist).unwrap();
        assert_eq!(
            (head.input, head.hidden.clone(), head.output),
            (784, vec![512], 256)
        );
        assert_eq!(
            (c.classes_per_batch, c.examples_per_class, c.steps),
            (7, 16, 450)
        );
        assert_eq!((c.learning_rate, c.weight_decay), (2e-3, 0.0));
        assert_eq!(
            c.keep_source, 0.0,
            "a plain head has no source ranking to keep"
        );
        assert_eq!(c.self_supervised.unwrap().batch, 128);
        assert_eq!(o.augment(&mnist), Some(Augment::digits(28)));
        // Emoji identities: 1,070 labels × 2 frozen 384-d vectors → 128 × 2, residual, no
        // SimCLR, 70 passes (585 steps).
        let emoji = shape(384, 1070, 2, false);
        let (head, c) = o.resolve(&emoji).unwrap();
        assert!(head.hidden.is_empty(), "a linear residual head");
        assert_eq!(
            (head.output, c.classes_per_batch, c.examples_per_class),
            (384, 128, 2)
        );
        assert_eq!(c.steps, 70 * 2140 / 256);
        assert_eq!((c.learning_rate, c.weight_decay), (1e-3, 1e-4));
        assert_eq!(c.keep_source, KEEP_SOURCE);
        assert!(c.self_supervised.is_none() && o.augment(&emoji).is_none());
        assert!(o.residual(&emoji));
        // 3–10 items a label: the median's worth of each, 256 / it labels, steps clamped.
        let (_, c) = o.resolve(&shape(384, 300, 6, false)).unwrap();
        assert_eq!(
            (c.classes_per_batch, c.examples_per_class, c.steps),
            (42, 6, 500)
        );
        let (_, c) = o.resolve(&shape(384, 20, 3, false)).unwrap();
        assert_eq!(
            (c.classes_per_batch, c.examples_per_class, c.steps),
            (20, 3, 100)
        );
    }

    #[test]
    fn options_override_the_rule() {
        let o: HeadTrainingOptions = serde_json::from_str(
            r#"{"steps": 50, "loss": "circle", "selfSupervised": false, "hidden": [],
                "augment": {"side": 28, "maxShift": 1}, "classesPerBatch": 3,
                "examplesPerClass": 4, "learningRate": 0.01, "output": 32}"#,
        )
        .unwrap();
        let data = shape(784, 7, 700, true);
        let (head, c) = o.resolve(&data).unwrap();
        assert!(head.hidden.is_empty());
        assert_eq!(head.output, 32);
        assert_eq!((c.steps, c.warmup_steps, c.classes_per_batch), (50, 5, 3));
        assert_eq!((c.examples_per_class, c.learning_rate), (4, 0.01));
        assert_eq!(c.loss.name(), "circle");
        assert!(c.self_supervised.is_none());
        let a = o.augment(&data).unwrap();
        assert_eq!((a.max_shift, a.max_rotation_deg), (1.0, 12.0));
        // A width other than the input's means a plain head; a residual one must keep it.
        let emoji = shape(384, 1070, 2, false);
        assert!(!o.residual(&emoji));
        let bad: HeadTrainingOptions =
            serde_json::from_str(r#"{"residual": true, "output": 32}"#).unwrap();
        assert!(bad.resolve(&emoji).is_err());
        let keep: HeadTrainingOptions = serde_json::from_str(r#"{"keepSource": 0}"#).unwrap();
        assert_eq!(keep.resolve(&emoji).unwrap().1.keep_source, 0.0);
    }

    #[test]
    fn bad_options_are_errors() {
        let parse = |s: &str| serde_json::from_str::<HeadTrainingOptions>(s);
        assert!(
            parse(r#"{"stesp": 5}"#).is_err(),
            "unknown keys are refused"
        );
        let resolve = |s: &str| parse(s).unwrap().resolve(&shape(8, 3, 4, false));
        assert!(resolve(r#"{"steps": 0}"#).is_err());
        assert!(resolve(r#"{"learningRate": -1}"#).is_err());
        assert!(resolve(r#"{"loss": "hinge"}"#).is_err());
        assert!(resolve(r#"{"keepSource": -1}"#).is_err());
    }

    fn clusters(labels: u32, per_label: u32, dim: usize) -> (Vec<f32>, Vec<u32>) {
        // Label l's items near the unit axis l mod dim, with an item-dependent wobble.
        let labels: Vec<u32> = (0..labels * per_label).map(|i| i % labels).collect();
        let rows = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| {
                (0..dim).map(move |d| {
                    let wobble = ((i * 7 + d * 13) % 11) as f32 / 11.0 - 0.5;
                    if d == l as usize % dim {
                        1.0
                    } else {
                        0.3 * wobble
                    }
                })
            })
            .collect();
        (rows, labels)
    }

    #[test]
    fn a_run_holds_labels_out_keeps_its_best_head_and_reports() {
        let (rows, labels) = clusters(20, 4, 16);
        let compute = Compute::cpu();
        let options: HeadTrainingOptions =
            serde_json::from_str(r#"{"steps": 40, "hidden": [32]}"#).unwrap();
        let mut run = pollster::block_on(options.run(&compute, &rows, &labels, &[], 16)).unwrap();
        let r = run.recipe().clone();
        // 4 of 20 labels held out: 16 train, 4 items each → 16 × 4 a batch.
        assert_eq!((r.data.labels, r.data.items), (16, 64));
        assert_eq!((r.classes_per_batch, r.examples_per_class), (16, 4));
        assert!(r.residual && !r.self_supervised && !r.augment);
        while !run.is_finished() {
            pollster::block_on(run.run(7)).unwrap();
        }
        let s = run.summary();
        let h = s.held_out.unwrap();
        assert_eq!((h.labels, h.items), (4, 16));
        // The residual head starts as its source, and the best check is kept: never worse.
        assert!(h.after.score() >= h.before.score());
        assert!(s.installed && s.reason.is_none());
        assert!(h.best_step <= s.losses.len() && s.losses.len() <= 40);
        assert_eq!(r.keep_source, KEEP_SOURCE);
        // The kept α is the smallest of SHRINK_WEIGHTS within one standard error (over the held-out
        // labels) of the unshrunk head's score: re-scored here on the same held-out rows.
        let alpha = h.residual_weight;
        assert!(SHRINK_WEIGHTS.contains(&alpha));
        // The source already separates these clusters, so every α is within a standard error
        // of the best over 4 held-out labels: the smallest is kept.
        assert_eq!(alpha, 0.1);
        let split = options.split(&labels).unwrap();
        let held_rows: Vec<f32> = split
            .held_out
            .iter()
            .flat_map(|&i| rows[i * 16..(i + 1) * 16].iter().copied())
            .collect();
        let held_labels: Vec<u32> = split.held_out.iter().map(|&i| labels[i]).collect();
        let kept = run.model();
        let at = |a: f32| {
            let m = kept.shrunk(a / alpha);
            let out = pollster::block_on(embed_rows(&m, &held_rows, 64, compute.device())).unwrap();
            leave_one_out(&out, &held_labels, 16).score()
        };
        let top = at(1.0);
        let floor = (top - standard_error(top, h.labels)).max(h.before.score().min(top));
        assert!((at(alpha) - h.after.score()).abs() < 1e-9);
        assert!(h.after.score() >= floor, "{h:?}");
        for &smaller in SHRINK_WEIGHTS.iter().filter(|&&a| a < alpha) {
            assert!(
                at(smaller) < floor,
                "α {smaller} also within a standard error"
            );
        }
        assert_eq!(s.losses.len() < 40, h.stopped_early);
        let bytes = pollster::block_on(run.head_bytes()).unwrap();
        let head = crate::train::head::DenseHead::from_safetensors(&bytes).unwrap();
        assert_eq!((head.input_dim(), head.output_dim()), (16, 16));
        let json = serde_json::to_value(&s).unwrap();
        for key in ["losses", "recipe", "heldOut", "installed", "reason"] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert!(json["heldOut"]["after"]["recallAt10"].is_number());

        // No check asked for, or too few labels for one: no held-out report, installed.
        let none: HeadTrainingOptions =
            serde_json::from_str(r#"{"steps": 3, "holdOut": 0}"#).unwrap();
        let run = pollster::block_on(none.run(&compute, &rows, &labels, &[], 16)).unwrap();
        assert_eq!(run.recipe().data.labels, 20);
        assert!(run.summary().held_out.is_none() && run.summary().installed);
        let (few_rows, few) = clusters(3, 4, 16);
        let run = pollster::block_on(none.run(&compute, &few_rows, &few, &[], 16));
        assert!(run.unwrap().summary().held_out.is_none());
        assert!(pollster::block_on(options.run(&compute, &rows, &labels, &[], 15)).is_err());
    }

    #[test]
    fn a_head_worse_than_its_source_is_not_installed_unless_kept() {
        // A plain head with a learning rate far too high for 6 steps: noise, on clusters its
        // source separates perfectly.
        let (rows, labels) = clusters(20, 4, 32);
        let compute = Compute::cpu();
        for (keep, installed) in [("false", false), ("true", true)] {
            let o: HeadTrainingOptions = serde_json::from_str(&format!(
                r#"{{"steps": 6, "output": 4, "hidden": [], "learningRate": 5, "keepIfWorse": {keep}}}"#
            ))
            .unwrap();
            let mut run = pollster::block_on(o.run(&compute, &rows, &labels, &[], 32)).unwrap();
            while !run.is_finished() {
                pollster::block_on(run.run(10)).unwrap();
            }
            let s = run.summary();
            let h = s.held_out.unwrap();
            assert_eq!(h.before.recall_at_1, 1.0);
            assert_eq!(h.residual_weight, 1.0, "a plain head is not shrunk");
            assert!(h.after.score() < h.before.score(), "{h:?}");
            assert_eq!(s.installed, installed);
            assert_eq!(s.reason.is_some(), !installed);
            if let Some(r) = s.reason {
                assert!(r.contains("keepIfWorse"), "{r}");
            }
        }
    }

    #[test]
    fn usable_classes_need_two_items() {
        assert_eq!(usable_classes(&[0, 0, 1, 2, 2, 2]), 2);
        assert_eq!(usable_classes(&[]), 0);
    }
}
