//! Keyword search over payload text (BM25) and its fusion with vector rankings.

pub mod fusion;
pub mod keyword;

pub use fusion::{RRF_RANK_CONSTANT, hybrid, reciprocal_rank_fusion};
pub use keyword::KeywordIndex;
