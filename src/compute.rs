//! The compute device: WebGPU (through burn's wgpu runtime) when the platform has it, burn's
//! pure-Rust `flex` CPU backend otherwise. The same model code runs on both: burn 0.22 picks
//! the backend from the [`Device`] at run time.

use burn::prelude::*;

use crate::error::{ComputeError, Result};

/// Which backend a [`Compute`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The GPU through WebGPU (`burn-wgpu`).
    WebGpu,
    /// The CPU through burn's `flex` backend.
    Cpu,
}

impl BackendKind {
    /// The backend's name as the JS API spells it: `"webgpu"` or `"cpu"`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::WebGpu => "webgpu",
            BackendKind::Cpu => "cpu",
        }
    }
}

/// Which backend to ask for when opening a [`Compute`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendChoice {
    /// WebGPU when an adapter is available, the CPU otherwise.
    Auto,
    /// WebGPU or an error.
    WebGpu,
    /// The CPU, even where WebGPU is available.
    Cpu,
}

impl std::str::FromStr for BackendChoice {
    type Err = ComputeError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "auto" => Ok(BackendChoice::Auto),
            "webgpu" => Ok(BackendChoice::WebGpu),
            "cpu" => Ok(BackendChoice::Cpu),
            other => Err(ComputeError::UnknownBackend(other.to_string())),
        }
    }
}

/// A ready compute device and the backend it runs on.
#[derive(Clone, Debug)]
pub struct Compute {
    device: Device,
    kind: BackendKind,
}

impl Compute {
    /// The CPU backend (`flex`); always available, natively and in wasm.
    pub fn cpu() -> Self {
        Compute {
            device: Device::flex(),
            kind: BackendKind::Cpu,
        }
    }

    /// Opens the backend `choice` asks for. WebGPU is initialised asynchronously, as browsers
    /// require, before any tensor touches it; natively only the CPU backend is built in.
    pub async fn open(choice: BackendChoice) -> Result<Self> {
        match choice {
            BackendChoice::Cpu => Ok(Self::cpu()),
            BackendChoice::WebGpu => Ok(Self::webgpu().await?),
            BackendChoice::Auto => Ok(Self::webgpu().await.unwrap_or_else(|_| Self::cpu())),
        }
    }

    #[cfg(target_arch = "wasm32")]
    async fn webgpu() -> Result<Self, ComputeError> {
        // The wgpu runtime must be registered before the first tensor op: on wasm, burn's
        // device handle does not create the runtime lazily (its first use would panic with
        // "Service not yet initialized").
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| ComputeError::WebGpuUnavailable(e.to_string()))?;
        Ok(Compute {
            device,
            kind: BackendKind::WebGpu,
        })
    }

    #[cfg(not(target_arch = "wasm32"))]
    async fn webgpu() -> Result<Self, ComputeError> {
        Err(ComputeError::WebGpuUnavailable(
            "this native build has only the CPU backend".into(),
        ))
    }

    /// The burn device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The backend this device runs on.
    pub fn kind(&self) -> BackendKind {
        self.kind
    }

    /// Reads a rank-2 tensor back to the host as row-major `f32`s, asynchronously (WebGPU
    /// cannot block in a browser).
    pub async fn read_f32(&self, tensor: Tensor<2>) -> Result<Vec<f32>> {
        let readback = |message: String| ComputeError::Readback {
            backend: self.kind.name(),
            message,
        };
        let data = tensor
            .into_data_async()
            .await
            .map_err(|e| readback(format!("{e:?}")))?;
        Ok(data
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| readback(format!("{e:?}")))?)
    }
}
