//! CLIP's byte-level BPE tokeniser, as Hugging Face `transformers`' `CLIPTokenizer` runs it,
//! read from a checkpoint's `vocab.json` and `merges.txt` (written here instead of linking
//! `tokenizers` or `regex`, which the shipped wasm has no room for).
//!
//! The steps:
//! 1. the special tokens `<|startoftext|>` and `<|endoftext|>` written literally in the text
//!    become their ids (exact, case-sensitive match on the raw text);
//! 2. the rest is normalised: NFC, every run of whitespace becomes one space, lower case
//!    (character by character);
//! 3. split into words by CLIP's pattern `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`
//!    (whitespace between words is dropped; a digit is a word of its own);
//! 4. each word's UTF-8 bytes become GPT-2's printable byte characters, the last one marked
//!    `</w>`, and merges are applied lowest rank first;
//! 5. `<|startoftext|> … <|endoftext|>`, truncated to [`CLIP_MAX_TOKENS`] tokens (the text's
//!    tokens beyond 75 are dropped; the end token is kept).
//!
//! `transformers` (v5) has no separate "slow" CLIP tokeniser any more; unlike OpenAI's
//! original one it applies no `ftfy` / HTML-unescape cleanup, and neither does this one.

use std::collections::HashMap;

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

/// Most tokens one text is encoded to, start and end tokens included (CLIP's context length).
pub const CLIP_MAX_TOKENS: usize = 77;

const BOS: &str = "<|startoftext|>";
const EOS: &str = "<|endoftext|>";
const END_OF_WORD: &str = "</w>";

/// Failures of the CLIP tokeniser's files.
#[derive(Debug, thiserror::Error)]
pub enum ClipTokenizerError {
    /// `vocab.json` is not a JSON object of token → id.
    #[error("invalid CLIP vocab.json: {0}")]
    Vocab(String),
    /// A line of `merges.txt` is not two tokens, or names tokens the vocabulary lacks.
    #[error("invalid CLIP merges.txt, line {line}: {message}")]
    Merges {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The vocabulary lacks a token every CLIP vocabulary has.
    #[error("CLIP vocab.json lacks `{0}`")]
    MissingToken(String),
}

/// A loaded CLIP tokeniser; [`Self::encode`] never pads.
#[derive(Clone, Debug)]
pub struct ClipTokenizer {
    /// Token id of each byte's character, and of its `</w>` form.
    byte_ids: [[u32; 2]; 256],
    /// `(left, right)` → `(rank, merged)`.
    merges: HashMap<(u32, u32), (u32, u32)>,
    bos: u32,
    eos: u32,
    vocab_size: usize,
}

/// GPT-2's byte → printable character map: printable Latin-1 bytes map to themselves, the
/// others to U+0100 onwards, in byte order.
fn byte_char(b: u8) -> char {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    if printable(b) {
        return b as char;
    }
    let n = (0..b).filter(|&x| !printable(x)).count() as u32;
    char::from_u32(256 + n).unwrap_or('?')
}

impl ClipTokenizer {
    /// Reads a CLIP `vocab.json` (token → id) and `merges.txt` (one `left right` pair per
    /// line, best first, after an optional `#version` line).
    pub fn from_files(vocab_json: &[u8], merges_txt: &[u8]) -> Result<Self, ClipTokenizerError> {
        let vocab: HashMap<String, u32> = serde_json::from_slice(vocab_json)
            .map_err(|e| ClipTokenizerError::Vocab(e.to_string()))?;
        let id = |t: &str| {
            vocab
                .get(t)
                .copied()
                .ok_or_else(|| ClipTokenizerError::MissingToken(t.to_string()))
        };
        let mut byte_ids = [[0u32; 2]; 256];
        for (b, ids) in byte_ids.iter_mut().enumerate() {
            let c = byte_char(b as u8).to_string();
            *ids = [id(&c)?, id(&format!("{c}{END_OF_WORD}"))?];
        }
        let text = std::str::from_utf8(merges_txt).map_err(|e| ClipTokenizerError::Merges {
            line: 0,
            message: e.to_string(),
        })?;
        let mut merges = HashMap::new();
        let lines = text
            .lines()
            .enumerate()
            .filter(|(i, l)| !(l.trim().is_empty() || (*i == 0 && l.starts_with("#version"))));
        for (rank, (i, line)) in lines.enumerate() {
            let bad = |message: String| ClipTokenizerError::Merges {
                line: i + 1,
                message,
            };
            let mut parts = line.split(' ');
            let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(format!("expected two tokens, got `{line}`")));
            };
            let look = |t: &str| {
                vocab
                    .get(t)
                    .copied()
                    .ok_or_else(|| bad(format!("`{t}` is not in vocab.json")))
            };
            let pair = (look(a)?, look(b)?);
            let merged = look(&format!("{a}{b}"))?;
            merges.entry(pair).or_insert((rank as u32, merged));
        }
        let vocab_size = vocab.values().max().map_or(0, |&m| m as usize + 1);
        Ok(ClipTokenizer {
            byte_ids,
            merges,
            bos: id(BOS)?,
            eos: id(EOS)?,
            vocab_size,
        })
    }

    /// Id of `<|startoftext|>`.
    pub fn bos(&self) -> u32 {
        self.bos
    }

    /// Id of `<|endoftext|>` (the text tower pools at its first occurrence).
    pub fn eos(&self) -> u32 {
        self.eos
    }

    /// One more than the highest id of the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Token ids of `text`: `<|startoftext|>`, at most 75 of the text's tokens, `<|endoftext|>`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = vec![self.bos];
        let mut rest = text;
        while !rest.is_empty() {
            let special = [(BOS, self.bos), (EOS, self.eos)]
                .into_iter()
                .filter_map(|(t, id)| rest.find(t).map(|at| (at, t.len(), id)))
                .min_by_key(|&(at, _, _)| at);
            let (plain, next) = match special {
                Some((at, len, _)) => (&rest[..at], &rest[at + len..]),
                None => (rest, ""),
            };
            self.encode_plain(plain, &mut ids);
            if let Some((_, _, id)) = special {
                ids.push(id);
            }
            rest = next;
        }
        ids.truncate(CLIP_MAX_TOKENS - 1);
        ids.push(self.eos);
        ids
    }

    /// Normalises, splits and BPE-encodes text without special tokens, appending to `out`.
    fn encode_plain(&self, text: &str, out: &mut Vec<u32>) {
        let mut norm = String::with_capacity(text.len());
        let mut space = false;
        for c in text.nfc() {
            if c.is_whitespace() {
                if !space {
                    norm.push(' ');
                }
                space = true;
            } else {
                space = false;
                norm.extend(c.to_lowercase());
            }
        }
        for word in split_words(&norm) {
            self.bpe(word, out);
        }
    }

    /// Byte-level BPE of one word.
    fn bpe(&self, word: &str, out: &mut Vec<u32>) {
        let bytes = word.as_bytes();
        let last = bytes.len() - 1;
        let mut parts: Vec<u32> = bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| self.byte_ids[b as usize][usize::from(i == last)])
            .collect();
        // Merge the best-ranked adjacent pair, all its occurrences left to right, until none.
        while parts.len() > 1 {
            let best = parts
                .windows(2)
                .filter_map(|w| {
                    self.merges
                        .get(&(w[0], w[1]))
                        .map(|&(r, _)| (r, (w[0], w[1])))
                })
                .min_by_key(|&(r, _)| r);
            let Some((_, pair)) = best else { break };
            let merged = self.merges[&pair].1;
            let mut next = Vec::with_capacity(parts.len());
            let mut i = 0;
            while i < parts.len() {
                if i + 1 < parts.len() && (parts[i], parts[i + 1]) == pair {
                    next.push(merged);
                    i += 2;
                } else {
                    next.push(parts[i]);
                    i += 1;
                }
            }
            parts = next;
        }
        out.extend(parts);
    }
}

/// `\p{L}` without the letter tables of `unicode_categories` (44 KB of the gzipped wasm): Rust's
/// `Alphabetic` is L, Nl and `Other_Alphabetic`, which is marks (Mn, Mc) and the circled and
/// squared Latin letters (So). The mark tables are Unicode 9's, so the 273 rare alphabetic
/// marks added since (e.g. U+08D4..U+08DF) count as letters here.
fn is_letter(c: char) -> bool {
    c.is_alphabetic()
        && !c.is_numeric()
        && !c.is_mark_nonspacing()
        && !c.is_mark_spacing_combining()
        && !matches!(c, '\u{24B6}'..='\u{24E9}' | '\u{1F130}'..='\u{1F189}')
}

/// `\p{N}`: Rust's `is_numeric` is exactly the general categories Nd, Nl and No.
fn is_number(c: char) -> bool {
    c.is_numeric()
}

/// The words of normalised text by CLIP's pattern
/// `'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`; whitespace is dropped.
fn split_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let rest = &text[i..];
        let len = if c == '\'' {
            ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
                .iter()
                .find(|p| rest.starts_with(*p))
                .map(|p| p.len())
        } else {
            None
        };
        let len = len.unwrap_or_else(|| {
            let run = |keep: &dyn Fn(char) -> bool| {
                rest.char_indices()
                    .find(|&(_, c)| !keep(c))
                    .map_or(rest.len(), |(at, _)| at)
            };
            if c.is_whitespace() {
                run(&char::is_whitespace)
            } else if is_letter(c) {
                run(&is_letter)
            } else if is_number(c) {
                c.len_utf8()
            } else {
                run(&|c| !(c.is_whitespace() || is_letter(c) || is_number(c)))
            }
        });
        if !c.is_whitespace() {
            words.push(&rest[..len]);
        }
        i += len;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A vocabulary of the 512 byte tokens, merges `c a`, `ca t</w>`, and the special tokens.
    fn tiny_vocab() -> Vec<u8> {
        let mut vocab: Vec<String> = (0..=255u8).map(|b| byte_char(b).to_string()).collect();
        vocab.extend((0..=255u8).map(|b| format!("{}</w>", byte_char(b))));
        vocab.extend(["ca".into(), "cat</w>".into(), BOS.into(), EOS.into()]);
        let map: HashMap<&str, usize> = vocab
            .iter()
            .enumerate()
            .map(|(i, t)| (t.as_str(), i))
            .collect();
        serde_json::to_vec(&map).unwrap()
    }

    fn tiny() -> ClipTokenizer {
        ClipTokenizer::from_files(&tiny_vocab(), b"#version: 0.2\nc a\nca t</w>\n").unwrap()
    }

    #[test]
    fn byte_map_is_gpt2s() {
        assert_eq!(byte_char(b'a'), 'a');
        assert_eq!(byte_char(b' '), '\u{120}');
        assert_eq!(byte_char(0), '\u{100}');
        assert_eq!(byte_char(0xAD), '\u{143}');
        let all: std::collections::HashSet<char> = (0..=255u8).map(byte_char).collect();
        assert_eq!(all.len(), 256);
    }

    #[test]
    fn splits_by_clips_pattern() {
        assert_eq!(
            split_words("it's 42 cats!! 'sun <|x|>"),
            [
                "it", "'s", "4", "2", "cats", "!!", "'s", "un", "<|", "x", "|>"
            ]
        );
        assert_eq!(split_words("  "), Vec::<&str>::new());
        assert_eq!(split_words("née東京"), ["née東京"]);
    }

    #[test]
    fn encodes_merges_specials_and_truncates() {
        let t = tiny();
        let (bos, eos) = (t.bos(), t.eos());
        let cat_w = 513; // "cat</w>" follows the 512 byte tokens and "ca"
        assert_eq!(t.encode("CAT"), [bos, cat_w, eos]);
        assert_eq!(t.encode(""), [bos, eos]);
        // "cats": no merge for `ca t`, so c-a merges first, then t and s</w> stay.
        let ca = 512;
        let s_w = 256 + b's' as u32;
        assert_eq!(t.encode("cats"), [bos, ca, b't' as u32, s_w, eos]);
        assert_eq!(
            t.encode("cat<|endoftext|>cat"),
            [bos, cat_w, eos, cat_w, eos]
        );
        let long = t.encode(&"cat ".repeat(200));
        assert_eq!(long.len(), CLIP_MAX_TOKENS);
        assert_eq!(long[CLIP_MAX_TOKENS - 1], eos);
        assert_eq!(long[CLIP_MAX_TOKENS - 2], cat_w);
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert!(matches!(
            ClipTokenizer::from_files(b"[1, 2]", b""),
            Err(ClipTokenizerError::Vocab(_))
        ));
        assert!(matches!(
            ClipTokenizer::from_files(b"{\"a\": 0}", b""),
            Err(ClipTokenizerError::MissingToken(_))
        ));
        let err = ClipTokenizer::from_files(&tiny_vocab(), b"c a\nx y z\n").unwrap_err();
        assert!(
            matches!(err, ClipTokenizerError::Merges { line: 2, .. }),
            "{err}"
        );
        let err = ClipTokenizer::from_files(&tiny_vocab(), b"c a\nd o\n").unwrap_err();
        assert!(
            err.to_string().contains("`do` is not in vocab.json"),
            "{err}"
        );
        assert_eq!(tiny().vocab_size(), 516);
    }
}
