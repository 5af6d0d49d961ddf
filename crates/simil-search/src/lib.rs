//! simil's search core: everything a page needs to open, change, search and save a collection,
//! without any model runtime (no burn). It is what the search wasm module every page loads is
//! built from; the embedding models and the trainer live in the `simil` crate and their own
//! modules, fetched on first use.
//!
//! - [`collection`]: a collection = vector fields + keyword fields + learned fields over one
//!   [`index`]; [`collection::Catalog`] holds them by name.
//! - [`text`]: BM25 keyword search and reciprocal-rank fusion (hybrid search).
//! - [`head`]: CPU inference of a trained metric head (learned fields).
//! - [`whitening`]: PCA whitening of embeddings.
//! - [`eval`]: retrieval metrics, threshold calibration and match.

pub mod collection;
pub mod error;
pub mod eval;
pub mod head;
pub mod text;
pub mod whitening;

/// The vector index (the `simil-index` crate).
pub use simil_index as index;

pub use collection::{Catalog, Collection};
pub use error::{Error, Result};
