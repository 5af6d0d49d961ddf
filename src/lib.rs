//! simil: private, in-browser similarity search over images and text.
//!
//! Everything runs client-side: the embedding models run in [`burn`] on WebGPU or on the
//! pure-Rust `flex` CPU backend, the vectors live in an in-memory [`index`], and the
//! [`collection`] ties a model, its fields and an index together.
//!
//! The core is plain Rust that builds and tests natively; the browser bindings live in the
//! `web` module, compiled for `wasm32` only.

pub mod collection;
pub mod compute;
pub mod engine;
pub mod error;
pub mod eval;
pub mod model;
pub mod text;
pub mod train;

#[cfg(target_arch = "wasm32")]
mod web;

/// The vector index (the `simil-index` crate, compiled for speed).
pub use simil_index as index;

pub use collection::{Catalog, Collection};
pub use compute::{BackendKind, Compute};
pub use error::{Error, Result};
