//! The options of a head-training run as the JS API takes them (camelCase, every field
//! optional), with defaults that are the recipe measured on MNIST (`examples/train_mnist.rs`,
//! `bench/train.mjs`): a 512-unit hidden layer to 256-d embeddings, supervised contrastive loss
//! on balanced batches plus a SimCLR term on 128 unlabelled items a step, Adam at 2e-3 with
//! warm-up and cosine decay, 600 steps. (Against 128-d and 64 items, the wider embedding and
//! SimCLR batch lifted unseen-class recall@1 over three seeds from 0.879–0.901 to 0.906–0.924.)

use serde::Deserialize;

use super::loss::{Distance, Loss};
use super::{
    Augment, HeadConfig, HeadInit, MetricHead, SelfSupervised, TrainConfig, TrainError, TrainSet,
    Trainer,
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
    /// Hidden layer widths (default `[512]`).
    pub hidden: Option<Vec<usize>>,
    /// Output embedding width (default 256).
    pub output: Option<usize>,
    /// Optimiser steps (default 600).
    pub steps: Option<usize>,
    /// Loss name, as [`Loss::from_name`] knows them (default `supervised_contrastive`).
    pub loss: Option<String>,
    /// Distance the loss compares with (default cosine).
    pub distance: Option<Distance>,
    /// Peak learning rate (default 2e-3).
    pub learning_rate: Option<f64>,
    /// Warm-up steps (default a tenth of the steps).
    pub warmup_steps: Option<usize>,
    /// L2 weight decay (default 0).
    pub weight_decay: Option<f32>,
    /// Classes per batch (default 7, or fewer when fewer classes have two items).
    pub classes_per_batch: Option<usize>,
    /// Items per class in a batch (default 16).
    pub examples_per_class: Option<usize>,
    /// Seed of the initial weights, the sampler and the augmentations (default 1).
    pub seed: Option<u64>,
    /// The self-supervised term: `null`/absent for the default, `false` for none.
    pub self_supervised: Option<SelfSupervisedSetting>,
    /// Augmentation of image rows (default none).
    pub augment: Option<AugmentOptions>,
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

/// Longest run accepted, in steps.
pub const MAX_STEPS: usize = 1_000_000;

impl HeadTrainingOptions {
    /// The head shape and training configuration for rows of `input` values whose labels
    /// have `usable_classes` classes with at least two items.
    pub fn resolve(
        &self,
        input: usize,
        usable_classes: usize,
    ) -> Result<(HeadConfig, TrainConfig), TrainError> {
        let steps = self.steps.unwrap_or(600);
        if !(1..=MAX_STEPS).contains(&steps) {
            return Err(TrainError::Config(format!(
                "steps must be 1..={MAX_STEPS}, got {steps}"
            )));
        }
        let learning_rate = self.learning_rate.unwrap_or(2e-3);
        if !(learning_rate.is_finite() && learning_rate > 0.0) {
            return Err(TrainError::Config(format!(
                "learningRate must be a positive number, got {learning_rate}"
            )));
        }
        let head = HeadConfig {
            input,
            hidden: self.hidden.clone().unwrap_or_else(|| vec![512]),
            output: self.output.unwrap_or(256),
        };
        let ssl_default = SelfSupervised {
            weight: 1.0,
            batch: 128,
            temperature: 0.2,
        };
        let self_supervised = match self.self_supervised {
            None | Some(SelfSupervisedSetting::Enabled(true)) => Some(ssl_default),
            Some(SelfSupervisedSetting::Enabled(false)) => None,
            Some(SelfSupervisedSetting::With(o)) => Some(SelfSupervised {
                weight: o.weight.unwrap_or(ssl_default.weight),
                batch: o.batch.unwrap_or(ssl_default.batch),
                temperature: o.temperature.unwrap_or(ssl_default.temperature),
            }),
        };
        let config = TrainConfig {
            loss: Loss::from_name(self.loss.as_deref().unwrap_or("supervised_contrastive"))?,
            distance: self.distance.unwrap_or(Distance::Cosine),
            steps,
            learning_rate,
            warmup_steps: self.warmup_steps.unwrap_or(steps / 10),
            weight_decay: self.weight_decay.unwrap_or(0.0),
            classes_per_batch: self
                .classes_per_batch
                .unwrap_or_else(|| usable_classes.clamp(2, 7)),
            examples_per_class: self.examples_per_class.unwrap_or(16),
            seed: self.seed.unwrap_or(1),
            self_supervised,
        };
        Ok((head, config))
    }

    /// The augmentation, if any.
    pub fn augment(&self) -> Option<Augment> {
        self.augment.map(|a| {
            let d = Augment::digits(a.side);
            Augment {
                side: a.side,
                max_shift: a.max_shift.unwrap_or(d.max_shift),
                max_rotation_deg: a.max_rotation_deg.unwrap_or(d.max_rotation_deg),
                max_scale: a.max_scale.unwrap_or(d.max_scale),
            }
        })
    }
}

impl HeadTrainingOptions {
    /// Prepares a run of a metric head as these options say, with autodiff on `compute`:
    /// `rows` (n × `dim`, row-major) labelled by `labels`, and `unlabelled` (m × `dim`) for
    /// the self-supervised term. The head's initial weights come from the options' seed.
    pub fn trainer(
        &self,
        compute: &Compute,
        rows: &[f32],
        labels: &[u32],
        unlabelled: &[f32],
        dim: usize,
    ) -> Result<Trainer<MetricHead>, TrainError> {
        let (head, config) = self.resolve(dim, usable_classes(labels))?;
        let device = compute.device().clone().autodiff();
        let model = head.init(config.seed, &device)?;
        let set = TrainSet {
            inputs: rows,
            labels,
            unlabelled,
            dim,
            augment: self.augment(),
        };
        Trainer::new(model, set, &config, &device)
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
    use super::*;

    #[test]
    fn defaults_are_the_measured_mnist_recipe_and_options_override_them() {
        let o: HeadTrainingOptions = serde_json::from_str("{}").unwrap();
        let (head, c) = o.resolve(784, 7).unwrap();
        assert_eq!(head.hidden, vec![512]);
        assert_eq!((head.input, head.output), (784, 256));
        assert_eq!((c.steps, c.warmup_steps, c.classes_per_batch), (600, 60, 7));
        assert_eq!(c.loss.name(), "supervised_contrastive");
        assert_eq!(c.self_supervised.unwrap().batch, 128);
        assert!(o.augment().is_none());

        let o: HeadTrainingOptions = serde_json::from_str(
            r#"{"steps": 50, "loss": "circle", "selfSupervised": false, "hidden": [],
                "augment": {"side": 28, "maxShift": 1}}"#,
        )
        .unwrap();
        let (head, c) = o.resolve(784, 3).unwrap();
        assert!(head.hidden.is_empty());
        assert_eq!((c.steps, c.warmup_steps, c.classes_per_batch), (50, 5, 3));
        assert_eq!(c.loss.name(), "circle");
        assert!(c.self_supervised.is_none());
        let a = o.augment().unwrap();
        assert_eq!((a.max_shift, a.max_rotation_deg), (1.0, 12.0));
    }

    #[test]
    fn bad_options_are_errors() {
        let parse = |s: &str| serde_json::from_str::<HeadTrainingOptions>(s);
        assert!(
            parse(r#"{"stesp": 5}"#).is_err(),
            "unknown keys are refused"
        );
        let resolve = |s: &str| parse(s).unwrap().resolve(8, 3);
        assert!(resolve(r#"{"steps": 0}"#).is_err());
        assert!(resolve(r#"{"learningRate": -1}"#).is_err());
        assert!(resolve(r#"{"loss": "hinge"}"#).is_err());
    }

    #[test]
    fn options_prepare_a_head_run_that_stops_when_its_steps_are_done() {
        let options: HeadTrainingOptions = serde_json::from_str(
            r#"{"steps": 3, "hidden": [], "output": 2, "selfSupervised": false}"#,
        )
        .unwrap();
        let rows: Vec<f32> = (0..12 * 4).map(|i| ((i * 7) % 5) as f32 / 5.0).collect();
        let labels: Vec<u32> = (0..12).map(|i| i % 3).collect();
        let compute = Compute::cpu();
        let mut trainer = options.trainer(&compute, &rows, &labels, &[], 4).unwrap();
        let first = pollster::block_on(trainer.run(2)).unwrap();
        assert_eq!(first.iter().map(|p| p.step).collect::<Vec<_>>(), [1, 2]);
        let rest = pollster::block_on(trainer.run(5)).unwrap();
        assert_eq!((rest.len(), rest[0].steps), (1, 3));
        assert!(trainer.is_finished());
        assert!(pollster::block_on(trainer.run(1)).unwrap().is_empty());
        assert!(options.trainer(&compute, &rows, &labels, &[], 5).is_err());
    }

    #[test]
    fn usable_classes_need_two_items() {
        assert_eq!(usable_classes(&[0, 0, 1, 2, 2, 2]), 2);
        assert_eq!(usable_classes(&[]), 0);
    }
}
