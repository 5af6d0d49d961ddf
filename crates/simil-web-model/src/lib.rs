//! The model module's exports: [`ModelEngine`], the browser face of [`simil::engine::Engine`].
//! It only converts JS values and dispatches; which model is loaded, what unloads what and
//! which model embeds a batch are the engine's rules, tested natively (`tests/engine.rs`).

use js_sys::{Array, Float32Array, Reflect, Uint8Array};
use simil::compute::BackendChoice;
use simil::engine::{ClipFiles, Engine, ImageInput};
use simil::model::ModelError;
use simil::model::preprocess::PreprocessError;

use wasm_bindgen::prelude::*;

simil_web_edge::binding_module!(simil::Error);

/// One `{ rgba: Uint8Array, width, height }` of a batch (the worker decodes images with the
/// browser's decoders, so this module carries none).
fn read_image(index: usize, value: &JsValue) -> Result<ImageInput, JsValue> {
    let field = |name: &str| Reflect::get(value, &name.into()).ok();
    let size = |name: &str| field(name).and_then(|v| v.as_f64()).map(|v| v as u32);
    match (field("rgba"), size("width"), size("height")) {
        (Some(rgba), Some(width), Some(height)) if rgba.is_instance_of::<Uint8Array>() => {
            let rgba = Uint8Array::from(rgba).to_vec();
            Ok(ImageInput::Rgba {
                width,
                height,
                rgba,
            })
        }
        _ => {
            let what = "expected { rgba: Uint8Array, width, height } pixels".to_string();
            let source = PreprocessError::Decode(what);
            Err(fail(ModelError::ImageAt { index, source }))
        }
    }
}

/// One per worker: the compute device and the models loaded on it.
#[wasm_bindgen]
pub struct ModelEngine {
    engine: Engine,
}

#[wasm_bindgen]
impl ModelEngine {
    /// Opens `backend`: `"auto"` (WebGPU when an adapter is there, else the CPU), `"webgpu"`
    /// or `"cpu"`.
    pub async fn open(backend: String) -> Result<ModelEngine, JsValue> {
        let choice: BackendChoice = backend.parse().map_err(fail)?;
        let engine = Engine::open(choice).await.map_err(fail)?;
        Ok(ModelEngine { engine })
    }

    /// The backend in use: `"webgpu"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.engine.backend().name().to_string()
    }

    /// Loads an image model and, when given, its whitening, together or not at all;
    /// returns `{ dim, weights, model, inputSize, whitened }`.
    #[wasm_bindgen(js_name = loadImageModel)]
    pub fn load_image_model(
        &mut self,
        bytes: &[u8],
        whitening: Option<Vec<u8>>,
    ) -> Result<JsValue, JsValue> {
        let whitening = whitening.as_deref();
        reply(self.engine.load_image_model(bytes, whitening))
    }

    /// Sets the image model's whitening, or removes it when `bytes` is absent; returns the
    /// image model's info (its `dim` is the output dimension).
    #[wasm_bindgen(js_name = setImageWhitening)]
    pub fn set_image_whitening(&mut self, bytes: Option<Vec<u8>>) -> Result<JsValue, JsValue> {
        reply(self.engine.set_image_whitening(bytes.as_deref()))
    }

    /// Learns the image whitening from unwhitened vectors (`n × dim`), installs it and
    /// returns it as safetensors bytes.
    #[wasm_bindgen(js_name = fitImageWhitening)]
    pub fn fit_image_whitening(&mut self, rows: &[f32]) -> Result<Vec<u8>, JsValue> {
        self.engine.fit_image_whitening(rows).map_err(fail)
    }

    /// Embeds a batch of `{ rgba, width, height }` images through CLIP or the image model;
    /// resolves to the `n × dim` unit vectors, row-major (whitened when `whiten` holds).
    #[wasm_bindgen(js_name = embedImages)]
    pub async fn embed_images(&self, images: Array, whiten: bool) -> Result<Float32Array, JsValue> {
        let images: Vec<ImageInput> = (images.iter().enumerate())
            .map(|(i, v)| read_image(i, &v))
            .collect::<Result<_, _>>()?;
        let out = self.engine.embed_images(images, whiten).await;
        Ok(Float32Array::from(out.map_err(fail)?.as_slice()))
    }

    /// Loads the text model (MiniLM weights and `tokenizer.json`); returns `{ dim, weights,
    /// maxTokens }`.
    #[wasm_bindgen(js_name = loadTextModel)]
    pub fn load_text_model(
        &mut self,
        weights: &[u8],
        tokenizer: &[u8],
    ) -> Result<JsValue, JsValue> {
        reply(self.engine.load_text_model(weights, tokenizer))
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
    ) -> Result<JsValue, JsValue> {
        let files = ClipFiles {
            weights,
            config,
            vocab,
            merges,
        };
        reply(self.engine.load_clip(files))
    }

    /// Embeds a batch of texts through CLIP or the text model; resolves to the `n × dim` unit
    /// vectors, row-major.
    #[wasm_bindgen(js_name = embedTexts)]
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Float32Array, JsValue> {
        let out = self.engine.embed_texts(&texts).await.map_err(fail)?;
        Ok(Float32Array::from(out.as_slice()))
    }

    /// What is loaded now: `{ image: info | null, text: info | null }`.
    pub fn models(&self) -> Result<JsValue, JsValue> {
        simil_web_edge::to_js(&self.engine.models())
    }

    /// A seeded random projection of `rows` (a test utility, not public API).
    #[wasm_bindgen(js_name = randomProjection)]
    pub async fn random_projection(
        &self,
        rows: Vec<f32>,
        input_dim: usize,
        output_dim: usize,
        seed: u64,
    ) -> Result<Float32Array, JsValue> {
        let engine = &self.engine;
        let out = engine
            .random_projection(&rows, input_dim, output_dim, seed)
            .await;
        Ok(Float32Array::from(out.map_err(fail)?.as_slice()))
    }
}
