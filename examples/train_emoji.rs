//! A metric head over frozen image embeddings, trained on a user-like labelled set: emoji
//! across vendors (`node bench/train.mjs` runs it). Input: the MobileNetV2 vectors that
//! `cargo run --example emoji_quality -- --dump DIR` writes (`gallery.f32.f32`: Google's
//! drawings, `queries.f32.f32`: Twitter's, row i of both the same emoji). A seeded 70 % of
//! the identities train the head (both drawings, label = identity); the other 30 % are
//! scored: gallery their Google drawings, queries their Twitter ones, frozen vectors vs the
//! head's. The head trains as `trainHead` trains it (`HeadTrainingOptions`: with no
//! `--options`, the recipe the data calls for, its held-out check included). Prints one JSON
//! object on stdout.
//!
//!   cargo run --profile bench --example train_emoji -- DIR [--options JSON] [--seed S]
//!
//! `--labels subcategory`: a set of 3–10 items per label instead. Labels are emoji.json's
//! subcategories (`animal-mammal`, `food-fruit`, `transport-ground`, …: kinds of things, each
//! drawn by two vendors); each label keeps a seeded 3–10 of its drawings (labels with fewer
//! than 3 are dropped). A seeded 70 % of the labels train; the other 30 % are scored
//! leave-one-out (each drawing queries the others): recall@1, recall@10, mAP@R.
//!
//! `--unseen DIR`: also scores the head on a domain it never saw: `DIR/digits.f32` (rows of
//! the same image model) and `DIR/digits.json` (`{ labels, index }`: items with index < 60
//! are the gallery, the others queries), recall@1 / recall@10 / mAP@R before and after.
//! `--alphas 1,0.5,…`: `alpha_sweep` in the output: the identities' recall@1, and the unseen
//! domain's scores, with the trained residual head's learned part weighted by each value (the
//! weight itself, not a factor on the one the held-out check kept).

use burn::prelude::*;
use serde_json::json;
use simil::compute::Compute;
use simil::train::retrieval::score;
use simil::train::sampler::split_classes;
use simil::train::{HeadTrainingOptions, MetricModel, models::embed_rows};

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

/// Trains as `options` say on `inputs` (rows of `DIM`) labelled `labels`; returns the run's
/// seconds, its summary and the kept head.
fn train_head(
    options: &HeadTrainingOptions,
    inputs: &[f32],
    labels: &[u32],
) -> (f64, simil::train::RunSummary, simil::train::MetricHead) {
    let compute = Compute::cpu();
    let start = std::time::Instant::now();
    let mut run = pollster::block_on(options.run(&compute, inputs, labels, &[], DIM)).unwrap();
    while !run.is_finished() {
        pollster::block_on(run.run(50)).unwrap();
    }
    (start.elapsed().as_secs_f64(), run.summary(), run.model())
}

/// The subcategory set (see the module's doc): items, labels and label names.
fn subcategories(gallery: &[f32], queries: &[f32], seed: u64) -> (Vec<f32>, Vec<u32>, usize) {
    use rand::{Rng, SeedableRng, seq::SliceRandom};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let list: Vec<serde_json::Value> = serde_json::from_slice(
        &std::fs::read(root.join("node_modules/emoji-datasource-google/emoji.json")).unwrap(),
    )
    .unwrap();
    let kept = list.iter().filter(|e| {
        e["has_img_google"].as_bool() == Some(true) && e["has_img_twitter"].as_bool() == Some(true)
    });
    let mut by: std::collections::BTreeMap<String, Vec<(usize, bool)>> = Default::default();
    for (i, e) in kept.enumerate() {
        let sub = e["subcategory"].as_str().unwrap().to_string();
        by.entry(sub).or_default().extend([(i, true), (i, false)]);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    let mut count = 0;
    for items in by.values_mut().filter(|v| v.len() >= 3) {
        items.shuffle(&mut rng);
        let keep = rng.gen_range(3..=10).min(items.len());
        for &(i, google) in &items[..keep] {
            let data = if google { gallery } else { queries };
            inputs.extend_from_slice(&data[i * DIM..(i + 1) * DIM]);
            labels.push(count);
        }
        count += 1;
    }
    (inputs, labels, count as usize)
}

/// The subcategory task: train on 70 % of the labels, score the rest leave-one-out.
fn subcategory_task(gallery: &[f32], queries: &[f32], seed: u64, options: &HeadTrainingOptions) {
    use simil::train::heldout::leave_one_out;
    let (inputs, labels, count) = subcategories(gallery, queries, seed);
    let (train_labels, _) = split_classes(&labels, 0.7, seed);
    let (train, test): (Vec<usize>, Vec<usize>) =
        (0..labels.len()).partition(|&i| train_labels.contains(&labels[i]));
    let pick = |items: &[usize]| -> (Vec<f32>, Vec<u32>) {
        let rows = items
            .iter()
            .flat_map(|&i| inputs[i * DIM..(i + 1) * DIM].iter().copied());
        (rows.collect(), items.iter().map(|&i| labels[i]).collect())
    };
    let ((train_rows, train_l), (test_rows, test_l)) = (pick(&train), pick(&test));
    let (train_s, summary, trained) = train_head(options, &train_rows, &train_l);
    let plain = Device::flex();
    let embedded = pollster::block_on(embed_rows(&trained, &test_rows, 256, &plain)).unwrap();
    println!(
        "{}",
        json!({
            "task": "emoji-subcategories",
            "labels": count,
            "items": labels.len(),
            "train_labels": train_labels.len(),
            "test_items": test.len(),
            "steps": summary.losses.len(),
            "recipe": summary.recipe,
            "held_out": summary.held_out,
            "installed": summary.installed,
            "train_s": train_s,
            "before": leave_one_out(&test_rows, &test_l, DIM),
            "after": leave_one_out(&embedded, &test_l, trained.output_dim()),
        })
    );
}

/// Recall@1, recall@10 and mAP@R of `dir`'s digits (see `--unseen`) before and after `head`.
fn unseen_domain(dir: &std::path::Path, head: &simil::train::MetricHead) -> serde_json::Value {
    let rows = read(&dir.join("digits.f32"));
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("digits.json")).unwrap()).unwrap();
    let nums = |k: &str| -> Vec<u32> {
        meta[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect()
    };
    let (labels, index) = (nums("labels"), nums("index"));
    let scored = |data: &[f32], dim: usize| {
        let (mut g, mut gl, mut q, mut ql) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, (&l, &at)) in labels.iter().zip(&index).enumerate() {
            let (rows, ls) = if at < 60 {
                (&mut g, &mut gl)
            } else {
                (&mut q, &mut ql)
            };
            rows.extend_from_slice(&data[i * dim..(i + 1) * dim]);
            ls.push(l);
        }
        let s = score(&g, &gl, &q, &ql, dim, 60);
        let ranked = simil::train::retrieval::rank_labels(&g, &gl, &q, dim, 10);
        json!({ "recall_at_1": s.recall_at_1, "recall_at_10": simil::eval::recall_at_k(&ranked, &ql, 10), "map_at_r": s.map_at_r })
    };
    let embedded = pollster::block_on(embed_rows(head, &rows, 256, &Device::flex())).unwrap();
    json!({ "before": scored(&rows, DIM), "after": scored(&embedded, head.output_dim()) })
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: train_emoji DIR");
    let dir = std::path::Path::new(&dir);
    let gallery = read(&dir.join("gallery.f32.f32"));
    let queries = read(&dir.join("queries.f32.f32"));
    let n = gallery.len() / DIM;
    assert_eq!(queries.len(), gallery.len());
    let seed: u64 = arg("--seed").map_or(1, |v| v.parse().unwrap());
    let options: HeadTrainingOptions =
        serde_json::from_str(&arg("--options").unwrap_or_else(|| "{}".into())).expect("--options");
    if arg("--labels").as_deref() == Some("subcategory") {
        return subcategory_task(&gallery, &queries, seed, &options);
    }
    let ids: Vec<u32> = (0..n as u32).collect();
    let (train_ids, test_ids) = split_classes(&ids, 0.7, seed);

    let inputs = [rows(&gallery, &train_ids), rows(&queries, &train_ids)].concat();
    let labels: Vec<u32> = train_ids.iter().chain(&train_ids).copied().collect();
    let (train_s, summary, trained) = train_head(&options, &inputs, &labels);

    let (g, q) = (rows(&gallery, &test_ids), rows(&queries, &test_ids));
    let frozen = score(&g, &test_ids, &q, &test_ids, DIM, 1);
    let top10 = |g: &[f32], q: &[f32], dim: usize| {
        let ranked = simil::train::retrieval::rank_labels(g, &test_ids, q, dim, 10);
        simil::eval::recall_at_k(&ranked, &test_ids, 10)
    };
    let frozen10 = top10(&g, &q, DIM);
    let plain = Device::flex();
    let eg = pollster::block_on(embed_rows(&trained, &g, 256, &plain)).unwrap();
    let eq = pollster::block_on(embed_rows(&trained, &q, 256, &plain)).unwrap();
    let after = score(&eg, &test_ids, &eq, &test_ids, trained.output_dim(), 1);
    let after10 = top10(&eg, &eq, trained.output_dim());
    let unseen = arg("--unseen").map(|d| unseen_domain(std::path::Path::new(&d), &trained));
    // The same trained head with its learned part at each weight α (absolute: the kept head
    // already carries the check's α).
    let kept_alpha = summary.held_out.map_or(1.0, |h| h.residual_weight);
    let sweep: Option<Vec<serde_json::Value>> = arg("--alphas").map(|alphas| {
        alphas
            .split(',')
            .map(|a| a.parse::<f32>().expect("--alphas"))
            .map(|a| {
                let h = trained.shrunk(a / kept_alpha);
                let eg = pollster::block_on(embed_rows(&h, &g, 256, &plain)).unwrap();
                let eq = pollster::block_on(embed_rows(&h, &q, 256, &plain)).unwrap();
                let s = score(&eg, &test_ids, &eq, &test_ids, h.output_dim(), 1);
                let u = arg("--unseen").map(|d| unseen_domain(std::path::Path::new(&d), &h));
                json!({ "alpha": a, "recall_at_1": s.recall_at_1, "unseen_domain": u.map(|u| u["after"].clone()) })
            })
            .collect()
    });
    println!(
        "{}",
        json!({
            "task": "emoji-cross-vendor",
            "loss": "supervised_contrastive",
            "steps": summary.losses.len(),
            "recipe": summary.recipe,
            "held_out": summary.held_out,
            "installed": summary.installed,
            "train_identities": train_ids.len(),
            "test_identities": test_ids.len(),
            "train_s": train_s,
            "frozen": frozen,
            "frozen_recall_at_10": frozen10,
            "trained": after,
            "trained_recall_at_10": after10,
            "unseen_domain": unseen,
            "alpha_sweep": sweep,
        })
    );
}
