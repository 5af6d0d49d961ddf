//! Native index benchmark on a data set written by `index_bench --dump-data` (the vectors the
//! browser run reads, with their exact top-10s): build time, then recall@10 and single-thread
//! queries per second for each `ef_search` of a sweep, in two modes:
//!
//! * `bulk`: every item added, then one maintenance pass (one sealed segment);
//! * `batches`: items added 1,000 at a time, sealing and merging after each batch as the
//!   defaults do (`"mode": "batches of 1000"`), the path a growing collection takes.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --profile bench -p simil-index --example index_native -- \
//!   --data bench/work/index-clustered.bin [--modes bulk,batches] [--ef 16,24,32,48,64,100]
//! ```
//!
//! Prints one JSON object (`{"runs": [...]}`) on stdout, progress on stderr.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use simil_index::{FieldSpec, HnswParams, Index, IndexConfig, Item, Metric, Query, Storage};

/// The data set: base vectors, queries and each query's exact top-10 ids.
struct Data {
    n: usize,
    dim: usize,
    base: Vec<f32>,
    queries: Vec<f32>,
    truth: Vec<u32>,
}

fn load(path: &str) -> Data {
    let bytes = std::fs::read(path).expect("--data FILE");
    let u32s = |at: usize, count: usize| -> Vec<u32> {
        bytes[at..at + 4 * count]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let head = u32s(0, 3);
    let (n, nq, dim) = (head[0] as usize, head[1] as usize, head[2] as usize);
    let f32s = |at: usize, count: usize| -> Vec<f32> {
        u32s(at, count).into_iter().map(f32::from_bits).collect()
    };
    Data {
        n,
        dim,
        base: f32s(12, n * dim),
        queries: f32s(12 + 4 * n * dim, nq * dim),
        truth: u32s(12 + 4 * (n + nq) * dim, nq * 10),
    }
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default.to_string(), String::clone)
}

/// Recall@10 (first pass) and queries per second over passes repeated for at least 2 s.
fn measure(index: &Index, data: &Data) -> (f64, f64) {
    let search = |q: &[f32]| -> Vec<u32> {
        index
            .search(&Query::nearest("v", q.to_vec(), 10))
            .expect("search")
            .into_iter()
            .map(|h| h.id.parse().expect("id"))
            .collect()
    };
    let queries: Vec<&[f32]> = data.queries.chunks_exact(data.dim).collect();
    let hits: usize = queries
        .iter()
        .zip(data.truth.chunks_exact(10))
        .map(|(q, want)| search(q).iter().filter(|id| want.contains(id)).count())
        .sum();
    let (mut passes, started) = (0, Instant::now());
    while passes == 0 || (passes < 10 && started.elapsed().as_secs_f64() < 2.0) {
        queries.iter().for_each(|q| drop(search(q)));
        passes += 1;
    }
    let qps = (passes * queries.len()) as f64 / started.elapsed().as_secs_f64();
    (hits as f64 / (10 * queries.len()) as f64, qps)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = load(&arg(&args, "--data", "bench/work/index-clustered.bin"));
    let defaults = HnswParams::default();
    let params = HnswParams {
        m: arg(&args, "--m", &defaults.m.to_string())
            .parse()
            .expect("--m"),
        ef_construction: arg(
            &args,
            "--ef-construction",
            &defaults.ef_construction.to_string(),
        )
        .parse()
        .expect("--ef-construction"),
        ..defaults
    };
    let sweep: Vec<usize> = arg(&args, "--ef", "16,24,32,48,64,100")
        .split(',')
        .map(|e| e.parse().expect("--ef"))
        .collect();
    let label = arg(&args, "--label", "simil-hnsw-f32");
    let mut runs = Vec::new();
    for mode in arg(&args, "--modes", "bulk,batches").split(',') {
        let batch = if mode == "bulk" { data.n } else { 1000 };
        let mut config = IndexConfig::with_fields(vec![FieldSpec {
            name: "v".into(),
            dim: data.dim,
            metric: Metric::Cosine,
            storage: Storage::F32,
        }]);
        config.hnsw = params.clone();
        let started = Instant::now();
        let mut index = Index::new(config).expect("config");
        for (b, chunk) in data.base.chunks(batch * data.dim).enumerate() {
            for (i, v) in chunk.chunks_exact(data.dim).enumerate() {
                index
                    .upsert(Item {
                        id: (b * batch + i).to_string(),
                        vectors: BTreeMap::from([("v".to_string(), v.to_vec())]),
                        payload: Value::Null,
                    })
                    .expect("upsert");
            }
            index.maintain();
            if (b + 1) % 10 == 0 {
                eprintln!(
                    "  {mode}: {} rows, {:.1} s",
                    (b + 1) * batch,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        let build_s = started.elapsed().as_secs_f64();
        let segments: Vec<usize> = index.stats().segments.iter().map(|s| s.rows).collect();
        eprintln!("{mode}: built in {build_s:.1} s, segments {segments:?}");
        for &ef in &sweep {
            index.set_ef_search(ef).expect("ef");
            let (recall, qps) = measure(&index, &data);
            eprintln!("  ef {ef}: recall {recall:.4}, {qps:.0} q/s");
            runs.push(json!({
                "env": "native", "dataset": "clustered", "n": data.n, "dim": data.dim,
                "engine": label,
                "mode": if mode == "bulk" { "bulk" } else { "batches of 1000" },
                "params": { "m": params.m, "ef_construction": params.ef_construction,
                            "ef_search": ef, "segments": segments,
                            "threads": std::env::var("RAYON_NUM_THREADS").ok() },
                "recall_at_10": recall, "qps": qps, "build_s": build_s,
            }));
        }
    }
    println!("{}", json!({ "runs": runs }));
}
