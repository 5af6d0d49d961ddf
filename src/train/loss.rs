//! Metric-learning losses over a batch of embeddings and their labels, with a selectable
//! distance, as TensorFlow Similarity offers them.
//!
//! Every loss works from the batch's pairwise distance matrix `D` and two masks built from
//! the labels: positives (same label, not the anchor itself) and negatives (other labels).
//! Mining (hardest positive, hardest or semi-hard negative, pair selection) is done with masks
//! on the device, never by reading tensors back, so the same code runs on WebGPU and the CPU.
//! Losses that work on similarities (multi-similarity, circle) use `s = 1 - D`, which is the
//! cosine similarity under the cosine distance.

use burn::prelude::*;
use burn::tensor::activation::relu;

use super::TrainError;

/// Large value that masks entries out of a min or max.
const BIG: f32 = 1.0e6;
/// Floor under squared distances before the square root (its gradient is infinite at 0).
const SQRT_FLOOR: f32 = 1.0e-12;

/// How two embeddings are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// `1 - cos(a, b)` (inputs are L2-normalised first).
    Cosine,
    /// Euclidean distance `|a - b|`.
    L2,
    /// Squared Euclidean distance `|a - b|²`.
    SquaredL2,
}

/// How a triplet loss picks its triplets in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mining {
    /// Per anchor: its farthest positive and its nearest negative.
    BatchHard,
    /// Per (anchor, positive): the nearest negative farther than the positive; when there is
    /// none, the farthest negative (FaceNet; TensorFlow Addons' `triplet_semihard_loss`).
    SemiHard,
    /// Every valid (anchor, positive, negative), averaged.
    BatchAll,
}

/// A metric-learning loss and its hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Loss {
    /// Hadsell et al.: over all pairs, `D²` for positives and `max(0, margin - D)²` for
    /// negatives, averaged.
    Contrastive {
        /// Negatives closer than this are pushed apart.
        margin: f32,
    },
    /// `max(0, D(a, p) - D(a, n) + margin)` over mined triplets.
    Triplet {
        /// Required gap between positive and negative distances.
        margin: f32,
        /// Which triplets are used.
        mining: Mining,
    },
    /// Wang et al. 2019, with its pair mining (`epsilon`).
    MultiSimilarity {
        /// Weight of the positive term.
        alpha: f32,
        /// Weight of the negative term.
        beta: f32,
        /// Similarity offset.
        lambda: f32,
        /// Mining margin.
        epsilon: f32,
    },
    /// Sun et al. 2020, with self-paced weights.
    Circle {
        /// Relaxation margin.
        margin: f32,
        /// Scale.
        gamma: f32,
    },
    /// Khosla et al. 2020 with logits `-D / temperature` (with the cosine distance, exactly
    /// SupCon; with one positive per anchor, SimCLR's NT-Xent).
    SupervisedContrastive {
        /// Softmax temperature.
        temperature: f32,
    },
    /// PN loss (Balntas et al. 2016): batch-hard triplets whose negative distance is the
    /// smaller of `D(a, n)` and `D(p, n)` over the anchor's negatives (anchor swap).
    Pn {
        /// Required gap between positive and negative distances.
        margin: f32,
    },
}

impl Loss {
    /// The loss's name in the JS API and the bench results.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Contrastive { .. } => "contrastive",
            Loss::Triplet {
                mining: Mining::BatchHard,
                ..
            } => "triplet_batch_hard",
            Loss::Triplet {
                mining: Mining::SemiHard,
                ..
            } => "triplet_semi_hard",
            Loss::Triplet {
                mining: Mining::BatchAll,
                ..
            } => "triplet_batch_all",
            Loss::MultiSimilarity { .. } => "multi_similarity",
            Loss::Circle { .. } => "circle",
            Loss::SupervisedContrastive { .. } => "supervised_contrastive",
            Loss::Pn { .. } => "pn",
        }
    }

    /// The loss called `name` (see [`Loss::name`]) with its usual hyper-parameters.
    pub fn from_name(name: &str) -> Result<Self, TrainError> {
        Ok(match name {
            "contrastive" => Loss::Contrastive { margin: 0.5 },
            "triplet_batch_hard" | "triplet" => Loss::Triplet {
                margin: 0.2,
                mining: Mining::BatchHard,
            },
            "triplet_semi_hard" => Loss::Triplet {
                margin: 0.2,
                mining: Mining::SemiHard,
            },
            "triplet_batch_all" => Loss::Triplet {
                margin: 0.2,
                mining: Mining::BatchAll,
            },
            "multi_similarity" => Loss::MultiSimilarity {
                alpha: 2.0,
                beta: 40.0,
                lambda: 0.5,
                epsilon: 0.1,
            },
            "circle" => Loss::Circle {
                margin: 0.25,
                gamma: 32.0,
            },
            "supervised_contrastive" => Loss::SupervisedContrastive { temperature: 0.1 },
            "pn" => Loss::Pn { margin: 0.2 },
            other => return Err(TrainError::UnknownLoss(other.to_string())),
        })
    }
}

/// The pairwise distance matrix `[n, n]` of `embeddings` `[n, d]`.
pub fn pairwise_distances(embeddings: Tensor<2>, distance: Distance) -> Tensor<2> {
    match distance {
        Distance::Cosine => {
            let e = l2_normalize(embeddings);
            let sim = e.clone().matmul(e.transpose());
            sim.neg().add_scalar(1.0)
        }
        Distance::SquaredL2 => squared_l2(embeddings),
        Distance::L2 => squared_l2(embeddings).clamp_min(SQRT_FLOOR).sqrt(),
    }
}

/// Rows of `x` scaled to unit L2 norm.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).add_scalar(1e-12).sqrt();
    x / norm
}

fn squared_l2(e: Tensor<2>) -> Tensor<2> {
    let sq = e.clone().powi_scalar(2).sum_dim(1); // [n, 1]
    let gram = e.clone().matmul(e.transpose());
    (sq.clone() + sq.transpose() - gram.mul_scalar(2.0)).clamp_min(0.0)
}

/// Positive and negative masks of a batch, as 0/1 floats, and their host-side counts.
struct Masks {
    pos: Tensor<2>,
    neg: Tensor<2>,
    /// Per anchor: number of positives and negatives.
    counts: Vec<(usize, usize)>,
}

impl Masks {
    fn new(labels: &[u32], device: &Device) -> Self {
        let n = labels.len();
        let mut pos = vec![0f32; n * n];
        let mut neg = vec![0f32; n * n];
        let mut counts = vec![(0, 0); n];
        for i in 0..n {
            for j in 0..n {
                if i == j {
                    continue;
                }
                if labels[i] == labels[j] {
                    pos[i * n + j] = 1.0;
                    counts[i].0 += 1;
                } else {
                    neg[i * n + j] = 1.0;
                    counts[i].1 += 1;
                }
            }
        }
        let t = |v: Vec<f32>| Tensor::<2>::from_data(TensorData::new(v, [n, n]), device);
        Masks {
            pos: t(pos),
            neg: t(neg),
            counts,
        }
    }

    /// `[n, 1]` 0/1 column: anchors that pass `keep(positives, negatives)`, and how many.
    fn anchors(&self, keep: impl Fn(usize, usize) -> bool, device: &Device) -> (Tensor<2>, usize) {
        let v: Vec<f32> = self
            .counts
            .iter()
            .map(|&(p, n)| f32::from(u8::from(keep(p, n))))
            .collect();
        let count = v.iter().filter(|x| **x > 0.0).count();
        let n = v.len();
        (Tensor::from_data(TensorData::new(v, [n, 1]), device), count)
    }
}

/// `D` where `mask` is 1, `fill` elsewhere.
fn masked(d: Tensor<2>, mask: Tensor<2>, fill: f32) -> Tensor<2> {
    d * mask.clone() + mask.neg().add_scalar(1.0).mul_scalar(fill)
}

/// Per row: `log(sum over mask of exp(x))`, stable; rows with an empty mask give about `-BIG`.
fn log_sum_exp(x: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
    let xm = masked(x, mask.clone(), -BIG);
    let m = xm.clone().max_dim(1).detach();
    ((xm - m.clone()).exp() * mask)
        .sum_dim(1)
        .add_scalar(1e-30)
        .log()
        + m
}

/// Per row: `log(1 + sum over mask of exp(x))`, stable.
fn log1p_sum_exp(x: Tensor<2>, mask: Tensor<2>) -> Tensor<2> {
    let xm = masked(x, mask.clone(), -BIG);
    let m = xm.clone().max_dim(1).detach().clamp_min(0.0);
    (((xm - m.clone()).exp() * mask).sum_dim(1) + m.clone().neg().exp()).log() + m
}

/// `log(1 + exp(z))`, stable.
fn softplus(z: Tensor<2>) -> Tensor<2> {
    relu(z.clone()) + z.abs().neg().exp().add_scalar(1.0).log()
}

/// Sum of `values` divided by `count`; a zero that keeps the graph when `count` is 0.
fn mean_over<const D: usize>(values: Tensor<D>, count: usize) -> Tensor<1> {
    if count == 0 {
        values.sum().mul_scalar(0.0)
    } else {
        values.sum().div_scalar(count as f32)
    }
}

/// The loss of one batch: `embeddings` `[n, d]`, `labels` one per row. Returns a
/// one-element tensor that can be back-propagated.
pub fn compute(
    loss: &Loss,
    distance: Distance,
    embeddings: Tensor<2>,
    labels: &[u32],
) -> Result<Tensor<1>, TrainError> {
    let [n, _] = embeddings.dims();
    if n != labels.len() {
        return Err(TrainError::BatchShape {
            rows: n,
            labels: labels.len(),
        });
    }
    let device = embeddings.device();
    let masks = Masks::new(labels, &device);
    let d = pairwise_distances(embeddings, distance);
    let (pos, neg) = (masks.pos.clone(), masks.neg.clone());
    Ok(match *loss {
        Loss::Contrastive { margin } => {
            let pulled = d.clone().powi_scalar(2) * pos;
            let pushed = relu(d.neg().add_scalar(margin)).powi_scalar(2) * neg;
            let pairs = n * n.saturating_sub(1);
            mean_over(pulled + pushed, pairs)
        }
        Loss::Triplet {
            margin,
            mining: Mining::BatchHard,
        } => {
            let hp = masked(d.clone(), pos, -BIG).max_dim(1);
            let hn = masked(d, neg, BIG).min_dim(1);
            let (valid, count) = masks.anchors(|p, q| p > 0 && q > 0, &device);
            mean_over(relu(hp - hn + margin) * valid, count)
        }
        Loss::Triplet {
            margin,
            mining: Mining::SemiHard,
        } => {
            let dap: Tensor<3> = d.clone().unsqueeze_dim(2); // [a, p, 1]
            let dan: Tensor<3> = d.clone().unsqueeze_dim(1); // [a, 1, n]
            let neg3: Tensor<3> = neg.clone().unsqueeze_dim(1);
            let farther = dan
                .clone()
                .detach()
                .expand([n, n, n])
                .greater(dap.clone().detach().expand([n, n, n]))
                .float();
            let semi = farther * neg3; // [a, p, n]
            let has_semi = semi.clone().sum_dim(2).greater_elem(0.0); // [a, p, 1]
            let nearest_semi =
                (dan * semi.clone() + semi.neg().add_scalar(1.0).mul_scalar(BIG)).min_dim(2); // [a, p, 1]
            let farthest: Tensor<3> = masked(d, neg, -BIG).max_dim(1).unsqueeze_dim(2);
            let chosen = farthest
                .expand([n, n, 1])
                .mask_where(has_semi, nearest_semi);
            let (valid, _) = masks.anchors(|_, q| q > 0, &device);
            let pairs: usize = masks
                .counts
                .iter()
                .filter(|(_, q)| *q > 0)
                .map(|(p, _)| p)
                .sum();
            let weight: Tensor<3> = (pos * valid).unsqueeze_dim(2);
            mean_over(relu(dap - chosen + margin) * weight, pairs)
        }
        Loss::Triplet {
            margin,
            mining: Mining::BatchAll,
        } => {
            let dap: Tensor<3> = d.clone().unsqueeze_dim(2);
            let dan: Tensor<3> = d.unsqueeze_dim(1);
            let triplets: Tensor<3> = pos.unsqueeze_dim::<3>(2) * neg.unsqueeze_dim::<3>(1);
            let count: usize = masks.counts.iter().map(|(p, q)| p * q).sum();
            mean_over(relu(dap - dan + margin) * triplets, count)
        }
        Loss::Pn { margin } => {
            let pos_masked = masked(d.clone(), pos, -BIG);
            let hardest = pos_masked.clone().argmax(1); // [n, 1]
            let hp = d.clone().gather(1, hardest.clone());
            let hn_anchor = masked(d.clone(), neg.clone(), BIG).min_dim(1);
            let rows = d.select(0, hardest.reshape([n]));
            let hn_positive = masked(rows, neg, BIG).min_dim(1);
            let (valid, count) = masks.anchors(|p, q| p > 0 && q > 0, &device);
            mean_over(
                relu(hp - hn_anchor.min_pair(hn_positive) + margin) * valid,
                count,
            )
        }
        Loss::MultiSimilarity {
            alpha,
            beta,
            lambda,
            epsilon,
        } => {
            let s = d.neg().add_scalar(1.0);
            let sd = s.clone().detach();
            // Keep positives less similar than the most similar negative (+ epsilon), and
            // negatives more similar than the least similar positive (- epsilon).
            let max_neg = masked(sd.clone(), neg.clone(), -BIG).max_dim(1);
            let min_pos = masked(sd.clone(), pos.clone(), BIG).min_dim(1);
            let keep_pos = sd
                .clone()
                .sub_scalar(epsilon)
                .lower(max_neg.expand([n, n]))
                .float()
                * pos;
            let keep_neg = sd
                .add_scalar(epsilon)
                .greater(min_pos.expand([n, n]))
                .float()
                * neg;
            let pos_term = log1p_sum_exp(s.clone().sub_scalar(lambda).mul_scalar(-alpha), keep_pos)
                .div_scalar(alpha);
            let neg_term =
                log1p_sum_exp(s.sub_scalar(lambda).mul_scalar(beta), keep_neg).div_scalar(beta);
            mean_over(pos_term + neg_term, n)
        }
        Loss::Circle { margin, gamma } => {
            let s = d.neg().add_scalar(1.0);
            let ap = relu(s.clone().detach().neg().add_scalar(1.0 + margin));
            let an = relu(s.clone().detach().add_scalar(margin));
            let logit_p = (ap * s.clone().sub_scalar(1.0 - margin)).mul_scalar(-gamma);
            let logit_n = (an * s.sub_scalar(margin)).mul_scalar(gamma);
            let (valid, count) = masks.anchors(|p, q| p > 0 && q > 0, &device);
            let z = log_sum_exp(logit_p, pos) + log_sum_exp(logit_n, neg);
            // Anchors without a positive or negative: z ≈ -BIG, masked out below.
            mean_over(softplus(z.clamp_min(-BIG)) * valid, count)
        }
        Loss::SupervisedContrastive { temperature } => {
            let logits = d.neg().div_scalar(temperature);
            let others = pos.clone() + neg;
            let lse = log_sum_exp(logits.clone(), others);
            let per_positive = (logits - lse) * pos;
            let inv: Vec<f32> = masks
                .counts
                .iter()
                .map(|&(p, _)| if p > 0 { 1.0 / p as f32 } else { 0.0 })
                .collect();
            let inv = Tensor::<2>::from_data(TensorData::new(inv, [n, 1]), &device);
            let count = masks.counts.iter().filter(|(p, _)| *p > 0).count();
            mean_over((per_positive.sum_dim(1) * inv).neg(), count)
        }
    })
}

/// The source-neighbour term: per item of a batch, the KL divergence from the softmax (at
/// `temperature`) of its cosine similarities to the batch's items of *other* labels as the
/// `source` rows have them, to the same softmax of the `embeddings`; the mean over the items
/// that have such neighbours. The labels say which items belong together and nothing about
/// how items of different labels rank against each other: this term keeps that ranking as
/// the source has it, so a head moves the source only where the labels pay for it. `source`
/// is a constant (no gradient flows into it).
pub fn source_neighbours(
    source: Tensor<2>,
    embeddings: Tensor<2>,
    labels: &[u32],
    temperature: f32,
) -> Result<Tensor<1>, TrainError> {
    let [n, _] = embeddings.dims();
    let [m, _] = source.dims();
    if n != labels.len() || m != n {
        return Err(TrainError::BatchShape {
            rows: n.max(m),
            labels: labels.len(),
        });
    }
    let device = embeddings.device();
    let masks = Masks::new(labels, &device);
    let cosines = |e: Tensor<2>| {
        let e = l2_normalize(e);
        e.clone().matmul(e.transpose()).div_scalar(temperature)
    };
    let neg = masks.neg.clone();
    let log_softmax = |s: Tensor<2>| s.clone() - log_sum_exp(s, neg.clone());
    let before = log_softmax(cosines(source.detach())).detach();
    let after = log_softmax(cosines(embeddings));
    let kl = (before.clone().exp() * neg.clone() * (before - after)).sum_dim(1);
    let (valid, count) = masks.anchors(|_, q| q > 0, &device);
    Ok(mean_over(kl * valid, count))
}

#[cfg(test)]
#[path = "loss_tests.rs"]
mod tests;
