//! Loading the converted MobileNetV2 weights (`scripts/convert-mobilenet.mjs`) from safetensors.
//!
//! Each convolution `<layer>` has its BatchNorm folded in and is stored in burn's layout:
//!
//! - f32 files: `<layer>.weight` F32 `[out, in / groups, kh, kw]`, `<layer>.bias` F32 `[out]`;
//! - int8 files: `<layer>.weight` I8 (same shape, symmetric, per output channel),
//!   `<layer>.weight_scale` F32 `[out]` and `<layer>.bias` F32 `[out]`.
//!
//! Int8 weights are dequantised here (`q * scale`), so the network itself always runs in f32.
//! Every expected tensor must be present with its exact dtype and shape, and nothing else may
//! be: a file for another architecture or a truncated download fails with a typed error.

use std::collections::{HashMap, HashSet};

use safetensors::{Dtype, SafeTensors};

/// How the weights were stored in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WeightFormat {
    /// Plain f32.
    F32,
    /// Int8, symmetric, one f32 scale per output channel.
    Int8PerChannel,
}

impl WeightFormat {
    /// Short name: `"f32"` or `"int8"`.
    pub fn name(self) -> &'static str {
        match self {
            WeightFormat::F32 => "f32",
            WeightFormat::Int8PerChannel => "int8",
        }
    }
}

/// Failures while reading a weights file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    /// The bytes are not a valid safetensors file.
    #[error("invalid safetensors file: {0}")]
    Format(String),
    /// An expected tensor is absent.
    #[error("weights file lacks tensor `{0}`")]
    Missing(String),
    /// A tensor the architecture does not use is present.
    #[error("weights file has unexpected tensor `{0}`")]
    Unexpected(String),
    /// A tensor has the wrong shape.
    #[error("tensor `{name}` has shape {got:?}, expected {expected:?}")]
    Shape {
        /// The tensor's name.
        name: String,
        /// The shape the architecture needs.
        expected: Vec<usize>,
        /// The shape in the file.
        got: Vec<usize>,
    },
    /// A tensor has the wrong element type.
    #[error("tensor `{name}` has dtype {got}, expected {expected}")]
    Dtype {
        /// The tensor's name.
        name: String,
        /// The dtype(s) accepted.
        expected: &'static str,
        /// The dtype in the file.
        got: String,
    },
    /// The file mixes f32 and int8 layers.
    #[error("weights file mixes f32 and int8 layers (`{0}`)")]
    MixedFormats(String),
    /// A value is NaN or infinite.
    #[error("tensor `{0}` contains a non-finite value")]
    NonFinite(String),
    /// The file's metadata names an unknown architecture or tap.
    #[error("weights metadata: {0}")]
    Metadata(String),
}

/// The `__metadata__` strings of a safetensors file (empty when it has none).
pub fn read_metadata(bytes: &[u8]) -> Result<HashMap<String, String>, WeightsError> {
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// One convolution's folded parameters, f32, burn layout.
#[derive(Clone, Debug)]
pub struct ConvParams {
    /// `[out, in / groups, kh, kw]`, row-major.
    pub weight: Vec<f32>,
    /// `[out]`.
    pub bias: Vec<f32>,
    /// The weight's shape.
    pub shape: [usize; 4],
}

/// All convolutions of a file, by layer name.
#[derive(Clone, Debug)]
pub struct WeightSet {
    /// How the file stored them.
    pub format: WeightFormat,
    layers: HashMap<String, ConvParams>,
}

impl WeightSet {
    /// Reads `bytes` and checks it against `expected`: `(layer name, weight shape)` for every
    /// convolution the architecture has.
    pub fn from_safetensors(
        bytes: &[u8],
        expected: &[(String, [usize; 4])],
    ) -> Result<Self, WeightsError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;

        let mut known = HashSet::new();
        let mut format = None;
        let mut layers = HashMap::with_capacity(expected.len());
        for (layer, shape) in expected {
            let wname = format!("{layer}.weight");
            let bname = format!("{layer}.bias");
            let sname = format!("{layer}.weight_scale");
            let (layer_format, weight) = read_dequantised(&st, &wname, &sname, shape, &mut known)?;
            match format {
                None => format = Some(layer_format),
                Some(f) if f != layer_format => return Err(WeightsError::MixedFormats(wname)),
                _ => {}
            }
            let bias = read_f32(&st, &bname, &shape[..1])?;
            if !weight.iter().chain(&bias).all(|v: &f32| v.is_finite()) {
                return Err(WeightsError::NonFinite(layer.clone()));
            }
            known.insert(bname);
            layers.insert(
                layer.clone(),
                ConvParams {
                    weight,
                    bias,
                    shape: *shape,
                },
            );
        }
        if let Some(extra) = st.names().into_iter().find(|n| !known.contains(*n)) {
            return Err(WeightsError::Unexpected(extra.to_string()));
        }
        Ok(WeightSet {
            format: format.unwrap_or(WeightFormat::F32),
            layers,
        })
    }

    /// Takes the parameters of `layer` out of the set.
    pub fn take(&mut self, layer: &str) -> Result<ConvParams, WeightsError> {
        self.layers
            .remove(layer)
            .ok_or_else(|| WeightsError::Missing(format!("{layer}.weight")))
    }
}

fn check_shape(name: &str, got: &[usize], expected: &[usize]) -> Result<(), WeightsError> {
    if got != expected {
        return Err(WeightsError::Shape {
            name: name.to_string(),
            expected: expected.to_vec(),
            got: got.to_vec(),
        });
    }
    Ok(())
}

fn check_dtype(name: &str, got: Dtype) -> Result<(), WeightsError> {
    if got != Dtype::F32 {
        return Err(WeightsError::Dtype {
            name: name.to_string(),
            expected: "F32",
            got: format!("{got:?}"),
        });
    }
    Ok(())
}

/// The tensor `name` of `shape`: F32, or I8 with one F32 scale per row (first dimension) in
/// `scale_name`, dequantised (`q * scale`); with the format it was stored in. Adds the names
/// it read to `known`.
fn read_dequantised(
    st: &SafeTensors<'_>,
    name: &str,
    scale_name: &str,
    shape: &[usize],
    known: &mut HashSet<String>,
) -> Result<(WeightFormat, Vec<f32>), WeightsError> {
    let t = st
        .tensor(name)
        .map_err(|_| WeightsError::Missing(name.to_string()))?;
    check_shape(name, t.shape(), shape)?;
    let read = match t.dtype() {
        Dtype::F32 => (WeightFormat::F32, f32s(t.data())),
        Dtype::I8 => {
            let scales = read_f32(st, scale_name, &shape[..1])?;
            let per = shape[1..].iter().product::<usize>().max(1);
            let values = t
                .data()
                .iter()
                .enumerate()
                .map(|(i, &q)| q as i8 as f32 * scales[i / per])
                .collect();
            known.insert(scale_name.to_string());
            (WeightFormat::Int8PerChannel, values)
        }
        other => {
            return Err(WeightsError::Dtype {
                name: name.to_string(),
                expected: "F32 or I8",
                got: format!("{other:?}"),
            });
        }
    };
    known.insert(name.to_string());
    Ok(read)
}

/// The F32 tensor `name` of `shape`.
fn read_f32(st: &SafeTensors<'_>, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
    let t = st
        .tensor(name)
        .map_err(|_| WeightsError::Missing(name.to_string()))?;
    check_dtype(name, t.dtype())?;
    check_shape(name, t.shape(), shape)?;
    Ok(f32s(t.data()))
}

/// The names a checkpoint gives the parts of one transformer encoder layer (below its prefix).
pub(crate) struct EncoderLayerNames {
    /// The query, key, value and output projections (`width × width`).
    pub attention: [&'static str; 4],
    /// The MLP's linears: `width → mlp`, then `mlp → width`.
    pub mlp: [&'static str; 2],
    /// The two layer norms (over `width`).
    pub norms: [&'static str; 2],
}

/// The tensors of one transformer encoder layer at `prefix` (PyTorch layout), named by `names`.
pub(crate) fn encoder_layer_tensors(
    prefix: &str,
    names: &EncoderLayerNames,
    width: usize,
    mlp: usize,
) -> Vec<(String, Vec<usize>)> {
    let [up, down] = names.mlp;
    let linears = names
        .attention
        .iter()
        .map(|&name| (name, width, width))
        .chain([(up, mlp, width), (down, width, mlp)]);
    let mut v = Vec::new();
    for (name, out, inp) in linears {
        v.extend(linear_tensors(&format!("{prefix}.{name}"), out, inp));
    }
    for name in names.norms {
        v.extend(norm_tensors(&format!("{prefix}.{name}"), width));
    }
    v
}

/// The tensors of a linear layer `name` as PyTorch stores them: `{name}.weight` `[out, in]`
/// and `{name}.bias` `[out]`.
fn linear_tensors(name: &str, out: usize, inp: usize) -> [(String, Vec<usize>); 2] {
    [
        (format!("{name}.weight"), vec![out, inp]),
        (format!("{name}.bias"), vec![out]),
    ]
}

/// The tensors of a layer norm `name` over `width` values: `{name}.weight` and `{name}.bias`.
pub(crate) fn norm_tensors(name: &str, width: usize) -> [(String, Vec<usize>); 2] {
    [
        (format!("{name}.weight"), vec![width]),
        (format!("{name}.bias"), vec![width]),
    ]
}

/// Little-endian f32s from bytes of any alignment.
fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// One named tensor of a [`TensorSet`]: f32 values, row-major, and the shape.
#[derive(Clone, Debug)]
pub struct NamedTensor {
    /// Row-major values (dequantised if the file stored them as int8).
    pub values: Vec<f32>,
    /// The shape.
    pub shape: Vec<usize>,
}

/// Named tensors of any rank, checked against the architecture's list. A tensor `<name>` is
/// either F32, or I8 with an F32 `<name>_scale` holding one scale per row (first dimension),
/// symmetric: `q * scale`. Used by models that are not stacks of convolutions (MiniLM).
#[derive(Clone, Debug)]
pub struct TensorSet {
    /// How the file stored its quantised tensors (F32 when it has none).
    pub format: WeightFormat,
    tensors: HashMap<String, NamedTensor>,
}

impl TensorSet {
    /// Reads `bytes` and checks every tensor of `expected` (`(name, shape)`): all must be
    /// present with that shape, finite, and the file may hold nothing else.
    pub fn from_safetensors(
        bytes: &[u8],
        expected: &[(String, Vec<usize>)],
    ) -> Result<Self, WeightsError> {
        Self::from_safetensors_ignoring(bytes, expected, |_| false)
    }

    /// [`Self::from_safetensors`], where tensors for which `ignored` holds may also be in the
    /// file (e.g. buffers a model does not need) and are skipped.
    pub fn from_safetensors_ignoring(
        bytes: &[u8],
        expected: &[(String, Vec<usize>)],
        ignored: impl Fn(&str) -> bool,
    ) -> Result<Self, WeightsError> {
        let st =
            SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;
        let mut known = HashSet::new();
        let mut format = WeightFormat::F32;
        let mut tensors = HashMap::with_capacity(expected.len());
        for (name, shape) in expected {
            let sname = format!("{name}_scale");
            let (tensor_format, values) = read_dequantised(&st, name, &sname, shape, &mut known)?;
            if tensor_format == WeightFormat::Int8PerChannel {
                format = tensor_format;
            }
            if !values.iter().all(|v| v.is_finite()) {
                return Err(WeightsError::NonFinite(name.clone()));
            }
            tensors.insert(
                name.clone(),
                NamedTensor {
                    values,
                    shape: shape.clone(),
                },
            );
        }
        if let Some(extra) = st
            .names()
            .into_iter()
            .find(|n| !known.contains(*n) && !ignored(n))
        {
            return Err(WeightsError::Unexpected(extra.to_string()));
        }
        Ok(TensorSet { format, tensors })
    }

    /// Takes the tensor `name` out of the set.
    pub fn take(&mut self, name: &str) -> Result<NamedTensor, WeightsError> {
        self.tensors
            .remove(name)
            .ok_or_else(|| WeightsError::Missing(name.to_string()))
    }
}
