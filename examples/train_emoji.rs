//! A metric head over frozen image embeddings, trained on a user-like labelled set: emoji
//! across vendors (`node bench/train.mjs` runs it). Input: the MobileNetV2 vectors that
//! `cargo run --example emoji_quality -- --dump DIR` writes (`gallery.f32.f32`: Google's
//! drawings, `queries.f32.f32`: Twitter's, row i of both the same emoji). A seeded 70 % of
//! the identities train the head (both drawings, label = identity); the other 30 % are
//! scored: gallery their Google drawings, queries their Twitter ones, frozen vectors vs the
//! head's. Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example train_emoji -- DIR [--steps N] [--seed S]

use burn::prelude::*;
use serde_json::json;
use simil::train::retrieval::score;
use simil::train::sampler::split_classes;
use simil::train::{
    Distance, HeadConfig, HeadInit, Loss, MetricModel, TrainConfig, TrainSet, models::embed_rows,
    train,
};

const DIM: usize = 384;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn read(path: &std::path::Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn rows(data: &[f32], picks: &[u32]) -> Vec<f32> {
    picks
        .iter()
        .flat_map(|&i| {
            data[i as usize * DIM..(i as usize + 1) * DIM]
                .iter()
                .copied()
        })
        .collect()
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: train_emoji DIR");
    let dir = std::path::Path::new(&dir);
    let gallery = read(&dir.join("gallery.f32.f32"));
    let queries = read(&dir.join("queries.f32.f32"));
    let n = gallery.len() / DIM;
    assert_eq!(queries.len(), gallery.len());
    let steps: usize = arg("--steps").map_or(400, |v| v.parse().unwrap());
    let seed: u64 = arg("--seed").map_or(1, |v| v.parse().unwrap());
    let ids: Vec<u32> = (0..n as u32).collect();
    let (train_ids, test_ids) = split_classes(&ids, 0.7, seed);

    let inputs = [rows(&gallery, &train_ids), rows(&queries, &train_ids)].concat();
    let labels: Vec<u32> = train_ids.iter().chain(&train_ids).copied().collect();
    let config = TrainConfig {
        loss: Loss::from_name(&arg("--loss").unwrap_or_else(|| "supervised_contrastive".into()))
            .expect("loss"),
        distance: Distance::Cosine,
        steps,
        learning_rate: 1e-3,
        warmup_steps: steps / 10,
        weight_decay: 1e-4,
        classes_per_batch: 128,
        examples_per_class: 2,
        seed,
        self_supervised: None,
    };
    let autodiff = Device::flex().autodiff();
    let head = HeadConfig {
        input: DIM,
        hidden: vec![512],
        output: 256,
    }
    .init(seed, &autodiff)
    .unwrap();
    let set = TrainSet {
        inputs: &inputs,
        labels: &labels,
        unlabelled: &[],
        dim: DIM,
        augment: None,
    };
    let (trained, report) =
        pollster::block_on(train(head, set, &config, &autodiff, |_| {}, || false)).unwrap();

    let (g, q) = (rows(&gallery, &test_ids), rows(&queries, &test_ids));
    let frozen = score(&g, &test_ids, &q, &test_ids, DIM, 1);
    let plain = Device::flex();
    let eg = pollster::block_on(embed_rows(&trained, &g, 256, &plain)).unwrap();
    let eq = pollster::block_on(embed_rows(&trained, &q, 256, &plain)).unwrap();
    let after = score(&eg, &test_ids, &eq, &test_ids, trained.output_dim(), 1);
    println!(
        "{}",
        json!({
            "task": "emoji-cross-vendor",
            "loss": config.loss.name(),
            "steps": steps,
            "train_identities": train_ids.len(),
            "test_identities": test_ids.len(),
            "train_s": report.elapsed_s,
            "frozen": frozen,
            "trained": after,
        })
    );
}
