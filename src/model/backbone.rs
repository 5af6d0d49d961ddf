//! Which network an [`ImageEmbedder`](super::ImageEmbedder) runs: MobileNetV2 (the default:
//! small and fast) or InceptionV3. A weights file says which in its safetensors metadata
//! (`model`, and for InceptionV3 the `tap` block), as the converters write it; files without
//! a `model` entry are MobileNetV2.

use burn::prelude::*;

use super::inception::{self, InceptionV3};
use super::mobilenet::{EMBEDDING_DIM, MobileNetV2};
use super::preprocess;
use super::weights::{WeightFormat, WeightSet, WeightsError, read_metadata};

/// The image networks simil can load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Architecture {
    /// MobileNetV2 (224 px), embedding from `block_10_expand_relu`.
    MobileNetV2,
    /// InceptionV3 (299 px), embedding from one `mixed` block.
    InceptionV3,
}

impl Architecture {
    /// The name weights files and the JS API use: `"mobilenet_v2"` or `"inception_v3"`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::MobileNetV2 => "mobilenet_v2",
            Architecture::InceptionV3 => "inception_v3",
        }
    }

    /// The architecture called `name`, if simil has it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "mobilenet_v2" => Some(Architecture::MobileNetV2),
            "inception_v3" => Some(Architecture::InceptionV3),
            _ => None,
        }
    }

    /// Side of the square input image.
    pub fn input_size(self) -> usize {
        match self {
            Architecture::MobileNetV2 => preprocess::INPUT_SIZE,
            Architecture::InceptionV3 => inception::INPUT_SIZE,
        }
    }
}

/// A loaded network, up to its embedding tap.
#[derive(Debug)]
pub(crate) enum Backbone {
    MobileNetV2(Box<MobileNetV2>),
    InceptionV3(InceptionV3),
}

impl Backbone {
    /// Reads a weights file: the architecture from its metadata, then its tensors.
    pub(crate) fn load(
        bytes: &[u8],
        device: &Device,
    ) -> Result<(Self, WeightFormat), WeightsError> {
        let meta = read_metadata(bytes)?;
        let name = meta.get("model").map_or("mobilenet_v2", String::as_str);
        let arch = Architecture::from_name(name)
            .ok_or_else(|| WeightsError::Metadata(format!("unknown model `{name}`")))?;
        Ok(match arch {
            Architecture::MobileNetV2 => {
                let weights = WeightSet::from_safetensors(bytes, &MobileNetV2::expected_weights())?;
                let format = weights.format;
                let net = MobileNetV2::from_weights(weights, device)?;
                (Backbone::MobileNetV2(Box::new(net)), format)
            }
            Architecture::InceptionV3 => {
                let tap = meta.get("tap").ok_or_else(|| {
                    WeightsError::Metadata("InceptionV3 file names no `tap`".into())
                })?;
                let weights =
                    WeightSet::from_safetensors(bytes, &InceptionV3::expected_weights(tap)?)?;
                let format = weights.format;
                let net = InceptionV3::from_weights(weights, tap, device)?;
                (Backbone::InceptionV3(net), format)
            }
        })
    }

    pub(crate) fn architecture(&self) -> Architecture {
        match self {
            Backbone::MobileNetV2(_) => Architecture::MobileNetV2,
            Backbone::InceptionV3(_) => Architecture::InceptionV3,
        }
    }

    /// Width of the tap (the embedding's dimension).
    pub(crate) fn dim(&self) -> usize {
        match self {
            Backbone::MobileNetV2(_) => EMBEDDING_DIM,
            Backbone::InceptionV3(net) => net.tap_channels(),
        }
    }

    /// Input `[n, 3, s, s]` → the tap's activation `[n, dim, h, w]`.
    pub(crate) fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Backbone::MobileNetV2(net) => net.forward(x),
            Backbone::InceptionV3(net) => net.forward(x),
        }
    }
}
