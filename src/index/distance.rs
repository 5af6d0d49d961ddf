//! Similarity scores and graph distances for the three metrics.
//!
//! Every exact score in the index goes through [`similarity`], so the mutable
//! segment, sealed segments and brute-force reference agree bit for bit.

use half::f16;

use super::Metric;

/// A stored vector, in whichever precision its segment keeps it.
#[derive(Clone, Copy)]
pub(crate) enum VecRef<'a> {
    /// Full-precision vector.
    F32(&'a [f32]),
    /// Half-precision vector (int8 fields, sealed).
    F16(&'a [f16]),
}

impl VecRef<'_> {
    /// Copies the vector out as f32.
    pub(crate) fn to_vec(self) -> Vec<f32> {
        match self {
            VecRef::F32(v) => v.to_vec(),
            VecRef::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
        }
    }
}

/// Returns (a·b, |a|², |b|², |a-b|²) in one pass.
fn moments(a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> [f32; 4] {
    let (mut dot, mut aa, mut bb, mut dd) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.zip(b) {
        dot += x * y;
        aa += x * x;
        bb += y * y;
        let d = x - y;
        dd += d * d;
    }
    [dot, aa, bb, dd]
}

fn moments_of(a: VecRef<'_>, b: VecRef<'_>) -> [f32; 4] {
    let h = |v: &f16| v.to_f32();
    match (a, b) {
        (VecRef::F32(a), VecRef::F32(b)) => moments(a.iter().copied(), b.iter().copied()),
        (VecRef::F32(a), VecRef::F16(b)) => moments(a.iter().copied(), b.iter().map(h)),
        (VecRef::F16(a), VecRef::F32(b)) => moments(a.iter().map(h), b.iter().copied()),
        (VecRef::F16(a), VecRef::F16(b)) => moments(a.iter().map(h), b.iter().map(h)),
    }
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

/// Score of `v` against query `q` (higher is better).
pub(crate) fn similarity(metric: Metric, q: &[f32], v: VecRef<'_>) -> f32 {
    from_moments(metric, moments_of(VecRef::F32(q), v))
}

/// Graph distance (lower is closer) between two vectors, consistent with
/// [`similarity`]: `1 - cos`, `-dot`, or `|a-b|²`.
pub(crate) fn distance(metric: Metric, a: VecRef<'_>, b: VecRef<'_>) -> f32 {
    let m = moments_of(a, b);
    match metric {
        Metric::Cosine => 1.0 - from_moments(metric, m),
        Metric::Dot => -m[0],
        Metric::L2 => m[3],
    }
}
