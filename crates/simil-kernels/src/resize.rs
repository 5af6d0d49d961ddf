//! The image network's input resize: bilinear, from RGB8 pixels to `[0, 1]` planes, exactly
//! as tfjs' CPU `ResizeBilinear` computes it (see `simil::model::preprocess`). Here rather
//! than in `simil` so that the shipped wasm runs it optimised for speed.

/// Bilinear resize of an `h × w` interleaved RGB8 image to `new_h × new_w`, each value read
/// as `v / 255` (f32), blended in f64 and stored as f32, the way tfjs' CPU kernel does with
/// `half_pixel_centers = false`; returns three planes (CHW).
///
/// # Panics
/// If `src` does not hold `h × w × 3` bytes or a side is 0.
pub fn resize_rgb8_to_chw(
    src: &[u8],
    [h, w]: [usize; 2],
    [new_h, new_w]: [usize; 2],
    align_corners: bool,
) -> Vec<f32> {
    assert_eq!(src.len(), h * w * 3, "resize: bad source length");
    assert!(h > 0 && w > 0, "resize: empty source");
    let eff = |old: usize, new: usize| {
        if align_corners && new > 1 {
            (old - 1) as f64 / (new - 1) as f64
        } else {
            old as f64 / new as f64
        }
    };
    let (row_ratio, col_ratio) = (eff(h, new_h), eff(w, new_w));
    let value: [f64; 256] = std::array::from_fn(|v| f64::from(v as f32 / 255.0));
    // Per output column: byte offsets of the left and right source pixels, and the fraction.
    let cols: Vec<(usize, usize, f64)> = (0..new_w)
        .map(|c| {
            let f = col_ratio * c as f64;
            let lo = f.floor().max(0.0);
            (lo as usize * 3, (f.ceil() as usize).min(w - 1) * 3, f - lo)
        })
        .collect();
    let plane = new_h * new_w;
    let mut out = vec![0.0f32; 3 * plane];
    let (p0, rest) = out.split_at_mut(plane);
    let (p1, p2) = rest.split_at_mut(plane);
    let mut planes = [p0, p1, p2];
    for r in 0..new_h {
        let f = row_ratio * r as f64;
        let lo = f.floor().max(0.0);
        let row_frac = f - lo;
        let top = &src[lo as usize * w * 3..][..w * 3];
        let bot = &src[(f.ceil() as usize).min(h - 1) * w * 3..][..w * 3];
        for (d, dst) in planes.iter_mut().enumerate() {
            let dst = &mut dst[r * new_w..(r + 1) * new_w];
            for (o, &(c0, c1, col_frac)) in dst.iter_mut().zip(&cols) {
                let tl = value[usize::from(top[c0 + d])];
                let tr = value[usize::from(top[c1 + d])];
                let bl = value[usize::from(bot[c0 + d])];
                let br = value[usize::from(bot[c1 + d])];
                let t = tl + (tr - tl) * col_frac;
                let b = bl + (br - bl) * col_frac;
                *o = (t + (b - t) * row_frac) as f32;
            }
        }
    }
    out
}
