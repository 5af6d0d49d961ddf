//! simil: private, in-browser similarity search over images and text.
//!
//! Everything runs client-side: the embedding models run in [`burn`] on WebGPU or on the
//! pure-Rust `flex` CPU backend, the vectors live in an in-memory [`index`], and the
//! [`collection`] ties a model, its fields and an index together.
//!
//! The core is plain Rust that builds and tests natively; the browser bindings are thin crates
//! of their own (`crates/simil-web-*`) that convert JS values and call it. The search core
//! (collections, index, keyword search, learned fields, evaluation) is the crate
//! `simil-search`, which has no burn, re-exported here at its old paths.

pub mod compute;
pub mod engine;
pub mod error;
pub mod model;
pub mod text;
pub mod train;

/// Collections: fields, keyword fields and learned fields over one index (the search core).
pub use simil_search::collection;
/// Retrieval metrics, threshold calibration and match (the search core).
pub use simil_search::eval;
/// The vector index (the `simil-index` crate, compiled for speed).
pub use simil_search::index;

pub use collection::{Catalog, Collection};
pub use compute::{BackendKind, Compute};
pub use error::{Error, Result};
