//! Learned fields: vector fields computed through a trained head from one of the collection's
//! own fields, each kept in an index of its own; the rows a head trains on; their file section.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Collection;
use crate::error::{CollectionError, Result};
use crate::head::{DenseHead, HeadConfig, MAX_HEAD_PARAMS};
use crate::index::codec::{Reader, Writer};
use crate::index::{
    ExtraSection, FieldQuery, FieldSpec, Index, IndexConfig, IndexError, Item, MAX_FIELDS, Metric,
    Query,
};

/// Tag of a learned field's section in a saved collection.
pub(super) const HEAD: [u8; 4] = *b"HEAD";
/// Tag of a learned field's text head (its text→image aligner) in a saved collection.
pub(super) const TEXT_HEAD: [u8; 4] = *b"TXTH";
/// Longest field name in a saved learned field, in bytes.
const MAX_NAME_BYTES: usize = 128;

/// A learned vector field: `head(source)` for every item that has `source`, kept in an index
/// of its own that mirrors every item's id and payload (filters apply there too).
pub(super) struct Learned {
    pub(super) name: String,
    source: String,
    head: DenseHead,
    /// Maps a text model's vectors into this field's space (a text→image aligner), if set.
    text: Option<DenseHead>,
    pub(super) index: Index,
}

impl Learned {
    /// `item` as this field's index holds it: same id and payload, the head applied to its
    /// source vector (no vector when it has none).
    pub(super) fn item(&self, item: &Item) -> Item {
        Item {
            id: item.id.clone(),
            vectors: item
                .vectors
                .get(&self.source)
                .map(|v| (self.name.clone(), self.head.apply(v)))
                .into_iter()
                .collect(),
            payload: item.payload.clone(),
        }
    }

    /// This field's section of a saved collection: name, source, head and index.
    pub(super) fn section(&self) -> ExtraSection {
        let mut w = Writer::default();
        w.bytes(self.name.as_bytes());
        w.bytes(self.source.as_bytes());
        w.bytes(self.head.to_safetensors());
        w.bytes(&self.index.to_bytes());
        (HEAD, w.buf)
    }

    /// This field's text head section, when it has one: the field's name and the head.
    pub(super) fn text_section(&self) -> Option<ExtraSection> {
        let text = self.text.as_ref()?;
        let mut w = Writer::default();
        w.bytes(self.name.as_bytes());
        w.bytes(text.to_safetensors());
        Some((TEXT_HEAD, w.buf))
    }
}

/// Checks that `text` gives vectors of the width `head` gives learned field `field`.
fn text_head_fits(field: &str, head: &DenseHead, text: &DenseHead) -> Result<()> {
    if text.output_dim() == head.output_dim() {
        return Ok(());
    }
    let (dim, output) = (head.output_dim(), text.output_dim());
    let field = field.to_string();
    Err(CollectionError::TextHeadMismatch { field, dim, output }.into())
}

/// A learned vector field, as [`Collection::learned_fields`] lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedField {
    /// The learned field's name.
    pub name: String,
    /// The field its vectors are computed from (and queries are given in).
    pub source: String,
    /// Dimension of the learned vectors.
    pub dim: usize,
    /// The shape of the head that computes them.
    pub head: HeadConfig,
    /// The shape of its text head (a text model's vectors → this field), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<HeadConfig>,
}

/// One field's vectors, labelled from a payload key, to train a head on
/// ([`Collection::training_rows`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRows {
    /// Width of each row.
    pub dim: usize,
    /// Labelled rows, row-major, in item id order.
    pub rows: Vec<f32>,
    /// Each labelled row's class, an index into `classes`.
    pub labels: Vec<u32>,
    /// The labels, in the order first seen.
    pub classes: Vec<String>,
    /// Rows without a usable label, row-major, in item id order.
    pub unlabelled: Vec<f32>,
}

/// The label `payload[key]` carries: a string, or a number or boolean as its JSON text.
pub(crate) fn label_of(payload: &Value, key: &str) -> Option<String> {
    match payload.get(key)? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// Index configuration of a learned field `name` of `dim` dimensions, stored as `source` is.
fn learned_config(main: &IndexConfig, name: &str, source: &FieldSpec, dim: usize) -> IndexConfig {
    IndexConfig {
        fields: vec![FieldSpec {
            name: name.to_string(),
            dim,
            metric: Metric::Cosine,
            storage: source.storage,
        }],
        hnsw: main.hnsw.clone(),
        seal_threshold: main.seal_threshold,
        owner: Default::default(),
    }
}

impl Collection {
    pub(super) fn learned(&self, name: &str) -> Option<&Learned> {
        self.learned.iter().find(|l| l.name == name)
    }

    /// The spec of the collection's own vector field `name`; learned and unknown fields are
    /// errors.
    pub(crate) fn main_field(&self, name: &str) -> Result<&FieldSpec> {
        if self.learned(name).is_some() {
            return Err(CollectionError::LearnedSource(name.to_string()).into());
        }
        self.index
            .config()
            .fields
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| CollectionError::UnknownField(name.to_string()).into())
    }

    /// The index that holds `field`'s vectors (a learned field's own, or the collection's)
    /// and the field's name there.
    pub(crate) fn field_index(&self, field: &str) -> Result<(&Index, &str)> {
        Ok(match self.learned(field) {
            Some(l) => (&l.index, l.name.as_str()),
            None => (&self.index, self.main_field(field)?.name.as_str()),
        })
    }

    /// The index a query's vectors go to, and the query with learned fields' vectors mapped
    /// through their heads: learned fields (all the same one) are queried with vectors of
    /// their source field.
    pub(super) fn route(&self, query: &Query) -> Result<(&Index, Option<Query>)> {
        let Some(learned) = query.vectors.iter().find_map(|fq| self.learned(&fq.field)) else {
            return Ok((&self.index, None));
        };
        if let Some(other) = query.vectors.iter().find(|fq| fq.field != learned.name) {
            return Err(CollectionError::MixedFields {
                learned: learned.name.clone(),
                other: other.field.clone(),
            }
            .into());
        }
        let mut mapped = query.clone();
        for fq in &mut mapped.vectors {
            let expected = learned.head.input_dim();
            if fq.vector.len() != expected {
                return Err(CollectionError::LearnedQueryDim {
                    field: learned.name.clone(),
                    source_field: learned.source.clone(),
                    expected,
                    got: fq.vector.len(),
                }
                .into());
            }
            if let Some(position) = fq.vector.iter().position(|x| !x.is_finite()) {
                return Err(IndexError::InvalidValue {
                    field: learned.name.clone(),
                    position,
                    reason: "vectors must not contain NaN or infinity",
                }
                .into());
            }
            fq.vector = learned.head.apply(&fq.vector);
        }
        Ok((&learned.index, Some(mapped)))
    }

    /// The learned index and query for a text model's vector: `vector` through the text head
    /// of the first learned field that has one, searched in that field (with the options of
    /// `query`, which must name no vectors of its own).
    pub(super) fn route_text(&self, query: &Query, vector: &[f32]) -> Result<(&Index, Query)> {
        let (learned, text) = (self.learned.iter())
            .find_map(|l| Some((l, l.text.as_ref()?)))
            .ok_or(CollectionError::NoTextHead)?;
        if let Some(other) = query.vectors.first() {
            let (learned, other) = (learned.name.clone(), other.field.clone());
            return Err(CollectionError::MixedFields { learned, other }.into());
        }
        if vector.len() != text.input_dim() || vector.iter().any(|x| !x.is_finite()) {
            return Err(CollectionError::LearnedQueryDim {
                field: learned.name.clone(),
                source_field: "the text model".into(),
                expected: text.input_dim(),
                got: vector.len(),
            }
            .into());
        }
        let mut mapped = query.clone();
        mapped.vectors = vec![FieldQuery {
            field: learned.name.clone(),
            vector: text.apply(vector),
            weight: 1.0,
        }];
        Ok((&learned.index, mapped))
    }

    /// Gives learned field `field` a text head: a text model's vectors mapped by it land in the
    /// field's space, so words search the field (a text→image aligner, trained beside the
    /// field's own head). Retraining the field drops it.
    pub fn set_text_head(&mut self, field: &str, head: DenseHead) -> Result<()> {
        let learned = (self.learned.iter_mut())
            .find(|l| l.name == field)
            .ok_or_else(|| CollectionError::UnknownField(field.to_string()))?;
        text_head_fits(field, &learned.head, &head)?;
        learned.text = Some(head);
        Ok(())
    }

    /// [`learn_field`](Self::learn_field), with the field's text head when given (see
    /// [`set_text_head`](Self::set_text_head)): both or neither are installed.
    pub fn learn_aligned_field(
        &mut self,
        name: &str,
        source: &str,
        head: DenseHead,
        text: Option<DenseHead>,
    ) -> Result<()> {
        if let Some(text) = &text {
            text_head_fits(name, &head, text)?;
        }
        self.learn_field(name, source, head)?;
        match text {
            Some(text) => self.set_text_head(name, text),
            None => Ok(()),
        }
    }

    /// Parses a `TXTH` section and attaches its head to its learned field.
    pub(super) fn read_text_head(&mut self, body: &[u8]) -> Result<()> {
        let mut r = Reader::new(body, "text head");
        let name = r.str(MAX_NAME_BYTES)?.to_string();
        let head = DenseHead::from_safetensors(r.bytes(4 * MAX_HEAD_PARAMS + (1 << 20))?)?;
        r.finish()?;
        self.set_text_head(&name, head)
    }

    /// Adds the learned vector field `name`: `head` applied to each item's `source` vector
    /// (items added later get it too), searched by cosine similarity with queries given in
    /// `source`'s space. A learned field of that name is replaced (retraining). Nothing
    /// changes on error.
    pub fn learn_field(&mut self, name: &str, source: &str, head: DenseHead) -> Result<()> {
        let spec = self.main_field(source)?.clone();
        if head.input_dim() != spec.dim {
            return Err(CollectionError::HeadInputMismatch {
                field: source.to_string(),
                dim: spec.dim,
                input: head.input_dim(),
            }
            .into());
        }
        if self.index.config().fields.iter().any(|f| f.name == name) {
            return Err(CollectionError::FieldNameTaken(name.to_string()).into());
        }
        let replaces = self.learned.iter().position(|l| l.name == name);
        if replaces.is_none() && self.learned.len() >= MAX_FIELDS {
            return Err(IndexError::TooManyFields {
                got: self.learned.len() + 1,
                max: MAX_FIELDS,
            }
            .into());
        }
        let config = learned_config(self.index.config(), name, &spec, head.output_dim());
        let mut learned = Learned {
            name: name.to_string(),
            source: source.to_string(),
            head,
            text: None,
            index: Index::new(config)?,
        };
        for id in self.sorted_ids() {
            if let Some(item) = self.index.get(id) {
                let item = learned.item(&item);
                learned.index.upsert(item)?;
            }
        }
        match replaces {
            Some(i) => self.learned[i] = learned,
            None => self.learned.push(learned),
        }
        Ok(())
    }

    /// Ids of the live items, in order.
    fn sorted_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.index.payloads().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    }

    /// The learned vector fields, in the order they were added.
    pub fn learned_fields(&self) -> Vec<LearnedField> {
        self.learned
            .iter()
            .map(|l| LearnedField {
                name: l.name.clone(),
                source: l.source.clone(),
                dim: l.head.output_dim(),
                head: l.head.config().clone(),
                text: l.text.as_ref().map(|t| t.config().clone()),
            })
            .collect()
    }

    /// The vectors of the collection's own field `field`, labelled by each item's
    /// `payload[label_key]` (a string, or a number or boolean as its JSON text): every live
    /// item with that vector, in id order; items without a usable label go to `unlabelled`.
    pub fn training_rows(&self, field: &str, label_key: &str) -> Result<TrainingRows> {
        let dim = self.main_field(field)?.dim;
        let mut out = TrainingRows {
            dim,
            rows: Vec::new(),
            labels: Vec::new(),
            classes: Vec::new(),
            unlabelled: Vec::new(),
        };
        let mut class_of: HashMap<String, u32> = HashMap::new();
        for id in self.sorted_ids() {
            let Some(mut item) = self.index.get(id) else {
                continue;
            };
            let Some(vector) = item.vectors.remove(field) else {
                continue;
            };
            match label_of(&item.payload, label_key) {
                Some(label) => {
                    let next = class_of.len() as u32;
                    let class = *class_of.entry(label.clone()).or_insert_with(|| {
                        out.classes.push(label);
                        next
                    });
                    out.rows.extend(vector);
                    out.labels.push(class);
                }
                None => out.unlabelled.extend(vector),
            }
        }
        Ok(out)
    }

    /// Parses a `HEAD` section and checks it against the collection read so far.
    pub(super) fn read_learned(&self, body: &[u8]) -> Result<Learned> {
        let bad = |why: String| CollectionError::BadLearnedField(why);
        let mut r = Reader::new(body, "learned field");
        let name = r.str(MAX_NAME_BYTES)?.to_string();
        let source = r.str(MAX_NAME_BYTES)?.to_string();
        let head = DenseHead::from_safetensors(r.bytes(4 * MAX_HEAD_PARAMS + (1 << 20))?)?;
        let index = Index::from_bytes(r.bytes(usize::MAX)?)?;
        r.finish()?;
        if self.learned(&name).is_some() {
            return Err(bad(format!("`{name}` is stored twice")).into());
        }
        if self.index.config().fields.iter().any(|f| f.name == name) {
            return Err(bad(format!("`{name}` is also a vector field")).into());
        }
        let spec = self
            .index
            .config()
            .fields
            .iter()
            .find(|f| f.name == source)
            .ok_or_else(|| bad(format!("`{name}`: no source field `{source}`")))?;
        if head.input_dim() != spec.dim {
            return Err(bad(format!(
                "`{name}`: the head takes {} dimensions, `{source}` has {}",
                head.input_dim(),
                spec.dim
            ))
            .into());
        }
        match index.config().fields.as_slice() {
            [f] if f.name == name && f.dim == head.output_dim() => {}
            _ => {
                return Err(bad(format!("`{name}`: its index does not hold it alone")).into());
            }
        }
        if index.len() != self.index.len()
            || index
                .payloads()
                .any(|(id, _)| self.index.payload(id).is_none())
        {
            return Err(bad(format!("`{name}`: its items differ from the collection's")).into());
        }
        Ok(Learned {
            name,
            source,
            head,
            text: None,
            index,
        })
    }
}
