//! Native side of the image-embedding benchmark (`node bench/embed.mjs` runs it): images/s of
//! the image embedder on burn's CPU backend (`flex`), batch 1 and 32, f32 and int8 weights,
//! from encoded PNG bytes to unit vectors; plus parity (min cosine) with the tfjs reference
//! vectors in `tests/fixtures/mobilenet_parity.json`. Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example embed_speed [-- --images 64]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use burn::prelude::Device;
use common::ImageFixture;
use simil::model::ImageEmbedder;

fn main() {
    let count: usize = common::arg("--images", 64);
    let fixture = ImageFixture::read(
        "mobilenet_parity.json",
        "run `node scripts/reference-embed.mjs`",
    );
    let files = fixture.encoded(fixture.images.len());
    let device = Device::flex();
    let mut runs = Vec::new();
    let mut parity = Vec::new();
    for weights in ["f32", "int8"] {
        let started = Instant::now();
        let bytes = common::read(
            format!("weights/mobilenet_v2.{weights}.safetensors"),
            "run node scripts/convert-mobilenet.mjs",
        );
        let model = ImageEmbedder::load(&bytes, &device).expect("load");
        // Cold start: weights read + model built + the first image embedded.
        let first: Vec<&[u8]> = vec![&files[0]];
        model.embed_encoded(&first).expect("embed");
        let cold_ms = started.elapsed().as_secs_f64() * 1e3;

        let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        let vectors: Vec<Vec<f32>> = refs
            .chunks(10)
            .flat_map(|c| model.embed_encoded(c).expect("embed"))
            .collect();
        let (min_cos, _) = common::min_mean_cosine(&vectors, &fixture.embeddings());
        parity.push(serde_json::json!({
            "model": "mobilenet_v2", "weights": weights, "backend": "native-flex",
            "min_cos": min_cos, "n": vectors.len(),
        }));

        for batch in [1usize, 32] {
            let inputs: Vec<&[u8]> = (0..count.max(batch))
                .map(|i| refs[i % refs.len()])
                .collect();
            let started = Instant::now();
            for chunk in inputs.chunks(batch) {
                model.embed_encoded(chunk).expect("embed");
            }
            let per_s = inputs.len() as f64 / started.elapsed().as_secs_f64();
            eprintln!("native flex {weights} batch {batch}: {per_s:.1} images/s");
            runs.push(serde_json::json!({
                "env": "native", "engine": "simil-cpu (flex)", "model": "mobilenet_v2",
                "weights": weights, "batch": batch, "images_per_s": per_s, "cold_start_ms": cold_ms,
            }));
        }
    }
    println!("{}", serde_json::json!({ "runs": runs, "parity": parity }));
}
