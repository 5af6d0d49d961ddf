//! Similarity scores and graph distances for the three metrics.
//!
//! Every exact score in the index goes through [`similarity`], so the mutable
//! segment, sealed segments and brute-force reference agree bit for bit.

use half::f16;

pub(crate) use simil_kernels::dot_i8;
use simil_kernels::{LANES, accumulate, dot};

use super::Metric;
use super::quant::QuantParams;

/// A stored vector, in whichever precision its segment keeps it.
#[derive(Clone, Copy)]
pub(crate) enum VecRef<'a> {
    /// Full-precision vector.
    F32(&'a [f32]),
    /// Half-precision vector (sealed `int8` fields).
    F16(&'a [f16]),
    /// int8 codes decoded on the fly as `norm · (o + s·c)` (sealed `int8_only` fields).
    I8 {
        /// The codes.
        codes: &'a [i8],
        /// The segment's quantizer.
        quant: &'a QuantParams,
        /// Factor restoring the original length (cosine), else 1.
        norm: f32,
    },
}

impl VecRef<'_> {
    /// Number of dimensions.
    pub(crate) fn len(&self) -> usize {
        match self {
            VecRef::F32(v) => v.len(),
            VecRef::F16(v) => v.len(),
            VecRef::I8 { codes, .. } => codes.len(),
        }
    }

    /// Copies the vector out as f32.
    pub(crate) fn to_vec(self) -> Vec<f32> {
        match self {
            VecRef::F32(v) => v.to_vec(),
            VecRef::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            VecRef::I8 { codes, quant, norm } => codes
                .iter()
                .zip(quant.offset.iter().zip(&quant.scale))
                .map(|(&c, (&off, &s))| norm * (off + s * f32::from(c)))
                .collect(),
        }
    }
}

/// Elements converted from f16 at a time, into a stack buffer.
const BLOCK: usize = 64;

/// Converts a finite f16 to f32 without branches, so that the loop over a block vectorises
/// (`half`'s conversion checks CPU features per call; wasm has no hardware conversion).
#[inline]
fn f16_to_f32(h: f16) -> f32 {
    let bits = u32::from(h.to_bits());
    let magnitude = bits & 0x7fff;
    // Normal numbers: move exponent and mantissa into place and re-bias the exponent
    // (127 - 15 = 112). Subnormals: the mantissa times 2⁻²⁴.
    let normal = f32::from_bits((magnitude << 13) + (112 << 23));
    let subnormal = magnitude as f32 * f32::from_bits(0x3380_0000);
    let value = if magnitude < 0x0400 {
        subnormal
    } else {
        normal
    };
    f32::from_bits(value.to_bits() | ((bits & 0x8000) << 16))
}

/// `v[start..end]` as f32: borrowed for f32 vectors, converted into `buf` for the others.
fn block<'a>(v: &VecRef<'a>, start: usize, end: usize, buf: &'a mut [f32; BLOCK]) -> &'a [f32] {
    match v {
        VecRef::F32(v) => &v[start..end],
        VecRef::F16(v) => {
            let out = &mut buf[..end - start];
            for (o, h) in out.iter_mut().zip(&v[start..end]) {
                *o = f16_to_f32(*h);
            }
            out
        }
        VecRef::I8 { codes, quant, norm } => {
            let out = &mut buf[..end - start];
            let parts = codes[start..end]
                .iter()
                .zip(&quant.offset[start..end])
                .zip(&quant.scale[start..end]);
            for (o, ((&c, &off), &s)) in out.iter_mut().zip(parts) {
                *o = norm * (off + s * f32::from(c));
            }
            out
        }
    }
}

/// Returns (a·b, |a|², |b|², |a-b|²) in one pass over vectors of equal length.
fn moments_of(a: VecRef<'_>, b: VecRef<'_>) -> [f32; 4] {
    let mut acc = [[0.0f32; LANES]; 4];
    if let (VecRef::F32(x), VecRef::F32(y)) = (a, b) {
        accumulate(&mut acc, x, y);
    } else {
        let n = a.len().min(b.len());
        let (mut buf_a, mut buf_b) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            let x = block(&a, start, end, &mut buf_a);
            let y = block(&b, start, end, &mut buf_b);
            accumulate(&mut acc, x, y);
        }
    }
    acc.map(|lanes| lanes.iter().sum())
}

fn from_moments(metric: Metric, [dot, aa, bb, dd]: [f32; 4]) -> f32 {
    match metric {
        Metric::Cosine => {
            let denom = (aa * bb).sqrt();
            if denom > 0.0 { dot / denom } else { 0.0 }
        }
        Metric::Dot => dot,
        Metric::L2 => 1.0 / (1.0 + dd),
    }
}

/// A query vector and its `|q|²`, computed once per query rather than once per scored row.
#[derive(Clone, Copy)]
pub(crate) struct QueryVec<'a> {
    /// The vector.
    pub v: &'a [f32],
    /// `|v|²`, summed as [`dot_and_sq`] sums.
    sq: f32,
}

impl<'a> QueryVec<'a> {
    /// The query `v`.
    pub(crate) fn new(v: &'a [f32]) -> Self {
        Self {
            v,
            sq: dot_and_sq(v, VecRef::F32(v)).0,
        }
    }
}

/// `(a·b, |b|²)` in one pass, per-lane sums in a fixed order (vectorised: the index is
/// compiled at `opt-level = 3`, with simd128 in the browser). Half the work of [`moments_of`]
/// for the cosine and dot scores, which need neither `|a|²` per row nor `|a-b|²`.
fn dot_and_sq(a: &[f32], b: VecRef<'_>) -> (f32, f32) {
    let (mut dot, mut sq) = ([0.0f32; LANES], [0.0f32; LANES]);
    let mut add = |x: &[f32], y: &[f32]| {
        let (cx, rx) = x.as_chunks::<LANES>();
        let (cy, ry) = y.as_chunks::<LANES>();
        for (x, y) in cx.iter().zip(cy) {
            for l in 0..LANES {
                dot[l] += x[l] * y[l];
                sq[l] += y[l] * y[l];
            }
        }
        for (l, (x, y)) in rx.iter().zip(ry).enumerate() {
            dot[l] += x * y;
            sq[l] += y * y;
        }
    };
    if let VecRef::F32(y) = b {
        add(a, y);
    } else {
        let n = a.len().min(b.len());
        let mut buf = [0.0f32; BLOCK];
        for start in (0..n).step_by(BLOCK) {
            let end = (start + BLOCK).min(n);
            add(&a[start..end], block(&b, start, end, &mut buf));
        }
    }
    (dot.iter().sum(), sq.iter().sum())
}

/// Score of `v` against query `q` (higher is better).
pub(crate) fn similarity(metric: Metric, q: QueryVec<'_>, v: VecRef<'_>) -> f32 {
    match metric {
        Metric::Cosine => {
            let (dot, bb) = dot_and_sq(q.v, v);
            from_moments(metric, [dot, q.sq, bb, 0.0])
        }
        Metric::Dot => dot_and_sq(q.v, v).0,
        Metric::L2 => from_moments(metric, moments_of(VecRef::F32(q.v), v)),
    }
}

/// `a·b` of equally long vectors in any precision.
fn dot_ref(a: VecRef<'_>, b: VecRef<'_>) -> f32 {
    if let (VecRef::F32(x), VecRef::F32(y)) = (a, b) {
        return dot(x, y);
    }
    let n = a.len().min(b.len());
    let (mut buf_a, mut buf_b) = ([0.0f32; BLOCK], [0.0f32; BLOCK]);
    (0..n)
        .step_by(BLOCK)
        .map(|start| {
            let end = (start + BLOCK).min(n);
            dot(
                block(&a, start, end, &mut buf_a),
                block(&b, start, end, &mut buf_b),
            )
        })
        .sum()
}

/// `|v|²`.
pub(crate) fn sq_norm(v: VecRef<'_>) -> f32 {
    dot_ref(v, v)
}

/// [`distance`] between two vectors whose squared norms are known: one dot product.
pub(crate) fn graph_distance(
    metric: Metric,
    a: VecRef<'_>,
    a_sq: f32,
    b: VecRef<'_>,
    b_sq: f32,
) -> f32 {
    let d = dot_ref(a, b);
    match metric {
        Metric::Cosine => {
            let denom = (a_sq * b_sq).sqrt();
            1.0 - if denom > 0.0 { d / denom } else { 0.0 }
        }
        Metric::Dot => -d,
        Metric::L2 => (a_sq + b_sq - 2.0 * d).max(0.0),
    }
}

/// Graph distance (lower is closer) between two vectors, consistent with
/// [`similarity`]: `1 - cos`, `-dot`, or `|a-b|²`.
#[cfg(test)]
pub(crate) fn distance(metric: Metric, a: VecRef<'_>, b: VecRef<'_>) -> f32 {
    let m = moments_of(a, b);
    match metric {
        Metric::Cosine => 1.0 - from_moments(metric, m),
        Metric::Dot => -m[0],
        Metric::L2 => m[3],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_matches_half_on_every_finite_value() {
        for bits in 0..=u16::MAX {
            let h = f16::from_bits(bits);
            if h.is_finite() {
                assert_eq!(
                    f16_to_f32(h).to_bits(),
                    h.to_f32().to_bits(),
                    "bits {bits:#06x}"
                );
            }
        }
    }

    #[test]
    fn int8_dot_is_exact() {
        let a: Vec<i8> = (0..37).map(|i| (i * 37 % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..37).map(|i| (i * 91 % 255 - 127) as i8).collect();
        let want: i32 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        assert_eq!(dot_i8(&a, &b), want);
        let extremes = [-127i8; 64];
        assert_eq!(dot_i8(&extremes, &extremes), 64 * 127 * 127);
    }

    #[test]
    fn graph_distance_agrees_with_the_reference_distance() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32 * 0.11).cos() - 0.2).collect();
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            let want = distance(metric, VecRef::F32(&a), VecRef::F32(&b));
            let (fa, fb) = (VecRef::F32(&a), VecRef::F32(&b));
            let got = graph_distance(metric, fa, sq_norm(fa), fb, sq_norm(fb));
            assert!((want - got).abs() < 1e-4, "{metric:?}: {want} vs {got}");
            let half: Vec<f16> = b.iter().map(|&x| f16::from_f32(x)).collect();
            let mixed = distance(metric, VecRef::F32(&a), VecRef::F16(&half));
            assert!(
                (want - mixed).abs() < 1e-2,
                "{metric:?} f16: {want} vs {mixed}"
            );
        }
    }
}
