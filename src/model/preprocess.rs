//! Image preprocessing for the image embedders (MobileNetV2 at 224 px, InceptionV3 at 299),
//! bit-exact with the reference pipeline (nsfwjs' `infer` on @tensorflow/tfjs, CPU backend):
//!
//! 1. decode (PNG or JPEG) to RGBA8;
//! 2. composite on white, in integer math: `c' = (c * a + 255 * (255 - a) + 127) / 255`;
//! 3. f32, divided by 255 (nsfwjs divides before resizing);
//! 4. bilinear resize to the network's side (224 or 299) the way
//!    `tf.image.resizeBilinear(x, size, alignCorners)` computes it on the tfjs CPU backend (source positions and blends in f64, stored as f32),
//!    with `alignCorners = true` as nsfwjs passes it (`halfPixelCenters = false`). Images that
//!    already have the network's size are not resized (as in nsfwjs). Aspect ratio is not kept.
//!
//! The result is laid out NCHW for burn (tfjs is NHWC).

use burn::prelude::*;
use image::{ImageDecoder, RgbImage, RgbaImage};

/// Side of the square network input.
pub const INPUT_SIZE: usize = 224;

/// Failures while turning bytes into an input image.
#[derive(Debug, thiserror::Error)]
pub enum PreprocessError {
    /// The bytes are not an image the decoder understands (PNG and JPEG are built in).
    #[error("could not decode image: {0}")]
    Decode(String),
    /// The image has no pixels.
    #[error("image is empty ({width}x{height})")]
    Empty {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// Raw RGBA pixels whose count does not match the stated size.
    #[error("{width}x{height} RGBA pixels need {} bytes, got {got}", *width as usize * *height as usize * 4)]
    PixelCount {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Bytes given.
        got: usize,
    },
    /// The image has more pixels than [`MAX_PIXELS`] (the browser's worker scales larger ones
    /// down before they get here).
    #[error("image is too large ({width}x{height}): at most {MAX_PIXELS} pixels")]
    TooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
}

/// Most pixels an image may have (64 megapixels, e.g. 8192 × 8192); decoding stops before
/// allocating a larger one.
pub const MAX_PIXELS: u64 = 8192 * 8192;

/// Decodes PNG or JPEG bytes, turns the image upright as its EXIF orientation says (as
/// browsers show it), and composites any transparency on white.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
    let decode = |e: image::ImageError| PreprocessError::Decode(e.to_string());
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Decode(e.to_string()))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 4 * 2);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(decode)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height)?;
    let orientation = decoder.orientation().map_err(decode)?;
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(decode)?;
    img.apply_orientation(orientation);
    let rgba = img.to_rgba8();
    check_size(rgba.width(), rgba.height())?;
    Ok(composite_on_white(&rgba))
}

/// Raw RGBA8 pixels (e.g. a canvas' `ImageData`), composited on white.
pub fn rgba_to_image(width: u32, height: u32, rgba: Vec<u8>) -> Result<RgbImage, PreprocessError> {
    check_size(width, height)?;
    let expected = width as usize * height as usize * 4;
    let got = rgba.len();
    let rgba = RgbaImage::from_raw(width, height, rgba)
        .filter(|_| got == expected)
        .ok_or(PreprocessError::PixelCount { width, height, got })?;
    Ok(composite_on_white(&rgba))
}

fn check_size(width: u32, height: u32) -> Result<(), PreprocessError> {
    if width == 0 || height == 0 {
        return Err(PreprocessError::Empty { width, height });
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PreprocessError::TooLarge { width, height });
    }
    Ok(())
}

/// Blends each pixel over an opaque white background (integer math, rounded).
pub fn composite_on_white(rgba: &RgbaImage) -> RgbImage {
    let (w, h) = rgba.dimensions();
    let mut out = RgbImage::new(w, h);
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let a = src[3] as u32;
        for c in 0..3 {
            dst[c] = ((src[c] as u32 * a + 255 * (255 - a) + 127) / 255) as u8;
        }
    }
    out
}

/// Bilinear resize of an HWC f32 image, as tfjs' CPU `ResizeBilinear` kernel computes it
/// (`half_pixel_centers = false`).
pub fn resize_bilinear_hwc(
    src: &[f32],
    shape: [usize; 3],
    new_size: [usize; 2],
    align_corners: bool,
) -> Vec<f32> {
    resize_bilinear_with(src, |v| v, shape, new_size, align_corners)
}

/// [`resize_bilinear_hwc`] over any source values, each read through `value` as f32 (so a
/// u8 image is resized without a full-size f32 copy, with the same numbers).
fn resize_bilinear_with<T: Copy>(
    src: &[T],
    value: impl Fn(T) -> f32,
    [height, width, channels]: [usize; 3],
    [new_height, new_width]: [usize; 2],
    align_corners: bool,
) -> Vec<f32> {
    assert_eq!(
        src.len(),
        height * width * channels,
        "resize: bad source length"
    );
    let eff = |old: usize, new: usize| {
        if align_corners && new > 1 {
            (old - 1) as f64 / (new - 1) as f64
        } else {
            old as f64 / new as f64
        }
    };
    let row_ratio = eff(height, new_height);
    let col_ratio = eff(width, new_width);
    // Per output column: (floor, ceil, fraction), shared by all rows.
    let cols: Vec<(usize, usize, f64)> = (0..new_width)
        .map(|c| {
            let f = col_ratio * c as f64;
            let lo = f.floor().max(0.0);
            (lo as usize, (f.ceil() as usize).min(width - 1), f - lo)
        })
        .collect();
    let mut out = Vec::with_capacity(new_height * new_width * channels);
    for r in 0..new_height {
        let f = row_ratio * r as f64;
        let lo = f.floor().max(0.0);
        let row_frac = f - lo;
        let top = lo as usize * width * channels;
        let bot = (f.ceil() as usize).min(height - 1) * width * channels;
        for &(c0, c1, col_frac) in &cols {
            for d in 0..channels {
                let tl = value(src[top + c0 * channels + d]) as f64;
                let tr = value(src[top + c1 * channels + d]) as f64;
                let bl = value(src[bot + c0 * channels + d]) as f64;
                let br = value(src[bot + c1 * channels + d]) as f64;
                let t = tl + (tr - tl) * col_frac;
                let b = bl + (br - bl) * col_frac;
                out.push((t + (b - t) * row_frac) as f32);
            }
        }
    }
    out
}

/// One image as the network's input: `[3, 224, 224]` (CHW) f32 in `[0, 1]`.
pub fn image_to_chw(img: &RgbImage) -> Vec<f32> {
    image_to_chw_sized(img, INPUT_SIZE)
}

/// One image as a `size`-pixel network's input: `[3, size, size]` (CHW) f32 in `[0, 1]`
/// (InceptionV3 takes 299; the same steps, as nsfwjs applies them to every model).
pub fn image_to_chw_sized(img: &RgbImage, size: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let scale = |v: u8| v as f32 / 255.0;
    if (h, w) == (size, size) {
        let hwc: Vec<f32> = img.as_raw().iter().map(|&v| scale(v)).collect();
        return hwc_to_chw(&hwc, size * size, 3);
    }
    // The same numbers as `resize_bilinear_with` then `hwc_to_chw`, written as planes
    // directly, in the crate the wasm compiles for speed.
    simil_kernels::resize::resize_rgb8_to_chw(img.as_raw(), [h, w], [size, size], true)
}

/// Reorders `pixels × channels` interleaved values into planes.
pub fn hwc_to_chw(hwc: &[f32], pixels: usize, channels: usize) -> Vec<f32> {
    let mut chw = vec![0.0; pixels * channels];
    for (p, px) in hwc.chunks_exact(channels).enumerate() {
        for (c, &v) in px.iter().enumerate() {
            chw[c * pixels + p] = v;
        }
    }
    chw
}

/// A batch of images as the network's input tensor `[n, 3, 224, 224]`.
pub fn images_to_tensor(images: &[RgbImage], device: &Device) -> Tensor<4> {
    images_to_tensor_sized(images, INPUT_SIZE, device)
}

/// A batch of images as a `size`-pixel network's input tensor `[n, 3, size, size]`.
pub fn images_to_tensor_sized(images: &[RgbImage], size: usize, device: &Device) -> Tensor<4> {
    let mut data = Vec::with_capacity(images.len() * 3 * size * size);
    for img in images {
        data.extend(image_to_chw_sized(img, size));
    }
    chw_to_tensor_sized(data, size, device)
}

/// Concatenated [`image_to_chw`] outputs as the network's input tensor `[n, 3, 224, 224]`.
pub fn chw_to_tensor(data: Vec<f32>, device: &Device) -> Tensor<4> {
    chw_to_tensor_sized(data, INPUT_SIZE, device)
}

/// Concatenated [`image_to_chw_sized`] outputs as the input tensor `[n, 3, size, size]`.
pub fn chw_to_tensor_sized(data: Vec<f32>, size: usize, device: &Device) -> Tensor<4> {
    let n = data.len() / (3 * size * size);
    Tensor::from_data(TensorData::new(data, [n, 3, size, size]), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_over_the_pixel_cap_are_refused_before_any_pixel_is_read() {
        let err = rgba_to_image(10_000, 10_000, Vec::new()).unwrap_err();
        assert!(matches!(
            err,
            PreprocessError::TooLarge {
                width: 10_000,
                height: 10_000
            }
        ));
        assert!(err.to_string().contains("too large"), "{err}");
        assert!(
            rgba_to_image(8192, 8192, Vec::new())
                .is_err_and(|e| matches!(e, PreprocessError::PixelCount { .. }))
        );
    }

    #[test]
    fn composite_blends_on_white() {
        let rgba =
            RgbaImage::from_raw(3, 1, vec![0, 0, 0, 0, 0, 0, 0, 255, 100, 50, 0, 128]).unwrap();
        let rgb = composite_on_white(&rgba);
        assert_eq!(rgb.as_raw(), &[255, 255, 255, 0, 0, 0, 177, 152, 127]);
    }

    #[test]
    fn align_corners_keeps_the_corners() {
        let src = [0.0, 1.0, 2.0, 3.0]; // 2x2, one channel
        let out = resize_bilinear_hwc(&src, [2, 2, 1], [3, 3], true);
        assert_eq!(out, vec![0.0, 0.5, 1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0]);
        let out = resize_bilinear_hwc(&src, [2, 2, 1], [4, 4], false);
        assert_eq!(&out[..4], &[0.0, 0.5, 1.0, 1.0]);
    }

    /// A 3×2 PNG whose eXIf chunk says "rotate 90° clockwise" (orientation 6), as phones
    /// write them.
    fn rotated_png() -> Vec<u8> {
        use image::ImageEncoder;
        #[rustfmt::skip]
        let exif = vec![
            b'M', b'M', 0, 42, 0, 0, 0, 8, // big-endian TIFF header, IFD at 8
            0, 1,                          // one entry
            0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, // Orientation, SHORT, 1, value 6
            0, 0, 0, 0,                    // no next IFD
        ];
        // Row-major 3 wide, 2 high: red, green, blue / black, white, grey.
        let pixels = [
            255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 128, 128, 128,
        ];
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        encoder.set_exif_metadata(exif).unwrap();
        encoder
            .write_image(&pixels, 3, 2, image::ExtendedColorType::Rgb8)
            .unwrap();
        png
    }

    #[test]
    fn exif_orientation_is_applied() {
        let img = decode_image(&rotated_png()).unwrap();
        assert_eq!(
            img.dimensions(),
            (2, 3),
            "rotated 90°: width and height swap"
        );
        // Rotating clockwise puts the bottom-left pixel (black) top-left, red top-right.
        assert_eq!(img.get_pixel(0, 0).0, [0, 0, 0]);
        assert_eq!(img.get_pixel(1, 0).0, [255, 0, 0]);
        assert_eq!(img.get_pixel(1, 2).0, [0, 0, 255]);
    }

    #[test]
    fn rgba_pixels_are_checked_and_composited() {
        let img = rgba_to_image(1, 1, vec![0, 0, 0, 0]).unwrap();
        assert_eq!(img.as_raw(), &[255, 255, 255]);
        let err = rgba_to_image(2, 2, vec![0; 15]).unwrap_err().to_string();
        assert!(err.contains("need 16 bytes, got 15"), "{err}");
        assert!(matches!(
            rgba_to_image(0, 4, vec![]),
            Err(PreprocessError::Empty { .. })
        ));
    }

    #[test]
    fn resizing_u8_matches_resizing_scaled_f32() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([(x * 30) as u8, (y * 50) as u8, 9]));
        let scaled: Vec<f32> = img.as_raw().iter().map(|&v| v as f32 / 255.0).collect();
        let reference = hwc_to_chw(
            &resize_bilinear_hwc(&scaled, [5, 7, 3], [INPUT_SIZE, INPUT_SIZE], true),
            INPUT_SIZE * INPUT_SIZE,
            3,
        );
        assert_eq!(image_to_chw(&img), reference);
    }
}
