//! Build step (run by `scripts/setup.sh`): learns the image embedding's default PCA whitening
//! from unlabelled images and writes `weights/mobilenet_v2.whitening.safetensors` (+ `.sha256`).
//!
//! The images are the 1,875 skin-tone variants of `emoji-datasource-google`'s list, drawn
//! alternately by Google and Twitter: no labels are used, and none of them is one of the base
//! emoji that the cross-vendor quality benchmark searches.
//!
//!   cargo run --example fit_whitening -- weights

use std::path::PathBuf;
use std::time::Instant;

use burn::prelude::Device;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use simil::model::whitening::DEFAULT_SHRINKAGE;
use simil::model::{EMBEDDING_DIM, ImageEmbedder, Whitening, preprocess};

#[derive(Deserialize)]
struct Emoji {
    #[serde(default)]
    skin_variations: Option<std::collections::BTreeMap<String, Variant>>,
}

#[derive(Deserialize)]
struct Variant {
    image: String,
    #[serde(default)]
    has_img_google: bool,
    #[serde(default)]
    has_img_twitter: bool,
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "weights".into()));
    let modules = root.join("node_modules");
    let list: Vec<Emoji> = serde_json::from_slice(
        &std::fs::read(modules.join("emoji-datasource-google/emoji.json"))
            .expect("emoji.json: run npm ci"),
    )
    .expect("emoji.json");
    let variants: Vec<Variant> = list
        .into_iter()
        .flat_map(|e| e.skin_variations.unwrap_or_default().into_values())
        .filter(|v| v.has_img_google && v.has_img_twitter)
        .collect();
    let weights = std::fs::read(out_dir.join("mobilenet_v2.f32.safetensors"))
        .expect("weights: run node scripts/convert-mobilenet.mjs first");
    let model = ImageEmbedder::load(&weights, &Device::flex()).expect("weights load");
    let started = Instant::now();
    let mut vectors = Vec::with_capacity(variants.len());
    for (i, batch) in variants.chunks(16).enumerate() {
        let images: Vec<_> = batch
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let vendor = if (i * 16 + j) % 2 == 0 {
                    "google"
                } else {
                    "twitter"
                };
                let file = modules.join(format!(
                    "emoji-datasource-{vendor}/img/{vendor}/64/{}",
                    v.image
                ));
                let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file:?}: {e}"));
                preprocess::decode_image(&bytes).unwrap_or_else(|e| panic!("{file:?}: {e}"))
            })
            .collect();
        vectors.extend(model.embed_batch(&images).expect("embed"));
    }
    let whitening = Whitening::fit(&vectors, EMBEDDING_DIM, DEFAULT_SHRINKAGE).expect("fit");
    let bytes = whitening.to_safetensors();
    let file = out_dir.join("mobilenet_v2.whitening.safetensors");
    std::fs::write(&file, &bytes).expect("write the whitening");
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        out_dir.join("mobilenet_v2.whitening.safetensors.sha256"),
        format!("{digest}  mobilenet_v2.whitening.safetensors\n"),
    )
    .expect("write the checksum");
    eprintln!(
        "whitening fitted on {} unlabelled images in {:.1} s -> {}",
        vectors.len(),
        started.elapsed().as_secs_f64(),
        file.display()
    );
}
