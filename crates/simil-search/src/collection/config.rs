//! What a collection is made with and what it is asked: the index's configuration plus the
//! collection's own keyword fields, and a search request = an index query plus keywords.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::index::{IndexConfig, IndexError, MAX_FIELDS, Query};

/// Longest keyword query accepted, in bytes.
pub const MAX_QUERY_TEXT: usize = 4096;

/// A collection's configuration: its vector fields and index parameters, and the payload keys
/// its keyword search reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionConfig {
    /// Vector fields and index parameters.
    #[serde(flatten)]
    pub index: IndexConfig,
    /// Payload keys whose text (a string, or an array of strings) keyword queries search
    /// with BM25 ([`SearchRequest::text`]).
    #[serde(default, alias = "text_fields")]
    pub text_fields: Vec<String>,
    /// Vector fields bound to a model, by the input they embed: an item's `image` (or
    /// `text`) is embedded into every field bound to `image` (or `text`), in the browser's
    /// worker, and so is a query's. The collection only keeps the binding.
    #[serde(default)]
    pub embed: BTreeMap<String, Embed>,
}

/// The input a vector field embeds ([`CollectionConfig::embed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Embed {
    /// An image, through the loaded image model (or CLIP).
    Image,
    /// A text, through the loaded text model (or CLIP).
    Text,
}

impl From<IndexConfig> for CollectionConfig {
    fn from(index: IndexConfig) -> Self {
        CollectionConfig {
            index,
            text_fields: Vec::new(),
            embed: BTreeMap::new(),
        }
    }
}

impl CollectionConfig {
    /// Checks the index configuration, the keyword fields' count and names, and that every
    /// bound field is a vector field.
    pub fn validate(&self) -> Result<(), IndexError> {
        self.index.validate()?;
        let fields = &self.index.fields;
        if let Some(bad) = (self.embed.keys()).find(|f| !fields.iter().any(|s| &s.name == *f)) {
            return Err(IndexError::UnknownField(bad.clone()));
        }
        if self.text_fields.len() > MAX_FIELDS {
            return Err(IndexError::TooManyFields {
                got: self.text_fields.len(),
                max: MAX_FIELDS,
            });
        }
        match self
            .text_fields
            .iter()
            .find(|f| f.is_empty() || f.len() > 128)
        {
            Some(bad) => Err(IndexError::InvalidFieldName(bad.clone())),
            None => Ok(()),
        }
    }
}

/// A search: the index query (vectors, `k`, filter, …) and, optionally, keywords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// The vector side and every option shared with it.
    #[serde(flatten)]
    pub query: Query,
    /// Keyword query over the collection's `text_fields` (BM25). With vectors too, the two
    /// rankings are fused by reciprocal rank (hybrid search); alone, it ranks by BM25.
    #[serde(default)]
    pub text: Option<String>,
    /// A text model's vector for the collection's text→image aligner: mapped by the text head
    /// of the learned field that has one and searched in that field (with `query`'s options;
    /// `query` names no vectors then).
    #[serde(
        default,
        rename = "textVector",
        deserialize_with = "crate::index::f32s::optional_vector"
    )]
    pub text_vector: Option<Vec<f32>>,
}

impl From<Query> for SearchRequest {
    fn from(query: Query) -> Self {
        SearchRequest {
            query,
            text: None,
            text_vector: None,
        }
    }
}

impl SearchRequest {
    /// A keyword query: `text` over the `text_fields`, `k` hits, with `vector` in `field` too
    /// when given (hybrid).
    pub fn keywords(text: &str, vector: Option<(&str, Vec<f32>)>, k: usize) -> Self {
        let query = match vector {
            Some((field, vector)) => Query::nearest(field, vector, k),
            None => Query {
                vectors: Vec::new(),
                ..Query::nearest("", Vec::new(), k)
            },
        };
        SearchRequest {
            query,
            text: Some(text.to_string()),
            text_vector: None,
        }
    }
}
