//! The model module's exports: [`ModelEngine`], the browser face of [`simil::engine::Engine`].
//! It only converts JS values and dispatches; which model is loaded, what unloads what and
//! which model embeds a batch are the engine's rules, tested natively (`tests/engine.rs`).

use js_sys::Float32Array;
use simil::compute::BackendChoice;
use simil::engine::{ClipFiles, Engine, ImageInput};
use simil::model::ModelError;
use wasm_bindgen::prelude::*;

simil_web_edge::binding_module!(simil::Error);

/// One per worker: the compute device and the models loaded on it.
#[wasm_bindgen]
pub struct ModelEngine {
    engine: Engine,
}

#[wasm_bindgen]
impl ModelEngine {
    /// Opens `backend`: `"auto"` (WebGPU when an adapter is there, else the CPU), `"webgpu"`
    /// or `"cpu"`.
    pub async fn open(backend: String) -> Result<ModelEngine, Failure> {
        let engine = Engine::open(backend.parse::<BackendChoice>()?).await?;
        Ok(ModelEngine { engine })
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.engine.backend().name().to_string()
    }

    /// Loads an image model and, when given, its whitening, together or not at all;
    /// returns `{ dim, weights, model, inputSize, whitened }`.
    #[wasm_bindgen(js_name = loadImageModel)]
    pub fn load_image_model(&mut self, bytes: &[u8], white: Option<Vec<u8>>) -> JsResult {
        reply(self.engine.load_image_model(bytes, white.as_deref())?)
    }

    /// Sets (or, without `bytes`, removes) the image whitening; returns the image model's info.
    #[wasm_bindgen(js_name = setImageWhitening)]
    pub fn set_image_whitening(&mut self, bytes: Option<Vec<u8>>) -> JsResult {
        reply(self.engine.set_image_whitening(bytes.as_deref())?)
    }

    /// Learns the image whitening from unwhitened vectors (`n × dim`), installs it and
    /// returns it as safetensors bytes.
    #[wasm_bindgen(js_name = fitImageWhitening)]
    pub fn fit_image_whitening(&mut self, rows: &[f32]) -> Result<Vec<u8>, Failure> {
        Ok(self.engine.fit_image_whitening(rows)?)
    }

    /// Embeds a batch of RGBA images packed one after another (`sizes`: each one's width and
    /// height) through CLIP or the image model; resolves to the `n × dim` unit vectors,
    /// row-major (whitened when `whiten` holds).
    #[wasm_bindgen(js_name = embedImages)]
    pub async fn embed_images(
        &self,
        rgba: Vec<u8>,
        sizes: Vec<u32>,
        whiten: bool,
    ) -> Result<Float32Array, Failure> {
        let images = ImageInput::unpack_rgba(&rgba, &sizes).map_err(ModelError::from)?;
        let vectors = self.engine.embed_images(images, whiten).await?;
        Ok(vectors.as_slice().into())
    }

    /// Loads the text model (MiniLM weights, `tokenizer.json`); returns `{ dim, weights, maxTokens }`.
    #[wasm_bindgen(js_name = loadTextModel)]
    pub fn load_text_model(&mut self, weights: &[u8], tokenizer: &[u8]) -> JsResult {
        reply(self.engine.load_text_model(weights, tokenizer)?)
    }

    /// Loads CLIP from its checkpoint's files; returns `{ dim, weights, model: "clip",
    /// inputSize, whitened: false, maxTokens }`.
    #[wasm_bindgen(js_name = loadClip)]
    pub fn load_clip(
        &mut self,
        weights: &[u8],
        config: &[u8],
        vocab: &[u8],
        merges: &[u8],
    ) -> JsResult {
        let files = ClipFiles {
            weights,
            config,
            vocab,
            merges,
        };
        reply(self.engine.load_clip(files)?)
    }

    /// Embeds a batch of texts through CLIP or the text model; resolves to the `n × dim` unit
    /// vectors, row-major.
    #[wasm_bindgen(js_name = embedTexts)]
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Float32Array, Failure> {
        Ok(self.engine.embed_texts(&texts).await?.as_slice().into())
    }

    /// What is loaded now: `{ image: info | null, text: info | null }`.
    pub fn models(&self) -> JsResult {
        reply(self.engine.models())
    }
}
