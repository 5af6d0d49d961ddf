//! On-device metric learning, as TensorFlow Similarity does it: a model whose output is a
//! metric embedding, trained with a metric loss on class-balanced batches, with burn's
//! autodiff on whichever device the [`Compute`](crate::Compute) runs.

pub mod augment;
pub mod heldout;
pub mod loss;
pub mod models;
pub mod recipe;
pub mod retrieval;
pub mod sampler;
pub mod trainer;

#[cfg(test)]
mod head_tests;

pub use augment::Augment;
pub use head::DenseHead;
pub use heldout::{HeldOutReport, HeldOutScores};
pub use loss::{Distance, Loss, Mining};
pub use models::{HeadConfig, HeadInit, MetricHead, MetricModel, SmallCnn};
pub use recipe::{DataShape, HeadRun, HeadTrainingOptions, Recipe, RunSummary};
pub use sampler::BalancedSampler;
/// CPU inference of a trained head (the search core's, re-exported here where it was).
pub use simil_search::head;
pub use trainer::{Progress, SelfSupervised, TrainConfig, TrainReport, TrainSet, Trainer, train};

/// Failures of training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss name is not one simil knows.
    #[error("unknown loss `{0}`")]
    UnknownLoss(String),
    /// A batch's embeddings and labels disagree in length.
    #[error("a batch has {rows} embeddings but {labels} labels")]
    BatchShape {
        /// Rows of the embedding batch.
        rows: usize,
        /// Labels given.
        labels: usize,
    },
    /// Rows do not have the width the model takes.
    #[error("the model takes rows of {expected} values, got {got}")]
    InputShape {
        /// Width the model takes.
        expected: usize,
        /// What was given.
        got: usize,
    },
    /// Too few classes have two or more labelled items to fill a batch.
    #[error("{usable} classes have at least two labelled items; a batch needs {needed}")]
    NotEnoughClasses {
        /// Classes with at least two items.
        usable: usize,
        /// Classes per batch asked for.
        needed: usize,
    },
    /// A training parameter is out of its range.
    #[error("{0}")]
    Config(String),
    /// The run was cancelled before `step`; the previous model is unchanged.
    #[error("training was cancelled at step {step}")]
    Cancelled {
        /// Steps completed before the cancel.
        step: usize,
    },
    /// The loss became NaN or infinite.
    #[error("training diverged at step {step} (the loss is not finite)")]
    Diverged {
        /// The step whose loss was not finite.
        step: usize,
    },
    /// A saved head is malformed.
    #[error("bad saved head: {0}")]
    Format(String),
    /// Reading a value back from the device failed.
    #[error("reading from the device failed: {0}")]
    Readback(String),
}

impl From<head::HeadError> for TrainError {
    fn from(e: head::HeadError) -> Self {
        TrainError::Format(e.0)
    }
}
