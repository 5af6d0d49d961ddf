//! CPU inference of a saved metric head, without burn: dense layers (ReLU between) and an
//! L2-normalised output, read from the safetensors bytes the trainer (`simil::train::MetricHead`)
//! writes. Collections run it on every added item and query vector of a learned field, so it
//! stays small and fast in the shipped wasm (weights kept transposed, rows dotted with the
//! index's SIMD dot product).

use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::index::dot;

/// A saved head that could not be read: malformed or hostile bytes.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("bad saved head: {0}")]
pub struct HeadError(pub String);

/// Shape of a metric head: input width, hidden layers, output width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadConfig {
    /// Width of the frozen input embeddings.
    pub input: usize,
    /// Widths of the hidden layers (ReLU after each); empty for a single linear map.
    pub hidden: Vec<usize>,
    /// Width of the output embedding.
    pub output: usize,
}

impl HeadConfig {
    /// Layer widths, input first, after checking them against the caps.
    pub fn widths(&self) -> Result<Vec<usize>, HeadError> {
        widths(self)
    }
}

/// Most parameters (weights and biases, f32) a saved head may hold: 64 M, 256 MB.
pub const MAX_HEAD_PARAMS: usize = 64 << 20;
/// Most hidden layers a saved head may have.
pub const MAX_HEAD_HIDDEN: usize = 64;

/// One dense layer, weights transposed so each output is a dot product of contiguous rows.
#[derive(Debug, Clone)]
struct Dense {
    input: usize,
    /// `[output][input]`, row-major.
    weight: Vec<f32>,
    /// `[output]`.
    bias: Vec<f32>,
}

impl Dense {
    /// `W·x + b`, then ReLU when `relu`.
    fn forward(&self, x: &[f32], relu: bool, out: &mut Vec<f32>) {
        out.clear();
        out.extend(
            self.weight
                .chunks_exact(self.input)
                .zip(&self.bias)
                .map(|(w, b)| {
                    let y = dot(w, x) + b;
                    if relu { y.max(0.0) } else { y }
                }),
        );
    }
}

/// A trained metric head, evaluated on the CPU in plain Rust.
#[derive(Debug, Clone)]
pub struct DenseHead {
    config: HeadConfig,
    layers: Vec<Dense>,
    bytes: Vec<u8>,
}

/// Layer widths of `config`, input first, after checking them against the caps.
fn widths(config: &HeadConfig) -> Result<Vec<usize>, HeadError> {
    let bad = |why: String| Err(HeadError(why));
    if config.input == 0 || config.output == 0 || config.hidden.contains(&0) {
        return bad(format!("head layer widths must be positive: {config:?}"));
    }
    if config.hidden.len() > MAX_HEAD_HIDDEN {
        return bad(format!(
            "a head may have at most {MAX_HEAD_HIDDEN} hidden layers, got {}",
            config.hidden.len()
        ));
    }
    let widths: Vec<usize> = std::iter::once(config.input)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(config.output))
        .collect();
    let params = widths.windows(2).try_fold(0usize, |sum, w| {
        w[0].checked_mul(w[1])?.checked_add(w[1])?.checked_add(sum)
    });
    match params {
        Some(n) if n <= MAX_HEAD_PARAMS => Ok(widths),
        _ => bad(format!(
            "a head may have at most {MAX_HEAD_PARAMS} parameters: {config:?}"
        )),
    }
}

/// One saved dense layer: its weight (`[input, output]`, row-major) and its bias.
pub type SavedLayer = (Vec<f32>, Vec<f32>);

/// The layers of a saved head: its shape from the `head` metadata, and per layer the weight
/// (`[input, output]`, row-major) and the bias, each checked to be f32 of exactly that shape
/// with finite values. Malformed or hostile bytes give a [`HeadError`].
pub fn read_saved(bytes: &[u8]) -> Result<(HeadConfig, Vec<SavedLayer>), HeadError> {
    let format = HeadError;
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format(e.to_string()))?;
    let config: HeadConfig = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("head"))
        .ok_or_else(|| format("no `head` metadata".into()))
        .and_then(|c| serde_json::from_str(c).map_err(|e| format(format!("`head`: {e}"))))?;
    let widths = widths(&config)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| format(e.to_string()))?;
    let layers = widths.len() - 1;
    if file.len() != 2 * layers {
        return Err(format(format!(
            "expected {} tensors for {layers} layers, got {}",
            2 * layers,
            file.len()
        )));
    }
    let read = |name: String, shape: &[usize]| -> Result<Vec<f32>, HeadError> {
        let view = file
            .tensor(&name)
            .map_err(|e| format(format!("{name}: {e}")))?;
        if view.dtype() != Dtype::F32 || view.shape() != shape {
            return Err(format(format!(
                "{name}: expected f32 {shape:?}, got {:?} {:?}",
                view.dtype(),
                view.shape()
            )));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.len() != shape.iter().product::<usize>() {
            return Err(format(format!("{name}: wrong data length")));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(format(format!("{name}: non-finite value")));
        }
        Ok(values)
    };
    let layers = widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| {
            let weight = read(format!("layers.{i}.weight"), &[w[0], w[1]])?;
            Ok((weight, read(format!("layers.{i}.bias"), &[w[1]])?))
        })
        .collect::<Result<Vec<_>, HeadError>>()?;
    Ok((config, layers))
}

impl DenseHead {
    /// Reads a saved head (checked as [`read_saved`] says).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, HeadError> {
        let (config, saved) = read_saved(bytes)?;
        let layers = saved
            .into_iter()
            .map(|(stored, bias)| {
                let (input, output) = (stored.len() / bias.len(), bias.len());
                // [in, out] → [out, in].
                let mut weight = vec![0.0; input * output];
                for (r, row) in stored.chunks_exact(output).enumerate() {
                    for (c, &v) in row.iter().enumerate() {
                        weight[c * input + r] = v;
                    }
                }
                Dense {
                    input,
                    weight,
                    bias,
                }
            })
            .collect();
        Ok(DenseHead {
            config,
            layers,
            bytes: bytes.to_vec(),
        })
    }

    /// The safetensors bytes this head was read from.
    pub fn to_safetensors(&self) -> &[u8] {
        &self.bytes
    }

    /// Width of an input row.
    pub fn input_dim(&self) -> usize {
        self.config.input
    }

    /// Width of an output embedding.
    pub fn output_dim(&self) -> usize {
        self.config.output
    }

    /// The shape of this head.
    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    /// Embeds one row of [`input_dim`](Self::input_dim) values into a unit vector (a zero
    /// output stays zero), as the trainer's model does.
    ///
    /// # Panics
    /// If `row` does not have `input_dim` values.
    pub fn apply(&self, row: &[f32]) -> Vec<f32> {
        assert_eq!(row.len(), self.input_dim(), "head input width");
        let (mut x, mut y) = (row.to_vec(), Vec::new());
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            layer.forward(&x, i < last, &mut y);
            std::mem::swap(&mut x, &mut y);
        }
        // As burn's `l2_normalize`: x / sqrt(Σx² + 1e-12).
        let norm = (dot(&x, &x) + 1e-12).sqrt();
        x.iter_mut().for_each(|v| *v /= norm);
        x
    }

    /// Embeds row-major rows of [`input_dim`](Self::input_dim) values each; returns
    /// row-major [`output_dim`](Self::output_dim)-wide unit vectors.
    ///
    /// # Panics
    /// If `rows.len()` is not a multiple of `input_dim`.
    pub fn apply_rows(&self, rows: &[f32]) -> Vec<f32> {
        let dim = self.input_dim();
        assert!(rows.len().is_multiple_of(dim), "head input width");
        let mut out = Vec::with_capacity(rows.len() / dim * self.output_dim());
        for row in rows.chunks_exact(dim) {
            out.extend(self.apply(row));
        }
        out
    }
}

/// Writes a head as the trainer saves it: per layer `layers.{i}.weight` (`[input, output]`,
/// row-major) and `layers.{i}.bias`, f32, with `config` as JSON in the metadata under `head`.
pub fn write_saved(config: &HeadConfig, layers: &[SavedLayer]) -> Result<Vec<u8>, HeadError> {
    let format = |e: safetensors::SafeTensorError| HeadError(e.to_string());
    let widths = widths(config)?;
    if layers.len() + 1 != widths.len() {
        return Err(HeadError(format!(
            "{} layers for a head of {} layers",
            layers.len(),
            widths.len() - 1
        )));
    }
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = layers
        .iter()
        .zip(widths.windows(2))
        .enumerate()
        .flat_map(|(i, ((weight, bias), w))| {
            let le = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            [
                (format!("layers.{i}.weight"), vec![w[0], w[1]], le(weight)),
                (format!("layers.{i}.bias"), vec![w[1]], le(bias)),
            ]
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, data)| {
            safetensors::tensor::TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.as_str(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(format)?;
    let config = serde_json::to_string(config).map_err(|e| HeadError(e.to_string()))?;
    safetensors::serialize(views, Some([("head".to_string(), config)].into())).map_err(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_output_stays_zero_and_writing_round_trips() {
        // One linear layer with zero weights and bias: every output is zero.
        let config = HeadConfig {
            input: 3,
            hidden: vec![],
            output: 2,
        };
        let bytes = write_saved(&config, &[(vec![0.0; 6], vec![0.0; 2])]).unwrap();
        let head = DenseHead::from_safetensors(&bytes).unwrap();
        assert_eq!(head.config(), &config);
        assert_eq!(head.apply(&[1.0, -2.0, 3.0]), vec![0.0, 0.0]);
        let (read, layers) = read_saved(&bytes).unwrap();
        assert_eq!(
            (read, layers),
            (config.clone(), vec![(vec![0.0; 6], vec![0.0; 2])])
        );
        // A layer list that does not fit the shape is refused.
        assert!(write_saved(&config, &[]).is_err());
    }
}
