//! MobileNetV2 (α = 1.0, 224×224; the ImageNet-architecture backbone that npm `nsfwjs` ships)
//! up to `block_10_expand_relu`, and the image embedder built on it: GeM pooling (p = 3) over
//! that 14×14×384 activation, then L2 normalisation. 384-d vectors.
//!
//! The layers follow Keras' `MobileNetV2` names. BatchNorm is folded into each convolution by
//! the converter, so every layer is `conv (+ bias)` and, except the projections, ReLU6.
//!
//! Padding: Keras pads before each stride-2 3×3 convolution with `ZeroPadding2D(((0, 1),
//! (0, 1)))` on the 224/112/56/28 inputs and then convolves `valid`; the stride-1 ones are
//! `same`. Both are TensorFlow's `SAME` rule (total = max((ceil(n/s) - 1)·s + k - n, 0),
//! the smaller half first), which is what burn's [`PaddingConfig2d::Same`] computes, and burn
//! applies the asymmetric (0, 1) padding of the stride-2 layers exactly. tfjs is NHWC, burn
//! NCHW: the converter transposes the kernels, the preprocessing emits planes.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use image::RgbImage;
use simil_kernels::conv::{Conv3x3, conv3x3};

use super::backbone::{Architecture, Backbone};
use super::error::{ModelError, read_f32};
use super::preprocess;
use super::weights::{ConvParams, WeightFormat, WeightSet, WeightsError};

/// Width of the embedding (channels of `block_10_expand_relu`).
pub const EMBEDDING_DIM: usize = 384;
/// Exponent of the generalised-mean pooling.
pub const GEM_P: f32 = 3.0;
/// Activations are clamped to at least this before pooling (as GeM usually does).
pub const GEM_EPS: f32 = 1e-6;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Conv,
    Depthwise,
}

/// One layer of the architecture: name, kind, in/out channels, kernel, stride, ReLU6 or not.
#[derive(Clone, Debug)]
struct LayerSpec {
    name: String,
    kind: Kind,
    cin: usize,
    cout: usize,
    kernel: usize,
    stride: usize,
    relu6: bool,
}

impl LayerSpec {
    fn weight_shape(&self) -> [usize; 4] {
        let per_group = match self.kind {
            Kind::Conv => self.cin,
            Kind::Depthwise => 1,
        };
        [self.cout, per_group, self.kernel, self.kernel]
    }
}

/// (expansion t, output channels, stride) of blocks 1..=9 (Keras: block_1 .. block_9).
const BLOCKS: [(usize, usize, usize); 9] = [
    (6, 24, 2),
    (6, 24, 1),
    (6, 32, 2),
    (6, 32, 1),
    (6, 32, 1),
    (6, 64, 2),
    (6, 64, 1),
    (6, 64, 1),
    (6, 64, 1),
];

/// Every convolution up to `block_10_expand`, in order.
fn layer_specs() -> Vec<LayerSpec> {
    let spec = |name: &str, kind, cin, cout, kernel, stride, relu6| LayerSpec {
        name: name.to_string(),
        kind,
        cin,
        cout,
        kernel,
        stride,
        relu6,
    };
    let mut v = vec![
        spec("Conv1", Kind::Conv, 3, 32, 3, 2, true),
        spec(
            "expanded_conv_depthwise",
            Kind::Depthwise,
            32,
            32,
            3,
            1,
            true,
        ),
        spec("expanded_conv_project", Kind::Conv, 32, 16, 1, 1, false),
    ];
    let mut cin = 16;
    for (i, &(t, cout, stride)) in BLOCKS.iter().enumerate() {
        let b = i + 1;
        let hidden = cin * t;
        v.push(spec(
            &format!("block_{b}_expand"),
            Kind::Conv,
            cin,
            hidden,
            1,
            1,
            true,
        ));
        v.push(spec(
            &format!("block_{b}_depthwise"),
            Kind::Depthwise,
            hidden,
            hidden,
            3,
            stride,
            true,
        ));
        v.push(spec(
            &format!("block_{b}_project"),
            Kind::Conv,
            hidden,
            cout,
            1,
            1,
            false,
        ));
        cin = cout;
    }
    v.push(spec(
        "block_10_expand",
        Kind::Conv,
        cin,
        cin * 6,
        1,
        1,
        true,
    ));
    v
}

/// Convolution with folded BatchNorm, optionally followed by ReLU6.
#[derive(Module, Debug)]
struct ConvBn {
    conv: Conv2d,
    #[module(skip)]
    relu6: bool,
    /// On the CPU, the 3×3 layers (stem and depthwise) run as one fused kernel of
    /// `simil-kernels` (padding, bias and ReLU6 included) instead of burn's `conv2d`.
    #[module(skip)]
    direct: Option<Direct3x3>,
}

/// A 3×3 layer's parameters for [`simil_kernels::conv::conv3x3`].
#[derive(Clone, Debug)]
struct Direct3x3 {
    weight: Vec<f32>,
    bias: Vec<f32>,
    spec: Conv3x3,
}

impl ConvBn {
    fn new(spec: &LayerSpec, params: ConvParams, device: &Device) -> Self {
        let direct = (spec.kernel == 3 && *device == Device::flex()).then(|| Direct3x3 {
            weight: params.weight.clone(),
            bias: params.bias.clone(),
            spec: Conv3x3 {
                cin: spec.cin,
                cout: spec.cout,
                depthwise: matches!(spec.kind, Kind::Depthwise),
                stride: spec.stride,
                relu6: spec.relu6,
                relu6_input: false,
            },
        });
        let weight = Tensor::<4>::from_data(TensorData::new(params.weight, params.shape), device);
        let bias = Tensor::<1>::from_data(TensorData::new(params.bias, [spec.cout]), device);
        let conv = Conv2d {
            weight: burn::module::Param::from_tensor(weight),
            bias: Some(burn::module::Param::from_tensor(bias)),
            stride: [spec.stride; 2],
            kernel_size: [spec.kernel; 2],
            dilation: [1, 1],
            groups: match spec.kind {
                Kind::Conv => 1,
                Kind::Depthwise => spec.cin,
            },
            padding: PaddingConfig2d::Same,
        };
        ConvBn {
            conv,
            relu6: spec.relu6,
            direct,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if let Some(direct) = &self.direct {
            return direct.forward(x);
        }
        let y = self.conv.forward(x);
        // ReLU6 as two one-sided clamps, not `relu6` (`clamp(0, 6)`): flex runs the
        // two-sided clamp one element at a time with branches (a quarter of the CPU
        // profile, issue 18), each one-sided clamp as a SIMD select.
        if self.relu6 {
            y.clamp_min(0.0).clamp_max(6.0)
        } else {
            y
        }
    }
}

impl Direct3x3 {
    /// The layer on flex: the input's values are taken out of the tensor (no copy when it
    /// is the only reference), convolved image by image, and put back.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let device = x.device();
        let [n, c, h, w] = x.dims();
        let values = x
            .into_data()
            .try_into_vec::<f32>()
            .expect("flex tensors are f32");
        let mut out = Vec::new();
        let mut side = [0, 0];
        for image in values.chunks_exact(c * h * w) {
            let (y, s) = conv3x3(image, [h, w], &self.weight, &self.bias, self.spec);
            if n == 1 {
                out = y;
            } else {
                out.extend_from_slice(&y);
            }
            side = s;
        }
        let shape = [n, self.spec.cout, side[0], side[1]];
        Tensor::from_data(TensorData::new(out, shape), &device)
    }
}

/// Expand (1×1) → depthwise (3×3) → project (1×1), with a skip when shapes allow.
#[derive(Module, Debug)]
struct InvertedResidual {
    expand: Option<ConvBn>,
    depthwise: ConvBn,
    project: ConvBn,
    #[module(skip)]
    residual: bool,
}

impl InvertedResidual {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        // The input is kept only for the skip: a tensor with no other reference is
        // taken apart in place by the CPU kernels, and changed in place by burn's ops.
        let skip = self.residual.then(|| x.clone());
        let h = match &self.expand {
            Some(expand) => expand.forward(x),
            None => x,
        };
        let y = self.project.forward(self.depthwise.forward(h));
        match skip {
            Some(x) => x + y,
            None => y,
        }
    }
}

/// MobileNetV2 from the input to `block_10_expand_relu`.
#[derive(Module, Debug)]
pub struct MobileNetV2 {
    stem: ConvBn,
    blocks: Vec<InvertedResidual>,
    tap: ConvBn,
}

impl MobileNetV2 {
    /// The convolutions a weights file must hold: `(name, burn weight shape)`.
    pub fn expected_weights() -> Vec<(String, [usize; 4])> {
        layer_specs()
            .iter()
            .map(|s| (s.name.clone(), s.weight_shape()))
            .collect()
    }

    /// Builds the network from a weights file's parameters.
    pub fn from_weights(mut weights: WeightSet, device: &Device) -> Result<Self, WeightsError> {
        let specs = layer_specs();
        let mut layer = |spec: &LayerSpec| -> Result<ConvBn, WeightsError> {
            Ok(ConvBn::new(spec, weights.take(&spec.name)?, device))
        };
        let stem = layer(&specs[0])?;
        let mut blocks = vec![InvertedResidual {
            expand: None,
            depthwise: layer(&specs[1])?,
            project: layer(&specs[2])?,
            residual: false,
        }];
        for triple in specs[3..specs.len() - 1].chunks_exact(3) {
            let (expand, dw, project) = (&triple[0], &triple[1], &triple[2]);
            let (mut expand_layer, mut depthwise) = (layer(expand)?, layer(dw)?);
            // On the CPU the expansion's ReLU6 is applied as the depthwise kernel reads its
            // input, not as a pass over the largest activations of the block.
            if let Some(direct) = &mut depthwise.direct {
                direct.spec.relu6_input = expand_layer.relu6;
                expand_layer.relu6 = false;
            }
            blocks.push(InvertedResidual {
                expand: Some(expand_layer),
                depthwise,
                project: layer(project)?,
                residual: dw.stride == 1 && expand.cin == project.cout,
            });
        }
        let tap = layer(&specs[specs.len() - 1])?;
        Ok(MobileNetV2 { stem, blocks, tap })
    }

    /// `[n, 3, 224, 224]` in `[0, 1]` → `block_10_expand_relu`, `[n, 384, 14, 14]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem.forward(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        self.tap.forward(x)
    }
}

/// Generalised-mean pooling over H and W: `mean(max(x, eps)^p)^(1/p)`, `[n, c, h, w]` → `[n, c]`.
pub fn gem_pool(x: Tensor<4>, p: f32, eps: f32) -> Tensor<2> {
    let [n, c, _, _] = x.dims();
    let x = x.clamp_min(eps);
    // x³ as two products: flex computes an integer `powf_scalar` with `powf` per element.
    let powered = if p == 3.0 {
        x.clone() * x.clone() * x
    } else {
        x.powf_scalar(p)
    };
    let pooled = powered.mean_dims(&[2, 3]);
    pooled.reshape([n, c]).powf_scalar(1.0 / p)
}

/// The image embedder: a backbone to its tap (MobileNetV2 to `block_10_expand_relu`, or
/// InceptionV3 to a mixed block), GeM (p = 3), L2.
#[derive(Debug)]
pub struct ImageEmbedder {
    net: Backbone,
    device: Device,
    format: WeightFormat,
}

impl ImageEmbedder {
    /// Loads f32 or int8 safetensors weights (as written by `scripts/convert-mobilenet.mjs` or
    /// `scripts/convert-inception.mjs`; the file's metadata says which network it is).
    pub fn load(bytes: &[u8], device: &Device) -> Result<Self, ModelError> {
        let (net, format) = Backbone::load(bytes, device)?;
        Ok(ImageEmbedder {
            net,
            device: device.clone(),
            format,
        })
    }

    /// How the loaded weights were stored.
    pub fn weight_format(&self) -> WeightFormat {
        self.format
    }

    /// The device the network runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Which network the weights are for.
    pub fn architecture(&self) -> Architecture {
        self.net.architecture()
    }

    /// Side of the square input image (224 or 299).
    pub fn input_size(&self) -> usize {
        self.architecture().input_size()
    }

    /// Dimension of the embeddings.
    pub fn dim(&self) -> usize {
        self.net.dim()
    }

    /// Preprocessed input `[n, 3, s, s]` (`s` = [`Self::input_size`]) → unit embeddings
    /// `[n, dim]`, on the device.
    pub fn forward(&self, input: Tensor<4>) -> Result<Tensor<2>, ModelError> {
        let dims = input.dims();
        let size = self.input_size();
        if dims[1..] != [3, size, size] || dims[0] == 0 {
            return Err(input_shape(size, format!("{dims:?}")));
        }
        let n = dims[0];
        let step = self.images_per_pass();
        if n <= step {
            return Ok(self.pass(input));
        }
        let parts = (0..n)
            .step_by(step)
            .map(|start| self.pass(input.clone().narrow(0, start, step.min(n - start))))
            .collect();
        Ok(Tensor::cat(parts, 0))
    }

    /// Images per network pass: on the CPU one at a time, which keeps the activations in
    /// cache (flex ran about twice as many images per second that way as in batches of 32);
    /// a GPU takes the whole batch.
    fn images_per_pass(&self) -> usize {
        if self.device == Device::flex() {
            1
        } else {
            usize::MAX
        }
    }

    fn pass(&self, input: Tensor<4>) -> Tensor<2> {
        super::l2_normalize(gem_pool(self.net.forward(input), GEM_P, GEM_EPS))
    }

    /// Embeds decoded images (any size; see [`preprocess`]). Synchronous readback: native, or
    /// the CPU backend in wasm; use [`Self::embed_batch_async`] on WebGPU.
    pub fn embed_batch(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>, ModelError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.forward(self.input_tensor(images))?;
        Ok(rows(read_f32(y.try_into_data())?, self.dim()))
    }

    /// [`Self::embed_batch`] with an asynchronous readback (required for WebGPU in browsers).
    pub async fn embed_batch_async(
        &self,
        images: &[RgbImage],
    ) -> Result<Vec<Vec<f32>>, ModelError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.forward(self.input_tensor(images))?;
        Ok(rows(read_f32(y.into_data_async().await)?, self.dim()))
    }

    fn input_tensor(&self, images: &[RgbImage]) -> Tensor<4> {
        preprocess::images_to_tensor_sized(images, self.input_size(), &self.device)
    }

    /// Embeds concatenated [`preprocess::image_to_chw_sized`] inputs at [`Self::input_size`]
    /// (`n × 3 × s × s` values); returns the `n × dim` unit vectors, row-major. Asynchronous readback, so it
    /// runs on every device (WebGPU in browsers included). Preparing inputs one image at a
    /// time keeps memory bounded by the batch, whatever the photos' sizes.
    pub async fn embed_prepared_async(&self, chw: Vec<f32>) -> Result<Vec<f32>, ModelError> {
        let size = self.input_size();
        let per_image = 3 * size * size;
        if chw.is_empty() || !chw.len().is_multiple_of(per_image) {
            return Err(input_shape(size, format!("{} values", chw.len())));
        }
        let y = self.forward(preprocess::chw_to_tensor_sized(chw, size, &self.device))?;
        read_f32(y.into_data_async().await)
    }

    /// Decodes PNG/JPEG bytes and embeds them.
    pub fn embed_encoded(&self, files: &[&[u8]]) -> Result<Vec<Vec<f32>>, ModelError> {
        let images = files
            .iter()
            .map(|b| preprocess::decode_image(b))
            .collect::<Result<Vec<_>, _>>()?;
        self.embed_batch(&images)
    }
}

fn rows(values: Vec<f32>, dim: usize) -> Vec<Vec<f32>> {
    values.chunks_exact(dim).map(<[f32]>::to_vec).collect()
}

/// The image network at side `size` was given input of another shape (`got`, in words).
fn input_shape(size: usize, got: String) -> ModelError {
    ModelError::InputShape {
        model: "the image network",
        expected: format!("input [n, 3, {size}, {size}]"),
        got,
    }
}
