//! The search core's errors: one enum per concern, gathered in [`Error`].
//!
//! Each error carries a short machine-readable [`Error::code`] that the JS bindings copy onto
//! the `SimilError` they throw, next to the readable message.

use crate::head::HeadError;
use crate::index::IndexError;
use crate::whitening::WhiteningError;

/// Anything that can go wrong in the search core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The vector index rejected a request.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A request named a collection that does not exist, or one that exists already, or asked
    /// a collection for something it cannot do.
    #[error(transparent)]
    Collection(#[from] CollectionError),
    /// A saved metric head could not be read.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// A whitening could not be fitted, read or applied.
    #[error(transparent)]
    Whitening(#[from] WhiteningError),
    /// An argument is out of its range (what, and why).
    #[error("invalid {0}: {1}")]
    Input(&'static str, String),
}

impl Error {
    /// A stable, machine-readable code for this error (e.g. `"index"`), for callers that branch
    /// on the kind of failure rather than on the message.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Index(_) => "index",
            Error::Collection(_) => "collection",
            Error::Head(_) => "train",
            Error::Whitening(_) => "model",
            Error::Input(..) => "input",
        }
    }
}

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Failures of collection management.
#[derive(Debug, thiserror::Error)]
pub enum CollectionError {
    /// No collection has that name.
    #[error("no collection named `{0}`")]
    NotFound(String),
    /// A collection with that name exists already.
    #[error("a collection named `{0}` exists already")]
    Exists(String),
    /// A collection with that name exists with another configuration.
    #[error("a collection named `{0}` exists with another configuration")]
    OtherConfig(String),
    /// A keyword (`text`) query on a collection that has no `text_fields`.
    #[error(
        "this collection has no textFields to search with `text`; create it with textFields: [...]"
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
    /// A text head whose output width differs from its learned field's.
    #[error("the text head gives {output}-d vectors but learned field `{field}` has {dim}")]
    TextHeadMismatch {
        /// The learned field.
        field: String,
        /// Its dimension.
        dim: usize,
        /// The text head's output width.
        output: usize,
    },
    /// A query gave a text vector but no learned field has a text head.
    #[error(
        "this collection has no text→image aligner (a learned field with a text head) for `textVector`"
    )]
    NoTextHead,
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
    /// A saved collection's own section (`COLL`: its keyword fields) is malformed.
    #[error("the saved collection's configuration is invalid: {0}")]
    BadConfig(String),
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
