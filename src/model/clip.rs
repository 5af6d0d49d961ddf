//! CLIP (Radford et al. 2021) in burn, loaded from a Hugging Face `CLIPModel` checkpoint the
//! user brings: `model.safetensors` (f32; the tensors under `transformers`' names), its
//! `config.json`, and the tokeniser's `vocab.json` and `merges.txt`. Images and texts land in
//! one joint space: both towers end in a projection to the same width, L2-normalised.
//!
//! * Vision tower (ViT): `patch × patch` convolution with stride `patch` (no bias), class
//!   embedding, position embedding, `pre_layrnorm`, pre-LN encoder layers, `post_layernorm`
//!   on the class token, `visual_projection`.
//! * Text tower: token + position embeddings, pre-LN encoder layers under a causal mask,
//!   `final_layer_norm`, the hidden state at the first `<|endoftext|>` (what `transformers`
//!   pools for a config whose `eos_token_id` is the tokeniser's; for the legacy
//!   `eos_token_id: 2` it pools at the highest id, the same token in every CLIP vocabulary, as
//!   `<|endoftext|>` is last), `text_projection`.
//!
//! Widths, layer counts, vocabulary, context length, image and patch size and projection
//! width are read from the tensors' shapes; heads, activation (`quick_gelu` or `gelu`) and
//! LayerNorm epsilon from `config.json` (CLIP's defaults where it leaves them out).
//!
//! Images: [`image_to_clip_chw`] crops the centred square, resizes it to the model's size
//! (bilinear; `CLIPImageProcessor` resizes bicubically, so images not already at the model's
//! size differ slightly from `transformers`' inputs) and normalises with CLIP's mean and std.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::{LayerNorm, Linear};
use burn::prelude::*;
use burn::tensor::activation::gelu;
use burn::tensor::module::embedding;
use image::RgbImage;
use safetensors::SafeTensors;

use super::clip_tokenizer::{CLIP_MAX_TOKENS, ClipTokenizer};
use super::error::{ModelError, read_f32};
use super::minilm::{Builder, attention};
use super::preprocess::{hwc_to_chw, resize_bilinear_hwc};
use super::weights::{
    EncoderLayerNames, TensorSet, WeightFormat, WeightsError, encoder_layer_tensors, norm_tensors,
};

/// CLIP's per-channel image mean (RGB, after scaling to `[0, 1]`).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's per-channel image standard deviation.
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_6, 0.275_777_1];

/// The activation of the encoders' MLPs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    QuickGelu,
    Gelu,
}

/// What `config.json` says about one tower.
#[derive(Clone, Copy, Debug)]
struct TowerConfig {
    heads: usize,
    act: Act,
    eps: f64,
}

fn tower_config(
    json: &serde_json::Value,
    key: &str,
    default_heads: usize,
) -> Result<TowerConfig, ModelError> {
    let c = &json[key];
    let bad = |field: &str| ModelError::Config(format!("`{key}.{field}` is not valid"));
    let heads = match &c["num_attention_heads"] {
        serde_json::Value::Null => default_heads,
        v => v
            .as_u64()
            .filter(|&h| h > 0)
            .ok_or_else(|| bad("num_attention_heads"))? as usize,
    };
    let act = match c["hidden_act"].as_str().unwrap_or("quick_gelu") {
        "quick_gelu" => Act::QuickGelu,
        "gelu" => Act::Gelu,
        other => {
            return Err(ModelError::Config(format!(
                "`{key}.hidden_act` `{other}`: simil runs `quick_gelu` and `gelu`"
            )));
        }
    };
    let eps = match &c["layer_norm_eps"] {
        serde_json::Value::Null => 1e-5,
        v => v
            .as_f64()
            .filter(|&e| e > 0.0)
            .ok_or_else(|| bad("layer_norm_eps"))?,
    };
    Ok(TowerConfig { heads, act, eps })
}

/// One pre-LN transformer layer: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
#[derive(Debug)]
struct Layer {
    ln1: LayerNorm,
    q: Linear,
    k: Linear,
    v: Linear,
    out: Linear,
    ln2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

/// A stack of [`Layer`]s with its head count and activation.
#[derive(Debug)]
struct Encoder {
    layers: Vec<Layer>,
    config: TowerConfig,
}

impl Encoder {
    fn load(
        b: &mut Builder,
        prefix: &str,
        n: usize,
        config: TowerConfig,
    ) -> Result<Self, WeightsError> {
        let eps = config.eps;
        let layers = (0..n)
            .map(|l| {
                let p = format!("{prefix}.encoder.layers.{l}");
                Ok(Layer {
                    ln1: b.layer_norm(&format!("{p}.layer_norm1"), eps)?,
                    q: b.linear(&format!("{p}.self_attn.q_proj"))?,
                    k: b.linear(&format!("{p}.self_attn.k_proj"))?,
                    v: b.linear(&format!("{p}.self_attn.v_proj"))?,
                    out: b.linear(&format!("{p}.self_attn.out_proj"))?,
                    ln2: b.layer_norm(&format!("{p}.layer_norm2"), eps)?,
                    fc1: b.linear(&format!("{p}.mlp.fc1"))?,
                    fc2: b.linear(&format!("{p}.mlp.fc2"))?,
                })
            })
            .collect::<Result<_, WeightsError>>()?;
        Ok(Encoder { layers, config })
    }

    fn forward(&self, mut x: Tensor<3>, mask: Option<Tensor<4>>) -> Tensor<3> {
        for l in &self.layers {
            let h = l.ln1.forward(x.clone());
            let a = attention(
                l.q.forward(h.clone()),
                l.k.forward(h.clone()),
                l.v.forward(h),
                self.config.heads,
                mask.clone(),
            );
            x = x + l.out.forward(a);
            let h = l.fc1.forward(l.ln2.forward(x.clone()));
            let h = match self.config.act {
                // x · sigmoid(1.702 x), as x / (1 + e^(-1.702 x)) (ops the wasm has already).
                Act::QuickGelu => h.clone() / h.mul_scalar(-1.702).exp().add_scalar(1.0),
                Act::Gelu => gelu(h),
            };
            x = x + l.fc2.forward(h);
        }
        x
    }
}

/// Sizes read from the tensors' shapes.
#[derive(Clone, Copy, Debug)]
struct Shapes {
    vocab: usize,
    context: usize,
    text_width: usize,
    text_mlp: usize,
    text_layers: usize,
    vision_width: usize,
    vision_mlp: usize,
    vision_layers: usize,
    patch: usize,
    positions: usize,
    projection: usize,
}

impl Shapes {
    fn read(st: &SafeTensors) -> Result<Self, ModelError> {
        let shape = |name: &str, rank: usize| -> Result<Vec<usize>, ModelError> {
            let t = st
                .tensor(name)
                .map_err(|_| WeightsError::Missing(name.to_string()))?;
            if t.shape().len() != rank {
                return Err(ModelError::Architecture(format!(
                    "`{name}` has shape {:?}, expected rank {rank}",
                    t.shape()
                )));
            }
            Ok(t.shape().to_vec())
        };
        let layers = |prefix: &str| {
            (0..)
                .take_while(|l| {
                    st.tensor(&format!("{prefix}.encoder.layers.{l}.layer_norm1.weight"))
                        .is_ok()
                })
                .count()
        };
        let token = shape("text_model.embeddings.token_embedding.weight", 2)?;
        let patch = shape("vision_model.embeddings.patch_embedding.weight", 4)?;
        Ok(Shapes {
            vocab: token[0],
            context: shape("text_model.embeddings.position_embedding.weight", 2)?[0],
            text_width: token[1],
            text_mlp: shape("text_model.encoder.layers.0.mlp.fc1.weight", 2)?[0],
            text_layers: layers("text_model"),
            vision_width: patch[0],
            vision_mlp: shape("vision_model.encoder.layers.0.mlp.fc1.weight", 2)?[0],
            vision_layers: layers("vision_model"),
            patch: patch[2],
            positions: shape("vision_model.embeddings.position_embedding.weight", 2)?[0],
            projection: shape("text_projection.weight", 2)?[0],
        })
    }

    /// The image side: `positions = (side / patch)² + 1`.
    fn image_size(&self) -> Result<usize, ModelError> {
        let grid = (self.positions.saturating_sub(1) as f64).sqrt().round() as usize;
        if grid == 0 || grid * grid + 1 != self.positions {
            return Err(ModelError::Architecture(format!(
                "{} vision positions are not a square grid plus the class token",
                self.positions
            )));
        }
        Ok(grid * self.patch)
    }

    /// Every tensor the file must hold, with its shape (PyTorch layout).
    fn expected(&self) -> Vec<(String, Vec<usize>)> {
        let mut v: Vec<(String, Vec<usize>)> = vec![
            (
                "text_model.embeddings.token_embedding.weight".into(),
                vec![self.vocab, self.text_width],
            ),
            (
                "text_model.embeddings.position_embedding.weight".into(),
                vec![self.context, self.text_width],
            ),
            (
                "vision_model.embeddings.class_embedding".into(),
                vec![self.vision_width],
            ),
            (
                "vision_model.embeddings.patch_embedding.weight".into(),
                vec![self.vision_width, 3, self.patch, self.patch],
            ),
            (
                "vision_model.embeddings.position_embedding.weight".into(),
                vec![self.positions, self.vision_width],
            ),
            (
                "text_projection.weight".into(),
                vec![self.projection, self.text_width],
            ),
            (
                "visual_projection.weight".into(),
                vec![self.projection, self.vision_width],
            ),
        ];
        v.extend(norm_tensors("text_model.final_layer_norm", self.text_width));
        v.extend(norm_tensors("vision_model.pre_layrnorm", self.vision_width));
        v.extend(norm_tensors(
            "vision_model.post_layernorm",
            self.vision_width,
        ));
        let names = EncoderLayerNames {
            attention: [
                "self_attn.q_proj",
                "self_attn.k_proj",
                "self_attn.v_proj",
                "self_attn.out_proj",
            ],
            mlp: ["mlp.fc1", "mlp.fc2"],
            norms: ["layer_norm1", "layer_norm2"],
        };
        for (prefix, n, w, mlp) in [
            (
                "text_model",
                self.text_layers,
                self.text_width,
                self.text_mlp,
            ),
            (
                "vision_model",
                self.vision_layers,
                self.vision_width,
                self.vision_mlp,
            ),
        ] {
            for l in 0..n {
                let prefix = format!("{prefix}.encoder.layers.{l}");
                v.extend(encoder_layer_tensors(&prefix, &names, w, mlp));
            }
        }
        v
    }
}

/// Tensors a `CLIPModel` file may hold that inference does not use.
fn unused(name: &str) -> bool {
    name == "logit_scale" || name.ends_with(".position_ids")
}

/// A loaded CLIP model: tokeniser, text tower, vision tower, on one device.
#[derive(Debug)]
pub struct Clip {
    tokenizer: ClipTokenizer,
    token_embedding: Tensor<2>,
    text_positions: Tensor<2>,
    text: Encoder,
    final_norm: LayerNorm,
    text_projection: Linear,
    patch_embedding: Conv2d,
    class_embedding: Tensor<1>,
    vision_positions: Tensor<2>,
    pre_norm: LayerNorm,
    vision: Encoder,
    post_norm: LayerNorm,
    visual_projection: Linear,
    image_size: usize,
    dim: usize,
    format: WeightFormat,
    device: Device,
}

impl Clip {
    /// Loads a Hugging Face `CLIPModel` checkpoint from its files' bytes: `model.safetensors`,
    /// `config.json`, `vocab.json` and `merges.txt`.
    pub fn load(
        weights: &[u8],
        config_json: &[u8],
        vocab_json: &[u8],
        merges_txt: &[u8],
        device: &Device,
    ) -> Result<Self, ModelError> {
        let config: serde_json::Value =
            serde_json::from_slice(config_json).map_err(|e| ModelError::Config(e.to_string()))?;
        if !config.is_object() {
            return Err(ModelError::Config("not a JSON object".into()));
        }
        let text_config = tower_config(&config, "text_config", 8)?;
        let vision_config = tower_config(&config, "vision_config", 12)?;
        let tokenizer = ClipTokenizer::from_files(vocab_json, merges_txt)?;

        let st =
            SafeTensors::deserialize(weights).map_err(|e| WeightsError::Format(e.to_string()))?;
        let shapes = Shapes::read(&st)?;
        drop(st);
        let image_size = shapes.image_size()?;
        for (tower, width, heads) in [
            ("text", shapes.text_width, text_config.heads),
            ("vision", shapes.vision_width, vision_config.heads),
        ] {
            if !width.is_multiple_of(heads) {
                return Err(ModelError::Architecture(format!(
                    "the {tower} width {width} does not split into {heads} heads"
                )));
            }
        }
        if shapes.text_layers == 0 || shapes.vision_layers == 0 || shapes.context < 2 {
            return Err(ModelError::Architecture("an empty tower".into()));
        }
        if tokenizer.vocab_size() != shapes.vocab {
            return Err(ModelError::VocabMismatch {
                name: "CLIP",
                tokenizer: tokenizer.vocab_size(),
                model: shapes.vocab,
            });
        }
        let set = TensorSet::from_safetensors_ignoring(weights, &shapes.expected(), unused)?;
        let format = set.format;
        let mut b = Builder { set, device };
        let patch = b
            .set
            .take("vision_model.embeddings.patch_embedding.weight")?;
        let p = shapes.patch;
        let patch_embedding = Conv2d {
            weight: burn::module::Param::from_tensor(Tensor::from_data(
                TensorData::new(patch.values, [shapes.vision_width, 3, p, p]),
                device,
            )),
            bias: None,
            stride: [p, p],
            kernel_size: [p, p],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Valid,
        };
        Ok(Clip {
            token_embedding: b.tensor2("text_model.embeddings.token_embedding.weight")?,
            text_positions: b.tensor2("text_model.embeddings.position_embedding.weight")?,
            text: Encoder::load(&mut b, "text_model", shapes.text_layers, text_config)?,
            final_norm: b.layer_norm("text_model.final_layer_norm", text_config.eps)?,
            text_projection: b.linear_with("text_projection", false)?,
            patch_embedding,
            class_embedding: b.tensor1("vision_model.embeddings.class_embedding")?,
            vision_positions: b.tensor2("vision_model.embeddings.position_embedding.weight")?,
            pre_norm: b.layer_norm("vision_model.pre_layrnorm", vision_config.eps)?,
            vision: Encoder::load(&mut b, "vision_model", shapes.vision_layers, vision_config)?,
            post_norm: b.layer_norm("vision_model.post_layernorm", vision_config.eps)?,
            visual_projection: b.linear_with("visual_projection", false)?,
            tokenizer,
            image_size,
            dim: shapes.projection,
            format,
            device: device.clone(),
        })
    }

    /// Width of the joint embedding space (`projection_dim`).
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Side of the square input image.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// How the weights were stored.
    pub fn weight_format(&self) -> WeightFormat {
        self.format
    }

    /// The tokeniser.
    pub fn tokenizer(&self) -> &ClipTokenizer {
        &self.tokenizer
    }

    /// Most tokens of one text, start and end included (the model's context, at most 77).
    pub fn max_tokens(&self) -> usize {
        self.text_positions.dims()[0].min(CLIP_MAX_TOKENS)
    }

    /// Token ids `[b, s]` (each row ends at its `<|endoftext|>`, at `ends[r]`, and may be
    /// padded after it) → unit text embeddings `[b, dim]`.
    fn text_forward(&self, ids: Tensor<2, Int>, ends: Tensor<1, Int>) -> Tensor<2> {
        let [b, s] = ids.dims();
        let h = self.token_embedding.dims()[1];
        let x = embedding(self.token_embedding.clone(), ids)
            + self
                .text_positions
                .clone()
                .narrow(0, 0, s)
                .reshape([1, s, h]);
        let causal: Vec<f32> = (0..s * s)
            .map(|i| if i % s > i / s { -1e9 } else { 0.0 })
            .collect();
        let mask = Tensor::<4>::from_data(TensorData::new(causal, [1, 1, s, s]), &self.device);
        let x = self.final_norm.forward(self.text.forward(x, Some(mask)));
        // The rows at the end tokens, by the embedding lookup (the op the wasm has already);
        // kept 3-d, as MiniLM's layers are, so no 2-d LayerNorm or Linear code is added.
        let pooled = embedding(x.reshape([b * s, h]), ends.reshape([b, 1]));
        let d = self.dim;
        super::l2_normalize(self.text_projection.forward(pooled).reshape([b, d]))
    }

    /// Texts → unit embeddings `[n, dim]` on the device (one pass, padded to the longest).
    fn texts_tensor<S: AsRef<str>>(&self, texts: &[S]) -> Tensor<2> {
        let max = self.max_tokens();
        let tokens: Vec<Vec<u32>> = texts
            .iter()
            .map(|t| {
                let mut ids = self.tokenizer.encode(t.as_ref());
                if ids.len() > max {
                    ids.truncate(max - 1);
                    ids.push(self.tokenizer.eos());
                }
                ids
            })
            .collect();
        let (n, s) = (tokens.len(), tokens.iter().map(Vec::len).max().unwrap_or(2));
        let mut ids = vec![self.tokenizer.eos() as i32; n * s];
        let mut ends = Vec::with_capacity(n);
        for (r, row) in tokens.iter().enumerate() {
            for (c, &t) in row.iter().enumerate() {
                ids[r * s + c] = t as i32;
            }
            let end = row
                .iter()
                .position(|&t| t == self.tokenizer.eos())
                .unwrap_or(row.len() - 1);
            ends.push((r * s + end) as i32);
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, s]), &self.device);
        let ends = Tensor::<1, Int>::from_data(TensorData::new(ends, [n]), &self.device);
        self.text_forward(ids, ends)
    }

    /// Normalised pixels `[n, 3, size, size]` → unit image embeddings `[n, dim]`.
    fn image_forward(&self, x: Tensor<4>) -> Tensor<2> {
        let n = x.dims()[0];
        let patches = self.patch_embedding.forward(x);
        let [_, h, gh, gw] = patches.dims();
        let patches = patches.reshape([n, h, gh * gw]).swap_dims(1, 2);
        let class = self
            .class_embedding
            .clone()
            .reshape([1, 1, h])
            .expand([n, 1, h]);
        let x = Tensor::cat(vec![class, patches], 1)
            + self.vision_positions.clone().reshape([1, gh * gw + 1, h]);
        let x = self.vision.forward(self.pre_norm.forward(x), None);
        let cls = self.post_norm.forward(x.narrow(1, 0, 1));
        let d = self.dim;
        super::l2_normalize(self.visual_projection.forward(cls).reshape([n, d]))
    }

    fn pixels_tensor(&self, chw: Vec<f32>) -> Result<Tensor<4>, ModelError> {
        let size = self.image_size;
        let per = 3 * size * size;
        if chw.is_empty() || !chw.len().is_multiple_of(per) {
            return Err(ModelError::InputShape {
                model: "CLIP",
                expected: format!("images as [n, 3, {size}, {size}] values"),
                got: format!("{} values", chw.len()),
            });
        }
        let n = chw.len() / per;
        Ok(Tensor::from_data(
            TensorData::new(chw, [n, 3, size, size]),
            &self.device,
        ))
    }

    /// Embeds texts (each truncated at [`Self::max_tokens`] tokens); one unit vector per
    /// text. Synchronous readback: native, or the CPU backend in wasm.
    pub fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        self.rows(read_f32(self.texts_tensor(texts).try_into_data())?)
    }

    /// [`Self::embed_texts`] with an asynchronous readback (every device, WebGPU included):
    /// `n × dim` values, row-major.
    pub async fn embed_texts_async<S: AsRef<str>>(
        &self,
        texts: &[S],
    ) -> Result<Vec<f32>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        read_f32(self.texts_tensor(texts).into_data_async().await)
    }

    /// Embeds normalised pixels (concatenated [`image_to_clip_chw`] outputs,
    /// `n × 3 × size × size`); one unit vector per image. Synchronous readback.
    pub fn embed_pixels(&self, chw: Vec<f32>) -> Result<Vec<Vec<f32>>, ModelError> {
        let x = self.pixels_tensor(chw)?;
        self.rows(read_f32(self.image_forward(x).try_into_data())?)
    }

    /// [`Self::embed_pixels`] with an asynchronous readback: `n × dim` values, row-major.
    pub async fn embed_pixels_async(&self, chw: Vec<f32>) -> Result<Vec<f32>, ModelError> {
        let x = self.pixels_tensor(chw)?;
        read_f32(self.image_forward(x).into_data_async().await)
    }

    /// Embeds decoded images; one unit vector per image. Synchronous readback.
    pub fn embed_images(&self, images: &[RgbImage]) -> Result<Vec<Vec<f32>>, ModelError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let chw = images
            .iter()
            .flat_map(|img| image_to_clip_chw(img, self.image_size))
            .collect();
        self.embed_pixels(chw)
    }

    fn rows(&self, flat: Vec<f32>) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(flat.chunks_exact(self.dim).map(<[f32]>::to_vec).collect())
    }
}

/// One image as CLIP's input `[3, size, size]`: the centred square, resized to `size`
/// (bilinear; untouched when the image is that size already), scaled to `[0, 1]` and
/// normalised with [`CLIP_MEAN`] and [`CLIP_STD`].
pub fn image_to_clip_chw(img: &RgbImage, size: usize) -> Vec<f32> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let side = w.min(h);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let raw = img.as_raw();
    let mut square = Vec::with_capacity(side * side * 3);
    for y in y0..y0 + side {
        let row = (y * w + x0) * 3;
        square.extend(raw[row..row + side * 3].iter().map(|&v| v as f32 / 255.0));
    }
    let mut hwc = if side == size {
        square
    } else {
        resize_bilinear_hwc(&square, [side, side, 3], [size, size], false)
    };
    for px in hwc.chunks_exact_mut(3) {
        for c in 0..3 {
            px[c] = (px[c] - CLIP_MEAN[c]) / CLIP_STD[c];
        }
    }
    hwc_to_chw(&hwc, size * size, 3)
}
