//! The training loop: class-balanced batches, a metric loss (plus, optionally, a SimCLR
//! term on augmented views of unlabelled items), Adam with warm-up and cosine decay,
//! progress after every step and a cancel check between steps. Seeded: on the CPU backend the
//! same seed gives the same loss curve.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::TrainError;
use super::augment::Augment;
use super::loss::{self, Distance, Loss};
use super::models::MetricModel;
use super::sampler::BalancedSampler;

/// The SimCLR (NT-Xent) term: two augmented views of each of `batch` unlabelled items are
/// positives of each other, everything else negatives.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SelfSupervised {
    /// Weight of the term next to the supervised loss.
    pub weight: f32,
    /// Unlabelled items per step (each gives two views).
    pub batch: usize,
    /// Softmax temperature.
    pub temperature: f32,
}

/// How to train.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TrainConfig {
    /// The supervised metric loss.
    pub loss: Loss,
    /// The distance the loss compares embeddings with.
    pub distance: Distance,
    /// Optimiser steps.
    pub steps: usize,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Steps of linear warm-up before the cosine decay.
    pub warmup_steps: usize,
    /// L2 weight decay added to the gradients (0 for none).
    pub weight_decay: f32,
    /// Classes in each batch.
    pub classes_per_batch: usize,
    /// Items of each class in each batch.
    pub examples_per_class: usize,
    /// Seed of the sampler and the augmentations.
    pub seed: u64,
    /// Optional self-supervised term on the unlabelled items.
    pub self_supervised: Option<SelfSupervised>,
}

impl TrainConfig {
    /// The learning rate at `step`: linear warm-up, then cosine decay to 0 at the last step.
    pub fn learning_rate_at(&self, step: usize) -> f64 {
        if step < self.warmup_steps {
            return self.learning_rate * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let t = (step - self.warmup_steps) as f64 / span;
        self.learning_rate * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

/// What a model is trained on: labelled rows, and unlabelled rows for the self-supervised
/// term (may be empty).
#[derive(Debug, Clone, Copy)]
pub struct TrainSet<'a> {
    /// Labelled rows, `dim` floats each.
    pub inputs: &'a [f32],
    /// One label per labelled row.
    pub labels: &'a [u32],
    /// Unlabelled rows, `dim` floats each.
    pub unlabelled: &'a [f32],
    /// Width of a row.
    pub dim: usize,
    /// Augmentation of image rows (supervised batches and self-supervised views); `None`
    /// uses the rows as they are.
    pub augment: Option<Augment>,
}

/// One finished step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Steps done so far (1-based).
    pub step: usize,
    /// Steps planned.
    pub steps: usize,
    /// This step's loss.
    pub loss: f32,
    /// Seconds since training started.
    pub elapsed_s: f64,
}

/// The outcome of a finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainReport {
    /// The loss of each step.
    pub losses: Vec<f32>,
    /// Seconds the run took.
    pub elapsed_s: f64,
}

/// Trains `model` (its parameters on `device`, which must have autodiff enabled) and returns
/// the trained model for inference (without autodiff) and the loss curve. When `cancelled`
/// answers `true` between steps the run stops with [`TrainError::Cancelled`]; the caller's
/// own model was never touched, since this takes a copy.
pub async fn train<M: MetricModel>(
    model: M,
    set: TrainSet<'_>,
    config: &TrainConfig,
    device: &Device,
    mut on_progress: impl FnMut(Progress),
    cancelled: impl Fn() -> bool,
) -> Result<(M, TrainReport), TrainError> {
    check_set(&set, model.input_dim())?;
    let mut sampler = BalancedSampler::new(
        set.labels,
        config.classes_per_batch,
        config.examples_per_class,
        config.seed,
    )?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_a06e);
    let ssl = config
        .self_supervised
        .filter(|s| s.weight > 0.0 && s.batch >= 2 && set.unlabelled.len() >= 2 * set.dim);
    let mut adam = AdamConfig::new();
    if config.weight_decay > 0.0 {
        adam = adam.with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay)));
    }
    let mut optimizer = adam.init();
    let mut model = model.train();
    let start = web_time::Instant::now();
    let mut losses = Vec::with_capacity(config.steps);
    for step in 0..config.steps {
        if cancelled() {
            return Err(TrainError::Cancelled { step });
        }
        let batch = sampler.next_batch();
        let labels: Vec<u32> = batch.iter().map(|&i| set.labels[i]).collect();
        let rows = gather_rows(set.inputs, set.dim, &batch, set.augment.as_ref(), &mut rng);
        let x = Tensor::<2>::from_data(TensorData::new(rows, [batch.len(), set.dim]), device);
        let mut total = loss::compute(&config.loss, config.distance, model.embed(x), &labels)?;
        if let Some(ssl) = ssl {
            let count = set.unlabelled.len() / set.dim;
            let picks = rand::seq::index::sample(&mut rng, count, ssl.batch.min(count)).into_vec();
            let views: Vec<usize> = picks.iter().flat_map(|&i| [i, i]).collect();
            let pair_labels: Vec<u32> = (0..picks.len() as u32).flat_map(|i| [i, i]).collect();
            let augment = set.augment.as_ref();
            let rows = gather_rows(set.unlabelled, set.dim, &views, augment, &mut rng);
            let x = Tensor::<2>::from_data(TensorData::new(rows, [views.len(), set.dim]), device);
            let nt_xent = Loss::SupervisedContrastive {
                temperature: ssl.temperature,
            };
            let term = loss::compute(&nt_xent, Distance::Cosine, model.embed(x), &pair_labels)?;
            total = total + term.mul_scalar(ssl.weight);
        }
        let value = total
            .clone()
            .into_data_async()
            .await
            .map_err(|e| TrainError::Readback(format!("{e:?}")))?
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| TrainError::Readback(format!("{e:?}")))?[0];
        if !value.is_finite() {
            return Err(TrainError::Diverged { step });
        }
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optimizer.step(config.learning_rate_at(step), model, grads);
        losses.push(value);
        on_progress(Progress {
            step: step + 1,
            steps: config.steps,
            loss: value,
            elapsed_s: start.elapsed().as_secs_f64(),
        });
    }
    let report = TrainReport {
        losses,
        elapsed_s: start.elapsed().as_secs_f64(),
    };
    Ok((model.valid(), report))
}

fn check_set(set: &TrainSet<'_>, model_dim: usize) -> Result<(), TrainError> {
    let shape_error = |got: usize| TrainError::InputShape {
        expected: model_dim,
        got,
    };
    if set.dim != model_dim {
        return Err(shape_error(set.dim));
    }
    if !set.inputs.len().is_multiple_of(set.dim) || !set.unlabelled.len().is_multiple_of(set.dim) {
        return Err(shape_error(set.inputs.len()));
    }
    if set.inputs.len() / set.dim != set.labels.len() {
        return Err(TrainError::BatchShape {
            rows: set.inputs.len() / set.dim,
            labels: set.labels.len(),
        });
    }
    if let Some(a) = set.augment
        && a.side * a.side != set.dim
    {
        return Err(TrainError::Config(format!(
            "augmentation of {0}×{0} images on rows of {1}",
            a.side, set.dim
        )));
    }
    Ok(())
}

fn gather_rows(
    data: &[f32],
    dim: usize,
    picks: &[usize],
    augment: Option<&Augment>,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let mut rows = Vec::with_capacity(picks.len() * dim);
    for &i in picks {
        let row = &data[i * dim..(i + 1) * dim];
        match augment {
            Some(a) => rows.extend(a.apply(row, rng)),
            None => rows.extend_from_slice(row),
        }
    }
    rows
}
