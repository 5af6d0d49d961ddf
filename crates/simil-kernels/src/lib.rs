//! The per-query hot loops of simil's vector index (SIMD dot products and the HNSW
//! beam search), and the image network's input resize ([`resize`]) and 3×3 convolutions on
//! the CPU ([`conv`]).
//!
//! A crate of its own so that it is compiled for speed (`opt-level = 3`) inside a wasm
//! module otherwise optimised for size: cargo sets optimisation levels per crate. It holds
//! no generic code, so nothing of it is compiled in (and at the level of) another crate;
//! the graph search reaches the index's points through a `dyn` distance callback.

pub mod conv;
mod graph;
pub mod resize;

pub use graph::{Layer, Links, NO_LINK};

/// Elements summed side by side: independent accumulators let the compiler use SIMD lanes
/// (a single running sum is a dependency chain it may not reorder).
pub const LANES: usize = 16;

/// Adds the moments of equally long `a` and `b` into the per-lane accumulators `acc`:
/// `a·b`, `|a|²`, `|b|²` and `|a-b|²`.
pub fn accumulate(acc: &mut [[f32; LANES]; 4], a: &[f32], b: &[f32]) {
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    lanes::moments(acc, ca, cb);
    for (l, (x, y)) in ra.iter().zip(rb).enumerate() {
        let d = x - y;
        acc[0][l] += x * y;
        acc[1][l] += x * x;
        acc[2][l] += y * y;
        acc[3][l] += d * d;
    }
}

/// The lane loops, portable: the compiler vectorises them where it optimises for speed.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod lanes {
    use super::LANES;

    /// Adds `x·y`, `x·x`, `y·y` and `(x-y)²` of each chunk pair, lane by lane.
    #[inline]
    pub(super) fn moments(acc: &mut [[f32; LANES]; 4], ca: &[[f32; LANES]], cb: &[[f32; LANES]]) {
        for (x, y) in ca.iter().zip(cb) {
            for l in 0..LANES {
                let d = x[l] - y[l];
                acc[0][l] += x[l] * y[l];
                acc[1][l] += x[l] * x[l];
                acc[2][l] += y[l] * y[l];
                acc[3][l] += d * d;
            }
        }
    }

    /// `a·b` of equally long int8 codes.
    #[inline]
    pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum()
    }

    /// `Σ x·y` over the chunk pairs: per-lane sums, then a fixed reduction tree.
    #[inline]
    pub(super) fn dot(ca: &[[f32; LANES]], cb: &[[f32; LANES]]) -> f32 {
        let mut acc = [0.0f32; LANES];
        for (x, y) in ca.iter().zip(cb) {
            for l in 0..LANES {
                acc[l] += x[l] * y[l];
            }
        }
        let r: [f32; 4] =
            std::array::from_fn(|j| (acc[j] + acc[j + 4]) + (acc[j + 8] + acc[j + 12]));
        (r[0] + r[1]) + (r[2] + r[3])
    }
}

/// The lane loops in WebAssembly SIMD. The shipped wasm is optimised for size (`opt-level =
/// "z"`), which turns off LLVM's loop vectoriser: the portable loops then ran scalar with
/// bounds checks, ~20x slower than this. Same per-lane order of operations as the portable
/// version, so scores are bit-identical natively and in the browser.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod lanes {
    use core::arch::wasm32::{
        f32x4_add, f32x4_extract_lane, f32x4_mul, f32x4_splat, f32x4_sub, i16x8_extend_high_i8x16,
        i16x8_extend_low_i8x16, i32x4_add, i32x4_dot_i16x8, i32x4_extract_lane, i32x4_splat, v128,
        v128_load,
    };

    use super::LANES;

    /// Four-float vectors in one chunk.
    const V: usize = LANES / 4;

    /// A chunk as `V` four-float vectors (written out: at `opt-level = "z"` closures and
    /// loops here would not be unrolled).
    #[inline(always)]
    fn load(x: &[f32; LANES]) -> [v128; V] {
        let p = x.as_ptr();
        // SAFETY: `x` holds 16 floats, read as four 4-float vectors; `v128_load` has no
        // alignment requirement.
        unsafe {
            [
                v128_load(p.cast()),
                v128_load(p.add(4).cast()),
                v128_load(p.add(8).cast()),
                v128_load(p.add(12).cast()),
            ]
        }
    }

    #[inline(always)]
    fn lanes4(x: v128) -> [f32; 4] {
        [
            f32x4_extract_lane::<0>(x),
            f32x4_extract_lane::<1>(x),
            f32x4_extract_lane::<2>(x),
            f32x4_extract_lane::<3>(x),
        ]
    }

    #[inline(always)]
    fn unload([a, b, c, d]: [v128; V]) -> [f32; LANES] {
        let (a, b, c, d) = (lanes4(a), lanes4(b), lanes4(c), lanes4(d));
        [
            a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3], c[0], c[1], c[2], c[3], d[0], d[1],
            d[2], d[3],
        ]
    }

    /// Adds `x·y`, `x·x`, `y·y` and `(x-y)²` of each chunk pair, lane by lane.
    pub(super) fn moments(acc: &mut [[f32; LANES]; 4], ca: &[[f32; LANES]], cb: &[[f32; LANES]]) {
        let mut v = [load(&acc[0]), load(&acc[1]), load(&acc[2]), load(&acc[3])];
        for (x, y) in ca.iter().zip(cb) {
            let (x, y) = (load(x), load(y));
            for h in [0, 1, 2, 3] {
                let d = f32x4_sub(x[h], y[h]);
                v[0][h] = f32x4_add(v[0][h], f32x4_mul(x[h], y[h]));
                v[1][h] = f32x4_add(v[1][h], f32x4_mul(x[h], x[h]));
                v[2][h] = f32x4_add(v[2][h], f32x4_mul(y[h], y[h]));
                v[3][h] = f32x4_add(v[3][h], f32x4_mul(d, d));
            }
        }
        *acc = v.map(unload);
    }

    /// `Σ x·y` over the chunk pairs: per-lane sums, then the portable version's reduction
    /// tree, in SIMD.
    pub(super) fn dot(ca: &[[f32; LANES]], cb: &[[f32; LANES]]) -> f32 {
        let mut acc = [f32x4_splat(0.0); V];
        for (x, y) in ca.iter().zip(cb) {
            let (x, y) = (load(x), load(y));
            acc = [
                f32x4_add(acc[0], f32x4_mul(x[0], y[0])),
                f32x4_add(acc[1], f32x4_mul(x[1], y[1])),
                f32x4_add(acc[2], f32x4_mul(x[2], y[2])),
                f32x4_add(acc[3], f32x4_mul(x[3], y[3])),
            ];
        }
        let r = lanes4(f32x4_add(
            f32x4_add(acc[0], acc[1]),
            f32x4_add(acc[2], acc[3]),
        ));
        (r[0] + r[1]) + (r[2] + r[3])
    }

    /// `a·b` of equally long int8 codes, 16 at a time (exact: integer sums).
    pub(super) fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
        let (ca, ra) = a.as_chunks::<16>();
        let (cb, rb) = b.as_chunks::<16>();
        let mut acc = i32x4_splat(0);
        for (x, y) in ca.iter().zip(cb) {
            // SAFETY: each chunk holds 16 bytes; `v128_load` has no alignment requirement.
            let (x, y) = unsafe { (v128_load(x.as_ptr().cast()), v128_load(y.as_ptr().cast())) };
            let lo = i32x4_dot_i16x8(i16x8_extend_low_i8x16(x), i16x8_extend_low_i8x16(y));
            let hi = i32x4_dot_i16x8(i16x8_extend_high_i8x16(x), i16x8_extend_high_i8x16(y));
            acc = i32x4_add(acc, i32x4_add(lo, hi));
        }
        let tail: i32 = ra
            .iter()
            .zip(rb)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        i32x4_extract_lane::<0>(acc)
            + i32x4_extract_lane::<1>(acc)
            + i32x4_extract_lane::<2>(acc)
            + i32x4_extract_lane::<3>(acc)
            + tail
    }
}

/// `a·b` of equally long slices, summed in SIMD-friendly lanes.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    lanes::dot(ca, cb) + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
}

/// `a·b` of equally long int8 codes.
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    lanes::dot_i8(a, b)
}
