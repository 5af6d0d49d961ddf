//! The trainer module's exports: [`HeadTrainer`], one head-training run at a time, taken in
//! slices of steps so that the worker can report progress, answer searches and honour a cancel
//! between slices. It only converts JS values and dispatches to [`simil::train`].

use js_sys::{Float32Array, Uint8Array, Uint32Array};
use simil::compute::{BackendChoice, Compute};
use simil::train::{HeadRun, HeadTrainingOptions};
use wasm_bindgen::prelude::*;

simil_web_edge::binding_module!(simil::Error);

/// A metric head being trained on labelled rows (and unlabelled ones for the self-supervised
/// term), with burn's autodiff on WebGPU or the CPU, checked on held-out labels.
#[wasm_bindgen]
pub struct HeadTrainer {
    trainer: HeadRun,
    backend: &'static str,
}

#[wasm_bindgen]
impl HeadTrainer {
    /// Opens `backend` (`"auto"`, `"webgpu"` or `"cpu"`) and prepares a run: `rows` (n × dim,
    /// row-major) labelled by `labels`, `unlabelled` (m × dim) for the self-supervised term,
    /// trained as `options` says (see `HeadTrainingOptions`; every field optional, `{}` for
    /// the recipe the data calls for).
    pub async fn open(
        backend: String,
        options: JsValue,
        rows: Float32Array,
        labels: Uint32Array,
        unlabelled: Float32Array,
        dim: usize,
    ) -> Result<HeadTrainer, Failure> {
        let options: HeadTrainingOptions = read("training options", options)?;
        let compute = Compute::open(backend.parse::<BackendChoice>()?).await?;
        let (rows, labels, unlabelled) = (rows.to_vec(), labels.to_vec(), unlabelled.to_vec());
        let trainer = options
            .run(&compute, &rows, &labels, &unlabelled, dim)
            .await?;
        let backend = compute.kind().name();
        Ok(HeadTrainer { trainer, backend })
    }

    /// The backend training runs on: `"webgpu"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.backend.to_string()
    }

    /// Runs up to `steps` more steps; resolves to their `[{ step, steps, loss, elapsedS }]`.
    pub async fn run(&mut self, steps: usize) -> JsResult {
        reply(self.trainer.run(steps).await?)
    }

    /// Whether the run is done (every step, or stopped by the held-out check).
    pub fn finished(&self) -> bool {
        self.trainer.is_finished()
    }

    /// `{ losses, recipe, heldOut, installed, reason }` (see `RunSummary`).
    pub fn summary(&self) -> JsResult {
        reply(self.trainer.summary())
    }

    /// The kept head as safetensors bytes (what `learnField` takes).
    #[wasm_bindgen(js_name = headBytes)]
    pub async fn head_bytes(&self) -> Result<Uint8Array, Failure> {
        Ok(self.trainer.head_bytes().await?.as_slice().into())
    }
}
