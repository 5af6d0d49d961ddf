//! The crate's error type: one enum per concern, gathered in [`Error`].
//!
//! Each error carries a short machine-readable [`Error::code`] that the JS bindings copy onto
//! the `Error` object they throw, next to the readable message.

use crate::train::TrainError;

pub use crate::model::ModelError;

pub use simil_search::error::CollectionError;

/// Anything that can go wrong in simil.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The compute device could not be set up or failed while running.
    #[error(transparent)]
    Compute(#[from] ComputeError),
    /// A model rejected its files or an input, or its device readback failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The search core (index, collections, learned heads, whitening) rejected a request.
    #[error(transparent)]
    Search(#[from] simil_search::Error),
    /// Training a metric model failed or was given bad data.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// The model engine was asked for something its loaded models cannot do.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

impl Error {
    /// A stable, machine-readable code for this error (e.g. `"index"`), for callers that branch
    /// on the kind of failure rather than on the message.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Compute(_) => "compute",
            Error::Model(_) => "model",
            Error::Search(e) => e.code(),
            Error::Train(_) => "train",
            Error::Engine(e) => e.code(),
        }
    }
}

/// The search core's errors convert through [`Error::Search`].
macro_rules! from_search {
    ($($source:ty),*) => {$(
        impl From<$source> for Error {
            fn from(e: $source) -> Self {
                Error::Search(e.into())
            }
        }
    )*};
}
from_search!(
    simil_search::index::IndexError,
    CollectionError,
    simil_search::whitening::WhiteningError,
    simil_search::head::HeadError
);

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures of the compute device (WebGPU or CPU).
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    /// WebGPU was asked for but could not be initialised.
    #[error("WebGPU is not available: {0}")]
    WebGpuUnavailable(String),
    /// The requested backend name is not one simil knows.
    #[error("unknown backend `{0}`: expected \"auto\", \"webgpu\" or \"cpu\"")]
    UnknownBackend(String),
    /// Reading a result back from the device failed.
    #[error("reading a result from the {backend} device failed: {message}")]
    Readback {
        /// The backend the read ran on.
        backend: &'static str,
        /// What the device reported.
        message: String,
    },
}

/// Failures of the model engine ([`crate::engine::Engine`]): a call its loaded models cannot
/// serve (code `state`) or input that does not fit them (code `input`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EngineError {
    /// Embedding images with no image model and no CLIP loaded.
    #[error("no image model is loaded: call loadImageModel() or loadClip() first")]
    NoImageModel,
    /// Embedding texts with no text model and no CLIP loaded.
    #[error("no text model is loaded: call loadTextModel() or loadClip() first")]
    NoTextModel,
    /// Setting or fitting a whitening with no image model loaded (CLIP is never whitened).
    #[error("whitening applies to an image model, and none is loaded: call loadImageModel() first")]
    NoWhiteningTarget,
    /// A whitening whose input dimension differs from the image model's output.
    #[error("the whitening takes {whitening} values, the image model gives {model}")]
    WhiteningDim {
        /// The whitening's input dimension.
        whitening: usize,
        /// The image model's output dimension.
        model: usize,
    },
    /// Row-major vectors whose length is not a multiple of the row length.
    #[error("{values} values are not rows of {dim}")]
    Rows {
        /// Values given.
        values: usize,
        /// The row length.
        dim: usize,
    },
}

impl EngineError {
    /// `"state"` when the call needs a model that is not loaded, `"input"` otherwise.
    pub fn code(&self) -> &'static str {
        match self {
            EngineError::NoImageModel
            | EngineError::NoTextModel
            | EngineError::NoWhiteningTarget => "state",
            EngineError::WhiteningDim { .. } | EngineError::Rows { .. } => "input",
        }
    }
}
