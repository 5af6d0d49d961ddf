//! The training loop: class-balanced batches, a metric loss (plus, optionally, a SimCLR
//! term on augmented views of unlabelled items), Adam with warm-up and cosine decay,
//! progress after every step and a cancel check between steps. Seeded: on the CPU backend the
//! same seed gives the same loss curve.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::TrainError;
use super::augment::Augment;
use super::heldout::{HeldOutReport, HeldOutScores, leave_one_out};
use super::loss::{self, Distance, Loss};
use super::models::{MetricModel, embed_rows};
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
    /// Weight of the source-neighbour term ([`loss::source_neighbours`] at the temperature of
    /// the supervised loss, 0.1 for other losses) next to the supervised loss, on the batch
    /// and on up to [`KEEP_UNLABELLED`] unlabelled items a step; 0 for none.
    #[serde(default)]
    pub keep_source: f32,
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

/// One finished step (`{ step, steps, loss, elapsedS }` in JS).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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
    let mut trainer = Trainer::new(model, set, config, device)?;
    while !trainer.is_finished() {
        if cancelled() {
            return Err(TrainError::Cancelled {
                step: trainer.steps_done(),
            });
        }
        on_progress(trainer.step().await?);
    }
    Ok(trainer.finish())
}

/// The rows a [`Trainer`] owns (a copy of its [`TrainSet`]).
struct OwnedSet {
    inputs: Vec<f32>,
    labels: Vec<u32>,
    unlabelled: Vec<f32>,
    dim: usize,
    augment: Option<Augment>,
}

/// A training run taken one step at a time, so a caller (the browser's worker) can report
/// progress, answer other calls and honour a cancel between steps. Dropping it cancels the
/// run; the model it was given is never changed.
pub struct Trainer<M: MetricModel> {
    model: M,
    optimizer: ModuleOptimizer,
    sampler: BalancedSampler,
    rng: ChaCha8Rng,
    ssl: Option<SelfSupervised>,
    config: TrainConfig,
    set: OwnedSet,
    device: Device,
    losses: Vec<f32>,
    start: web_time::Instant,
    check: Option<Check<M>>,
}

/// The weights a residual model's learned part is scored at once the run ends, largest first
/// (see [`Trainer::with_held_out`]).
pub const SHRINK_WEIGHTS: &[f32] = &[1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];

/// Unlabelled items the source-neighbour term also takes each step (when there are any).
pub const KEEP_UNLABELLED: usize = 128;

/// One standard error of a held-out score `score` drawn over `units` independent units,
/// taken as `√(score (1 − score) / units)`: the largest a mean of `units` values in [0, 1] can
/// have. The check's units are its labels (whole labels are held out; a label's items are
/// not independent draws).
pub fn standard_error(score: f64, units: usize) -> f64 {
    let s = score.clamp(0.0, 1.0);
    (s * (1.0 - s) / units.max(1) as f64).sqrt()
}

/// Labelled rows kept out of training and scored every `every` steps (see
/// [`Trainer::with_held_out`]).
struct Check<M> {
    rows: Vec<f32>,
    labels: Vec<u32>,
    held_labels: usize,
    every: usize,
    patience: usize,
    before: HeldOutScores,
    /// The kept model: its scores, step, the model, its residual weight.
    best: Option<(HeldOutScores, usize, M, f32)>,
    since_best: usize,
    stopped: bool,
    /// Whether the kept model has been shrunk toward the identity (once, as the run ends).
    shrunk: bool,
}

impl<M: MetricModel> Trainer<M> {
    /// Prepares a run of `config.steps` steps of `model` (on `device`, which must have
    /// autodiff enabled) over a copy of `set`; checks shapes and the sampler's needs first.
    pub fn new(
        model: M,
        set: TrainSet<'_>,
        config: &TrainConfig,
        device: &Device,
    ) -> Result<Self, TrainError> {
        check_set(&set, model.input_dim())?;
        let sampler = BalancedSampler::new(
            set.labels,
            config.classes_per_batch,
            config.examples_per_class,
            config.seed,
        )?;
        let ssl = config
            .self_supervised
            .filter(|s| s.weight > 0.0 && s.batch >= 2 && set.unlabelled.len() >= 2 * set.dim);
        let mut adam = AdamConfig::new();
        if config.weight_decay > 0.0 {
            adam = adam.with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay)));
        }
        Ok(Trainer {
            model: model.train(),
            optimizer: adam.init(),
            sampler,
            rng: ChaCha8Rng::seed_from_u64(config.seed ^ 0x5eed_a06e),
            ssl,
            config: config.clone(),
            set: OwnedSet {
                inputs: set.inputs.to_vec(),
                labels: set.labels.to_vec(),
                unlabelled: set.unlabelled.to_vec(),
                dim: set.dim,
                augment: set.augment,
            },
            device: device.clone(),
            losses: Vec::with_capacity(config.steps),
            start: web_time::Instant::now(),
            check: None,
        })
    }

    /// Adds a held-out check: `rows` (`dim` floats each, of `held_labels` labels none of which
    /// train) are scored leave-one-out as they are (the source) and, now and every `every`
    /// steps and after the last one, through the model; the run keeps the model of the best
    /// score and stops once `patience` checks in a row (after the warm-up) did not improve it.
    ///
    /// A residual model, `normalize(x + f(x))`, is then shrunk toward its source by the
    /// one-standard-error rule (as glmnet's `lambda.1se` picks the most regularised model): of
    /// `normalize(x + α f(x))` for α in [`SHRINK_WEIGHTS`], the smallest α whose held-out score
    /// is within one [`standard_error`] of the best α's (and not below the source's when the
    /// best is above it). Scores that close cannot tell the heads apart on the labels; the one
    /// nearest the identity moves items unlike the training set least.
    pub async fn with_held_out(
        mut self,
        rows: &[f32],
        labels: &[u32],
        held_labels: usize,
        every: usize,
        patience: usize,
    ) -> Result<Self, TrainError> {
        if rows.len() != labels.len() * self.set.dim {
            return Err(TrainError::BatchShape {
                rows: rows.len() / self.set.dim.max(1),
                labels: labels.len(),
            });
        }
        self.check = Some(Check {
            rows: rows.to_vec(),
            labels: labels.to_vec(),
            held_labels,
            every: every.max(1),
            patience: patience.max(1),
            before: leave_one_out(rows, labels, self.set.dim),
            best: None,
            since_best: 0,
            stopped: false,
            shrunk: false,
        });
        self.evaluate().await?;
        Ok(self)
    }

    /// Scores the model on the held-out rows; keeps it when it is the best so far, and stops
    /// the run when the check has not improved for `patience` checks past the warm-up. Once
    /// the run is finished, shrinks the kept model (see [`Trainer::with_held_out`]).
    async fn evaluate(&mut self) -> Result<(), TrainError> {
        let step = self.losses.len();
        let warm = step >= self.config.warmup_steps;
        let Some(check) = self.check.as_mut() else {
            return Ok(());
        };
        let model = self.model.valid();
        let plain = self.device.clone().inner();
        let out = embed_rows(&model, &check.rows, 256, &plain).await?;
        let scores = leave_one_out(&out, &check.labels, model.output_dim());
        if check
            .best
            .as_ref()
            .is_none_or(|b| scores.score() > b.0.score())
        {
            check.best = Some((scores, step, model, 1.0));
            check.since_best = 0;
        } else if warm {
            check.since_best += 1;
            check.stopped = check.since_best >= check.patience;
        }
        if check.stopped || step >= self.config.steps {
            self.shrink().await?;
        }
        Ok(())
    }

    /// Shrinks the kept residual model toward the identity by the one-standard-error rule (see
    /// [`Trainer::with_held_out`]); once per run.
    async fn shrink(&mut self) -> Result<(), TrainError> {
        let plain = self.device.clone().inner();
        let Some(check) = self.check.as_mut().filter(|c| !c.shrunk) else {
            return Ok(());
        };
        check.shrunk = true;
        let Some((top, _, kept, _)) = check.best.clone() else {
            return Ok(());
        };
        let source = check.before.score();
        let floor = (top.score() - standard_error(top.score(), check.held_labels))
            .max(source.min(top.score()));
        for &alpha in SHRINK_WEIGHTS.iter().skip(1) {
            let Some(model) = kept.shrunk(alpha) else {
                break;
            };
            let out = embed_rows(&model, &check.rows, 256, &plain).await?;
            let scores = leave_one_out(&out, &check.labels, model.output_dim());
            if scores.score() >= floor
                && let Some(best) = check.best.as_mut()
            {
                (best.0, best.2, best.3) = (scores, model, alpha);
            }
        }
        Ok(())
    }

    /// The held-out check's outcome so far, when the run has one.
    pub fn held_out(&self) -> Option<HeldOutReport> {
        let check = self.check.as_ref()?;
        let (after, best_step, _, alpha) = check.best.as_ref()?;
        Some(HeldOutReport {
            residual_weight: *alpha,
            labels: check.held_labels,
            items: check.labels.len(),
            before: check.before,
            after: *after,
            best_step: *best_step,
            stopped_early: check.stopped && self.losses.len() < self.config.steps,
        })
    }

    /// Whether the self-supervised term runs (asked for, and enough unlabelled rows).
    pub fn self_supervised(&self) -> bool {
        self.ssl.is_some()
    }

    /// Steps done so far.
    pub fn steps_done(&self) -> usize {
        self.losses.len()
    }

    /// Whether every planned step is done.
    pub fn is_finished(&self) -> bool {
        self.losses.len() >= self.config.steps || self.check.as_ref().is_some_and(|c| c.stopped)
    }

    /// The loss of each step done so far.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// Runs one optimiser step: a class-balanced batch through the supervised loss (plus the
    /// self-supervised term), backward, Adam. Errors when the run is finished or diverges.
    pub async fn step(&mut self) -> Result<Progress, TrainError> {
        let step = self.losses.len();
        if self.is_finished() {
            return Err(TrainError::Config(format!(
                "the run is finished: all {} steps are done",
                self.config.steps
            )));
        }
        let (set, device, config) = (&self.set, &self.device, &self.config);
        let batch = self.sampler.next_batch();
        let labels: Vec<u32> = batch.iter().map(|&i| set.labels[i]).collect();
        let augment = set.augment.as_ref();
        let rows = gather_rows(&set.inputs, set.dim, &batch, augment, &mut self.rng);
        let x = Tensor::<2>::from_data(TensorData::new(rows, [batch.len(), set.dim]), device);
        let embedded = self.model.embed(x.clone());
        let mut total = loss::compute(&config.loss, config.distance, embedded.clone(), &labels)?;
        if config.keep_source > 0.0 {
            let t = match config.loss {
                Loss::SupervisedContrastive { temperature } => temperature,
                _ => 0.1,
            };
            let keep = loss::source_neighbours(x, embedded, &labels, t)?;
            total = total + keep.mul_scalar(config.keep_source);
            // Unlabelled items: the labels say nothing of any of their pairs, so all keep the
            // source's ranking (each item its own label).
            let count = set.unlabelled.len() / set.dim;
            if count >= 2 {
                let take = KEEP_UNLABELLED.min(count);
                let picks = rand::seq::index::sample(&mut self.rng, count, take).into_vec();
                let rows = gather_rows(&set.unlabelled, set.dim, &picks, None, &mut self.rng);
                let x = Tensor::<2>::from_data(TensorData::new(rows, [take, set.dim]), device);
                let own: Vec<u32> = (0..take as u32).collect();
                let embedded = self.model.embed(x.clone());
                let keep = loss::source_neighbours(x, embedded, &own, t)?;
                total = total + keep.mul_scalar(config.keep_source);
            }
        }
        if let Some(ssl) = self.ssl {
            let count = set.unlabelled.len() / set.dim;
            let picks =
                rand::seq::index::sample(&mut self.rng, count, ssl.batch.min(count)).into_vec();
            let views: Vec<usize> = picks.iter().flat_map(|&i| [i, i]).collect();
            let pair_labels: Vec<u32> = (0..picks.len() as u32).flat_map(|i| [i, i]).collect();
            let rows = gather_rows(&set.unlabelled, set.dim, &views, augment, &mut self.rng);
            let x = Tensor::<2>::from_data(TensorData::new(rows, [views.len(), set.dim]), device);
            let nt_xent = Loss::SupervisedContrastive {
                temperature: ssl.temperature,
            };
            let embedded = self.model.embed(x);
            let term = loss::compute(&nt_xent, Distance::Cosine, embedded, &pair_labels)?;
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
        let grads = GradientsParams::from_grads(total.backward(), &self.model);
        let lr = config.learning_rate_at(step);
        self.model = self.optimizer.step(lr, self.model.clone(), grads);
        self.losses.push(value);
        let done = self.losses.len();
        if let Some(check) = &self.check
            && (done.is_multiple_of(check.every) || done == self.config.steps)
        {
            self.evaluate().await?;
        }
        let config = &self.config;
        Ok(Progress {
            step: step + 1,
            steps: config.steps,
            loss: value,
            elapsed_s: self.start.elapsed().as_secs_f64(),
        })
    }

    /// Runs up to `steps` more steps, fewer when the run finishes first; returns their
    /// progress.
    pub async fn run(&mut self, steps: usize) -> Result<Vec<Progress>, TrainError> {
        let mut done = Vec::new();
        for _ in 0..steps {
            if self.is_finished() {
                break;
            }
            done.push(self.step().await?);
        }
        Ok(done)
    }

    /// The model as trained so far, for inference (without autodiff): with a held-out check,
    /// the one of its best score.
    pub fn model(&self) -> M {
        match self.check.as_ref().and_then(|c| c.best.as_ref()) {
            Some((_, _, best, _)) => best.clone(),
            None => self.model.valid(),
        }
    }

    /// Ends the run: the trained model for inference (as [`Trainer::model`]) and the loss
    /// curve.
    pub fn finish(self) -> (M, TrainReport) {
        let model = self.model();
        let report = TrainReport {
            losses: self.losses,
            elapsed_s: self.start.elapsed().as_secs_f64(),
        };
        (model, report)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::MetricHead;

    #[test]
    fn a_standard_error_by_hand() {
        assert!((standard_error(0.5, 100) - 0.05).abs() < 1e-12);
        assert!((standard_error(0.9, 36) - 0.05).abs() < 1e-12);
        assert_eq!(standard_error(1.0, 10), 0.0);
        assert_eq!(standard_error(0.5, 0), 0.5, "no units counts as one");
    }

    /// Mean |cosine through `head` − cosine of the source| over the pairs of `rows`.
    fn moved(head: &MetricHead, rows: &[f32], dim: usize) -> f64 {
        let device = Device::flex();
        let out = pollster::block_on(embed_rows(head, rows, 64, &device)).unwrap();
        let cos = |data: &[f32]| -> Vec<f32> {
            let unit = crate::train::retrieval::normalize_rows(data, dim);
            let n = unit.len() / dim;
            let row = |i: usize| &unit[i * dim..(i + 1) * dim];
            (0..n)
                .flat_map(|i| (0..i).map(move |j| (i, j)))
                .map(|(i, j)| row(i).iter().zip(row(j)).map(|(a, b)| a * b).sum())
                .collect()
        };
        let (a, b) = (cos(rows), cos(&out));
        a.iter()
            .zip(&b)
            .map(|(x, y)| f64::from((x - y).abs()))
            .sum::<f64>()
            / a.len() as f64
    }

    #[test]
    fn the_source_neighbour_term_keeps_unseen_items_nearer_their_source_ranking() {
        const DIM: usize = 12;
        // 8 labels × 6 items near their own axis; the unseen items are mixtures of all axes,
        // nothing like a training item.
        let labels: Vec<u32> = (0..48).map(|i| i % 8).collect();
        let rows: Vec<f32> = (0..48 * DIM)
            .map(|k| {
                let (i, d) = (k / DIM, k % DIM);
                let wobble = ((i * 7 + d * 13) % 11) as f32 / 11.0 - 0.5;
                if d == i % 8 { 1.0 } else { 0.6 * wobble }
            })
            .collect();
        let unseen: Vec<f32> = (0..30 * DIM)
            .map(|k| 0.5 + ((k * 37 % 23) as f32 - 11.0) / 15.0)
            .collect();
        let autodiff = Device::flex().autodiff();
        let run = |keep_source: f32, unlabelled: &[f32]| {
            let model = MetricHead::residual(DIM, &[], 1.0, 3, &autodiff).unwrap();
            let config = TrainConfig {
                loss: Loss::from_name("supervised_contrastive").unwrap(),
                distance: Distance::Cosine,
                steps: 60,
                learning_rate: 1e-2,
                warmup_steps: 0,
                weight_decay: 0.0,
                classes_per_batch: 8,
                examples_per_class: 4,
                seed: 1,
                self_supervised: None,
                keep_source,
            };
            let set = TrainSet {
                inputs: &rows,
                labels: &labels,
                unlabelled,
                dim: DIM,
                augment: None,
            };
            pollster::block_on(train(model, set, &config, &autodiff, |_| {}, || false)).unwrap()
        };
        let (free, free_report) = run(0.0, &[]);
        let (kept, kept_report) = run(5.0, &[]);
        // Both learn (the supervised loss falls), and the kept head moves the unseen items'
        // similarities less.
        for r in [&free_report, &kept_report] {
            assert!(r.losses[59] < r.losses[0], "{:?}", r.losses);
        }
        let (m_free, m_kept) = (moved(&free, &unseen, DIM), moved(&kept, &unseen, DIM));
        assert!(m_free > 0.01, "training moved the unseen items: {m_free}");
        assert!(m_kept < 0.5 * m_free, "{m_kept} vs {m_free}");
        // Given as unlabelled items, the unseen ones keep their source ranking better still.
        let (with, report) = run(5.0, &unseen);
        assert!(report.losses[59] < report.losses[0], "{:?}", report.losses);
        let m_with = moved(&with, &unseen, DIM);
        assert!(m_with < 0.6 * m_kept, "{m_with} vs {m_kept}");
    }
}
