//! Retrieval quality of the image embedder on emoji across vendors (`node bench/embed-quality.mjs`
//! runs it): the gallery is every emoji Google and Twitter both draw, as Google draws it
//! (npm `emoji-datasource-google`); the queries are the same emoji as Twitter draws them
//! (`emoji-datasource-twitter`); an emoji's identity is its label, so each query has exactly
//! one relevant gallery image. Scores raw pixels and the embedder with f32 and int8 weights:
//! recall@1, recall@10, mAP@R. Prints one JSON object on stdout.
//!
//!   cargo run --example emoji_quality [-- --limit 400] [--dump DIR]
//!
//! `--limit N` keeps the first N emoji (in the data set's order); `--dump DIR` also writes the
//! vectors as raw little-endian f32 (`<kind>.<weights>.f32`, one row per image).

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Device;
use image::RgbImage;
use serde::Deserialize;
use serde_json::json;
use simil::eval;
use simil::model::whitening::DEFAULT_SHRINKAGE;
use simil::model::{ImageEmbedder, Whitening, preprocess};

#[derive(Deserialize)]
struct Emoji {
    image: String,
    #[serde(default)]
    has_img_google: bool,
    #[serde(default)]
    has_img_twitter: bool,
}

fn arg(args: &[String], name: &str) -> Option<String> {
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

fn load(dir: &Path, files: &[String]) -> Vec<RgbImage> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            preprocess::decode_image(&bytes).unwrap_or_else(|e| panic!("{f}: {e}"))
        })
        .collect()
}

fn raw_pixels(images: &[RgbImage]) -> Vec<Vec<f32>> {
    images
        .iter()
        .map(|img| {
            let v: Vec<f32> = img.as_raw().iter().map(|&b| f32::from(b) / 255.0).collect();
            normalize(v)
        })
        .collect()
}

fn normalize(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// Ranked gallery labels (top 10) per query, by exact cosine similarity of unit vectors.
fn rank(gallery: &[Vec<f32>], queries: &[Vec<f32>]) -> Vec<Vec<usize>> {
    queries
        .iter()
        .map(|q| {
            let mut scored: Vec<(f32, usize)> = gallery
                .iter()
                .enumerate()
                .map(|(i, g)| (g.iter().zip(q).map(|(a, b)| a * b).sum(), i))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            scored.into_iter().take(10).map(|(_, i)| i).collect()
        })
        .collect()
}

fn score(
    name: &str,
    weights: &str,
    gallery: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> serde_json::Value {
    entry(name, weights, &rank(gallery, queries))
}

/// One `quality` row from the ranked gallery labels of every query (query `i` is emoji `i`).
fn entry(name: &str, weights: &str, ranked: &[Vec<usize>]) -> serde_json::Value {
    let labels: Vec<usize> = (0..ranked.len()).collect();
    let relevant = eval::relevant_counts(&labels, &labels);
    let entry = json!({
        "model": name,
        "weights": weights,
        "task": format!("emoji google→twitter, {} identities", ranked.len()),
        "recall_at_1": eval::recall_at_k(ranked, &labels, 1),
        "recall_at_10": eval::recall_at_k(ranked, &labels, 10),
        "map_at_r": eval::map_at_r(ranked, &labels, &relevant),
    });
    eprintln!("{entry}");
    entry
}

/// Two rows: PCA whitening fitted on the unlabelled gallery (as a collection would fit it on
/// its own items; no query image, no label), and a control fitted across folds: the queries of
/// each half of the emoji are searched with a whitening fitted on the other half's gallery
/// images only, so the fit never saw the images those queries must find.
fn whitened(weights: &str, gallery: &[Vec<f32>], queries: &[Vec<f32>]) -> Vec<serde_json::Value> {
    let fit =
        |rows: &[Vec<f32>]| Whitening::fit(rows, rows[0].len(), DEFAULT_SHRINKAGE).expect("fit");
    let apply = |w: &Whitening, rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
        rows.iter().map(|v| w.apply(v).expect("apply")).collect()
    };
    let w = fit(gallery);
    let on_gallery = score(
        "mobilenet_v2 + whitening fitted on the gallery",
        weights,
        &apply(&w, gallery),
        &apply(&w, queries),
    );
    let mut ranked = vec![Vec::new(); queries.len()];
    for fold in 0..2 {
        let other: Vec<Vec<f32>> = gallery.iter().skip(1 - fold).step_by(2).cloned().collect();
        let w = fit(&other);
        let mine: Vec<usize> = (fold..queries.len()).step_by(2).collect();
        let q: Vec<Vec<f32>> = mine.iter().map(|&i| queries[i].clone()).collect();
        for (i, list) in mine
            .into_iter()
            .zip(rank(&apply(&w, gallery), &apply(&w, &q)))
        {
            ranked[i] = list;
        }
    }
    let cross = entry(
        "mobilenet_v2 + whitening fitted on the other half's gallery",
        weights,
        &ranked,
    );
    vec![on_gallery, cross]
}

fn dump(dir: &Option<String>, name: &str, rows: &[Vec<f32>]) {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).expect("dump dir");
        let bytes: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(Path::new(dir).join(format!("{name}.f32")), bytes).expect("dump");
    }
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    let limit: usize = arg(&args, "--limit").map_or(usize::MAX, |v| v.parse().expect("--limit N"));
    let dump_dir = arg(&args, "--dump");
    let google = root.join("node_modules/emoji-datasource-google");
    let list: Vec<Emoji> = serde_json::from_slice(
        &std::fs::read(google.join("emoji.json")).expect("emoji.json: run npm ci"),
    )
    .expect("emoji.json");
    let files: Vec<String> = list
        .into_iter()
        .filter(|e| e.has_img_google && e.has_img_twitter)
        .map(|e| e.image)
        .take(limit)
        .collect();
    let gallery = load(&google.join("img/google/64"), &files);
    let queries = load(
        &root.join("node_modules/emoji-datasource-twitter/img/twitter/64"),
        &files,
    );
    eprintln!("{} emoji in both vendors", files.len());

    let mut quality = vec![score(
        "raw pixels (64 px)",
        "-",
        &raw_pixels(&gallery),
        &raw_pixels(&queries),
    )];
    let device = Device::flex();
    for weights in ["f32", "int8"] {
        let bytes = std::fs::read(root.join(format!("weights/mobilenet_v2.{weights}.safetensors")))
            .expect("weights: run node scripts/convert-mobilenet.mjs");
        let model = ImageEmbedder::load(&bytes, &device).expect("load");
        let started = Instant::now();
        let embed = |images: &[RgbImage]| -> Vec<Vec<f32>> {
            images
                .chunks(32)
                .flat_map(|batch| model.embed_batch(batch).expect("embed"))
                .collect()
        };
        let g = embed(&gallery);
        let q = embed(&queries);
        eprintln!(
            "{weights}: {} images in {:.1} s",
            g.len() + q.len(),
            started.elapsed().as_secs_f64()
        );
        dump(&dump_dir, &format!("gallery.{weights}"), &g);
        dump(&dump_dir, &format!("queries.{weights}"), &q);
        quality.push(score("mobilenet_v2", weights, &g, &q));
        quality.extend(whitened(weights, &g, &q));
        // The default embedding: the whitening the build learns from unlabelled images
        // (examples/fit_whitening.rs), none of them in this data set.
        let shipped = std::fs::read(root.join("weights/mobilenet_v2.whitening.safetensors"))
            .expect("whitening: run cargo run --example fit_whitening");
        let w = Whitening::from_safetensors(&shipped).expect("whitening file");
        let apply = |rows: &[Vec<f32>]| -> Vec<Vec<f32>> {
            rows.iter().map(|v| w.apply(v).expect("apply")).collect()
        };
        quality.push(score(
            "mobilenet_v2 + default whitening (learnt from unlabelled skin-tone variants)",
            weights,
            &apply(&g),
            &apply(&q),
        ));
    }
    println!("{}", json!({ "images": files.len(), "quality": quality }));
}
