//! Native side of the text benchmark (`node bench/text.mjs` runs it): sentences/s of the
//! MiniLM text embedder on burn's CPU backend (`flex`), f32 and int8 weights, over the
//! sentences of `tests/fixtures/minilm_sentences.json` (tokenising included), and parity (min
//! cosine) with the sentence-transformers vectors of `tests/fixtures/minilm_vectors.f16`.
//! Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example text_speed [-- --rounds 3]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use burn::prelude::Device;
use common::TextFixture;
use simil::model::TextEmbedder;

fn main() {
    let rounds: usize = common::arg("--rounds", 3);
    let TextFixture {
        sentences,
        vectors: reference,
        ..
    } = TextFixture::read();
    let hint = "run scripts/setup.sh's build_text_weights";
    let tokenizer = common::read("weights/minilm.tokenizer.json", hint);
    let device = Device::flex();
    let mut speed = Vec::new();
    let mut parity = Vec::new();
    for weights in ["f32", "int8"] {
        let bytes = common::read(format!("weights/minilm.{weights}.safetensors"), hint);
        let model = TextEmbedder::load(&bytes, &tokenizer, &device).expect("load");
        let vectors = model.embed(&sentences).expect("embed");
        let (min_cos, _) = common::min_mean_cosine(&vectors, &reference);
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
