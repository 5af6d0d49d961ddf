//! The model engine: which embedding models are loaded on a [`Compute`] device, and which of
//! them embeds a batch of images or texts. Plain Rust with native tests; the browser's
//! `ModelEngine` (crate `simil-web-model`) only converts JS values and calls it.
//!
//! The rules:
//! - CLIP embeds both images and texts, into one space. Loading it unloads the image model,
//!   its whitening and the text model; loading an image model or a text model unloads CLIP.
//! - A load that fails replaces nothing.
//! - An image model and its whitening are installed together or not at all, and a whitening
//!   must take the image model's output dimension.

mod models;

use crate::compute::{BackendChoice, BackendKind, Compute};
use crate::error::{EngineError, Result};
use crate::model::clip::{Clip, image_to_clip_chw};
use crate::model::preprocess;
use crate::model::tokenizer::MAX_TOKENS;
use crate::model::whitening::DEFAULT_SHRINKAGE;
use crate::model::{ImageEmbedder, ModelError, TEXT_EMBEDDING_DIM, TextEmbedder, Whitening};

pub use models::{ImageInput, LoadedModels, ModelInfo};

/// The files of a Hugging Face CLIP checkpoint, as bytes.
#[derive(Clone, Copy, Debug)]
pub struct ClipFiles<'a> {
    /// `model.safetensors` (f32).
    pub weights: &'a [u8],
    /// `config.json`.
    pub config: &'a [u8],
    /// The tokeniser's `vocab.json`.
    pub vocab: &'a [u8],
    /// The tokeniser's `merges.txt`.
    pub merges: &'a [u8],
}

/// An image model and the whitening applied to its vectors by default.
#[derive(Debug)]
struct ImageSlot {
    model: ImageEmbedder,
    whitening: Option<Whitening>,
}

impl ImageSlot {
    fn info(&self) -> ModelInfo {
        ModelInfo {
            dim: self
                .whitening
                .as_ref()
                .map_or(self.model.dim(), Whitening::out_dim),
            weights: self.model.weight_format().name(),
            model: Some(self.model.architecture().name()),
            input_size: Some(self.model.input_size()),
            whitened: Some(self.whitening.is_some()),
            max_tokens: None,
        }
    }
}

/// What is loaded: CLIP alone, or any of an image model and a text model.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per engine, rarely moved: boxing would only add indirection"
)]
enum Loaded {
    Separate {
        image: Option<ImageSlot>,
        text: Option<TextEmbedder>,
    },
    Clip(Clip),
}

/// A compute device and the models loaded on it.
#[derive(Debug)]
pub struct Engine {
    compute: Compute,
    loaded: Loaded,
}

impl Engine {
    /// An engine on `compute` with no model loaded.
    pub fn new(compute: Compute) -> Self {
        Engine {
            compute,
            loaded: Loaded::Separate {
                image: None,
                text: None,
            },
        }
    }

    /// Opens the backend `choice` asks for (see [`Compute::open`]) with no model loaded.
    pub async fn open(choice: BackendChoice) -> Result<Self> {
        Ok(Self::new(Compute::open(choice).await?))
    }

    /// The compute device.
    pub fn compute(&self) -> &Compute {
        &self.compute
    }

    /// The backend the models run on.
    pub fn backend(&self) -> BackendKind {
        self.compute.kind()
    }

    /// What embeds images and texts now.
    pub fn models(&self) -> LoadedModels {
        match &self.loaded {
            Loaded::Clip(clip) => LoadedModels {
                image: Some(clip_info(clip)),
                text: Some(clip_info(clip)),
            },
            Loaded::Separate { image, text } => LoadedModels {
                image: image.as_ref().map(ImageSlot::info),
                text: text.as_ref().map(text_info),
            },
        }
    }

    /// Loads an image model (f32 or int8 safetensors; the file says which network) and, when
    /// given, the whitening for its vectors (safetensors, as `Whitening::to_safetensors`
    /// writes it): both are installed, replacing the image model and CLIP, or neither.
    pub fn load_image_model(
        &mut self,
        weights: &[u8],
        whitening: Option<&[u8]>,
    ) -> Result<ModelInfo> {
        let model = ImageEmbedder::load(weights, self.compute.device())?;
        let whitening = whitening.map(|b| read_whitening(b, &model)).transpose()?;
        let slot = ImageSlot { model, whitening };
        let info = slot.info();
        match self.loaded {
            Loaded::Separate { ref mut image, .. } => *image = Some(slot),
            Loaded::Clip(_) => self.loaded = separate(Some(slot), None),
        }
        Ok(info)
    }

    /// Loads the text model (all-MiniLM-L6-v2: f32 or int8 safetensors weights and its
    /// `tokenizer.json`), replacing the text model and CLIP; replaces nothing when it fails.
    pub fn load_text_model(&mut self, weights: &[u8], tokenizer: &[u8]) -> Result<ModelInfo> {
        let model = TextEmbedder::load(weights, tokenizer, self.compute.device())?;
        let info = text_info(&model);
        match self.loaded {
            Loaded::Separate { ref mut text, .. } => *text = Some(model),
            Loaded::Clip(_) => self.loaded = separate(None, Some(model)),
        }
        Ok(info)
    }

    /// Loads CLIP, which then embeds both images and texts, unloading the image model, its
    /// whitening and the text model; replaces nothing when it fails.
    pub fn load_clip(&mut self, files: ClipFiles<'_>) -> Result<ModelInfo> {
        let clip = Clip::load(
            files.weights,
            files.config,
            files.vocab,
            files.merges,
            self.compute.device(),
        )?;
        let info = clip_info(&clip);
        self.loaded = Loaded::Clip(clip);
        Ok(info)
    }

    /// Sets the whitening of the image model's vectors from safetensors bytes, or removes it
    /// (`None`); returns the image model's info. A whitening of another dimension is rejected
    /// and the old one kept.
    pub fn set_image_whitening(&mut self, bytes: Option<&[u8]>) -> Result<ModelInfo> {
        let slot = self.image_slot()?;
        slot.whitening = bytes.map(|b| read_whitening(b, &slot.model)).transpose()?;
        Ok(slot.info())
    }

    /// Learns the image whitening from unwhitened image vectors (`n × dim`, row-major, e.g.
    /// from `embed_images(images, false)` over the user's own photos) with
    /// [`DEFAULT_SHRINKAGE`], installs it and returns it as safetensors bytes.
    pub fn fit_image_whitening(&mut self, rows: &[f32]) -> Result<Vec<u8>> {
        let slot = self.image_slot()?;
        let dim = slot.model.dim();
        if !rows.len().is_multiple_of(dim) {
            let values = rows.len();
            return Err(EngineError::Rows { values, dim }.into());
        }
        let vectors: Vec<Vec<f32>> = rows.chunks(dim).map(<[f32]>::to_vec).collect();
        let whitening = Whitening::fit(&vectors, dim, DEFAULT_SHRINKAGE)?;
        let bytes = whitening.to_safetensors();
        slot.whitening = Some(whitening);
        Ok(bytes)
    }

    /// Embeds a batch of images through CLIP when it is loaded, else through the image model
    /// (whitened when a whitening is set and `whiten` holds); returns the `n × dim` unit
    /// vectors, row-major. An unusable image fails the batch, naming its index.
    pub async fn embed_images<I>(&self, images: I, whiten: bool) -> Result<Vec<f32>>
    where
        I: IntoIterator,
        I::Item: Into<ImageInput>,
    {
        match &self.loaded {
            Loaded::Clip(clip) => {
                let chw = prepare(images, clip.image_size(), image_to_clip_chw)?;
                if chw.is_empty() {
                    return Ok(Vec::new());
                }
                Ok(clip.embed_pixels_async(chw).await?)
            }
            Loaded::Separate {
                image: Some(slot), ..
            } => {
                let size = slot.model.input_size();
                let chw = prepare(images, size, preprocess::image_to_chw_sized)?;
                if chw.is_empty() {
                    return Ok(Vec::new());
                }
                let out = slot.model.embed_prepared_async(chw).await?;
                match slot.whitening.as_ref().filter(|_| whiten) {
                    Some(whitening) => Ok(whitening.apply_rows(&out)?),
                    None => Ok(out),
                }
            }
            Loaded::Separate { image: None, .. } => Err(EngineError::NoImageModel.into()),
        }
    }

    /// Embeds a batch of texts through CLIP when it is loaded, else through the text model
    /// (each truncated at its `max_tokens`); returns the `n × dim` unit vectors, row-major.
    pub async fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<f32>> {
        match &self.loaded {
            Loaded::Clip(clip) => Ok(clip.embed_texts_async(texts).await?),
            Loaded::Separate {
                text: Some(model), ..
            } => Ok(model.embed_async(texts).await?),
            Loaded::Separate { text: None, .. } => Err(EngineError::NoTextModel.into()),
        }
    }

    /// The loaded image model, for its whitening.
    fn image_slot(&mut self) -> Result<&mut ImageSlot> {
        match &mut self.loaded {
            Loaded::Separate {
                image: Some(slot), ..
            } => Ok(slot),
            _ => Err(EngineError::NoWhiteningTarget.into()),
        }
    }
}

fn separate(image: Option<ImageSlot>, text: Option<TextEmbedder>) -> Loaded {
    Loaded::Separate { image, text }
}

/// Reads a whitening file and checks that it takes `model`'s vectors.
fn read_whitening(bytes: &[u8], model: &ImageEmbedder) -> Result<Whitening> {
    let whitening = Whitening::from_safetensors(bytes)?;
    if whitening.dim() != model.dim() {
        return Err(EngineError::WhiteningDim {
            whitening: whitening.dim(),
            model: model.dim(),
        }
        .into());
    }
    Ok(whitening)
}

/// Concatenates the network inputs `prepare` makes of each image at `size` pixels, one image
/// at a time (memory stays bounded by the batch's inputs, whatever the images' sizes).
fn prepare<I>(
    images: I,
    size: usize,
    prepare: fn(&image::RgbImage, usize) -> Vec<f32>,
) -> Result<Vec<f32>>
where
    I: IntoIterator,
    I::Item: Into<ImageInput>,
{
    let mut chw = Vec::new();
    for (index, image) in images.into_iter().enumerate() {
        let image = image
            .into()
            .into_rgb()
            .map_err(|source| ModelError::ImageAt { index, source })?;
        chw.extend(prepare(&image, size));
    }
    Ok(chw)
}

fn text_info(model: &TextEmbedder) -> ModelInfo {
    ModelInfo {
        dim: TEXT_EMBEDDING_DIM,
        weights: model.weight_format().name(),
        model: None,
        input_size: None,
        whitened: None,
        max_tokens: Some(MAX_TOKENS),
    }
}

fn clip_info(clip: &Clip) -> ModelInfo {
    ModelInfo {
        dim: clip.dim(),
        weights: clip.weight_format().name(),
        model: Some("clip"),
        input_size: Some(clip.image_size()),
        whitened: Some(false),
        max_tokens: Some(clip.max_tokens()),
    }
}
