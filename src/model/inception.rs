//! InceptionV3 (299×299; the Keras `InceptionV3` backbone that npm `nsfwjs` ships, fine-tuned
//! on its 5-class task) up to one `mixed<k>` block, the embedding tap.
//!
//! The blocks follow Keras' `inception_v3.py`: a stem of five convolutions and two max-pools,
//! then `mixed0..2` (module A, 35×35), `mixed3` (B, reduction to 17×17), `mixed4..7` (C, 7×1
//! and 1×7 factorised convolutions), `mixed8` (D, reduction to 8×8), `mixed9..10` (E). Every
//! convolution is bias-free with a scale-free BatchNorm and ReLU in Keras; the converter
//! (`scripts/convert-inception.mjs`) folds the BatchNorm into a bias, so each layer here is
//! `conv + bias → ReLU`. Layers keep Keras' names, `conv2d_<n>`, numbered in the order Keras
//! creates them, which is the order the branches are listed in below.
//!
//! Padding: Keras' `valid` is no padding; `same` only occurs with stride 1 and odd kernels,
//! so it is symmetric (`(k - 1) / 2`). The 3×3 average pools of the branches pad `same` and,
//! as TensorFlow and tfjs do, average over the pixels inside the image only
//! (`count_include_pad = false`).

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};

use super::weights::{ConvParams, WeightSet, WeightsError};

/// Side of the square network input.
pub const INPUT_SIZE: usize = 299;

/// The mixed blocks, in order: a tap is one of these names.
pub const TAPS: [&str; 11] = [
    "mixed0", "mixed1", "mixed2", "mixed3", "mixed4", "mixed5", "mixed6", "mixed7", "mixed8",
    "mixed9", "mixed10",
];

/// Channels out of each mixed block (the embedding width when it is the tap).
pub const TAP_CHANNELS: [usize; 11] = [256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048];

/// One convolution: in/out channels, kernel `[kh, kw]`, stride, `same` (else `valid`) padding.
#[derive(Clone, Debug)]
struct ConvSpec {
    name: String,
    cin: usize,
    cout: usize,
    kernel: [usize; 2],
    stride: usize,
    same: bool,
}

/// What a branch does to the block input before its convolutions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pool {
    /// Nothing.
    None,
    /// 3×3 average, stride 1, `same` padding, padding not counted.
    Avg,
    /// 3×3 max, stride 2, `valid` (the branch has no convolution then).
    Max,
}

/// A branch: optional pool, a chain of convolutions, and optionally two parallel convolutions
/// on the chain's output whose results are concatenated (module E).
#[derive(Clone, Debug)]
struct BranchSpec {
    pool: Pool,
    chain: Vec<ConvSpec>,
    split: Vec<ConvSpec>,
}

/// Numbers the convolutions as Keras does (`conv2d_1`, `conv2d_2`, … in creation order).
struct Numbering {
    next: usize,
}

impl Numbering {
    fn conv(
        &mut self,
        cin: usize,
        cout: usize,
        kernel: [usize; 2],
        stride: usize,
        same: bool,
    ) -> ConvSpec {
        self.next += 1;
        ConvSpec {
            name: format!("conv2d_{}", self.next),
            cin,
            cout,
            kernel,
            stride,
            same,
        }
    }

    /// A stride-1 `same` convolution.
    fn same(&mut self, cin: usize, cout: usize, kernel: [usize; 2]) -> ConvSpec {
        self.conv(cin, cout, kernel, 1, true)
    }
}

fn branch(pool: Pool, chain: Vec<ConvSpec>) -> BranchSpec {
    BranchSpec {
        pool,
        chain,
        split: Vec::new(),
    }
}

/// The stem's convolutions (`conv2d_1..5`).
fn stem_specs(n: &mut Numbering) -> Vec<ConvSpec> {
    vec![
        n.conv(3, 32, [3, 3], 2, false),
        n.conv(32, 32, [3, 3], 1, false),
        n.conv(32, 64, [3, 3], 1, true),
        // max pool 3×3 / 2
        n.conv(64, 80, [1, 1], 1, false),
        n.conv(80, 192, [3, 3], 1, false),
        // max pool 3×3 / 2
    ]
}

/// The branches of mixed block `index` (0..=10), whose input has `cin` channels.
fn block_specs(n: &mut Numbering, index: usize, cin: usize) -> Vec<BranchSpec> {
    match index {
        // Module A: 1×1 | 1×1 → 5×5 | 1×1 → 3×3 → 3×3 | avg → 1×1.
        0..=2 => {
            let pool_features = if index == 0 { 32 } else { 64 };
            vec![
                branch(Pool::None, vec![n.same(cin, 64, [1, 1])]),
                branch(
                    Pool::None,
                    vec![n.same(cin, 48, [1, 1]), n.same(48, 64, [5, 5])],
                ),
                branch(
                    Pool::None,
                    vec![
                        n.same(cin, 64, [1, 1]),
                        n.same(64, 96, [3, 3]),
                        n.same(96, 96, [3, 3]),
                    ],
                ),
                branch(Pool::Avg, vec![n.same(cin, pool_features, [1, 1])]),
            ]
        }
        // Module B (reduction): 3×3/2 | 1×1 → 3×3 → 3×3/2 | max.
        3 => vec![
            branch(Pool::None, vec![n.conv(cin, 384, [3, 3], 2, false)]),
            branch(
                Pool::None,
                vec![
                    n.same(cin, 64, [1, 1]),
                    n.same(64, 96, [3, 3]),
                    n.conv(96, 96, [3, 3], 2, false),
                ],
            ),
            branch(Pool::Max, Vec::new()),
        ],
        // Module C: 1×1 | 1×1 → 1×7 → 7×1 | 1×1 → 7×1 → 1×7 → 7×1 → 1×7 | avg → 1×1.
        4..=7 => {
            let c7 = [128, 160, 160, 192][index - 4];
            vec![
                branch(Pool::None, vec![n.same(cin, 192, [1, 1])]),
                branch(
                    Pool::None,
                    vec![
                        n.same(cin, c7, [1, 1]),
                        n.same(c7, c7, [1, 7]),
                        n.same(c7, 192, [7, 1]),
                    ],
                ),
                branch(
                    Pool::None,
                    vec![
                        n.same(cin, c7, [1, 1]),
                        n.same(c7, c7, [7, 1]),
                        n.same(c7, c7, [1, 7]),
                        n.same(c7, c7, [7, 1]),
                        n.same(c7, 192, [1, 7]),
                    ],
                ),
                branch(Pool::Avg, vec![n.same(cin, 192, [1, 1])]),
            ]
        }
        // Module D (reduction): 1×1 → 3×3/2 | 1×1 → 1×7 → 7×1 → 3×3/2 | max.
        8 => vec![
            branch(
                Pool::None,
                vec![n.same(cin, 192, [1, 1]), n.conv(192, 320, [3, 3], 2, false)],
            ),
            branch(
                Pool::None,
                vec![
                    n.same(cin, 192, [1, 1]),
                    n.same(192, 192, [1, 7]),
                    n.same(192, 192, [7, 1]),
                    n.conv(192, 192, [3, 3], 2, false),
                ],
            ),
            branch(Pool::Max, Vec::new()),
        ],
        // Module E: 1×1 | 1×1 → (1×3, 3×1) | 1×1 → 3×3 → (1×3, 3×1) | avg → 1×1.
        _ => {
            let b1 = branch(Pool::None, vec![n.same(cin, 320, [1, 1])]);
            let mut b2 = branch(Pool::None, vec![n.same(cin, 384, [1, 1])]);
            b2.split = vec![n.same(384, 384, [1, 3]), n.same(384, 384, [3, 1])];
            let mut b3 = branch(
                Pool::None,
                vec![n.same(cin, 448, [1, 1]), n.same(448, 384, [3, 3])],
            );
            b3.split = vec![n.same(384, 384, [1, 3]), n.same(384, 384, [3, 1])];
            let b4 = branch(Pool::Avg, vec![n.same(cin, 192, [1, 1])]);
            vec![b1, b2, b3, b4]
        }
    }
}

/// The whole architecture up to mixed block `tap` (index into [`TAPS`]).
fn architecture(tap: usize) -> (Vec<ConvSpec>, Vec<Vec<BranchSpec>>) {
    let mut n = Numbering { next: 0 };
    let stem = stem_specs(&mut n);
    let mut cin = 192;
    let blocks = (0..=tap)
        .map(|i| {
            let block = block_specs(&mut n, i, cin);
            cin = TAP_CHANNELS[i];
            block
        })
        .collect();
    (stem, blocks)
}

/// Every convolution up to `tap`: `(name, burn weight shape)`, as the weights file must hold.
fn expected_weights(tap: usize) -> Vec<(String, [usize; 4])> {
    let (stem, blocks) = architecture(tap);
    let branch_convs = blocks
        .into_iter()
        .flatten()
        .flat_map(|b| b.chain.into_iter().chain(b.split));
    stem.into_iter()
        .chain(branch_convs)
        .map(|c| (c.name, [c.cout, c.cin, c.kernel[0], c.kernel[1]]))
        .collect()
}

/// The index of a tap name (`"mixed5"` → 5).
pub fn tap_index(name: &str) -> Option<usize> {
    TAPS.iter().position(|&t| t == name)
}

/// Convolution with folded BatchNorm, then ReLU.
#[derive(Module, Debug)]
struct ConvRelu {
    conv: Conv2d,
}

impl ConvRelu {
    fn new(spec: &ConvSpec, params: ConvParams, device: &Device) -> Self {
        let weight = Tensor::<4>::from_data(TensorData::new(params.weight, params.shape), device);
        let bias = Tensor::<1>::from_data(TensorData::new(params.bias, [spec.cout]), device);
        let [kh, kw] = spec.kernel;
        ConvRelu {
            conv: Conv2d {
                weight: burn::module::Param::from_tensor(weight),
                bias: Some(burn::module::Param::from_tensor(bias)),
                stride: [spec.stride; 2],
                kernel_size: spec.kernel,
                dilation: [1, 1],
                groups: 1,
                padding: if spec.same {
                    PaddingConfig2d::Explicit(
                        (kh - 1) / 2,
                        (kw - 1) / 2,
                        (kh - 1) / 2,
                        (kw - 1) / 2,
                    )
                } else {
                    PaddingConfig2d::Valid
                },
            },
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.conv.forward(x))
    }
}

fn max_pool_3x3_s2(x: Tensor<4>) -> Tensor<4> {
    max_pool2d(x, MaxPoolOptions::new([3, 3]).with_stride([2, 2]))
}

fn avg_pool_3x3_same(x: Tensor<4>) -> Tensor<4> {
    avg_pool2d(
        x,
        AvgPoolOptions::new([3, 3])
            .with_stride([1, 1])
            .with_padding([1, 1])
            .with_count_include_pad(false),
    )
}

/// One branch of a mixed block.
#[derive(Module, Debug)]
struct Branch {
    chain: Vec<ConvRelu>,
    split: Vec<ConvRelu>,
    #[module(skip)]
    pool: Pool,
}

impl Branch {
    /// Appends this branch's outputs (one, or two for a split) to `out`.
    fn forward(&self, x: Tensor<4>, out: &mut Vec<Tensor<4>>) {
        let mut h = match self.pool {
            Pool::None => x,
            Pool::Avg => avg_pool_3x3_same(x),
            Pool::Max => max_pool_3x3_s2(x),
        };
        for conv in &self.chain {
            h = conv.forward(h);
        }
        if self.split.is_empty() {
            out.push(h);
        } else {
            out.extend(self.split.iter().map(|conv| conv.forward(h.clone())));
        }
    }
}

/// A mixed block: its branches' outputs concatenated along the channels.
#[derive(Module, Debug)]
struct Mixed {
    branches: Vec<Branch>,
}

impl Mixed {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut parts = Vec::with_capacity(6);
        for branch in &self.branches {
            branch.forward(x.clone(), &mut parts);
        }
        Tensor::cat(parts, 1)
    }
}

/// InceptionV3 from the input to one mixed block.
#[derive(Module, Debug)]
pub struct InceptionV3 {
    stem: Vec<ConvRelu>,
    blocks: Vec<Mixed>,
}

impl InceptionV3 {
    /// The convolutions a weights file tapping `tap` must hold: `(name, burn weight shape)`.
    pub fn expected_weights(tap: &str) -> Result<Vec<(String, [usize; 4])>, WeightsError> {
        Ok(expected_weights(checked_tap(tap)?))
    }

    /// Builds the network up to `tap` (e.g. `"mixed5"`) from a weights file's parameters.
    pub fn from_weights(
        mut weights: WeightSet,
        tap: &str,
        device: &Device,
    ) -> Result<Self, WeightsError> {
        let (stem, blocks) = architecture(checked_tap(tap)?);
        let mut layer = |spec: &ConvSpec| -> Result<ConvRelu, WeightsError> {
            Ok(ConvRelu::new(spec, weights.take(&spec.name)?, device))
        };
        let stem = stem.iter().map(&mut layer).collect::<Result<_, _>>()?;
        let mut built = Vec::with_capacity(blocks.len());
        for block in blocks {
            let mut branches = Vec::with_capacity(block.len());
            for b in block {
                branches.push(Branch {
                    chain: b.chain.iter().map(&mut layer).collect::<Result<_, _>>()?,
                    split: b.split.iter().map(&mut layer).collect::<Result<_, _>>()?,
                    pool: b.pool,
                });
            }
            built.push(Mixed { branches });
        }
        Ok(InceptionV3 {
            stem,
            blocks: built,
        })
    }

    /// Channels of the tap's output.
    pub fn tap_channels(&self) -> usize {
        TAP_CHANNELS[self.blocks.len() - 1]
    }

    fn stem(&self, x: Tensor<4>) -> Tensor<4> {
        let s = &self.stem;
        let x = s[2].forward(s[1].forward(s[0].forward(x)));
        let x = s[4].forward(s[3].forward(max_pool_3x3_s2(x)));
        max_pool_3x3_s2(x)
    }

    /// `[n, 3, 299, 299]` in `[0, 1]` → the tap's activation (`mixed5`: `[n, 768, 17, 17]`).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem(x);
        for block in &self.blocks {
            x = block.forward(x);
        }
        x
    }

    /// Every mixed block's activation up to the tap, in order (for choosing a tap).
    pub fn forward_all(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = self.stem(x);
        let mut out = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            x = block.forward(x);
            out.push(x.clone());
        }
        out
    }
}

fn checked_tap(tap: &str) -> Result<usize, WeightsError> {
    tap_index(tap).ok_or_else(|| WeightsError::Metadata(format!("unknown InceptionV3 tap `{tap}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_matches_keras() {
        // Keras' last convolution of each block (from the nsfwjs topology).
        let last = [12, 19, 26, 30, 40, 50, 60, 70, 76, 85, 94];
        for (tap, &n) in last.iter().enumerate() {
            let w = expected_weights(tap);
            assert_eq!(w.len(), n, "{}", TAPS[tap]);
            assert_eq!(w.last().unwrap().0, format!("conv2d_{n}"));
        }
        // A few shapes: conv2d_8 is mixed0's 5×5, conv2d_34 mixed4's 7×1 with 192 out.
        let w = expected_weights(4);
        assert_eq!(w[7], ("conv2d_8".to_string(), [64, 48, 5, 5]));
        assert_eq!(w[33], ("conv2d_34".to_string(), [192, 128, 7, 1]));
    }

    #[test]
    fn average_pool_ignores_the_padding() {
        // As in TensorFlow: the border averages only the pixels inside the image.
        let device = Device::flex();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &device,
        );
        let y = avg_pool_3x3_same(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(y, vec![2.5; 4]);
        let x = Tensor::<4>::ones([1, 2, 5, 5], &device);
        let y = avg_pool_3x3_same(x)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert!(y.iter().all(|&v| (v - 1.0).abs() < 1e-6));
    }

    #[test]
    fn shapes_through_the_blocks() {
        let device = Device::flex();
        let conv = |s: &ConvSpec| {
            let len = s.cout * s.cin * s.kernel[0] * s.kernel[1];
            ConvRelu::new(
                s,
                ConvParams {
                    weight: vec![1e-3; len],
                    bias: vec![0.0; s.cout],
                    shape: [s.cout, s.cin, s.kernel[0], s.kernel[1]],
                },
                &device,
            )
        };
        let (stem, blocks) = architecture(3);
        let net = InceptionV3 {
            stem: stem.iter().map(conv).collect(),
            blocks: blocks
                .into_iter()
                .map(|block| Mixed {
                    branches: block
                        .into_iter()
                        .map(|b| Branch {
                            chain: b.chain.iter().map(conv).collect(),
                            split: b.split.iter().map(conv).collect(),
                            pool: b.pool,
                        })
                        .collect(),
                })
                .collect(),
        };
        let x = Tensor::<4>::ones([1, 3, INPUT_SIZE, INPUT_SIZE], &device);
        let dims: Vec<[usize; 4]> = net.forward_all(x).iter().map(|t| t.dims()).collect();
        assert_eq!(
            dims,
            vec![
                [1, 256, 35, 35],
                [1, 288, 35, 35],
                [1, 288, 35, 35],
                [1, 768, 17, 17]
            ]
        );
        assert_eq!(net.tap_channels(), 768);
    }
}
