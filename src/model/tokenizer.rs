//! MiniLM's WordPiece tokeniser: Hugging Face `tokenizers` (built without onig, so it runs in
//! wasm32) on the model's own `tokenizer.json` (BERT normaliser: clean text, Chinese characters
//! split, lower case; BERT pre-tokeniser; WordPiece; `[CLS] … [SEP]`).
//!
//! Inputs longer than [`MAX_TOKENS`] tokens (special tokens included) are truncated at the end,
//! as sentence-transformers does for all-MiniLM-L6-v2 (`max_seq_length` 256): the rest of the
//! text does not reach the model. No padding here; the encoder pads each batch itself.

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

/// Most tokens one text is encoded to, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2's
/// `max_seq_length`); the rest of a longer text is dropped.
pub const MAX_TOKENS: usize = 256;

/// Failures of the tokeniser.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// `tokenizer.json` could not be parsed.
    #[error("invalid tokenizer.json: {0}")]
    Format(String),
    /// A text could not be encoded.
    #[error("tokenising text {index} failed: {message}")]
    Encode {
        /// Its position in the batch.
        index: usize,
        /// What the tokeniser reported.
        message: String,
    },
}

/// A loaded WordPiece tokeniser that truncates at [`MAX_TOKENS`] and never pads.
#[derive(Clone, Debug)]
pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Parses a `tokenizer.json` (the file's own truncation and padding settings are replaced
    /// by truncation at [`MAX_TOKENS`] and no padding).
    pub fn from_json(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let mut inner =
            Tokenizer::from_bytes(bytes).map_err(|e| TokenizerError::Format(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| TokenizerError::Format(e.to_string()))?;
        inner.with_padding(None);
        Ok(TextTokenizer { inner })
    }

    /// Token ids of one text, special tokens included, at most [`MAX_TOKENS`].
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        self.encode_at(0, text)
    }

    /// Token ids of each text (one at a time: no thread pool, so it runs in wasm too).
    pub fn encode_all<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>, TokenizerError> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| self.encode_at(i, t.as_ref()))
            .collect()
    }

    fn encode_at(&self, index: usize, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let enc = self
            .inner
            .encode(text, true)
            .map_err(|e| TokenizerError::Encode {
                index,
                message: e.to_string(),
            })?;
        Ok(enc.get_ids().to_vec())
    }

    /// Size of the vocabulary (special tokens included).
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
