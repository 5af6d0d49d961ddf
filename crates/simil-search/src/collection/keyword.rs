//! A collection's keyword side: each item's text (its `text_fields`, joined), BM25 over it,
//! and its fusion with the vector ranking by reciprocal rank (hybrid search).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::config::MAX_QUERY_TEXT;
use crate::error::{CollectionError, Result};
use crate::index::{Filter, Index, MAX_K, Query, check_k};
use crate::text::{KeywordIndex, hybrid};

/// Candidates each side of a hybrid query contributes to the fusion when the query does not
/// say (`num_candidates`).
const DEFAULT_POOL: usize = 100;

/// The keyword text of every item that has any, and BM25 over it.
pub(super) struct Keywords {
    /// Payload keys read for text.
    fields: Vec<String>,
    /// Each item's keyword text, by id.
    texts: BTreeMap<String, String>,
    /// BM25 over `texts`, built at the first keyword query after a change (BM25 normalises by
    /// the average text length, so a rebuild keeps scores exact).
    bm25: OnceLock<KeywordIndex>,
}

/// The text of `payload`'s `fields`: strings, and strings inside arrays, joined by spaces.
fn keyword_text(fields: &[String], payload: &Value) -> String {
    let mut out = String::new();
    let mut push = |v: &Value| {
        if let Value::String(s) = v {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(s);
        }
    };
    for field in fields {
        match payload.get(field) {
            Some(Value::Array(values)) => values.iter().for_each(&mut push),
            Some(v) => push(v),
            None => {}
        }
    }
    out
}

impl Keywords {
    /// The keyword side of `index`'s items, reading `fields` of their payloads.
    pub(super) fn new(fields: Vec<String>, index: &Index) -> Self {
        let mut keywords = Keywords {
            fields,
            texts: BTreeMap::new(),
            bm25: OnceLock::new(),
        };
        if !keywords.fields.is_empty() {
            for (id, payload) in index.payloads() {
                keywords.set(id, payload);
            }
        }
        keywords
    }

    /// The payload keys read for text.
    pub(super) fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Records (or clears) the text of item `id` with `payload`.
    pub(super) fn set(&mut self, id: &str, payload: &Value) {
        if self.fields.is_empty() {
            return;
        }
        let text = keyword_text(&self.fields, payload);
        if text.is_empty() {
            self.remove(id);
        } else {
            self.texts.insert(id.to_string(), text);
            self.bm25 = OnceLock::new();
        }
    }

    /// Forgets the text of item `id`.
    pub(super) fn remove(&mut self, id: &str) {
        if self.texts.remove(id).is_some() {
            self.bm25 = OnceLock::new();
        }
    }

    /// Ids ranked by BM25 for `text`, best first, those whose payload in `main` passes
    /// `filter`, at most `pool`.
    fn ranked(
        &self,
        text: &str,
        main: &Index,
        filter: Option<&Filter>,
        pool: usize,
    ) -> Vec<(String, f32)> {
        let bm25 = self.bm25.get_or_init(|| {
            KeywordIndex::build(self.texts.iter().map(|(id, t)| (id.clone(), [t.as_str()])))
        });
        bm25.search(text, self.texts.len())
            .into_iter()
            .filter(|(id, _)| {
                main.payload(id)
                    .is_some_and(|p| filter.is_none_or(|f| f.matches(p)))
            })
            .take(pool)
            .collect()
    }

    /// Keyword search for `text` alone (BM25 scores, `min_score` applied to them) or fused
    /// with `query`'s vector ranking in `index` (reciprocal rank): `(id, score)`, best first.
    pub(super) fn search(
        &self,
        text: &str,
        query: &Query,
        main: &Index,
        index: &Index,
    ) -> Result<Vec<(String, f32)>> {
        if self.fields.is_empty() {
            return Err(CollectionError::NoTextFields.into());
        }
        if text.len() > MAX_QUERY_TEXT {
            return Err(CollectionError::TextTooLong {
                got: text.len(),
                max: MAX_QUERY_TEXT,
            }
            .into());
        }
        check_k(query.k)?;
        let pool = query
            .num_candidates
            .unwrap_or(DEFAULT_POOL)
            .max(query.k)
            .min(MAX_K);
        let mut keyword_hits = self.ranked(text, main, query.filter.as_ref(), pool);
        if query.vectors.is_empty() {
            keyword_hits.retain(|(_, score)| query.min_score.is_none_or(|m| *score >= m));
            keyword_hits.truncate(query.k);
            return Ok(keyword_hits);
        }
        let vector_query = Query {
            k: pool,
            num_candidates: query.num_candidates.map(|n| n.max(pool)),
            ..query.clone()
        };
        let vector_hits: Vec<(String, f32)> = index
            .search(&vector_query)?
            .into_iter()
            .map(|h| (h.id, h.score))
            .collect();
        Ok(hybrid(&vector_hits, &keyword_hits, query.k))
    }
}
