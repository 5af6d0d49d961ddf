//! Valid inputs the mutators start from, made with the public API (and the committed
//! fixtures), so every format version and section kind that loads is represented.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use simil_search::Collection;
use simil_search::collection::CollectionConfig;
use simil_search::head::{DenseHead, HeadConfig, write_saved};
use simil_search::index::{Index, IndexConfig, Item};
use simil_search::whitening::Whitening;

use crate::mutate::{siml_encode, siml_parse};
use crate::repo_root;

/// The configuration of the small collections: three fields (one of each metric and
/// storage), a low seal threshold and two keyword fields.
pub fn config_json(seal: usize) -> Value {
    json!({
        "fields": [
            { "name": "v", "dim": 4, "metric": "cosine" },
            { "name": "w", "dim": 3, "metric": "dot", "storage": "int8" },
            { "name": "x", "dim": 2, "metric": "l2", "storage": "int8_only" }
        ],
        "hnsw": { "m": 4, "efConstruction": 16, "efSearch": 8 },
        "sealThreshold": seal,
        "textFields": ["name", "tags"]
    })
}

/// Item `i` of the small collections (some fields left out).
pub fn item(i: usize) -> Item {
    let f = i as f32;
    let mut vectors = BTreeMap::new();
    vectors.insert(
        "v".to_string(),
        vec![1.0, f, (f * 0.7).sin(), 0.5 - f * 0.1],
    );
    if !i.is_multiple_of(3) {
        vectors.insert("w".to_string(), vec![f.cos(), 1.0, f * 0.2]);
    }
    if i % 4 != 1 {
        vectors.insert("x".to_string(), vec![f * 0.3, -f]);
    }
    Item {
        id: format!("item-{i}"),
        vectors,
        payload: json!({
            "name": format!("thing {i}"),
            "tags": if i.is_multiple_of(2) { vec!["even"] } else { vec!["odd", "red"] },
            "n": i,
            "meta": { "year": 1990 + i, "list": [i, i + 1] }
        }),
    }
}

/// A head `input → hidden → output` with deterministic weights.
pub fn head_bytes(input: usize, hidden: &[usize], output: usize) -> Vec<u8> {
    let config = HeadConfig {
        input,
        hidden: hidden.to_vec(),
        output,
    };
    let widths: Vec<usize> = std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(output))
        .collect();
    let layers: Vec<(Vec<f32>, Vec<f32>)> = widths
        .windows(2)
        .map(|w| {
            let weight = (0..w[0] * w[1]).map(|k| (k as f32 * 0.37).sin()).collect();
            let bias = (0..w[1]).map(|k| k as f32 * 0.01).collect();
            (weight, bias)
        })
        .collect();
    write_saved(&config, &layers).expect("a valid head")
}

/// A small collection of `n` items: sealed segments when `n` exceeds `seal`, some deletions,
/// and a learned field when `learned`.
pub fn collection(n: usize, seal: usize, learned: bool) -> Collection {
    let config: CollectionConfig = serde_json::from_value(config_json(seal)).expect("config");
    let mut c = Collection::new(config).expect("collection");
    c.add((0..n).map(item).collect()).expect("add");
    while c.maintain_step().expect("maintain") {}
    c.add((n..n + n / 3).map(item).collect()).expect("add");
    c.delete(&["item-1".to_string(), format!("item-{}", n / 2)]);
    if learned {
        let head = DenseHead::from_safetensors(&head_bytes(4, &[5], 3)).expect("head");
        c.learn_field("learned", "v", head).expect("learn");
    }
    c
}

/// Valid collection files: the committed format-3 fixture, files written now (with and
/// without sealed segments and learned fields), and format 1 and 2 files (a collection
/// without `COLL` or `HEAD` sections and without int8-only fields, as those versions wrote).
pub fn collection_files() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    if let Ok(f) =
        std::fs::read(repo_root().join("crates/simil-search/tests/fixtures/collection-v3.siml"))
    {
        files.push(f);
    }
    for (n, seal, learned) in [(0, 4, false), (3, 8, false), (12, 5, true), (20, 6, false)] {
        files.push(collection(n, seal, learned).to_bytes());
    }
    files.extend(old_versions());
    files
}

/// Format 1 and 2 files: an index whose configuration carries `text_fields` (where those
/// versions kept them), no int8-only field, no extra sections.
fn old_versions() -> Vec<Vec<u8>> {
    let mut config = config_json(5);
    config["fields"].as_array_mut().expect("fields").pop();
    config["text_fields"] = config["textFields"].take();
    let config: IndexConfig = serde_json::from_value(config).expect("config");
    let mut index = Index::new(config).expect("index");
    for i in 0..9 {
        let mut it = item(i);
        it.vectors.remove("x");
        index.upsert(it).expect("upsert");
    }
    index.maintain();
    let (_, sections) = siml_parse(&index.to_bytes()).expect("a SIML file");
    vec![siml_encode(1, &sections), siml_encode(2, &sections)]
}

/// Valid index files (an index alone, which has no extra sections).
pub fn index_files() -> Vec<Vec<u8>> {
    let mut files = old_versions();
    for (n, seal) in [(0, 4), (6, 3), (15, 5)] {
        let config: IndexConfig = serde_json::from_value(config_json(seal)).expect("config");
        let mut index = Index::new(config).expect("index");
        for i in 0..n {
            index.upsert(item(i)).expect("upsert");
        }
        index.maintain();
        index.delete("item-2");
        files.push(index.to_bytes());
    }
    files
}

/// Saved heads of several shapes.
pub fn head_files() -> Vec<Vec<u8>> {
    vec![
        head_bytes(4, &[], 3),
        head_bytes(4, &[5], 3),
        head_bytes(2, &[3, 2], 1),
        head_bytes(1, &[], 1),
    ]
}

/// Whitening files fitted on small data.
pub fn whitening_files() -> Vec<Vec<u8>> {
    [(4usize, 3usize, 12usize), (3, 3, 8), (2, 1, 5)]
        .iter()
        .filter_map(|&(dim, out, rows)| {
            let data: Vec<Vec<f32>> = (0..rows)
                .map(|r| {
                    (0..dim)
                        .map(|c| ((((r * dim + c) * 7) % 13) as f32 * 0.41).sin() + r as f32 * 0.01)
                        .collect()
                })
                .collect();
            Whitening::fit(&data, out, 1e-3)
                .ok()
                .map(|w| w.to_safetensors())
        })
        .collect()
}

/// The tensors of the small architectures the weights target checks files against: a stack
/// of convolutions (`WeightSet`: `<layer>.weight`, `.bias`, `.weight_scale`) and named tensors
/// of any rank (`TensorSet`: `<name>`, `<name>_scale`), as the real model files hold them.
pub fn conv_layers() -> Vec<(String, [usize; 4])> {
    vec![
        ("features.0".to_string(), [2, 1, 3, 3]),
        ("features.1".to_string(), [3, 2, 1, 1]),
    ]
}

/// See [`conv_layers`].
pub fn named_tensors() -> Vec<(String, Vec<usize>)> {
    vec![
        ("embeddings.word".to_string(), vec![5, 3]),
        ("encoder.0.bias".to_string(), vec![3]),
        ("encoder.0.weight".to_string(), vec![2, 3, 2]),
    ]
}

/// Weight files in both layouts, f32 and int8, with metadata as the converters write it.
pub fn weight_files() -> Vec<Vec<u8>> {
    use safetensors::{Dtype, tensor::TensorView};
    let f32s = |n: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|k| ((k as f32) * 0.1 - 0.3).to_le_bytes())
            .collect()
    };
    let i8s = |n: usize| -> Vec<u8> { (0..n).map(|k| (k as i8).wrapping_mul(37) as u8).collect() };
    type Tensor = (String, Dtype, Vec<usize>, Vec<u8>);
    let f32_tensor = |name: String, shape: Vec<usize>| -> Tensor {
        let n = shape.iter().product();
        (name, Dtype::F32, shape, f32s(n))
    };
    // A weight: f32, or int8 followed by its `_scale` (one f32 per output row).
    let weight = |name: String, shape: Vec<usize>, int8: bool| -> Vec<Tensor> {
        if !int8 {
            return vec![f32_tensor(name, shape)];
        }
        let scale = f32_tensor(format!("{name}_scale"), vec![shape[0]]);
        let n = shape.iter().product();
        vec![(name, Dtype::I8, shape, i8s(n)), scale]
    };
    let mut files = Vec::new();
    for int8 in [false, true] {
        let mut conv = Vec::new();
        for (layer, shape) in conv_layers() {
            conv.extend(weight(format!("{layer}.weight"), shape.to_vec(), int8));
            conv.push(f32_tensor(format!("{layer}.bias"), vec![shape[0]]));
        }
        // Biases (one dimension) stay f32 in int8 files.
        let named: Vec<Tensor> = named_tensors()
            .into_iter()
            .flat_map(|(name, shape)| {
                let int8 = int8 && shape.len() > 1;
                weight(name, shape, int8)
            })
            .collect();
        for (tensors, arch) in [(conv, "mobilenet_v2"), (named, "minilm")] {
            let views: Vec<(String, TensorView<'_>)> = tensors
                .iter()
                .map(|(name, dtype, shape, data)| {
                    (
                        name.clone(),
                        TensorView::new(*dtype, shape.clone(), data).expect("view"),
                    )
                })
                .collect();
            let meta: std::collections::HashMap<String, String> = [
                ("architecture".to_string(), arch.to_string()),
                ("tap".to_string(), "Mixed_7c".to_string()),
            ]
            .into();
            files.push(safetensors::serialize(views, Some(meta)).expect("serialize"));
        }
    }
    files
}

/// Texts that exercise the tokenisers' paths: accents, CJK, punctuation, emoji, controls,
/// long words, contractions.
pub fn texts() -> Vec<Vec<u8>> {
    [
        "a photo of a cat",
        "Héllo, Wörld! naïve café",
        "東京タワーの写真 and 中文字符",
        "it's they're we'll I'd",
        "🐱🐶 emoji 👩‍👩‍👧 zwj",
        "tabs\tand\nnewlines\r\u{0}\u{7f}\u{200b}",
        "supercalifragilisticexpialidocious_unbelievably_long_word_here",
        "   ",
        "",
        "a\u{301}\u{302}\u{303} combining",
        "<|startoftext|> <|endoftext|> [CLS] [SEP] [UNK] ##ing",
        "1234567890 3.14159 $100,000",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

/// Search requests over [`collection`]'s fields: vector, keyword, hybrid, filtered.
pub fn search_requests() -> Vec<Vec<u8>> {
    [
        json!({ "vectors": [{ "field": "v", "vector": [1.0, 2.5, 0.3, 0.2] }], "k": 4 }),
        json!({ "vectors": [{ "field": "w", "vector": [0.5, 1.0, 0.4], "weight": 2.0 }], "k": 3, "exact": true }),
        json!({ "vectors": [], "k": 5, "text": "red thing" }),
        json!({ "vectors": [{ "field": "x", "vector": [1.0, 0.0] }], "k": 3, "numCandidates": 10, "minScore": 0.1,
                "filter": { "and": [{ "range": { "field": "n", "gte": 2, "lt": 9 } }, { "not": { "eq": { "field": "tags", "value": "red" } } }] } }),
        json!({ "vectors": [{ "field": "learned", "vector": [1.0, 4.0, -0.2, 0.1] }], "k": 4,
                "filter": { "or": [{ "in": { "field": "meta.list.1", "values": [3, 4, "x"] } }, { "exists": { "field": "meta.year" } }] } }),
        json!({ "vectors": [{ "field": "v", "vector": [1, 0, 0, 0] }, { "field": "w", "vector": [0, 1, 0] }], "k": 2, "text": "even", "num_candidates": 5, "min_score": -1 }),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).expect("json"))
    .chain([100, 127, 128, 5000].map(deep_filter))
    .collect()
}

/// A request whose filter nests `depth` `not`s (serde_json stops at 128 levels).
fn deep_filter(depth: usize) -> Vec<u8> {
    let filter = format!(
        "{}{{\"exists\":{{\"field\":\"n\"}}}}{}",
        "{\"not\":".repeat(depth),
        "}".repeat(depth)
    );
    format!(
        "{{\"vectors\":[{{\"field\":\"v\",\"vector\":[1,0,0,0]}}],\"k\":3,\"filter\":{filter}}}"
    )
    .into_bytes()
}

/// Collection configurations (camelCase and the snake_case aliases).
pub fn collection_configs() -> Vec<Vec<u8>> {
    [
        config_json(4),
        json!({ "fields": [{ "name": "image", "dim": 1280, "metric": "cosine" }] }),
        json!({ "fields": [{ "name": "a", "dim": 8, "metric": "l2", "storage": "int8" }], "hnsw": { "m": 64, "ef_construction": 4096, "ef_search": 1, "heuristic": false }, "seal_threshold": 1, "text_fields": ["t"] }),
    ]
    .iter()
    .map(|v| serde_json::to_vec(v).expect("json"))
    .collect()
}

/// The tiny CLIP checkpoint of the parity test (`tests/fixtures/clip/model.safetensors`).
pub fn clip_model_files() -> Vec<Vec<u8>> {
    vec![
        std::fs::read(repo_root().join("tests/fixtures/clip/model.safetensors"))
            .expect("the CLIP fixture"),
    ]
}

/// Image model files: headers naming each network (and taps, known and not) with no tensors,
/// and the converted MobileNetV2 int8 weights when `weights/` holds them (not in CI).
pub fn image_model_files() -> Vec<Vec<u8>> {
    let mut files: Vec<Vec<u8>> = [
        ("mobilenet_v2", None),
        ("inception_v3", Some("Mixed_7c")),
        ("inception_v3", Some("Mixed_6e")),
        ("inception_v3", Some("Mixed_9z")),
        ("inception_v3", None),
        ("resnet", None),
    ]
    .iter()
    .map(|(model, tap)| {
        let mut meta = std::collections::HashMap::from([("model".to_string(), model.to_string())]);
        if let Some(tap) = tap {
            meta.insert("tap".to_string(), tap.to_string());
        }
        let none: Vec<(&str, safetensors::tensor::TensorView<'_>)> = Vec::new();
        safetensors::serialize(none, Some(meta)).expect("serialize")
    })
    .collect();
    if let Ok(f) = std::fs::read(repo_root().join("weights/mobilenet_v2.int8.safetensors")) {
        files.push(f);
    }
    files
}

/// An index with a graph and rows waiting to grow into it (no `int8_only` field, whose graphs
/// are rebuilt rather than grown), the same every call.
pub fn growing_index() -> Index {
    let mut config = config_json(4);
    config["fields"].as_array_mut().expect("fields").pop();
    let config: IndexConfig = serde_json::from_value(config).expect("config");
    let mut index = Index::new(config).expect("index");
    let item = |i: usize| {
        let mut it = item(i);
        it.vectors.remove("x");
        it
    };
    for i in 0..9 {
        index.upsert(item(i)).expect("upsert");
    }
    index.maintain();
    for i in 9..14 {
        index.upsert(item(i)).expect("upsert");
    }
    index.delete("item-2");
    index
}

/// Rows a growth step of [`growing_index`] takes in the fuzz targets.
pub const GROWTH_ROWS: usize = 3;

/// Valid growth jobs (`Index::plan_growth`): with the graph copy, and a whole step.
pub fn growth_jobs() -> Vec<Vec<u8>> {
    let index = growing_index();
    [(GROWTH_ROWS, true), (100, true), (1, true)]
        .into_iter()
        .map(|(rows, copy)| index.plan_growth(rows, copy).expect("growth").1)
        .collect()
}

/// Valid grown links for [`growing_index`]'s step of [`GROWTH_ROWS`] rows (`Builder::run`).
pub fn grown_links() -> Vec<Vec<u8>> {
    let (_, job) = growing_index()
        .plan_growth(GROWTH_ROWS, true)
        .expect("growth");
    vec![
        simil_search::index::Builder::default()
            .run(&job)
            .expect("grown"),
    ]
}

/// Framed grown links (`SIGD`, version, body, CRC) made to name index instance `instance`
/// (each [`growing_index`] is a new instance, and links for another are refused before they
/// are read), the CRC recomputed where it was right, so that the decoder behind is reached.
pub fn with_instance(links: &[u8], instance: u64) -> Vec<u8> {
    let mut out = links.to_vec();
    if out.len() < 8 + 8 + 4 {
        return out;
    }
    let body_end = out.len() - 4;
    let crc_ok = crc32fast::hash(&out[8..body_end]).to_le_bytes() == out[body_end..];
    out[8..16].copy_from_slice(&instance.to_le_bytes());
    if crc_ok {
        let crc = crc32fast::hash(&out[8..body_end]);
        out[body_end..].copy_from_slice(&crc.to_le_bytes());
    }
    out
}
