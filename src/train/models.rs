//! The trainable metric models: a head over frozen embeddings (dense layers → L2-normed
//! output) and a small CNN over 28×28 grey pixels ending in a metric-embedding layer.
//! Weights are drawn from a seeded generator, so the same seed gives the same model on any
//! device and in any thread.

use burn::module::Param;
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::TrainError;
use super::loss::l2_normalize;

/// A model whose output rows are L2-normalised metric embeddings.
pub trait MetricModel: Module + Clone {
    /// Width of an input row.
    fn input_dim(&self) -> usize;
    /// Width of an output embedding.
    fn output_dim(&self) -> usize;
    /// Embeds `[n, input_dim]` rows into `[n, output_dim]` unit vectors.
    fn embed(&self, input: Tensor<2>) -> Tensor<2>;
    /// A residual model with its learned part weighted by `alpha` next to its input (see
    /// [`MetricHead::shrunk`]); `None` for a model that is not residual.
    fn shrunk(&self, alpha: f32) -> Option<Self> {
        let _ = alpha;
        None
    }
}

/// Uniform `U(-k, k)` values with `k = sqrt(6 / fan_in)` (Kaiming-uniform for ReLU).
fn kaiming(rng: &mut ChaCha8Rng, count: usize, fan_in: usize) -> Vec<f32> {
    let k = (6.0 / fan_in as f32).sqrt();
    (0..count).map(|_| rng.gen_range(-k..k)).collect()
}

fn linear(rng: &mut ChaCha8Rng, input: usize, output: usize, device: &Device) -> Linear {
    let w = kaiming(rng, input * output, input);
    Linear {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [input, output]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::zeros([output], device))),
    }
}

fn conv(
    rng: &mut ChaCha8Rng,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    device: &Device,
) -> Conv2d {
    let fan_in = cin * kernel * kernel;
    let w = kaiming(rng, cout * fan_in, fan_in);
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(w, [cout, cin, kernel, kernel]),
            device,
        )),
        bias: Some(Param::from_tensor(Tensor::zeros([cout], device))),
        stride: [stride; 2],
        kernel_size: [kernel; 2],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Same,
    }
}

pub use simil_search::head::HeadConfig;

/// Builds a [`MetricHead`] of a [`HeadConfig`]'s shape (the config lives in the search core,
/// which has no burn; this trait gives it its trainable model).
pub trait HeadInit {
    /// Builds the head with weights drawn from `seed`.
    fn init(&self, seed: u64, device: &Device) -> Result<MetricHead, TrainError>;
}

impl HeadInit for HeadConfig {
    fn init(&self, seed: u64, device: &Device) -> Result<MetricHead, TrainError> {
        if self.input == 0 || self.output == 0 || self.hidden.contains(&0) {
            return Err(TrainError::Config(format!(
                "head layer widths must be positive: {self:?}"
            )));
        }
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let widths: Vec<usize> = std::iter::once(self.input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.output))
            .collect();
        let layers = widths
            .windows(2)
            .map(|w| linear(&mut rng, w[0], w[1], device))
            .collect();
        Ok(MetricHead { layers, skip: 0.0 })
    }
}

/// Dense layers (ReLU between) ending in an L2-normalised embedding; a residual head
/// ([`MetricHead::residual`]) adds `skip ×` its input before normalising.
#[derive(Module, Debug)]
pub struct MetricHead {
    layers: Vec<Linear>,
    skip: f32,
}

impl MetricModel for MetricHead {
    fn input_dim(&self) -> usize {
        self.layers[0].weight.dims()[0]
    }

    fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.dims()[1]
    }

    fn embed(&self, input: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let skip = (self.skip > 0.0).then(|| input.clone().mul_scalar(self.skip));
        let mut x = input;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = relu(x);
            }
        }
        l2_normalize(match skip {
            Some(s) => x + s,
            None => x,
        })
    }

    fn shrunk(&self, alpha: f32) -> Option<Self> {
        (self.skip > 0.0).then(|| MetricHead::shrunk(self, alpha))
    }
}

impl MetricHead {
    /// A residual head `normalize(skip · x + f(x))` of `input`-wide rows, `f` dense layers of
    /// `hidden` widths back to `input`: the last layer starts at zero, so the untrained head
    /// ranks exactly as its source does (weight decay then pulls `f` back toward zero).
    /// `skip` scales the input to the size `f` works at (1 / the rows' typical norm).
    pub fn residual(
        input: usize,
        hidden: &[usize],
        skip: f32,
        seed: u64,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if !(skip.is_finite() && skip > 0.0) {
            return Err(TrainError::Config(format!("residual skip scale {skip}")));
        }
        let config = HeadConfig {
            input,
            hidden: hidden.to_vec(),
            output: input,
        };
        let mut head = config.init(seed, device)?;
        let last = head.layers.len() - 1;
        let [i, o] = head.layers[last].weight.dims();
        head.layers[last].weight = Param::from_tensor(Tensor::zeros([i, o], device));
        head.skip = skip;
        Ok(head)
    }

    /// This residual head with `f` weighted by `alpha` next to the input:
    /// `normalize(skip · x + alpha · f(x))`, i.e. the skip scaled by `1 / alpha` (a plain head
    /// is returned as it is).
    pub fn shrunk(&self, alpha: f32) -> Self {
        let mut head = self.clone();
        if head.skip > 0.0 && alpha > 0.0 {
            head.skip /= alpha;
        }
        head
    }

    /// The shape of this head as it is saved (a residual head is saved as the plain dense head
    /// that computes the same thing: see [`MetricHead::to_safetensors`]).
    pub fn config(&self) -> HeadConfig {
        let mut config = self.layer_config();
        if self.skip > 0.0 && !config.hidden.is_empty() {
            config
                .hidden
                .iter_mut()
                .for_each(|h| *h += 2 * config.input);
        }
        config
    }

    fn layer_config(&self) -> HeadConfig {
        let widths: Vec<usize> = self.layers.iter().map(|l| l.weight.dims()[1]).collect();
        HeadConfig {
            input: self.input_dim(),
            hidden: widths[..widths.len() - 1].to_vec(),
            output: self.output_dim(),
        }
    }

    /// The head as a safetensors file (`layers.{i}.weight` `[in, out]`, `layers.{i}.bias`,
    /// f32), its [`HeadConfig`] as JSON in the metadata under `head`. Asynchronous, so it can
    /// read the weights back from WebGPU. A residual head is written as a plain one: each
    /// hidden layer also carries `relu(x)` and `relu(-x)` (2 × input more units), which the
    /// last layer adds back as `skip · (relu(x) − relu(−x)) = skip · x`.
    pub async fn to_safetensors(&self) -> Result<Vec<u8>, TrainError> {
        fn readback(e: impl std::fmt::Debug) -> TrainError {
            TrainError::Readback(format!("{e:?}"))
        }
        let values = |d: TensorData| d.convert::<f32>().try_into_vec::<f32>().map_err(readback);
        let mut layers = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let weight = layer.weight.val().into_data_async().await;
            let bias = match &layer.bias {
                Some(b) => b.val().into_data_async().await.map_err(readback)?,
                None => TensorData::zeros::<f32, _>([layer.weight.dims()[1]]),
            };
            layers.push((values(weight.map_err(readback)?)?, values(bias)?));
        }
        if self.skip > 0.0 {
            layers = expand_residual(&self.layer_config(), layers, self.skip);
        }
        Ok(simil_search::head::write_saved(&self.config(), &layers)?)
    }

    /// Reads a head that [`MetricHead::to_safetensors`] wrote; checks every tensor's shape
    /// (and the rest [`DenseHead::from_safetensors`](super::DenseHead::from_safetensors)
    /// checks).
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self, TrainError> {
        let (config, saved) = simil_search::head::read_saved(bytes)?;
        let mut head = config.init(0, device)?;
        for (layer, (w, b)) in head.layers.iter_mut().zip(saved) {
            let [input, output] = layer.weight.dims();
            layer.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(w, [input, output]),
                device,
            ));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(b, [output]),
                device,
            )));
        }
        Ok(head)
    }
}

/// The plain dense layers (`[in, out]` weights, biases) that compute residual layers
/// `layers` of shape `config` with `skip`: see [`MetricHead::to_safetensors`].
fn expand_residual(
    config: &HeadConfig,
    layers: Vec<(Vec<f32>, Vec<f32>)>,
    skip: f32,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let d = config.input;
    let count = layers.len();
    if count == 1 {
        let (mut w, b) = layers.into_iter().next().expect("one layer");
        (0..d).for_each(|i| w[i * d + i] += skip);
        return vec![(w, b)];
    }
    let widths: Vec<usize> = std::iter::once(d)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(d))
        .collect();
    let mut out = Vec::with_capacity(count);
    for (k, (w, b)) in layers.into_iter().enumerate() {
        let (input, output) = (widths[k], widths[k + 1]);
        let first = k == 0;
        let last = k + 1 == count;
        // Carried units: none into the first layer, 2d into the others; 2d out of all but the last.
        let cin = input + if first { 0 } else { 2 * d };
        let cout = output + if last { 0 } else { 2 * d };
        let mut wide = vec![0.0f32; cin * cout];
        for i in 0..input {
            wide[i * cout..i * cout + output].copy_from_slice(&w[i * output..(i + 1) * output]);
        }
        for j in 0..d {
            if first {
                wide[j * cout + output + j] = 1.0;
                wide[j * cout + output + d + j] = -1.0;
            } else if last {
                wide[(input + j) * cout + j] = skip;
                wide[(input + d + j) * cout + j] = -skip;
            } else {
                wide[(input + j) * cout + output + j] = 1.0;
                wide[(input + d + j) * cout + output + d + j] = 1.0;
            }
        }
        let mut bias = b;
        bias.resize(cout, 0.0);
        out.push((wide, bias));
    }
    out
}

/// Side of the square grey images a [`SmallCnn`] takes.
pub const CNN_SIDE: usize = 28;

/// A small CNN over 28×28 grey images (rows of 784 pixels in [0, 1]): two strided 3×3
/// convolutions (16 and 32 channels, ReLU), a dense layer of `hidden` units (ReLU) and a
/// linear metric-embedding layer, L2-normalised.
#[derive(Module, Debug)]
pub struct SmallCnn {
    conv1: Conv2d,
    conv2: Conv2d,
    dense: Linear,
    embedding: Linear,
}

impl SmallCnn {
    /// A CNN with `hidden` dense units and `output`-d embeddings, weights drawn from `seed`.
    pub fn new(hidden: usize, output: usize, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        SmallCnn {
            conv1: conv(&mut rng, 1, 16, 3, 2, device),
            conv2: conv(&mut rng, 16, 32, 3, 2, device),
            dense: linear(&mut rng, 32 * 7 * 7, hidden, device),
            embedding: linear(&mut rng, hidden, output, device),
        }
    }
}

impl MetricModel for SmallCnn {
    fn input_dim(&self) -> usize {
        CNN_SIDE * CNN_SIDE
    }

    fn output_dim(&self) -> usize {
        self.embedding.weight.dims()[1]
    }

    fn embed(&self, input: Tensor<2>) -> Tensor<2> {
        let [n, _] = input.dims();
        let x = input.reshape([n, 1, CNN_SIDE, CNN_SIDE]);
        let x = relu(self.conv1.forward(x));
        let x = relu(self.conv2.forward(x));
        let x = relu(self.dense.forward(x.reshape([n, 32 * 7 * 7])));
        l2_normalize(self.embedding.forward(x))
    }
}

/// Embeds host rows (`input_dim` floats each) through `model` in chunks of `chunk` rows,
/// returning row-major `f32`s; asynchronous so it can read back from WebGPU.
pub async fn embed_rows<M: MetricModel>(
    model: &M,
    rows: &[f32],
    chunk: usize,
    device: &Device,
) -> Result<Vec<f32>, TrainError> {
    let dim = model.input_dim();
    if dim == 0 || !rows.len().is_multiple_of(dim) {
        return Err(TrainError::InputShape {
            expected: dim,
            got: rows.len(),
        });
    }
    let mut out = Vec::with_capacity(rows.len() / dim * model.output_dim());
    for part in rows.chunks(chunk.max(1) * dim) {
        let x = Tensor::<2>::from_data(
            TensorData::new(part.to_vec(), [part.len() / dim, dim]),
            device,
        );
        let data = model
            .embed(x)
            .into_data_async()
            .await
            .map_err(|e| TrainError::Readback(format!("{e:?}")))?;
        out.extend(
            data.convert::<f32>()
                .try_into_vec::<f32>()
                .map_err(|e| TrainError::Readback(format!("{e:?}")))?,
        );
    }
    Ok(out)
}
