//! Text search beside the vectors: BM25 keyword search over an item's text fields (names,
//! labels, captions) and reciprocal-rank fusion of keyword and vector rankings ("hybrid"
//! search, as Elasticsearch's `rrf` retriever does).
//!
//! [`Aligner`] trains small heads that map frozen image and text vectors into one space, so
//! that text queries find images that carry no text.
//!
//! The vector side comes from any index search (e.g. MiniLM text vectors); fusion needs only
//! each side's ranked ids, so the two scores never have to share a scale.

pub mod aligner;

/// BM25 keyword search and reciprocal-rank fusion live in the search core.
pub use simil_search::text::{fusion, keyword};

pub use aligner::{Aligner, AlignerConfig};
pub use fusion::{RRF_RANK_CONSTANT, hybrid, reciprocal_rank_fusion};
pub use keyword::KeywordIndex;
