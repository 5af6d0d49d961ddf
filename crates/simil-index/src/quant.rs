//! Scalar int8 quantization with per-dimension offsets and one step per segment.
//!
//! A vector `x` is stored as codes `c` with `x ≈ o + s·c`, `c ∈ [-127, 127]`,
//! where the offsets `o` (midpoints) are learnt per segment and dimension from
//! the min/max, and the step `s` is the widest dimension's range over 254.
//! For cosine the normalized vector is quantized.
//!
//! One shared step makes point–point products integer dot products (graph
//! construction): `x̂·ŷ = a(x) + a(y) + s²·(c·d)` with the per-point term
//! `a(x) = s·(o·c) + |o|²/2`. Files written before the step was shared carry a
//! per-dimension `scale`; they load and search alike (the query pass folds any
//! per-dimension scales), and their graphs are never rebuilt from the codes.
//!
//! Queries fold the per-dimension scales into themselves: with `u = q ∘ s`
//! quantized once as `u ≈ t·d`, `q·x ≈ q·o + t·(d·c)`, so the inner loop of the
//! search pass is a plain integer dot product of two i8 slices.

use super::Metric;

/// Per-dimension offsets and scales of one field in one segment.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QuantParams {
    /// Midpoint of each dimension.
    pub offset: Vec<f32>,
    /// Step of one code unit per dimension: the same for every dimension in
    /// segments built by this version.
    pub scale: Vec<f32>,
}

/// Returns `v` scaled to unit length for cosine (unchanged otherwise or if zero).
pub(crate) fn prepare(metric: Metric, v: &[f32]) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if metric == Metric::Cosine && norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

impl QuantParams {
    /// Learns offsets and the shared step from already [`prepare`]d vectors of dimension `dim`.
    pub(crate) fn learn<V: AsRef<[f32]>>(dim: usize, vectors: impl Iterator<Item = V>) -> Self {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for v in vectors {
            for (j, &x) in v.as_ref().iter().enumerate() {
                lo[j] = lo[j].min(x);
                hi[j] = hi[j].max(x);
            }
        }
        let mut step = 0.0f32;
        let offset = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                if l.is_finite() && h.is_finite() {
                    step = step.max((h - l) / 254.0);
                    l / 2.0 + h / 2.0
                } else {
                    0.0
                }
            })
            .collect();
        Self {
            offset,
            scale: vec![step; dim],
        }
    }

    /// The shared step (the largest per-dimension one, for files with several).
    pub(crate) fn step(&self) -> f32 {
        self.scale.iter().fold(0.0, |m, &s| m.max(s))
    }

    /// The per-point term `a = s·(o·c) + |o|²/2` of codes `c`, so that decoded
    /// vectors multiply as `a(x) + a(y) + s²·(c·d)`.
    pub(crate) fn point_term(&self, codes: &[i8]) -> f32 {
        let oc: f32 = self
            .offset
            .iter()
            .zip(codes)
            .map(|(&o, &c)| o * f32::from(c))
            .sum();
        let oo: f32 = self.offset.iter().map(|o| o * o).sum();
        self.step() * oc + oo / 2.0
    }

    /// Encodes a [`prepare`]d vector; returns the codes and `|x̂|²` of the decoded vector.
    pub(crate) fn encode(&self, v: &[f32]) -> (Vec<i8>, f32) {
        let mut sq = 0.0;
        let codes = v
            .iter()
            .zip(self.offset.iter().zip(&self.scale))
            .map(|(&x, (&o, &s))| {
                let c = if s > 0.0 {
                    ((x - o) / s).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                };
                let decoded = o + s * f32::from(c);
                sq += decoded * decoded;
                c
            })
            .collect();
        (codes, sq)
    }
}

/// A query prepared for the integer search pass against one segment's codes.
#[derive(Debug, Clone)]
pub(crate) struct Int8Query {
    metric: Metric,
    codes: Vec<i8>,
    step: f32,
    q_dot_offset: f32,
    q_sq: f32,
}

impl Int8Query {
    /// Prepares raw query `q` against `params`.
    pub(crate) fn new(metric: Metric, q: &[f32], params: &QuantParams) -> Self {
        let q = prepare(metric, q);
        let u: Vec<f32> = q.iter().zip(&params.scale).map(|(a, s)| a * s).collect();
        let max = u.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        let step = max / 127.0;
        let codes = u
            .iter()
            .map(|x| {
                if step > 0.0 {
                    (x / step).round().clamp(-127.0, 127.0) as i8
                } else {
                    0
                }
            })
            .collect();
        Self {
            metric,
            codes,
            step,
            q_dot_offset: q.iter().zip(&params.offset).map(|(a, o)| a * o).sum(),
            q_sq: q.iter().map(|x| x * x).sum(),
        }
    }

    /// Approximate graph distance to a vector stored as `codes` with decoded norm² `x_sq`.
    pub(crate) fn distance(&self, codes: &[i8], x_sq: f32) -> f32 {
        let idot = super::distance::dot_i8(&self.codes, codes);
        let dot = self.q_dot_offset + self.step * idot as f32;
        match self.metric {
            Metric::Cosine => 1.0 - dot,
            Metric::Dot => -dot,
            Metric::L2 => self.q_sq - 2.0 * dot + x_sq,
        }
    }
}
