//! The engine module's exports: the compute device, the models and the collections.

use js_sys::{Array, Float32Array, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;

use super::{bad_input, from_js, js_error, to_js};
use crate::collection::{Catalog, Collection};
use crate::compute::{BackendChoice, Compute};
use crate::error::Error;
use crate::index::{IndexConfig, Item, Query};
use crate::model::clip::{Clip, image_to_clip_chw};
use crate::model::preprocess::{self, PreprocessError};
use crate::model::whitening::DEFAULT_SHRINKAGE;
use crate::model::{
    EmbedderError, ImageEmbedder, RandomProjection, TEXT_EMBEDDING_DIM, TextEmbedder, Whitening,
};

/// The numbers of a JS array or typed array, copied in one call (serde would make one call
/// per number, ~0.3 µs each: most of a query's time at 384 dimensions). Non-numbers turn into
/// NaN, which the index then rejects. `None` for anything else.
fn lift_f32s(value: &JsValue) -> Option<Vec<f32>> {
    if let Some(floats) = value.dyn_ref::<Float32Array>() {
        return Some(floats.to_vec());
    }
    (Array::is_array(value) || js_sys::ArrayBuffer::is_view(value))
        .then(|| Float32Array::new(value).to_vec())
}

/// A shallow copy of object `value` with `key` set to `replacement`.
fn with_key(value: &JsValue, key: &str, replacement: &JsValue) -> JsValue {
    let copy = js_sys::Object::assign(
        &js_sys::Object::new(),
        value.unchecked_ref::<js_sys::Object>(),
    );
    let _ = Reflect::set(&copy, &key.into(), replacement);
    copy.into()
}

/// Reads a [`Query`], lifting each `vectors[i].vector` out with [`lift_f32s`] and leaving the
/// small rest to serde (the caller's object is not changed).
fn read_query(value: JsValue) -> Result<Query, JsValue> {
    let entries = Reflect::get(&value, &"vectors".into()).unwrap_or(JsValue::UNDEFINED);
    if !Array::is_array(&entries) {
        return from_js("query", value);
    }
    let mut lifted = Vec::new();
    let light = Array::new();
    for entry in Array::from(&entries).iter() {
        let vector = Reflect::get(&entry, &"vector".into()).ok();
        match vector.as_ref().and_then(lift_f32s) {
            Some(v) if entry.is_object() => {
                lifted.push(Some(v));
                light.push(&with_key(&entry, "vector", &Array::new()));
            }
            _ => {
                lifted.push(None);
                light.push(&entry);
            }
        }
    }
    let mut query: Query = from_js("query", with_key(&value, "vectors", &light))?;
    for (field, v) in query.vectors.iter_mut().zip(lifted) {
        if let Some(v) = v {
            field.vector = v;
        }
    }
    Ok(query)
}

/// Reads `[Item]`, lifting every `vectors[field]` out with [`lift_f32s`].
fn read_items(value: JsValue) -> Result<Vec<Item>, JsValue> {
    if !Array::is_array(&value) {
        return from_js("items", value);
    }
    let mut lifted = Vec::new();
    let light = Array::new();
    for entry in Array::from(&value).iter() {
        let vectors = Reflect::get(&entry, &"vectors".into()).unwrap_or(JsValue::UNDEFINED);
        let mut fields = Vec::new();
        if entry.is_object() && vectors.is_object() && !Array::is_array(&vectors) {
            let rest = js_sys::Object::new();
            for key in js_sys::Object::keys(vectors.unchecked_ref::<js_sys::Object>()).iter() {
                let v = Reflect::get(&vectors, &key).unwrap_or(JsValue::UNDEFINED);
                match (key.as_string(), lift_f32s(&v)) {
                    (Some(name), Some(f)) => fields.push((name, f)),
                    _ => {
                        let _ = Reflect::set(&rest, &key, &v);
                    }
                }
            }
            light.push(&with_key(&entry, "vectors", &rest));
        } else {
            light.push(&entry);
        }
        lifted.push(fields);
    }
    let mut items: Vec<Item> = from_js("items", light.into())?;
    for (item, fields) in items.iter_mut().zip(lifted) {
        item.vectors.extend(fields);
    }
    Ok(items)
}

/// One engine per worker: the compute device and the collections.
#[wasm_bindgen]
pub struct Engine {
    compute: Compute,
    catalog: Catalog,
    image_model: Option<ImageEmbedder>,
    text_model: Option<TextEmbedder>,
    /// Applied to the image model's vectors when set (the default embedding).
    image_whitening: Option<Whitening>,
    /// CLIP, when loaded: it embeds both images and texts (and the two models above are unset).
    clip: Option<Clip>,
}

#[wasm_bindgen]
impl Engine {
    /// Opens the engine on `backend`: `"auto"` (WebGPU when an adapter is there, else the
    /// CPU), `"webgpu"` or `"cpu"`.
    pub async fn open(backend: String) -> Result<Engine, JsValue> {
        let choice: BackendChoice = backend.parse().map_err(|e| js_error(Error::from(e)))?;
        let compute = Compute::open(choice).await.map_err(js_error)?;
        Ok(Engine {
            compute,
            catalog: Catalog::default(),
            image_model: None,
            text_model: None,
            image_whitening: None,
            clip: None,
        })
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.compute.kind().name().to_string()
    }

    /// Creates a collection from `{ fields: [{ name, dim, metric }] }`.
    #[wasm_bindgen(js_name = createCollection)]
    pub fn create_collection(&mut self, name: &str, config: JsValue) -> Result<(), JsValue> {
        let config: IndexConfig = from_js("collection config", config)?;
        self.catalog.create(name, config).map_err(js_error)?;
        Ok(())
    }

    /// Adds `[{ id, vectors: { field: number[] }, payload }]`; returns how many were added.
    pub fn add(&mut self, name: &str, items: JsValue) -> Result<usize, JsValue> {
        let items = read_items(items)?;
        self.catalog
            .get_mut(name)
            .and_then(|c| c.add(items))
            .map_err(js_error)
    }

    /// Deletes items by id; returns how many existed.
    pub fn delete(&mut self, name: &str, ids: JsValue) -> Result<usize, JsValue> {
        let ids: Vec<String> = from_js("ids", ids)?;
        Ok(self.catalog.get_mut(name).map_err(js_error)?.delete(&ids))
    }

    /// Searches with `{ vectors: [{ field, vector, weight }], k }`; returns `[{ id, score,
    /// payload }]`, best first.
    pub fn search(&self, name: &str, query: JsValue) -> Result<JsValue, JsValue> {
        let query = read_query(query)?;
        let hits = self
            .catalog
            .get(name)
            .and_then(|c| c.search(&query))
            .map_err(js_error)?;
        to_js(&hits)
    }

    /// Sets a collection's HNSW `ef_search` (recall against speed) without rebuilding.
    #[wasm_bindgen(js_name = setEfSearch)]
    pub fn set_ef_search(&mut self, name: &str, ef: usize) -> Result<(), JsValue> {
        self.catalog
            .get_mut(name)
            .and_then(|c| c.set_ef_search(ef))
            .map_err(js_error)
    }

    /// Runs one step of index upkeep on any collection that needs it; returns whether there
    /// was work. The worker calls this when it is idle.
    #[wasm_bindgen(js_name = maintainStep)]
    pub fn maintain_step(&mut self) -> Result<bool, JsValue> {
        let names: Vec<String> = self.catalog.names().map(str::to_string).collect();
        for name in names {
            let collection = self.catalog.get_mut(&name).map_err(js_error)?;
            if collection.maintain_step().map_err(js_error)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The item with `id` (`{ id, vectors, payload }`) or `null`.
    pub fn get(&self, name: &str, id: &str) -> Result<JsValue, JsValue> {
        let item = self.catalog.get(name).map_err(js_error)?.get(id);
        to_js(&item)
    }

    /// The configuration of a collection: `{ fields, hnsw, seal_threshold }`.
    pub fn config(&self, name: &str) -> Result<JsValue, JsValue> {
        to_js(self.catalog.get(name).map_err(js_error)?.config())
    }

    /// Items, segments and bytes per vector of a collection.
    pub fn stats(&self, name: &str) -> Result<JsValue, JsValue> {
        to_js(&self.catalog.get(name).map_err(js_error)?.stats())
    }

    /// A collection as bytes, to keep (OPFS, IndexedDB, a download) and `load` later.
    pub fn save(&self, name: &str) -> Result<Uint8Array, JsValue> {
        let bytes = self.catalog.get(name).map_err(js_error)?.to_bytes();
        Ok(Uint8Array::from(bytes.as_slice()))
    }

    /// Restores a collection saved by `save` under `name`, replacing any of that name.
    /// Truncated or corrupt bytes are rejected with an error; nothing is replaced then.
    pub fn load(&mut self, name: &str, bytes: Uint8Array) -> Result<usize, JsValue> {
        let collection = Collection::from_bytes(&bytes.to_vec()).map_err(js_error)?;
        let n = collection.len();
        self.catalog.insert(name, collection);
        Ok(n)
    }

    /// The number of items in a collection.
    pub fn count(&self, name: &str) -> Result<usize, JsValue> {
        Ok(self.catalog.get(name).map_err(js_error)?.len())
    }

    /// Embeds row-major `rows` of `input_dim` values with a seeded [`RandomProjection`] to
    /// `output_dim` dimensions on this engine's device.
    #[wasm_bindgen(js_name = randomProjection)]
    pub async fn random_projection(
        &self,
        rows: Float32Array,
        input_dim: usize,
        output_dim: usize,
        seed: u64,
    ) -> Result<Float32Array, JsValue> {
        let model =
            RandomProjection::new(&self.compute, input_dim, output_dim, seed).map_err(js_error)?;
        let out = model
            .embed(&self.compute, &rows.to_vec())
            .await
            .map_err(js_error)?;
        Ok(Float32Array::from(out.as_slice()))
    }

    /// Loads the image embedder from a weights file (f32 or int8 safetensors, as the build
    /// writes them; the file says which network) onto this engine's device; returns
    /// `{ dim, weights, model, inputSize }`. Replaces any
    /// model loaded before only when the new one loads.
    #[wasm_bindgen(js_name = loadImageModel)]
    pub fn load_image_model(&mut self, bytes: Uint8Array) -> Result<JsValue, JsValue> {
        let model = ImageEmbedder::load(&bytes.to_vec(), self.compute.device())
            .map_err(|e| js_error(e.into()))?;
        let info = serde_json::json!({
            "dim": model.dim(),
            "weights": model.weight_format().name(),
            "model": model.architecture().name(),
            "inputSize": model.input_size(),
        });
        self.image_model = Some(model);
        self.clip = None;
        to_js(&info)
    }

    /// The loaded image model's output dimension, or an error naming the missing call.
    fn image_dim(&self) -> Result<usize, JsValue> {
        self.image_model
            .as_ref()
            .map(ImageEmbedder::dim)
            .ok_or_else(|| {
                bad_input(
                    "call",
                    "no image model is loaded: call loadImageModel() first",
                )
            })
    }

    /// Sets the whitening applied to the loaded image model's vectors from a safetensors file
    /// (as `examples/fit_whitening.rs` writes it), or removes it when `bytes` is absent;
    /// returns `{ dim }`, the output dimension.
    #[wasm_bindgen(js_name = setImageWhitening)]
    pub fn set_image_whitening(&mut self, bytes: Option<Uint8Array>) -> Result<JsValue, JsValue> {
        let model_dim = self.image_dim()?;
        let whitening = match bytes {
            Some(bytes) => {
                Some(Whitening::from_safetensors(&bytes.to_vec()).map_err(|e| js_error(e.into()))?)
            }
            None => None,
        };
        if let Some(w) = &whitening
            && w.dim() != model_dim
        {
            return Err(bad_input(
                "whitening",
                format!(
                    "it takes {} values, the image model gives {model_dim}",
                    w.dim()
                ),
            ));
        }
        let dim = whitening.as_ref().map_or(model_dim, Whitening::out_dim);
        self.image_whitening = whitening;
        to_js(&serde_json::json!({ "dim": dim }))
    }

    /// Learns the image whitening from unwhitened image vectors (`n × dim`, row-major, e.g.
    /// from `embedImages(images, false)` over the user's own photos), installs it and returns
    /// it as safetensors bytes, to be saved and set again later.
    #[wasm_bindgen(js_name = fitImageWhitening)]
    pub fn fit_image_whitening(&mut self, rows: Float32Array) -> Result<Uint8Array, JsValue> {
        let dim = self.image_dim()?;
        let flat = rows.to_vec();
        if !flat.len().is_multiple_of(dim) {
            return Err(bad_input(
                "vectors",
                format!("{} values are not rows of {dim}", flat.len()),
            ));
        }
        let vectors: Vec<Vec<f32>> = flat.chunks(dim).map(<[f32]>::to_vec).collect();
        let whitening =
            Whitening::fit(&vectors, dim, DEFAULT_SHRINKAGE).map_err(|e| js_error(e.into()))?;
        let bytes = Uint8Array::from(whitening.to_safetensors().as_slice());
        self.image_whitening = Some(whitening);
        Ok(bytes)
    }

    /// Embeds one batch of images, each `{ rgba: Uint8Array, width, height }` pixels (the worker
    /// decodes encoded images with the browser's decoders, so the wasm carries none). Resolves to
    /// the `n × dim` unit vectors, row-major, whitened when a whitening is set and `whiten`
    /// holds; through CLIP's vision tower when CLIP is loaded.
    #[wasm_bindgen(js_name = embedImages)]
    pub async fn embed_images(&self, images: Array, whiten: bool) -> Result<Float32Array, JsValue> {
        if let Some(clip) = &self.clip {
            let size = clip.image_size();
            let chw = prepare_images(&images, |img| image_to_clip_chw(img, size))?;
            if chw.is_empty() {
                return Ok(Float32Array::new_with_length(0));
            }
            let out = clip
                .embed_pixels_async(chw)
                .await
                .map_err(|e| js_error(e.into()))?;
            return Ok(Float32Array::from(out.as_slice()));
        }
        let model = self.image_model.as_ref().ok_or_else(|| {
            bad_input(
                "call",
                "no image model is loaded: call loadImageModel() or loadClip() first",
            )
        })?;
        let size = model.input_size();
        let chw = prepare_images(&images, |img| preprocess::image_to_chw_sized(img, size))?;
        if chw.is_empty() {
            return Ok(Float32Array::new_with_length(0));
        }
        let mut out = model
            .embed_prepared_async(chw)
            .await
            .map_err(|e| js_error(e.into()))?;
        if let Some(whitening) = self.image_whitening.as_ref().filter(|_| whiten) {
            out = whitening.apply_rows(&out).map_err(|e| js_error(e.into()))?;
        }
        Ok(Float32Array::from(out.as_slice()))
    }

    /// Loads a Hugging Face CLIP checkpoint from its files' bytes (`model.safetensors`, f32;
    /// `config.json`; the tokeniser's `vocab.json` and `merges.txt`) onto this engine's
    /// device; returns `{ dim, weights, model: "clip", inputSize, maxTokens }`. From then on
    /// `embedImages` and `embedTexts` both run CLIP, into one joint space; loading another
    /// image or text model unloads it. Replaces nothing when loading fails.
    #[wasm_bindgen(js_name = loadClip)]
    pub fn load_clip(
        &mut self,
        weights: Uint8Array,
        config: Uint8Array,
        vocab: Uint8Array,
        merges: Uint8Array,
    ) -> Result<JsValue, JsValue> {
        let clip = Clip::load(
            &weights.to_vec(),
            &config.to_vec(),
            &vocab.to_vec(),
            &merges.to_vec(),
            self.compute.device(),
        )
        .map_err(|e| js_error(e.into()))?;
        let info = serde_json::json!({
            "dim": clip.dim(),
            "weights": clip.weight_format().name(),
            "model": "clip",
            "inputSize": clip.image_size(),
            "maxTokens": clip.max_tokens(),
        });
        self.clip = Some(clip);
        self.image_model = None;
        self.text_model = None;
        self.image_whitening = None;
        to_js(&info)
    }
}

#[wasm_bindgen]
impl Engine {
    /// Loads the text embedder (all-MiniLM-L6-v2) from its weights (f32 or int8 safetensors,
    /// as the build writes them) and its `tokenizer.json` onto this engine's device; returns
    /// `{ dim, weights, maxTokens }`. Replaces any model loaded before only when the new one
    /// loads.
    #[wasm_bindgen(js_name = loadTextModel)]
    pub fn load_text_model(
        &mut self,
        weights: Uint8Array,
        tokenizer: Uint8Array,
    ) -> Result<JsValue, JsValue> {
        let model = TextEmbedder::load(
            &weights.to_vec(),
            &tokenizer.to_vec(),
            self.compute.device(),
        )
        .map_err(|e| js_error(e.into()))?;
        let info = serde_json::json!({
            "dim": TEXT_EMBEDDING_DIM,
            "weights": model.weight_format().name(),
            "maxTokens": crate::model::tokenizer::MAX_TOKENS,
        });
        self.text_model = Some(model);
        self.clip = None;
        to_js(&info)
    }

    /// Embeds one batch of texts (each truncated at 256 tokens, or CLIP's 77 through CLIP's
    /// text tower when CLIP is loaded); resolves to the `n × dim` unit vectors, row-major.
    #[wasm_bindgen(js_name = embedTexts)]
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Float32Array, JsValue> {
        if let Some(clip) = &self.clip {
            let out = clip
                .embed_texts_async(&texts)
                .await
                .map_err(|e| js_error(e.into()))?;
            return Ok(Float32Array::from(out.as_slice()));
        }
        let model = self.text_model.as_ref().ok_or_else(|| {
            bad_input(
                "call",
                "no text model is loaded: call loadTextModel() or loadClip() first",
            )
        })?;
        let out = model
            .embed_async(&texts)
            .await
            .map_err(|e| js_error(e.into()))?;
        Ok(Float32Array::from(out.as_slice()))
    }
}

/// Decodes each image of `images` and concatenates the network inputs `prepare` makes of them.
fn prepare_images(
    images: &Array,
    prepare: impl Fn(&image::RgbImage) -> Vec<f32>,
) -> Result<Vec<f32>, JsValue> {
    let mut chw = Vec::new();
    for (index, value) in images.iter().enumerate() {
        let image = decode_input(&value)
            .map_err(|source| js_error(EmbedderError::ImageAt { index, source }.into()))?;
        chw.extend(prepare(&image));
    }
    Ok(chw)
}

/// One image given to [`Engine::embed_images`]: RGBA pixels.
fn decode_input(value: &JsValue) -> Result<image::RgbImage, PreprocessError> {
    let field = |name: &str| Reflect::get(value, &name.into()).ok();
    let size = |name: &str| field(name).and_then(|v| v.as_f64()).map(|v| v as u32);
    match (field("rgba"), size("width"), size("height")) {
        (Some(rgba), Some(width), Some(height)) if rgba.is_instance_of::<Uint8Array>() => {
            let rgba = Uint8Array::from(rgba).to_vec();
            preprocess::rgba_to_image(width, height, rgba)
        }
        _ => Err(PreprocessError::Decode(
            "expected { rgba: Uint8Array, width, height } pixels".into(),
        )),
    }
}

/// Training support: the rows a head trains on, installing a trained head as a learned field,
/// and retrieval evaluation.
#[wasm_bindgen]
impl Engine {
    /// The vectors of `field` and the labels under payload key `labelKey`, for training:
    /// `{ dim, rows: Float32Array, labels: Uint32Array, classes: string[], unlabelled:
    /// Float32Array }`, items in id order (labels index `classes`).
    #[wasm_bindgen(js_name = trainingRows)]
    pub fn training_rows(
        &self,
        name: &str,
        field: &str,
        label_key: &str,
    ) -> Result<JsValue, JsValue> {
        let t = self
            .catalog
            .get(name)
            .and_then(|c| c.training_rows(field, label_key))
            .map_err(js_error)?;
        let out = js_sys::Object::new();
        let set = |key: &str, value: &JsValue| Reflect::set(&out, &key.into(), value);
        set("dim", &t.dim.into())?;
        set("rows", &Float32Array::from(t.rows.as_slice()))?;
        set("labels", &js_sys::Uint32Array::from(t.labels.as_slice()))?;
        set("classes", &to_js(&t.classes)?)?;
        set("unlabelled", &Float32Array::from(t.unlabelled.as_slice()))?;
        Ok(out.into())
    }

    /// Installs the trained head `head` (safetensors bytes, as the trainer writes them) as the
    /// learned field `field` computed from `source`: every item is re-embedded through it into
    /// a new index that replaces any learned field of that name at once; returns the collection's
    /// learned fields.
    #[wasm_bindgen(js_name = learnField)]
    pub fn learn_field(
        &mut self,
        name: &str,
        field: &str,
        source: &str,
        head: Uint8Array,
    ) -> Result<JsValue, JsValue> {
        let head = crate::train::DenseHead::from_safetensors(&head.to_vec())
            .map_err(|e| js_error(e.into()))?;
        let collection = self.catalog.get_mut(name).map_err(js_error)?;
        collection
            .learn_field(field, source, head)
            .map_err(js_error)?;
        to_js(&collection.learned_fields())
    }

    /// The learned fields of a collection: `[{ name, source, dim, head }]`.
    #[wasm_bindgen(js_name = learnedFields)]
    pub fn learned_fields(&self, name: &str) -> Result<JsValue, JsValue> {
        to_js(&self.catalog.get(name).map_err(js_error)?.learned_fields())
    }

    /// Retrieval metrics of labelled queries (`{ field, label_key, vectors, labels }`) against
    /// the collection: `{ queries, k, recall_at_k, precision_at_k, ndcg_at_k, map_at_r }`.
    pub fn evaluate(&self, name: &str, queries: JsValue, k: usize) -> Result<JsValue, JsValue> {
        let queries = read_labelled(queries)?;
        let result = self
            .catalog
            .get(name)
            .and_then(|c| c.evaluate(&queries, k))
            .map_err(js_error)?;
        to_js(&result)
    }

    /// The lowest score at which `match` should accept a nearest neighbour's label, calibrated
    /// on labelled queries for a target precision (`precision` in (0, 1]) or, without one, the
    /// best F1: `{ min_score, precision, recall, f1 }`.
    pub fn calibrate(
        &self,
        name: &str,
        queries: JsValue,
        precision: Option<f64>,
    ) -> Result<JsValue, JsValue> {
        let queries = read_labelled(queries)?;
        let target = match precision {
            Some(p) if p > 0.0 && p <= 1.0 => crate::eval::CalibrationTarget::Precision(p),
            Some(p) => return Err(bad_input("precision", format!("{p} is not in (0, 1]"))),
            None => crate::eval::CalibrationTarget::BestF1,
        };
        let result = self
            .catalog
            .get(name)
            .and_then(|c| c.calibrate(&queries, target))
            .map_err(js_error)?;
        to_js(&result)
    }

    /// The label of the item nearest `vector` in `field` when its score reaches `min_score`,
    /// else `null` (unknown): `{ label, id, score }`.
    #[wasm_bindgen(js_name = matchLabel)]
    pub fn match_label(
        &self,
        name: &str,
        field: &str,
        vector: JsValue,
        label_key: &str,
        min_score: f32,
    ) -> Result<JsValue, JsValue> {
        let vector = lift_f32s(&vector).ok_or_else(|| bad_input("vector", "expected numbers"))?;
        let result = self
            .catalog
            .get(name)
            .and_then(|c| c.match_label(field, vector, label_key, min_score))
            .map_err(js_error)?;
        to_js(&result)
    }
}

/// Reads `{ field, label_key, vectors, labels }`, lifting each vector with [`lift_f32s`].
fn read_labelled(value: JsValue) -> Result<crate::collection::LabelledQueries, JsValue> {
    let vectors = Reflect::get(&value, &"vectors".into()).unwrap_or(JsValue::UNDEFINED);
    if !Array::is_array(&vectors) {
        return Err(bad_input(
            "queries",
            "`vectors` must be an array of vectors",
        ));
    }
    let lifted = Array::from(&vectors)
        .iter()
        .enumerate()
        .map(|(i, v)| {
            lift_f32s(&v).ok_or_else(|| bad_input("queries", format!("vector {i} is not numbers")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut queries: crate::collection::LabelledQueries =
        from_js("queries", with_key(&value, "vectors", &Array::new()))?;
    queries.vectors = lifted;
    Ok(queries)
}
