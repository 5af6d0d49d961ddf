//! Embedding models: architectures, weights and preprocessing. Each model turns inputs into
//! L2-normalised vectors on a [`Compute`](crate::Compute) device.

mod backbone;
pub mod clip;
pub mod clip_tokenizer;
mod error;
pub mod inception;
pub mod minilm;
pub mod mobilenet;
pub mod preprocess;
mod projection;
pub mod tokenizer;
pub mod weights;
/// PCA whitening of embeddings (the search core's, re-exported where it was).
pub use simil_search::whitening;

pub use backbone::Architecture;
pub use error::ModelError;
pub use inception::InceptionV3;
pub use minilm::{TEXT_EMBEDDING_DIM, TextEmbedder};
pub use mobilenet::{EMBEDDING_DIM, ImageEmbedder, MobileNetV2};
pub use projection::RandomProjection;
pub use whitening::Whitening;

use burn::prelude::*;

/// Scales each row of `x` to unit L2 norm (rows of zeros stay zero).
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
