//! Scalar int8 quantization with per-dimension offset and scale.
//!
//! A vector `x` is stored as codes `c` with `x ≈ o + s ∘ c`, `c ∈ [-127, 127]`,
//! where `o` and `s` are learnt per segment from the min/max of each dimension.
//! For cosine the normalized vector is quantized.
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
    /// Step of one code unit per dimension (0 for a constant dimension).
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
    /// Learns offsets and scales from already [`prepare`]d vectors of dimension `dim`.
    pub(crate) fn learn<'a>(dim: usize, vectors: impl Iterator<Item = &'a [f32]>) -> Self {
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for v in vectors {
            for (j, &x) in v.iter().enumerate() {
                lo[j] = lo[j].min(x);
                hi[j] = hi[j].max(x);
            }
        }
        let (offset, scale) = lo
            .iter()
            .zip(&hi)
            .map(|(&l, &h)| {
                if l.is_finite() && h.is_finite() {
                    ((l + h) / 2.0, (h - l) / 254.0)
                } else {
                    (0.0, 0.0)
                }
            })
            .unzip();
        Self { offset, scale }
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
