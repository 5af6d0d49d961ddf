//! The search wasm module every simil page loads (collections, index, keywords, learned fields,
//! evaluation, files; no model runtime): it converts values and dispatches to `simil_search`,
//! where every rule lives. Vectors come as numbers or `Float32Array` bytes (`f32s` reads both).

use js_sys::{Float32Array, Object, Reflect, Uint8Array, Uint32Array};
use simil_search::Catalog;
use simil_search::eval::{self, CalibrationTarget};
use simil_search::head::DenseHead;
use wasm_bindgen::prelude::*;

simil_web_edge::binding_module!(simil_search::Error);

/// The collections of one worker.
#[wasm_bindgen]
#[derive(Default)]
pub struct SearchEngine {
    catalog: Catalog,
    builder: simil_search::index::Builder,
}

#[wasm_bindgen]
impl SearchEngine {
    /// An engine with no collections.
    #[wasm_bindgen(constructor)]
    pub fn new() -> SearchEngine {
        SearchEngine::default()
    }

    /// Creates a collection from `{ fields, hnsw, sealThreshold, textFields }`.
    #[wasm_bindgen(js_name = createCollection)]
    pub fn create_collection(&mut self, name: &str, config: JsValue) -> Result<(), Failure> {
        let config = read("collection config", config)?;
        Ok(self.catalog.create(name, config).map(drop)?)
    }

    /// Opens collection `name`, or creates it from `config`; whether it was created.
    #[wasm_bindgen(js_name = openCollection)]
    pub fn open_collection(&mut self, name: &str, config: JsValue) -> Result<bool, Failure> {
        let config = read("collection config", config)?;
        Ok(self.catalog.open_or_create(name, config)?)
    }

    /// Adds or replaces `[{ id, vectors: { field: vector }, payload }]`; returns how many.
    pub fn add(&mut self, name: &str, items: JsValue) -> Result<usize, Failure> {
        let items = read("items", items)?;
        Ok(self.catalog.get_mut(name)?.add(items)?)
    }

    /// Deletes items by id; returns how many existed.
    pub fn delete(&mut self, name: &str, ids: Vec<String>) -> Result<usize, Failure> {
        Ok(self.catalog.get_mut(name)?.delete(&ids))
    }

    /// Searches with `{ vectors: [{ field, vector, weight }], k, text, filter, … }`: hits, best first.
    pub fn search(&self, name: &str, request: JsValue) -> JsResult {
        let request = read("query", request)?;
        reply(self.catalog.get(name)?.search(&request)?)
    }

    /// Sets the HNSW `efSearch` of a collection without rebuilding.
    #[wasm_bindgen(js_name = setEfSearch)]
    pub fn set_ef_search(&mut self, name: &str, ef: usize) -> Result<(), Failure> {
        Ok(self.catalog.get_mut(name)?.set_ef_search(ef)?)
    }

    /// The next upkeep job for `runUpkeep` (growth steps of ≤ `growRows` rows), or `undefined`.
    #[wasm_bindgen(js_name = planUpkeep)]
    pub fn plan_upkeep(&mut self, grow_rows: usize) -> Option<Vec<u8>> {
        self.catalog.plan_upkeep(grow_rows)
    }

    /// Applies what `runUpkeep` made (none: it failed): `{ collection, grew }`, or `undefined`.
    #[wasm_bindgen(js_name = applyUpkeep)]
    pub fn apply_upkeep(&mut self, built: Option<Vec<u8>>) -> JsResult {
        reply(self.catalog.apply_upkeep(built.as_deref())?)
    }

    /// Runs an upkeep job (in the builder, whose engine keeps the copies of graphs it grows).
    #[wasm_bindgen(js_name = runUpkeep)]
    pub fn run_upkeep(&mut self, job: &[u8]) -> Result<Vec<u8>, Failure> {
        Ok(self.builder.run(job)?)
    }

    /// Grows a graph in place by up to `maxRows` rows; the collection it changed, if any.
    #[wasm_bindgen(js_name = growStep)]
    pub fn grow_step(&mut self, max_rows: usize) -> Option<String> {
        self.catalog.grow_step(max_rows).map(str::to_string)
    }

    /// The item `{ id, vectors, payload }` with `id`, or `null`.
    pub fn get(&self, name: &str, id: &str) -> JsResult {
        reply(self.catalog.get(name)?.get(id))
    }

    /// The configuration a collection was made with.
    pub fn config(&self, name: &str) -> JsResult {
        reply(self.catalog.get(name)?.config())
    }

    /// Items, segments and bytes per vector of a collection.
    pub fn stats(&self, name: &str) -> JsResult {
        reply(self.catalog.get(name)?.stats())
    }

    /// A collection as bytes (versioned, checksummed), to keep and `load` later.
    pub fn save(&self, name: &str) -> Result<Uint8Array, Failure> {
        Ok(self.catalog.get(name)?.to_bytes().as_slice().into())
    }

    /// Restores saved bytes as collection `name` (replaced only if they load); its item count.
    pub fn load(&mut self, name: &str, bytes: &[u8]) -> Result<usize, Failure> {
        Ok(self.catalog.load(name, bytes)?)
    }

    /// The collections' names, in order.
    pub fn names(&self) -> Vec<String> {
        self.catalog.names().map(str::to_string).collect()
    }

    /// Drops a collection; whether it existed.
    #[wasm_bindgen(js_name = dropCollection)]
    pub fn drop_collection(&mut self, name: &str) -> bool {
        self.catalog.drop_collection(name)
    }

    /// `field`'s vectors labelled by `payload[labelKey]`: `{ dim, rows, labels, classes, unlabelled }`.
    #[wasm_bindgen(js_name = trainingRows)]
    pub fn training_rows(&self, name: &str, field: &str, key: &str) -> Result<Object, Failure> {
        let t = self.catalog.get(name)?.training_rows(field, key)?;
        let out = Object::new();
        let set =
            |key: &str, value: &JsValue| Reflect::set(&out, &key.into(), value).map_err(Failure);
        set("dim", &t.dim.into())?;
        set("rows", &Float32Array::from(t.rows.as_slice()))?;
        set("labels", &Uint32Array::from(t.labels.as_slice()))?;
        set("classes", &reply(&t.classes)?)?;
        set("unlabelled", &Float32Array::from(t.unlabelled.as_slice()))?;
        Ok(out)
    }

    /// Installs a head (and a text→image head, if given) as learned field `output` of `source`.
    #[wasm_bindgen(js_name = learnField)]
    pub fn learn_field(
        &mut self,
        name: &str,
        output: &str,
        source: &str,
        head: &[u8],
        text: Option<Vec<u8>>,
    ) -> JsResult {
        let head = DenseHead::from_safetensors(head)?;
        let text = text.map(|t| DenseHead::from_safetensors(&t)).transpose()?;
        let collection = self.catalog.get_mut(name)?;
        collection.learn_aligned_field(output, source, head, text)?;
        reply(collection.learned_fields())
    }

    /// The learned fields: `[{ name, source, dim, head, text? }]`.
    #[wasm_bindgen(js_name = learnedFields)]
    pub fn learned_fields(&self, name: &str) -> JsResult {
        reply(self.catalog.get(name)?.learned_fields())
    }

    /// Retrieval metrics of labelled queries `{ field, labelKey, vectors, labels }`.
    pub fn evaluate(&self, name: &str, queries: JsValue, k: usize) -> JsResult {
        let queries = read("queries", queries)?;
        reply(eval::evaluate(self.catalog.get(name)?, &queries, k)?)
    }

    /// `matchLabel`'s `minScore` calibrated on labelled queries for a target `precision` or best F1.
    pub fn calibrate(&self, name: &str, queries: JsValue, precision: Option<f64>) -> JsResult {
        let target = CalibrationTarget::from_precision(precision)?;
        let (c, queries) = (self.catalog.get(name)?, read("queries", queries)?);
        reply(eval::collection::calibrate(c, &queries, target)?)
    }

    /// The nearest item's `{ label, id, score }` if it reaches `{ field?, labelKey, minScore }`.
    #[wasm_bindgen(js_name = matchLabel)]
    pub fn match_label(&self, name: &str, vector: &[f32], query: JsValue) -> JsResult {
        let (c, query) = (self.catalog.get(name)?, read("match options", query)?);
        reply(eval::collection::match_label(c, vector, &query)?)
    }
}
