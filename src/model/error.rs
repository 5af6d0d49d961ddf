//! The one error type of every model (MobileNetV2, InceptionV3, MiniLM, CLIP, the random
//! projection, the aligner): bad files, bad inputs and failed readbacks.

use burn::tensor::TensorData;

use super::clip_tokenizer::ClipTokenizerError;
use super::preprocess::PreprocessError;
use super::tokenizer::TokenizerError;
use super::weights::WeightsError;

/// Failures of a model: its files, its input or its device readback.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The weights file is unusable (not safetensors, or a tensor missing or mis-shaped).
    #[error(transparent)]
    Weights(#[from] WeightsError),
    /// MiniLM's `tokenizer.json` is unusable, or a text could not be tokenised.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// CLIP's `vocab.json` or `merges.txt` is unusable.
    #[error(transparent)]
    ClipTokenizer(#[from] ClipTokenizerError),
    /// CLIP's `config.json` is unusable.
    #[error("invalid CLIP config.json: {0}")]
    Config(String),
    /// The tensors do not make a CLIP model together with the config.
    #[error("not a CLIP checkpoint simil can run: {0}")]
    Architecture(String),
    /// The tokeniser's vocabulary does not match the weights' token-embedding table.
    #[error("{name} tokenizer has {tokenizer} tokens, the model's vocabulary {model}")]
    VocabMismatch {
        /// The model's name.
        name: &'static str,
        /// One more than the tokeniser's highest id.
        tokenizer: usize,
        /// Rows of the token-embedding table.
        model: usize,
    },
    /// An image could not be decoded.
    #[error(transparent)]
    Image(#[from] PreprocessError),
    /// One image of a batch could not be decoded.
    #[error("image {index} of the batch: {source}")]
    ImageAt {
        /// Its position in the batch.
        index: usize,
        /// Why it failed.
        source: PreprocessError,
    },
    /// The input does not have the shape the model expects.
    #[error("{model} expects {expected}, got {got}")]
    InputShape {
        /// The model's name.
        model: &'static str,
        /// What it expects, in words.
        expected: String,
        /// What it was given, in words.
        got: String,
    },
    /// A model parameter is out of its range.
    #[error("{0}")]
    InvalidConfig(String),
    /// Reading the embeddings back from the device failed.
    #[error("reading embeddings from the device failed: {0}")]
    Readback(String),
}

impl ModelError {
    /// A failed readback, from whatever the device reported.
    pub(crate) fn readback(e: impl std::fmt::Debug) -> Self {
        ModelError::Readback(format!("{e:?}"))
    }
}

/// The f32 values of a tensor read back from the device (`Err` when the read failed).
pub(crate) fn read_f32<E: std::fmt::Debug>(
    data: Result<TensorData, E>,
) -> Result<Vec<f32>, ModelError> {
    data.map_err(ModelError::readback)?
        .try_into_vec_as::<f32>()
        .map_err(ModelError::readback)
}
