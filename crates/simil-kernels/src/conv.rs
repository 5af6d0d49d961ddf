//! 3×3 convolutions on NCHW planes with TensorFlow's `SAME` padding, the bias and an optional
//! ReLU6 fused in: MobileNetV2's stem (3 → 32 channels, stride 2) and its depthwise layers
//! (stride 1 and 2) on the CPU.
//!
//! burn's CPU backend (flex) copied every stride-2 input into a padded tensor (the padding is
//! asymmetric there, `(0, 1)`), ran stride-2 rows one element at a time, and added the bias and
//! the clamp as passes of their own. Here each input plane is copied once into a zero-bordered
//! scratch, split into `stride` column phases so that every tap reads a contiguous run, and
//! each output row is summed in chunks of [`CHUNK`] lanes that the compiler keeps in SIMD
//! registers (`opt-level = 3`, wasm `simd128`).

/// Output values summed side by side per chunk of a row.
pub const CHUNK: usize = 8;

/// Shape and options of one 3×3 convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv3x3 {
    /// Input channels.
    pub cin: usize,
    /// Output channels (`cin` when depthwise).
    pub cout: usize,
    /// One filter per channel (`groups = cin`) rather than a full `cout × cin` one.
    pub depthwise: bool,
    /// Stride, 1 or 2, the same along both axes.
    pub stride: usize,
    /// Clamp the outputs to `[0, 6]`.
    pub relu6: bool,
    /// Clamp the inputs to `[0, 6]` as they are read: the ReLU6 of the layer before, done
    /// here instead of as a pass of its own.
    pub relu6_input: bool,
}

/// Output side and leading padding of TensorFlow's `SAME` rule for a 3-wide kernel.
fn same(n: usize, stride: usize) -> (usize, usize) {
    let out = n.div_ceil(stride);
    let total = ((out - 1) * stride + 3).saturating_sub(n);
    (out, total / 2)
}

/// One input plane, zero-bordered, each row stored as `stride` phases of `len` values: the
/// padded column `q` at phase `q % stride`, index `q / stride`.
struct Scratch {
    data: Vec<f32>,
    len: usize,
    stride: usize,
}

impl Scratch {
    fn new(rows: usize, len: usize, stride: usize) -> Self {
        Scratch {
            data: vec![0.0; rows * stride * len],
            len,
            stride,
        }
    }

    /// Copies an `h × w` plane in, `top` rows and `left` columns down and right of the
    /// corner; everything else stays zero.
    fn fill(&mut self, plane: &[f32], w: usize, top: usize, left: usize, relu6: bool) {
        let (s, len) = (self.stride, self.len);
        let value = |v: f32| if relu6 { clamp6(v) } else { v };
        for (r, src) in plane.chunks_exact(w).enumerate() {
            let row = &mut self.data[(r + top) * s * len..(r + top + 1) * s * len];
            if s == 1 {
                simd::copy_row(&mut row[left..left + w], src, relu6);
            } else if left == 0 {
                // Even sides (all of MobileNetV2's): pairs of columns, one to each phase.
                let (even, odd) = row.split_at_mut(len);
                simd::split_row(even, odd, src, relu6);
            } else {
                // Column `q = left + i` goes to phase `q % 2`, index `q / 2`.
                let (even, odd) = row.split_at_mut(len);
                for (phase, dst) in [(0, even), (1, odd)] {
                    let first = (phase + 2 - left % 2) % 2;
                    let src = src.iter().skip(first).step_by(2);
                    for (d, &v) in dst[(left + first) / 2..].iter_mut().zip(src) {
                        *d = value(v);
                    }
                }
            }
        }
    }

    /// The run that tap column `kw` of padded row `row` reads, from output column 0.
    #[inline]
    fn tap(&self, row: usize, kw: usize) -> &[f32] {
        let (s, len) = (self.stride, self.len);
        let start = row * s * len + (kw % s) * len + kw / s;
        &self.data[start..start + len - kw / s]
    }
}

/// One output row: `bias + Σ w · tap` over the `T` taps (nine per input plane), clamped to
/// `[0, 6]` if asked, written to `out` (its length is the row's width). `T` is a constant so
/// that the tap loop unrolls and its weights stay in registers across the row.
#[inline(always)]
fn row<const T: usize>(
    out: &mut [f32],
    bias: f32,
    relu6: bool,
    oh: usize,
    planes: &[(&[f32], &Scratch)],
) {
    let width = out.len();
    let chunks = width.div_ceil(CHUNK);
    let mut weights = [0.0; T];
    let mut taps: [&[[f32; CHUNK]]; T] = [&[]; T];
    for (p, &(w, plane)) in planes.iter().enumerate() {
        for k in 0..9 {
            weights[p * 9 + k] = w[k];
            // Cut to `chunks` so that the loop below needs no bounds checks.
            taps[p * 9 + k] = &plane.tap(oh * plane.stride + k / 3, k % 3).as_chunks().0[..chunks];
        }
    }
    let (full, rest) = out.as_chunks_mut::<CHUNK>();
    for (j, dst) in full.iter_mut().enumerate() {
        *dst = simd::chunk(&taps, &weights, bias, relu6, j);
    }
    if !rest.is_empty() {
        let acc = simd::chunk(&taps, &weights, bias, relu6, width / CHUNK);
        rest.copy_from_slice(&acc[..rest.len()]);
    }
}

/// `v` clamped to `[0, 6]`; NaN stays NaN (as burn's clamps leave it).
#[inline(always)]
fn clamp6(v: f32) -> f32 {
    let v = if v < 0.0 { 0.0 } else { v };
    if v > 6.0 { 6.0 } else { v }
}

/// The inner loops, portable: the compiler vectorises them natively.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod simd {
    use super::{CHUNK, clamp6};

    /// Chunk `j` of an output row: `bias + Σ weights[t] · taps[t][j]`, clamped if asked.
    #[inline(always)]
    pub(super) fn chunk<const T: usize>(
        taps: &[&[[f32; CHUNK]]; T],
        weights: &[f32; T],
        bias: f32,
        relu6: bool,
        j: usize,
    ) -> [f32; CHUNK] {
        let mut acc = [bias; CHUNK];
        for t in 0..T {
            let src = &taps[t][j];
            for l in 0..CHUNK {
                acc[l] += weights[t] * src[l];
            }
        }
        if relu6 {
            for v in &mut acc {
                *v = clamp6(*v);
            }
        }
        acc
    }

    /// `dst = src`, clamped if asked.
    #[inline(always)]
    pub(super) fn copy_row(dst: &mut [f32], src: &[f32], relu6: bool) {
        if relu6 {
            for (d, &v) in dst.iter_mut().zip(src) {
                *d = clamp6(v);
            }
        } else {
            dst.copy_from_slice(src);
        }
    }

    /// `src`'s even columns to `even`, odd ones to `odd`, clamped if asked.
    #[inline(always)]
    pub(super) fn split_row(even: &mut [f32], odd: &mut [f32], src: &[f32], relu6: bool) {
        let value = |v: f32| if relu6 { clamp6(v) } else { v };
        let (pairs, last) = src.as_chunks::<2>();
        for ((e, o), &[a, b]) in even.iter_mut().zip(odd.iter_mut()).zip(pairs) {
            (*e, *o) = (value(a), value(b));
        }
        if let &[a] = last {
            even[pairs.len()] = value(a);
        }
    }
}

/// The inner loops in WebAssembly SIMD: LLVM left the portable ones scalar for wasm32 even
/// at `opt-level = 3`. The same operations in the same order (multiply, then add; clamps
/// that keep NaN), so outputs are bit-identical to the portable version.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::*;

    use super::{CHUNK, clamp6};

    /// `[0, 6]` clamp of four lanes; `pmax`/`pmin` keep a NaN in their first operand.
    #[inline(always)]
    fn clamp6x4(v: v128) -> v128 {
        f32x4_pmin(f32x4_pmax(v, f32x4_splat(0.0)), f32x4_splat(6.0))
    }

    /// Four lanes from `src[at..at + 4]`.
    #[inline(always)]
    fn load(src: &[f32], at: usize) -> v128 {
        let four: &[f32; 4] = src[at..at + 4].try_into().unwrap();
        // SAFETY: `four` is 16 readable bytes; v128_load has no alignment requirement.
        unsafe { v128_load(four.as_ptr().cast()) }
    }

    /// Four lanes to `dst[at..at + 4]`.
    #[inline(always)]
    fn store(dst: &mut [f32], at: usize, v: v128) {
        let four: &mut [f32; 4] = (&mut dst[at..at + 4]).try_into().unwrap();
        // SAFETY: `four` is 16 writable bytes; v128_store has no alignment requirement.
        unsafe { v128_store(four.as_mut_ptr().cast(), v) }
    }

    /// Chunk `j` of an output row: `bias + Σ weights[t] · taps[t][j]`, clamped if asked.
    #[inline(always)]
    pub(super) fn chunk<const T: usize>(
        taps: &[&[[f32; CHUNK]]; T],
        weights: &[f32; T],
        bias: f32,
        relu6: bool,
        j: usize,
    ) -> [f32; CHUNK] {
        let mut lo = f32x4_splat(bias);
        let mut hi = lo;
        for t in 0..T {
            let src = &taps[t][j];
            let w = f32x4_splat(weights[t]);
            lo = f32x4_add(lo, f32x4_mul(w, load(src, 0)));
            hi = f32x4_add(hi, f32x4_mul(w, load(src, 4)));
        }
        if relu6 {
            (lo, hi) = (clamp6x4(lo), clamp6x4(hi));
        }
        let mut out = [0.0; CHUNK];
        store(&mut out, 0, lo);
        store(&mut out, 4, hi);
        out
    }

    /// `dst = src`, clamped if asked.
    #[inline(always)]
    pub(super) fn copy_row(dst: &mut [f32], src: &[f32], relu6: bool) {
        if !relu6 {
            dst.copy_from_slice(src);
            return;
        }
        let n = dst.len().min(src.len());
        let whole = n / 4 * 4;
        for at in (0..whole).step_by(4) {
            store(dst, at, clamp6x4(load(src, at)));
        }
        for i in whole..n {
            dst[i] = clamp6(src[i]);
        }
    }

    /// `src`'s even columns to `even`, odd ones to `odd`, clamped if asked.
    #[inline(always)]
    pub(super) fn split_row(even: &mut [f32], odd: &mut [f32], src: &[f32], relu6: bool) {
        let pairs = src.len() / 2;
        let whole = pairs / 4 * 4;
        for k in (0..whole).step_by(4) {
            let (a, b) = (load(src, 2 * k), load(src, 2 * k + 4));
            let (mut e, mut o) = (
                i32x4_shuffle::<0, 2, 4, 6>(a, b),
                i32x4_shuffle::<1, 3, 5, 7>(a, b),
            );
            if relu6 {
                (e, o) = (clamp6x4(e), clamp6x4(o));
            }
            store(even, k, e);
            store(odd, k, o);
        }
        let value = |v: f32| if relu6 { clamp6(v) } else { v };
        for k in whole..pairs {
            even[k] = value(src[2 * k]);
            odd[k] = value(src[2 * k + 1]);
        }
        if src.len() % 2 == 1 {
            even[pairs] = value(src[2 * pairs]);
        }
    }
}

/// Convolves one image `[cin, h, w]` (NCHW, row-major) with `weight` (`[cout, cin, 3, 3]`, or
/// `[cin, 1, 3, 3]` when depthwise) and `bias` (`[cout]`); returns `[cout, oh, ow]` and
/// `(oh, ow)`, the sides that TensorFlow's `SAME` padding gives.
///
/// # Panics
/// If a slice's length does not match the shapes, or the stride is not 1 or 2.
pub fn conv3x3(
    input: &[f32],
    [h, w]: [usize; 2],
    weight: &[f32],
    bias: &[f32],
    spec: Conv3x3,
) -> (Vec<f32>, [usize; 2]) {
    let Conv3x3 {
        cin,
        cout,
        depthwise,
        stride,
        relu6,
        relu6_input,
    } = spec;
    assert!(stride == 1 || stride == 2, "conv3x3: stride {stride}");
    assert!(
        !depthwise || cin == cout,
        "conv3x3: depthwise needs cin = cout"
    );
    assert!(
        depthwise || cin == 3,
        "conv3x3: dense layers take 3 input channels"
    );
    let per_out = if depthwise { 9 } else { cin * 9 };
    assert_eq!(input.len(), cin * h * w, "conv3x3: input length");
    assert_eq!(weight.len(), cout * per_out, "conv3x3: weight length");
    assert_eq!(bias.len(), cout, "conv3x3: bias length");
    let ((oh, top), (ow, left)) = (same(h, stride), same(w, stride));
    // Each phase holds the chunks of the row and the taps' overhang (2 / stride), rounded
    // to whole chunks: every read of `row` is in bounds.
    let len = ow.div_ceil(CHUNK) * CHUNK + 2;
    let rows = (oh - 1) * stride + 3;
    let plane = h * w;
    let mut out = vec![0.0; cout * oh * ow];
    if depthwise {
        let mut scratch = Scratch::new(rows, len, stride);
        for c in 0..cin {
            scratch.fill(
                &input[c * plane..(c + 1) * plane],
                w,
                top,
                left,
                relu6_input,
            );
            let taps = [(&weight[c * 9..c * 9 + 9], &scratch)];
            let dst = &mut out[c * oh * ow..(c + 1) * oh * ow];
            for (y, out_row) in dst.chunks_exact_mut(ow).enumerate() {
                row::<9>(out_row, bias[c], relu6, y, &taps);
            }
        }
    } else {
        let planes: Vec<Scratch> = (0..cin)
            .map(|c| {
                let mut s = Scratch::new(rows, len, stride);
                s.fill(
                    &input[c * plane..(c + 1) * plane],
                    w,
                    top,
                    left,
                    relu6_input,
                );
                s
            })
            .collect();
        for co in 0..cout {
            let taps: Vec<(&[f32], &Scratch)> = planes
                .iter()
                .enumerate()
                .map(|(ci, s)| (&weight[co * per_out + ci * 9..co * per_out + ci * 9 + 9], s))
                .collect();
            let dst = &mut out[co * oh * ow..(co + 1) * oh * ow];
            for (y, out_row) in dst.chunks_exact_mut(ow).enumerate() {
                row::<27>(out_row, bias[co], relu6, y, &taps);
            }
        }
    }
    (out, [oh, ow])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition: zero padding, SAME rule, one sum per output.
    fn reference(
        input: &[f32],
        [h, w]: [usize; 2],
        weight: &[f32],
        bias: &[f32],
        spec: Conv3x3,
    ) -> Vec<f32> {
        let ((oh, top), (ow, left)) = (same(h, spec.stride), same(w, spec.stride));
        let mut out = vec![0.0; spec.cout * oh * ow];
        for co in 0..spec.cout {
            for y in 0..oh {
                for x in 0..ow {
                    let mut acc = 0.0f64;
                    let inputs: Vec<usize> = if spec.depthwise {
                        vec![co]
                    } else {
                        (0..spec.cin).collect()
                    };
                    for (k, &ci) in inputs.iter().enumerate() {
                        let wbase = if spec.depthwise {
                            co * 9
                        } else {
                            (co * spec.cin + k) * 9
                        };
                        for kh in 0..3 {
                            for kw in 0..3 {
                                let iy = (y * spec.stride + kh) as isize - top as isize;
                                let ix = (x * spec.stride + kw) as isize - left as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                    continue;
                                }
                                let mut v = input[ci * h * w + iy as usize * w + ix as usize];
                                if spec.relu6_input {
                                    v = v.clamp(0.0, 6.0);
                                }
                                acc += f64::from(weight[wbase + kh * 3 + kw]) * f64::from(v);
                            }
                        }
                    }
                    let mut v = (acc + f64::from(bias[co])) as f32;
                    if spec.relu6 {
                        v = v.clamp(0.0, 6.0);
                    }
                    out[(co * oh + y) * ow + x] = v;
                }
            }
        }
        out
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2001) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_definition() {
        for &(cin, cout, depthwise) in &[(3, 5, false), (4, 4, true), (1, 1, true)] {
            for &stride in &[1, 2] {
                for &(h, w) in &[(7, 9), (8, 8), (1, 1), (2, 17), (14, 14)] {
                    for (relu6, relu6_input) in [(false, false), (true, false), (true, true)] {
                        let spec = Conv3x3 {
                            cin,
                            cout,
                            depthwise,
                            stride,
                            relu6,
                            relu6_input,
                        };
                        let input: Vec<f32> = values(cin * h * w, (h * 31 + w) as u32)
                            .iter()
                            .map(|v| v * 8.0)
                            .collect();
                        let per_out = if depthwise { 9 } else { cin * 9 };
                        let weight: Vec<f32> =
                            values(cout * per_out, 7).iter().map(|v| v * 4.0).collect();
                        let bias = values(cout, 3);
                        let (got, [oh, ow]) = conv3x3(&input, [h, w], &weight, &bias, spec);
                        assert_eq!([oh, ow], [h.div_ceil(stride), w.div_ceil(stride)]);
                        let want = reference(&input, [h, w], &weight, &bias, spec);
                        for (g, e) in got.iter().zip(&want) {
                            assert!((g - e).abs() < 1e-4, "{spec:?} {h}x{w}: {g} vs {e}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stride_two_pads_after_like_tensorflow() {
        // Even sides at stride 2: SAME pads (0, 1), so output (0, 0) starts at input (0, 0).
        assert_eq!(same(224, 2), (112, 0));
        assert_eq!(same(7, 2), (4, 1));
        assert_eq!(same(56, 1), (56, 1));
    }
}
