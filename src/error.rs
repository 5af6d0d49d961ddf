//! The crate's error type: one enum per concern, gathered in [`Error`].
//!
//! Each error carries a short machine-readable [`Error::code`] that the JS bindings copy onto
//! the `Error` object they throw, next to the readable message.

use crate::index::IndexError;
use crate::model::clip::ClipError;
use crate::model::whitening::WhiteningError;
use crate::model::{EmbedderError, TextEmbedderError};
use crate::train::TrainError;

/// Anything that can go wrong in simil.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The compute device could not be set up or failed while running.
    #[error(transparent)]
    Compute(#[from] ComputeError),
    /// A model rejected its input or its weights.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The image embedder rejected its weights or an image.
    #[error(transparent)]
    Embedder(#[from] EmbedderError),
    /// The text embedder rejected its weights, its tokeniser or a text.
    #[error(transparent)]
    Text(#[from] TextEmbedderError),
    /// The CLIP loader rejected its files, or CLIP an input.
    #[error(transparent)]
    Clip(#[from] ClipError),
    /// A whitening could not be fitted, read or applied.
    #[error(transparent)]
    Whitening(#[from] WhiteningError),
    /// The vector index rejected a request.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A request named a collection that does not exist, or one that exists already.
    #[error(transparent)]
    Collection(#[from] CollectionError),
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
            Error::Model(_)
            | Error::Embedder(_)
            | Error::Text(_)
            | Error::Clip(_)
            | Error::Whitening(_) => "model",
            Error::Index(_) => "index",
            Error::Collection(_) => "collection",
            Error::Train(_) => "train",
            Error::Engine(e) => e.code(),
        }
    }
}

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

/// Failures of a model: bad input shapes or bad weights.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
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
}

/// Failures of collection management.
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    /// No collection has that name.
    #[error("no collection named `{0}`")]
    NotFound(String),
    /// A collection with that name exists already.
    #[error("a collection named `{0}` exists already")]
    Exists(String),
    /// A keyword (`text`) query on a collection that has no `text_fields`.
    #[error(
        "this collection has no text_fields to search with `text`; create it with text_fields: [...]"
    )]
    NoTextFields,
    /// A keyword query longer than [`MAX_QUERY_TEXT`](crate::collection::MAX_QUERY_TEXT).
    #[error("a text query is limited to {max} bytes, got {got}")]
    TextTooLong {
        /// Bytes in the query.
        got: usize,
        /// The limit.
        max: usize,
    },
    /// A request names a vector field the collection does not have.
    #[error("this collection has no vector field `{0}`")]
    UnknownField(String),
    /// A learned field or training data was asked of a learned field rather than of one of
    /// the collection's own vector fields.
    #[error(
        "`{0}` is a learned field; learned fields and training data come from the collection's own vector fields"
    )]
    LearnedSource(String),
    /// A learned field would take the name of one of the collection's own vector fields.
    #[error(
        "`{0}` is already a vector field of this collection; give the learned field another name"
    )]
    FieldNameTaken(String),
    /// The head's input width differs from the source field's dimension.
    #[error("the head takes {input}-d inputs but field `{field}` has {dim} dimensions")]
    HeadInputMismatch {
        /// The source field.
        field: String,
        /// Its dimension.
        dim: usize,
        /// The head's input width.
        input: usize,
    },
    /// An added item carries a vector for a learned field.
    #[error(
        "`{0}` is a learned field: its vectors are computed from its source field, not given with items"
    )]
    ComputedField(String),
    /// A query mixes a learned field with another field.
    #[error(
        "a query cannot mix learned field `{learned}` with field `{other}`: query a learned field on its own"
    )]
    MixedFields {
        /// The learned field.
        learned: String,
        /// The other field.
        other: String,
    },
    /// A query vector for a learned field is not in its source field's space.
    #[error(
        "learned field `{field}` is queried with vectors of its source field `{source_field}` ({expected} dimensions), got {got}"
    )]
    LearnedQueryDim {
        /// The learned field.
        field: String,
        /// Its source field.
        source_field: String,
        /// The source field's dimension.
        expected: usize,
        /// The query vector's length.
        got: usize,
    },
    /// A saved learned field does not fit the collection it was saved with.
    #[error("the saved learned field is invalid: {0}")]
    BadLearnedField(String),
    /// Labelled queries whose vectors and labels differ in number.
    #[error("{vectors} query vectors but {labels} labels")]
    QueryLabels {
        /// Query vectors given.
        vectors: usize,
        /// Labels given.
        labels: usize,
    },
    /// An evaluation or calibration without queries.
    #[error("an evaluation needs at least one labelled query")]
    NoQueries,
    /// No score threshold reaches the calibration target on these queries.
    #[error("no score threshold reaches the calibration target on these queries")]
    NoThreshold,
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
