//! The trainer module's exports (`--features trainer`): one head-training run at a time,
//! taken in slices of steps so that the worker can report progress, answer searches and
//! honour a cancel between slices.

use js_sys::{Float32Array, Uint8Array, Uint32Array};
use wasm_bindgen::prelude::*;

use super::{from_js, js_error, to_js};
use crate::compute::{BackendChoice, Compute};
use crate::error::Error;
use crate::train::recipe::usable_classes;
use crate::train::{HeadTrainingOptions, MetricHead, TrainSet, Trainer};

/// A metric head being trained on labelled rows (and unlabelled ones for the
/// self-supervised term), with burn's autodiff on WebGPU or the CPU.
#[wasm_bindgen]
pub struct HeadTrainer {
    trainer: Trainer<MetricHead>,
    backend: &'static str,
}

fn train_error(e: crate::train::TrainError) -> JsValue {
    js_error(Error::from(e))
}

#[wasm_bindgen]
impl HeadTrainer {
    /// Opens `backend` (`"auto"`, `"webgpu"` or `"cpu"`) and prepares a run: `rows` (n × dim,
    /// row-major) labelled by `labels`, `unlabelled` (m × dim) for the self-supervised term,
    /// trained as `options` says (see `HeadTrainingOptions`; every field optional).
    pub async fn open(
        backend: String,
        options: JsValue,
        rows: Float32Array,
        labels: Uint32Array,
        unlabelled: Float32Array,
        dim: usize,
    ) -> Result<HeadTrainer, JsValue> {
        let options: HeadTrainingOptions = if options.is_undefined() || options.is_null() {
            HeadTrainingOptions::default()
        } else {
            from_js("training options", options)?
        };
        let choice: BackendChoice = backend.parse().map_err(|e| js_error(Error::from(e)))?;
        let compute = Compute::open(choice).await.map_err(js_error)?;
        let (labels, rows, unlabelled) = (labels.to_vec(), rows.to_vec(), unlabelled.to_vec());
        let (head, config) = options
            .resolve(dim, usable_classes(&labels))
            .map_err(train_error)?;
        let device = compute.device().clone().autodiff();
        let model = head.init(config.seed, &device).map_err(train_error)?;
        let set = TrainSet {
            inputs: &rows,
            labels: &labels,
            unlabelled: &unlabelled,
            dim,
            augment: options.augment(),
        };
        let trainer = Trainer::new(model, set, &config, &device).map_err(train_error)?;
        Ok(HeadTrainer {
            trainer,
            backend: compute.kind().name(),
        })
    }

    /// The backend training runs on: `"webgpu"` or `"cpu"`.
    pub fn backend(&self) -> String {
        self.backend.to_string()
    }

    /// Runs up to `steps` more steps; resolves to their `[{ step, steps, loss, elapsedS }]`.
    pub async fn run(&mut self, steps: usize) -> Result<JsValue, JsValue> {
        let mut done = Vec::new();
        for _ in 0..steps {
            if self.trainer.is_finished() {
                break;
            }
            let p = self.trainer.step().await.map_err(train_error)?;
            done.push(serde_json::json!({
                "step": p.step, "steps": p.steps, "loss": p.loss, "elapsedS": p.elapsed_s,
            }));
        }
        to_js(&done)
    }

    /// Whether every planned step is done.
    pub fn finished(&self) -> bool {
        self.trainer.is_finished()
    }

    /// The loss of every step so far.
    pub fn losses(&self) -> Float32Array {
        Float32Array::from(self.trainer.losses())
    }

    /// The head as trained so far, as safetensors bytes (what `learnField` takes).
    #[wasm_bindgen(js_name = headBytes)]
    pub async fn head_bytes(&self) -> Result<Uint8Array, JsValue> {
        let bytes = self
            .trainer
            .model()
            .to_safetensors()
            .await
            .map_err(train_error)?;
        Ok(Uint8Array::from(bytes.as_slice()))
    }
}
