//! MiniLM's WordPiece tokeniser: a small BERT tokeniser (the `BertNormalizer`,
//! `BertPreTokenizer`, `WordPiece` and `[CLS] … [SEP]` template of the model's own
//! `tokenizer.json`) written here instead of linking Hugging Face `tokenizers`.
//!
//! Why: `tokenizers` (fancy-regex, regex, its unicode tables, serde for every model type,
//! `spm_precompiled`, …) grew the shipped wasm from 2.72 MB to 3.44 MB gzipped, over the
//! project's 3.0 MB bar; only the BERT pieces are needed. `tokenizers` stays a
//! dev-dependency: `tests/minilm_parity.rs` checks that both give the same ids on the 1,726
//! fixture strings (and against the Python `tokenizers` ids stored in the fixture).
//!
//! The steps, as `tokenizers` does them for all-MiniLM-L6-v2:
//! 1. clean text: drop NUL, U+FFFD and control characters (Unicode `C*`, but not `\t\n\r`);
//!    whitespace becomes a space;
//! 2. CJK ideographs are surrounded by spaces;
//! 3. NFD, nonspacing marks (`Mn`) dropped, lower case;
//! 4. split on whitespace, and punctuation (ASCII or Unicode `P*`) becomes its own word;
//! 5. greedy longest-match WordPiece with `##` continuations; a word over 100 characters or
//!    with no match is `[UNK]`;
//! 6. `[CLS] … [SEP]`.
//!
//! Inputs longer than [`MAX_TOKENS`] tokens (special tokens included) are truncated at the end,
//! as sentence-transformers does for all-MiniLM-L6-v2 (`max_seq_length` 256): the rest of the
//! text does not reach the model. No padding here; the encoder pads each batch itself.

use std::collections::HashMap;
use std::sync::Arc;

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// Most tokens one text is encoded to, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2's
/// `max_seq_length`); the rest of a longer text is dropped.
pub const MAX_TOKENS: usize = 256;

/// Words longer than this many characters become `[UNK]` (BERT's `max_input_chars_per_word`).
const MAX_WORD_CHARS: usize = 100;

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

/// The parts of `tokenizer.json` this tokeniser reads.
#[derive(serde::Deserialize)]
struct TokenizerJson {
    model: ModelJson,
}

#[derive(serde::Deserialize)]
struct ModelJson {
    #[serde(rename = "type")]
    kind: String,
    vocab: HashMap<String, u32>,
}

/// A loaded WordPiece tokeniser that truncates at [`MAX_TOKENS`] and never pads.
#[derive(Clone, Debug)]
pub struct TextTokenizer {
    vocab: Arc<HashMap<String, u32>>,
    cls: u32,
    sep: u32,
    unk: u32,
}

impl TextTokenizer {
    /// Parses a BERT WordPiece `tokenizer.json` (its own truncation and padding settings are
    /// replaced by truncation at [`MAX_TOKENS`] and no padding).
    pub fn from_json(bytes: &[u8]) -> Result<Self, TokenizerError> {
        let json: TokenizerJson =
            serde_json::from_slice(bytes).map_err(|e| TokenizerError::Format(e.to_string()))?;
        if json.model.kind != "WordPiece" {
            return Err(TokenizerError::Format(format!(
                "model type {} is not WordPiece",
                json.model.kind
            )));
        }
        let vocab = json.model.vocab;
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| TokenizerError::Format(format!("vocabulary lacks {t}")))
        };
        let (cls, sep, unk) = (id("[CLS]")?, id("[SEP]")?, id("[UNK]")?);
        Ok(TextTokenizer {
            vocab: Arc::new(vocab),
            cls,
            sep,
            unk,
        })
    }

    /// Token ids of one text, special tokens included, at most [`MAX_TOKENS`].
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let mut ids = vec![self.cls];
        let normalized = normalize(text);
        'words: for word in pre_tokenize(&normalized) {
            self.word_piece(word, &mut ids);
            if ids.len() >= MAX_TOKENS - 1 {
                break 'words;
            }
        }
        ids.truncate(MAX_TOKENS - 1);
        ids.push(self.sep);
        Ok(ids)
    }

    /// Token ids of each text (one at a time: no thread pool, so it runs in wasm too).
    pub fn encode_all<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<u32>>, TokenizerError> {
        texts.iter().map(|t| self.encode(t.as_ref())).collect()
    }

    /// Size of the vocabulary (special tokens included).
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// Appends the WordPiece ids of one word (greedy longest match from the start).
    fn word_piece(&self, word: &str, ids: &mut Vec<u32>) {
        if word.chars().count() > MAX_WORD_CHARS {
            ids.push(self.unk);
            return;
        }
        let first = ids.len();
        let mut start = 0;
        let mut piece = String::new();
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(piece.as_str()) {
                    found = Some(id);
                    break;
                }
                end -= word[..end].chars().next_back().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => {
                    ids.push(id);
                    start = end;
                }
                None => {
                    ids.truncate(first);
                    ids.push(self.unk);
                    return;
                }
            }
        }
    }
}

/// BERT's `is_whitespace`: tab, newline and carriage return, or Unicode white space.
fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

/// BERT's `is_control`: Unicode category `C*`, except tab, newline and carriage return.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

/// CJK ideographs, which BERT splits into one word each.
fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

/// BERT's punctuation: ASCII punctuation or Unicode category `P*`.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

/// BERT's normaliser: clean text, space around CJK, NFD without nonspacing marks, lower case.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    cleaned
        .nfd()
        .filter(|c| !c.is_mark_nonspacing())
        .flat_map(char::to_lowercase)
        .collect()
}

/// BERT's pre-tokeniser: split on white space, each punctuation character its own word.
fn pre_tokenize(text: &str) -> impl Iterator<Item = &str> {
    text.split(char::is_whitespace)
        .flat_map(|chunk| {
            let mut words = Vec::new();
            let mut start = 0;
            for (i, c) in chunk.char_indices() {
                if is_punctuation(c) {
                    words.push(&chunk[start..i]);
                    words.push(&chunk[i..i + c.len_utf8()]);
                    start = i + c.len_utf8();
                }
            }
            words.push(&chunk[start..]);
            words
        })
        .filter(|w| !w.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> TextTokenizer {
        let vocab = [
            "[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "cafe", "中",
        ];
        let vocab: HashMap<String, u32> = vocab
            .iter()
            .enumerate()
            .map(|(i, t)| (t.to_string(), i as u32))
            .collect();
        let json = serde_json::json!({ "model": { "type": "WordPiece", "vocab": vocab } });
        TextTokenizer::from_json(json.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn splits_words_into_pieces_punctuation_and_cjk() {
        let t = toy();
        // [CLS] un ##aff ##able , hello [UNK] 中 cafe [SEP]
        assert_eq!(
            t.encode("UnAffable,\tHELLO\u{7} xyz中Café").unwrap(),
            vec![2, 4, 5, 6, 8, 7, 1, 10, 9, 3]
        );
        assert_eq!(t.encode("").unwrap(), vec![2, 3]);
    }

    #[test]
    fn long_words_are_unknown_and_long_texts_truncated() {
        let t = toy();
        assert_eq!(t.encode(&"un".repeat(60)).unwrap(), vec![2, 1, 3]);
        let ids = t.encode(&"hello ".repeat(1000)).unwrap();
        assert_eq!(ids.len(), MAX_TOKENS);
        assert_eq!((ids[0], ids[MAX_TOKENS - 1]), (2, 3));
    }

    #[test]
    fn rejects_other_models() {
        let json = br#"{"model":{"type":"BPE","vocab":{}}}"#;
        assert!(matches!(
            TextTokenizer::from_json(json),
            Err(TokenizerError::Format(_))
        ));
    }
}
