//! Native side of the text benchmark (`node bench/text.mjs` runs it): sentences/s of the
//! MiniLM text embedder on burn's CPU backend (`flex`), f32 and int8 weights, over the
//! sentences of `tests/fixtures/minilm_sentences.json` (tokenising included), and parity (min
//! cosine) with the sentence-transformers vectors of `tests/fixtures/minilm_vectors.f16`.
//! Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example text_speed [-- --rounds 3]

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::Device;
use simil::model::TextEmbedder;

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum();
    dot / (na * nb).sqrt()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |v| v.parse().expect("--rounds N"));
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/fixtures/minilm_sentences.json")).expect("fixture"),
    )
    .expect("fixture JSON");
    let sentences: Vec<String> = meta["sentences"]
        .as_array()
        .expect("sentences")
        .iter()
        .map(|s| s.as_str().expect("sentence").to_string())
        .collect();
    let raw = std::fs::read(root.join("tests/fixtures/minilm_vectors.f16")).expect("vectors");
    let reference: Vec<f32> = raw
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    let tokenizer = std::fs::read(root.join("weights/minilm.tokenizer.json"))
        .expect("run scripts/setup.sh's build_text_weights");
    let device = Device::flex();
    let mut speed = Vec::new();
    let mut parity = Vec::new();
    for weights in ["f32", "int8"] {
        let bytes = std::fs::read(root.join(format!("weights/minilm.{weights}.safetensors")))
            .expect("run scripts/setup.sh's build_text_weights");
        let model = TextEmbedder::load(&bytes, &tokenizer, &device).expect("load");
        let vectors = model.embed(&sentences).expect("embed");
        let min_cos = vectors
            .iter()
            .zip(reference.chunks_exact(vectors[0].len()))
            .map(|(v, r)| cosine(v, r))
            .fold(f64::INFINITY, f64::min);
        parity.push(serde_json::json!({
            "model": "all-MiniLM-L6-v2", "weights": weights, "backend": "native-flex",
            "min_cos": min_cos, "n": vectors.len(),
        }));
        let started = Instant::now();
        for _ in 0..rounds {
            model.embed(&sentences).expect("embed");
        }
        let per_s = (rounds * sentences.len()) as f64 / started.elapsed().as_secs_f64();
        eprintln!("native flex {weights}: {per_s:.1} sentences/s, min cosine {min_cos:.6}");
        speed.push(serde_json::json!({
            "env": "native", "engine": format!("simil-cpu (flex) {weights}"), "sentences_per_s": per_s,
        }));
    }
    println!(
        "{}",
        serde_json::json!({ "speed": speed, "parity": parity })
    );
}
