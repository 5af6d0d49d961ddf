//! On-device metric learning, as TensorFlow Similarity does it: a model whose output is a
//! metric embedding, trained with a metric loss on class-balanced batches, with burn's
//! autodiff on whichever device the [`Compute`](crate::Compute) runs.

pub mod loss;

pub use loss::{Distance, Loss, Mining};

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
}
