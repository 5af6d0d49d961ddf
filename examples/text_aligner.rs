//! The aligner on emoji (`node bench/text.mjs` runs it): frozen MobileNetV2 (int8) vectors of
//! Google's emoji drawings (npm `emoji-datasource-google`) and frozen MiniLM (int8) vectors of
//! their names (the same package's `emoji.json`), LiT-style heads trained on a seeded 70 % of
//! the emoji; on the other 30 %, text→image recall@1/@10 (the gallery images carry no text)
//! and zero-shot top-1 (each image → the best of the held-out names), against chance. Prints
//! one JSON object on stdout.
//!
//!   cargo run --profile bench --example text_aligner

use std::path::PathBuf;

use burn::prelude::Device;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use simil::eval::recall_at_k;
use simil::model::{ImageEmbedder, TextEmbedder};
use simil::text::{Aligner, AlignerConfig};

fn ranked(queries: &[f32], gallery: &[f32], dim: usize, k: usize) -> Vec<Vec<usize>> {
    queries
        .chunks_exact(dim)
        .map(|q| {
            let mut scores: Vec<(usize, f32)> = gallery
                .chunks_exact(dim)
                .enumerate()
                .map(|(j, g)| (j, q.iter().zip(g).map(|(a, b)| a * b).sum()))
                .collect();
            scores.sort_by(|a, b| b.1.total_cmp(&a.1));
            scores.into_iter().take(k).map(|s| s.0).collect()
        })
        .collect()
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let pkg = root.join("node_modules/emoji-datasource-google");
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(pkg.join("emoji.json")).expect("npm ci first"))
            .expect("emoji.json");
    let mut items: Vec<(String, PathBuf)> = rows
        .iter()
        .filter(|r| r["has_img_google"].as_bool() == Some(true))
        .filter_map(|r| {
            let name = r["name"]
                .as_str()
                .map(str::to_lowercase)
                .unwrap_or_else(|| r["short_name"].as_str().unwrap_or("").replace('_', " "));
            let file = pkg.join("img/google/64").join(r["image"].as_str()?);
            (file.exists() && !name.is_empty()).then_some((name, file))
        })
        .collect();
    items.sort();
    items.dedup_by(|a, b| a.0 == b.0);
    let device = Device::flex();
    let read = |p: &str| std::fs::read(root.join(p)).expect("weights: run scripts/setup.sh");
    let images = ImageEmbedder::load(&read("weights/mobilenet_v2.int8.safetensors"), &device)
        .expect("image model");
    let texts = TextEmbedder::load(
        &read("weights/minilm.int8.safetensors"),
        &read("weights/minilm.tokenizer.json"),
        &device,
    )
    .expect("text model");

    let files: Vec<Vec<u8>> = items
        .iter()
        .map(|(_, f)| std::fs::read(f).unwrap())
        .collect();
    let image_vecs: Vec<f32> = files
        .chunks(32)
        .flat_map(|c| {
            let refs: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
            images.embed_encoded(&refs).expect("embed images")
        })
        .flatten()
        .collect();
    let names: Vec<&str> = items.iter().map(|(n, _)| n.as_str()).collect();
    let text_vecs: Vec<f32> = texts
        .embed(&names)
        .expect("embed names")
        .into_iter()
        .flatten()
        .collect();
    let (di, dt) = (
        image_vecs.len() / items.len(),
        text_vecs.len() / items.len(),
    );

    let mut order: Vec<usize> = (0..items.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(7));
    let cut = items.len() * 7 / 10;
    let (train, held) = order.split_at(cut);
    let gather = |idx: &[usize], v: &[f32], d: usize| -> Vec<f32> {
        idx.iter()
            .flat_map(|&i| v[i * d..(i + 1) * d].to_vec())
            .collect()
    };
    let config = AlignerConfig::default();
    let (aligner, losses) = Aligner::train(
        &gather(train, &image_vecs, di),
        di,
        &gather(train, &text_vecs, dt),
        dt,
        &config,
        &device,
    )
    .expect("train");
    eprintln!(
        "{} emoji, {} train, {} held out; loss {:.3} -> {:.3}",
        items.len(),
        train.len(),
        held.len(),
        losses[0],
        losses[losses.len() - 1]
    );
    let gallery = aligner.project_images(&gather(held, &image_vecs, di));
    let queries = aligner.project_texts(&gather(held, &text_vecs, dt));
    let d = aligner.dim();
    let labels: Vec<usize> = (0..held.len()).collect();
    let t2i = ranked(&queries, &gallery, d, 10);
    let i2t = ranked(&gallery, &queries, d, 1);
    let out = serde_json::json!({
        "heldout": held.len(),
        "train": train.len(),
        "recall_at_1": recall_at_k(&t2i, &labels, 1),
        "recall_at_10": recall_at_k(&t2i, &labels, 10),
        "chance_at_10": 10.0 / held.len() as f64,
        "zero_shot_top1": recall_at_k(&i2t, &labels, 1),
        "chance_top1": 1.0 / held.len() as f64,
        "config": {
            "dim": config.dim, "epochs": config.epochs, "batch_size": config.batch_size,
            "learning_rate": config.learning_rate, "temperature": config.temperature,
            "weight_decay": config.weight_decay,
        },
        "encoders": "MobileNetV2 int8 (image), all-MiniLM-L6-v2 int8 (text), frozen",
    });
    eprintln!("{out}");
    println!("{out}");
}
