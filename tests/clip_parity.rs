//! Parity of simil's CLIP loader (`src/model/clip.rs`, `src/model/clip_tokenizer.rs`) with
//! Hugging Face `transformers` on a tiny, randomly initialised `CLIPModel` and a small CLIP BPE
//! vocabulary, both made by `scripts/make_tiny_clip.py` (no download) together with the
//! reference token ids and embeddings, committed under `tests/fixtures/clip/`.
//!
//! Also writes `tests/out/clip-parity.json` (min cosines), which `bench/text.mjs` reports.

mod common;

use burn::prelude::*;
use common::{TokenCase, cosine};
use serde::Deserialize;
use simil::model::ModelError;
use simil::model::clip::{Clip, image_to_clip_chw};
use simil::model::clip_tokenizer::{CLIP_MAX_TOKENS, ClipTokenizer};
use simil::model::weights::WeightsError;

fn fixture(name: &str) -> Vec<u8> {
    common::read(
        format!("tests/fixtures/clip/{name}"),
        "run scripts/make_tiny_clip.py",
    )
}

#[derive(Deserialize)]
struct Tokens {
    max_tokens: usize,
    bos: u32,
    eos: u32,
    cases: Vec<TokenCase>,
}

#[derive(Deserialize)]
struct Texts {
    texts: Vec<String>,
    embeds: Vec<Vec<f32>>,
}

#[derive(Deserialize)]
struct Images {
    size: usize,
    rgb_base64: Vec<String>,
    embeds: Vec<Vec<f32>>,
}

fn load() -> Clip {
    Clip::load(
        &fixture("model.safetensors"),
        &fixture("config.json"),
        &fixture("vocab.json"),
        &fixture("merges.txt"),
        &Device::flex(),
    )
    .unwrap()
}

fn min_cosine(ours: &[Vec<f32>], theirs: &[Vec<f32>]) -> f64 {
    common::min_mean_cosine(ours, theirs).0
}

/// Standard base64 (the fixture's images), without a crate for it.
fn base64(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = s.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | (d as u32) << (18 - 6 * i));
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

#[test]
fn tokenizer_matches_transformers() {
    let reference: Tokens = serde_json::from_slice(&fixture("tokens.json")).unwrap();
    assert_eq!(reference.max_tokens, CLIP_MAX_TOKENS);
    assert!(reference.cases.len() >= 200);
    assert!(
        reference
            .cases
            .iter()
            .any(|c| c.ids.len() == CLIP_MAX_TOKENS)
    );
    let tok = ClipTokenizer::from_files(&fixture("vocab.json"), &fixture("merges.txt")).unwrap();
    assert_eq!((tok.bos(), tok.eos()), (reference.bos, reference.eos));
    common::assert_tokenizes_alike(
        &reference.cases,
        |case| case.ids.clone(),
        |text| tok.encode(text),
    );
    eprintln!("token ids equal on all {} strings", reference.cases.len());
}

#[test]
fn embeddings_match_transformers() {
    let model = load();
    assert_eq!(model.dim(), 24);
    assert_eq!(model.image_size(), 32);
    assert_eq!(model.max_tokens(), CLIP_MAX_TOKENS);

    let texts: Texts = serde_json::from_slice(&fixture("texts.json")).unwrap();
    assert!(texts.texts.len() >= 50);
    let ours = model.embed_texts(&texts.texts).unwrap();
    let text_min = min_cosine(&ours, &texts.embeds);
    // One at a time: padding a row to a longer batch neighbour must not change it.
    for (i, t) in texts.texts.iter().enumerate().step_by(7) {
        let single = model.embed_texts(&[t]).unwrap();
        assert!(cosine(&single[0], &ours[i]) > 0.99999, "text {i} alone");
    }

    let images: Images = serde_json::from_slice(&fixture("images.json")).unwrap();
    assert_eq!(images.size, model.image_size());
    let decoded: Vec<image::RgbImage> = images
        .rgb_base64
        .iter()
        .map(|b| image::RgbImage::from_raw(32, 32, base64(b)).unwrap())
        .collect();
    let ours = model.embed_images(&decoded).unwrap();
    let image_min = min_cosine(&ours, &images.embeds);

    eprintln!(
        "CLIP parity: text min cosine {text_min:.7} (n = {}), image min cosine {image_min:.7} (n = {})",
        texts.texts.len(),
        decoded.len()
    );
    let dir = common::root().join("tests/out");
    std::fs::create_dir_all(&dir).unwrap();
    let report = serde_json::json!({
        "text": { "min_cos": text_min, "n": texts.texts.len() },
        "image": { "min_cos": image_min, "n": decoded.len() },
    });
    std::fs::write(dir.join("clip-parity.json"), report.to_string()).unwrap();
    assert!(text_min >= 0.9999, "text parity: min cosine {text_min}");
    assert!(image_min >= 0.9999, "image parity: min cosine {image_min}");

    // Texts and images share one space of unit vectors.
    for v in model
        .embed_texts(&["a photo of a cat"])
        .unwrap()
        .iter()
        .chain(&ours)
    {
        common::assert_unit_norm(v, 1e-4);
        assert_eq!(v.len(), model.dim());
    }
}

#[test]
fn larger_images_are_cropped_and_resized() {
    let model = load();
    // A 64×48 image: its centred 48×48 square, resized to 32.
    let img = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 90])
    });
    let chw = image_to_clip_chw(&img, 32);
    assert_eq!(chw.len(), 3 * 32 * 32);
    // The top-left output pixel is the crop's top-left pixel (x = 8): red 32 / 255, normalised.
    let expected = (32.0 / 255.0 - 0.481_454_66) / 0.268_629_54;
    assert!((chw[0] - expected).abs() < 1e-5, "{} vs {expected}", chw[0]);
    let v = model.embed_images(&[img]).unwrap();
    assert_eq!(v[0].len(), 24);
    let e = model.embed_pixels(vec![0.0; 10]).unwrap_err();
    assert!(matches!(e, ModelError::InputShape { model: "CLIP", .. }));
    assert_eq!(
        e.to_string(),
        "CLIP expects images as [n, 3, 32, 32] values, got 10 values"
    );
}

#[test]
fn bad_files_are_typed_errors() {
    let device = Device::flex();
    let (w, c, v, m) = (
        fixture("model.safetensors"),
        fixture("config.json"),
        fixture("vocab.json"),
        fixture("merges.txt"),
    );
    let err = |w: &[u8], c: &[u8], v: &[u8], m: &[u8]| Clip::load(w, c, v, m, &device).unwrap_err();
    assert!(matches!(
        err(b"not safetensors", &c, &v, &m),
        ModelError::Weights(WeightsError::Format(_))
    ));
    assert!(matches!(err(&w, b"{", &v, &m), ModelError::Config(_)));
    let gelu_tanh = String::from_utf8(c.clone())
        .unwrap()
        .replace("\"quick_gelu\"", "\"gelu_pytorch_tanh\"");
    assert!(
        err(&w, gelu_tanh.as_bytes(), &v, &m)
            .to_string()
            .contains("gelu_pytorch_tanh")
    );
    let three_heads = String::from_utf8(c.clone())
        .unwrap()
        .replace("\"num_attention_heads\": 4", "\"num_attention_heads\": 3");
    assert!(matches!(
        err(&w, three_heads.as_bytes(), &v, &m),
        ModelError::Architecture(_)
    ));
    assert!(matches!(
        err(&w, &c, b"{}", &m),
        ModelError::ClipTokenizer(_)
    ));

    // The MobileNetV2 weights are not CLIP's.
    if let Ok(mobilenet) =
        std::fs::read(common::root().join("weights/mobilenet_v2.int8.safetensors"))
    {
        let e = err(&mobilenet, &c, &v, &m).to_string();
        assert!(
            e.contains("text_model.embeddings.token_embedding.weight"),
            "{e}"
        );
    }

    // A tensor missing or mis-shaped: rewrite the checkpoint without / with a changed one.
    let st = safetensors::SafeTensors::deserialize(&w).unwrap();
    let rewrite = |skip: &str, reshape: Option<(&str, Vec<usize>)>| {
        let mut views = Vec::new();
        for (name, t) in st.tensors() {
            if name == skip {
                continue;
            }
            let shape = match &reshape {
                Some((n, s)) if *n == name => s.clone(),
                _ => t.shape().to_vec(),
            };
            views.push((
                name,
                safetensors::tensor::TensorView::new(t.dtype(), shape, t.data()).unwrap(),
            ));
        }
        safetensors::serialize(views, None).unwrap()
    };
    let missing = rewrite("vision_model.post_layernorm.bias", None);
    assert!(matches!(
        err(&missing, &c, &v, &m),
        ModelError::Weights(WeightsError::Missing(name)) if name == "vision_model.post_layernorm.bias"
    ));
    let reshaped = rewrite(
        "",
        Some(("text_model.encoder.layers.1.mlp.fc2.bias", vec![4, 8])),
    );
    assert!(matches!(
        err(&reshaped, &c, &v, &m),
        ModelError::Weights(WeightsError::Shape { name, .. }) if name == "text_model.encoder.layers.1.mlp.fc2.bias"
    ));
    // A vocabulary with one token more than the embedding table has rows.
    let mut vocab: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&v).unwrap();
    vocab.insert("extra</w>".into(), 814.into());
    let bigger = serde_json::to_vec(&vocab).unwrap();
    assert!(matches!(
        err(&w, &c, &bigger, &m),
        ModelError::VocabMismatch {
            name: "CLIP",
            tokenizer: 815,
            model: 814
        }
    ));
}
