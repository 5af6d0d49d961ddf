//! CPU inference of a saved metric head, without burn: dense layers (ReLU between) and an
//! L2-normalised output, read from the safetensors bytes [`MetricHead::to_safetensors`]
//! writes. Collections run it on every added item and query vector of a learned field, so it
//! stays small and fast in the shipped wasm (weights kept transposed, rows dotted with the
//! index's SIMD dot product).
//!
//! [`MetricHead::to_safetensors`]: super::MetricHead::to_safetensors

use safetensors::{Dtype, SafeTensors};

use super::TrainError;
use super::models::HeadConfig;
use crate::index::dot;

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
fn widths(config: &HeadConfig) -> Result<Vec<usize>, TrainError> {
    let bad = |why: String| Err(TrainError::Format(why));
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
pub(super) type SavedLayer = (Vec<f32>, Vec<f32>);

/// The layers of a head saved by [`MetricHead::to_safetensors`](super::MetricHead::to_safetensors):
/// its shape from the `head` metadata, and per layer the weight (`[input, output]`, row-major)
/// and the bias, each checked to be f32 of exactly that shape with finite values. Malformed or
/// hostile bytes give [`TrainError::Format`].
pub(super) fn read_saved(bytes: &[u8]) -> Result<(HeadConfig, Vec<SavedLayer>), TrainError> {
    let format = |e: String| TrainError::Format(e);
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
    let read = |name: String, shape: &[usize]| -> Result<Vec<f32>, TrainError> {
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
        .collect::<Result<Vec<_>, TrainError>>()?;
    Ok((config, layers))
}

impl DenseHead {
    /// Reads a head saved by [`MetricHead::to_safetensors`](super::MetricHead::to_safetensors)
    /// (checked as [`read_saved`] says).
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self, TrainError> {
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
    /// output stays zero), as [`MetricModel::embed`](super::MetricModel::embed) does.
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

#[cfg(test)]
mod tests {
    use burn::prelude::*;

    use super::*;
    use crate::train::models::embed_rows;

    fn saved(config: &HeadConfig, seed: u64) -> (Vec<u8>, Vec<f32>, Vec<f32>) {
        let device = Device::flex();
        let head = config.init(seed, &device).unwrap();
        let bytes = pollster::block_on(head.to_safetensors()).unwrap();
        // Inputs with negative values, so some ReLUs clip.
        let rows: Vec<f32> = (0..5 * config.input)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        let expected = pollster::block_on(embed_rows(&head, &rows, 2, &device)).unwrap();
        (bytes, rows, expected)
    }

    #[test]
    fn dense_head_matches_burn_on_flex() {
        for config in [
            HeadConfig {
                input: 12,
                hidden: vec![16],
                output: 8,
            },
            HeadConfig {
                input: 40,
                hidden: vec![],
                output: 20,
            },
            HeadConfig {
                input: 7,
                hidden: vec![33, 17],
                output: 5,
            },
        ] {
            let (bytes, rows, expected) = saved(&config, 3);
            let head = DenseHead::from_safetensors(&bytes).unwrap();
            assert_eq!(head.config(), &config);
            assert_eq!(
                (head.input_dim(), head.output_dim()),
                (config.input, config.output)
            );
            assert_eq!(head.to_safetensors(), bytes.as_slice());
            let got = head.apply_rows(&rows);
            assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                assert!((g - e).abs() < 1e-5, "{g} vs {e} for {config:?}");
            }
            let one = head.apply(&rows[..config.input]);
            assert_eq!(one, got[..config.output]);
            let norm: f32 = one.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn a_zero_output_stays_zero() {
        // One linear layer with zero weights and bias: every output is zero.
        let config = HeadConfig {
            input: 3,
            hidden: vec![],
            output: 2,
        };
        let zeros = [0u8; 4 * 6];
        let bias = [0u8; 4 * 2];
        let views = [
            (
                "layers.0.weight",
                safetensors::tensor::TensorView::new(Dtype::F32, vec![3, 2], &zeros).unwrap(),
            ),
            (
                "layers.0.bias",
                safetensors::tensor::TensorView::new(Dtype::F32, vec![2], &bias).unwrap(),
            ),
        ];
        let meta = [("head".to_string(), serde_json::to_string(&config).unwrap())].into();
        let bytes = safetensors::serialize(views, Some(meta)).unwrap();
        let head = DenseHead::from_safetensors(&bytes).unwrap();
        assert_eq!(head.apply(&[1.0, -2.0, 3.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn corrupt_or_hostile_heads_are_format_errors() {
        let config = HeadConfig {
            input: 12,
            hidden: vec![16],
            output: 8,
        };
        let (bytes, _, _) = saved(&config, 1);
        let is_format =
            |b: &[u8]| matches!(DenseHead::from_safetensors(b), Err(TrainError::Format(_)));
        for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(is_format(&bytes[..cut]), "cut at {cut}");
        }
        assert!(is_format(b"not a safetensors file at all"));
        // Metadata that disagrees with the tensors, or asks for a huge head.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = std::str::from_utf8(&bytes[8..8 + header_len]).unwrap();
        let escaped =
            |c: &HeadConfig| serde_json::to_string(&serde_json::to_string(c).unwrap()).unwrap();
        let original = escaped(&config);
        assert!(header.contains(&original), "{header}");
        for other in [
            HeadConfig {
                input: 12,
                hidden: vec![15],
                output: 8,
            },
            HeadConfig {
                input: 12,
                hidden: vec![],
                output: 8,
            },
            HeadConfig {
                input: 1 << 20,
                hidden: vec![1 << 20],
                output: 8,
            },
            HeadConfig {
                input: 12,
                hidden: vec![0],
                output: 8,
            },
        ] {
            let header = header.replace(&original, &escaped(&other));
            let mut b = (header.len() as u64).to_le_bytes().to_vec();
            b.extend_from_slice(header.as_bytes());
            b.extend_from_slice(&bytes[8 + header_len..]);
            assert!(is_format(&b), "{other:?}");
        }
        // A NaN weight.
        let mut b = bytes.clone();
        let data = 8 + header_len;
        b[data..data + 4].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(is_format(&b));
    }
}
