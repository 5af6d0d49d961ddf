//! What the engine reports about its models, and the images it takes.

use image::RgbImage;
use serde::Serialize;

use crate::model::preprocess::{self, PreprocessError};

/// What a loaded model gives: `{ dim, weights, model, inputSize, whitened, maxTokens }` in JS,
/// each field present only where it applies (`model`, `inputSize` and `whitened` to images,
/// `maxTokens` to texts; CLIP has all of them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelInfo {
    /// Dimension of the vectors it embeds into (the whitening's output when one is set).
    pub dim: usize,
    /// How its weights were stored: `"f32"` or `"int8"`.
    pub weights: &'static str,
    /// Which network: `"mobilenet_v2"`, `"inception_v3"` or `"clip"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'static str>,
    /// Side of the square image it takes, in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_size: Option<usize>,
    /// Whether image vectors are whitened by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub whitened: Option<bool>,
    /// Most tokens of one text; longer texts are truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
}

/// What embeds images and what embeds texts now: `{ image: info | null, text: info | null }`.
/// With CLIP loaded both are CLIP's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadedModels {
    /// The model [`Engine::embed_images`](super::Engine::embed_images) runs, if any.
    pub image: Option<ModelInfo>,
    /// The model [`Engine::embed_texts`](super::Engine::embed_texts) runs, if any.
    pub text: Option<ModelInfo>,
}

/// One image to embed: decoded RGB, or raw RGBA pixels (a canvas' `ImageData`) that are
/// checked and composited on white when their turn comes.
#[derive(Clone, Debug)]
pub enum ImageInput {
    /// Decoded pixels.
    Rgb(RgbImage),
    /// `width × height × 4` bytes, row-major RGBA.
    Rgba {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The pixels.
        rgba: Vec<u8>,
    },
}

impl ImageInput {
    /// The image as RGB, or why its pixels are unusable.
    pub fn into_rgb(self) -> Result<RgbImage, PreprocessError> {
        match self {
            ImageInput::Rgb(image) => Ok(image),
            ImageInput::Rgba {
                width,
                height,
                rgba,
            } => preprocess::rgba_to_image(width, height, rgba),
        }
    }
}

impl ImageInput {
    /// A batch of RGBA images packed one after another, as the browser's worker sends it;
    /// `sizes` holds each image's width and height. An image whose bytes run short (or whose
    /// height is missing) fails when its turn comes; bytes beyond the last image fail here.
    pub fn unpack_rgba(rgba: &[u8], sizes: &[u32]) -> Result<Vec<ImageInput>, PreprocessError> {
        let mut rest = rgba;
        let images = (sizes.chunks(2))
            .map(|size| {
                let (width, height) = (size[0], size.get(1).copied().unwrap_or(0));
                let n = (width as usize * height as usize * 4).min(rest.len());
                let (pixels, tail) = rest.split_at(n);
                rest = tail;
                let rgba = pixels.to_vec();
                ImageInput::Rgba {
                    width,
                    height,
                    rgba,
                }
            })
            .collect();
        match rest.len() {
            0 => Ok(images),
            n => Err(PreprocessError::Decode(format!(
                "{n} bytes beyond the batch's images"
            ))),
        }
    }
}

impl From<RgbImage> for ImageInput {
    fn from(image: RgbImage) -> Self {
        ImageInput::Rgb(image)
    }
}

impl From<&RgbImage> for ImageInput {
    fn from(image: &RgbImage) -> Self {
        ImageInput::Rgb(image.clone())
    }
}
