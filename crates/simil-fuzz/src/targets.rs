//! The fuzz targets: each calls one real public decoder.

use std::path::PathBuf;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use serde_json::{Value, json};
use simil::model::ImageEmbedder;
use simil::model::clip::Clip;
use simil::model::clip_tokenizer::ClipTokenizer;
use simil::model::tokenizer::TextTokenizer;
use simil::model::weights::{TensorSet, WeightSet, read_metadata};
use simil_search::Collection;
use simil_search::collection::{CollectionConfig, SearchRequest};
use simil_search::head::DenseHead;
use simil_search::index::{Index, Item, Query};
use simil_search::whitening::Whitening;

use crate::mutate::{edit_json, havoc, safetensors, siml};
use crate::rng::Rng;
use crate::{repo_root, seeds};

/// One fuzz target.
pub struct Target {
    /// Its name (the corpus folder and the runner's argument).
    pub name: &'static str,
    /// What it decodes.
    pub about: &'static str,
    /// Valid inputs to start from.
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// A new input from `rng`, given the seeds.
    pub generate: fn(&mut Rng, &[Vec<u8>]) -> Vec<u8>,
    /// Feeds one input to the decoder; panics only if the decoder does.
    pub run: fn(&[u8]),
}

/// Every target, in the order the runner goes through them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "collection",
        about: "simil_search::Collection::from_bytes (formats 1-3), then a search per field and save",
        seeds: seeds::collection_files,
        generate: gen_siml,
        run: run_collection,
    },
    Target {
        name: "index",
        about: "simil_search::index::Index::from_bytes, then a search per field and save",
        seeds: seeds::index_files,
        generate: gen_siml,
        run: run_index,
    },
    Target {
        name: "head",
        about: "simil_search::head::DenseHead::from_safetensors, then apply",
        seeds: seeds::head_files,
        generate: gen_safetensors,
        run: run_head,
    },
    Target {
        name: "whitening",
        about: "simil_search::whitening::Whitening::from_safetensors, then apply",
        seeds: seeds::whitening_files,
        generate: gen_safetensors,
        run: run_whitening,
    },
    Target {
        name: "weights",
        about: "simil::model::weights: read_metadata, WeightSet and TensorSet::from_safetensors",
        seeds: seeds::weight_files,
        generate: gen_safetensors,
        run: run_weights,
    },
    Target {
        name: "image_model",
        about: "simil::ImageEmbedder::load (the network named by the metadata) on the CPU",
        seeds: seeds::image_model_files,
        generate: gen_safetensors,
        run: run_image_model,
    },
    Target {
        name: "clip_model",
        about: "simil::model::clip::Clip::load (shapes read from the weights) on the CPU, then embed",
        seeds: seeds::clip_model_files,
        generate: gen_safetensors,
        run: run_clip_model,
    },
    Target {
        name: "wordpiece",
        about: "MiniLM's WordPiece TextTokenizer::encode on lossily decoded bytes",
        seeds: seeds::texts,
        generate: gen_text,
        run: run_wordpiece,
    },
    Target {
        name: "clip_bpe",
        about: "CLIP's BPE ClipTokenizer::encode on lossily decoded bytes",
        seeds: seeds::texts,
        generate: gen_text,
        run: run_clip,
    },
    Target {
        name: "search_request",
        about: "serde_json SearchRequest, then Collection::search on a small collection",
        seeds: seeds::search_requests,
        generate: gen_request,
        run: run_search,
    },
    Target {
        name: "collection_config",
        about: "serde_json CollectionConfig, then Collection::new, add and search",
        seeds: seeds::collection_configs,
        generate: gen_config,
        run: run_config,
    },
    Target {
        name: "growth_job",
        about: "simil_search::index::Builder::run on a growth job (a graph copy, rows), twice",
        seeds: seeds::growth_jobs,
        generate: gen_framed,
        run: run_growth_job,
    },
    Target {
        name: "grown_links",
        about: "simil_search::index::Index::apply_growth on a builder's links, then search and save",
        seeds: seeds::grown_links,
        generate: gen_framed,
        run: run_grown_links,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

fn gen_siml(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = rng.pick(seeds);
    siml(rng, seed, seeds)
}

/// A framed growth message (magic, version, body, CRC of the body) with a havocked body, its
/// CRC recomputed most of the time so that the decoder behind it is reached.
fn gen_framed(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = rng.pick(seeds);
    let mut body = seed[8..seed.len() - 4].to_vec();
    havoc(rng, &mut body, seeds);
    let mut out = seed[..8].to_vec();
    if rng.one_in(10) {
        havoc(rng, &mut out, seeds);
    }
    out.extend_from_slice(&body);
    let crc = crc32fast::hash(&body);
    out.extend_from_slice(&if rng.one_in(20) { !crc } else { crc }.to_le_bytes());
    out
}

fn gen_safetensors(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let seed = rng.pick(seeds);
    let mut out = safetensors(rng, seed, seeds);
    if rng.one_in(3) {
        out = safetensors(rng, &out, seeds);
    }
    out
}

/// Characters the tokenisers treat specially, to build texts from.
const PALETTE: &[&str] = &[
    "a",
    "Z",
    "cat",
    "ing",
    " ",
    "  ",
    "\t",
    "\n",
    "\r",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{200b}",
    "\u{feff}",
    "é",
    "e\u{301}",
    "ß",
    "İ",
    "ﬁ",
    "Å",
    "東",
    "中",
    "ｶ",
    "한",
    "🐱",
    "👩\u{200d}👩",
    "\u{fffd}",
    "'s",
    "'",
    "!",
    ".",
    ",",
    "-",
    "#",
    "##",
    "[",
    "]",
    "<|",
    "|>",
    "</w>",
    "[UNK]",
    "<|endoftext|>",
    "0",
    "42",
    "\u{10ffff}",
    "\u{e000}",
    "\u{301}",
    "\u{2028}",
];

fn gen_text(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    match rng.below(4) {
        0 => {
            let mut out = rng.pick(seeds).clone();
            havoc(rng, &mut out, seeds);
            out
        }
        1 => {
            let n = rng.below(64);
            let raw = rng.bytes(n * 4);
            let mut u = Unstructured::new(&raw);
            String::arbitrary(&mut u).unwrap_or_default().into_bytes()
        }
        2 => {
            let mut s = String::new();
            for _ in 0..rng.below(48) {
                let piece: &&str = rng.pick(PALETTE);
                s.push_str(piece);
            }
            if rng.one_in(16) {
                s = s.repeat(1 + rng.below(200));
            }
            s.into_bytes()
        }
        _ => {
            let n = rng.below(96);
            rng.bytes(n)
        }
    }
}

/// A number as a query may hold one: ordinary, tiny, huge (infinite as f32), negative zero.
fn number(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(1e39),
        1 => json!(-3.5e38),
        2 => json!(1e-45),
        3 => json!(-0.0),
        4 => json!(rng.below(5)),
        _ => json!((rng.next_u64() % 2001) as f64 / 1000.0 - 1.0),
    }
}

fn field_name(rng: &mut Rng) -> Value {
    json!(rng.pick(&[
        "v",
        "w",
        "x",
        "learned",
        "",
        "nope",
        "name",
        "n",
        "meta.year",
        "meta.list.0",
        "tags",
        "meta.list.99",
        "meta..x"
    ]))
}

fn count(rng: &mut Rng) -> Value {
    json!(rng.pick(&[
        0u64,
        1,
        2,
        3,
        10,
        100,
        4096,
        10_000,
        10_001,
        1 << 32,
        u64::MAX
    ]))
}

/// A count that is mostly in range for the index's parameters.
fn small(rng: &mut Rng) -> Value {
    if rng.one_in(8) {
        count(rng)
    } else {
        json!(1 + rng.below(16))
    }
}

fn filter(rng: &mut Rng, depth: usize) -> Value {
    let leaf = depth == 0 || rng.one_in(2);
    match rng.below(if leaf { 4 } else { 7 }) {
        0 => json!({ "eq": { "field": field_name(rng), "value": scalar(rng) } }),
        1 => {
            let values: Vec<Value> = (0..rng.below(4)).map(|_| scalar(rng)).collect();
            json!({ "in": { "field": field_name(rng), "values": values } })
        }
        2 => {
            let mut range = serde_json::Map::new();
            range.insert("field".into(), field_name(rng));
            for bound in ["gt", "gte", "lt", "lte"] {
                if rng.one_in(2) {
                    range.insert(bound.into(), number(rng));
                }
            }
            json!({ "range": range })
        }
        3 => json!({ "exists": { "field": field_name(rng) } }),
        4 => {
            json!({ "and": (0..rng.below(4)).map(|_| filter(rng, depth - 1)).collect::<Vec<_>>() })
        }
        5 => json!({ "or": (0..rng.below(4)).map(|_| filter(rng, depth - 1)).collect::<Vec<_>>() }),
        _ => json!({ "not": filter(rng, depth - 1) }),
    }
}

fn scalar(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => json!(rng.below(12)),
        1 => json!(rng.pick(&["red", "even", "odd", "thing 3", ""])),
        2 => json!(null),
        3 => json!(true),
        4 => json!([rng.below(5), "x"]),
        _ => number(rng),
    }
}

fn arbitrary_text(rng: &mut Rng) -> String {
    let n = rng.below(48);
    let raw = rng.bytes(n);
    let s = String::arbitrary(&mut Unstructured::new(&raw)).unwrap_or_default();
    match rng.below(4) {
        0 => s,
        1 => format!("{s} red thing"),
        2 => "even ".repeat(rng.below(1200)),
        _ => rng
            .pick(&["red", "thing 4", "odd red", "", "   ", "東京 🐱"])
            .to_string(),
    }
}

fn gen_request(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.one_in(4) {
        let mut out = rng.pick(seeds).clone();
        havoc(rng, &mut out, seeds);
        return out;
    }
    let mut request = serde_json::Map::new();
    let vectors: Vec<Value> = (0..rng.below(4))
        .map(|_| {
            let len = if rng.one_in(20) {
                rng.below(5000)
            } else {
                rng.below(6)
            };
            let vector: Vec<Value> = (0..len).map(|_| number(rng)).collect();
            let mut q = json!({ "field": field_name(rng), "vector": vector });
            if rng.one_in(3) {
                q["weight"] = number(rng);
            }
            q
        })
        .collect();
    request.insert("vectors".into(), json!(vectors));
    request.insert("k".into(), count(rng));
    for (key, value) in [
        ("numCandidates", count(rng)),
        ("filter", filter(rng, 4)),
        ("minScore", number(rng)),
        ("exact", json!(rng.one_in(2))),
        ("text", json!(arbitrary_text(rng))),
    ] {
        if rng.one_in(2) {
            request.insert(key.into(), value);
        }
    }
    let mut value = Value::Object(request);
    if rng.one_in(4) {
        edit_json(rng, &mut value);
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

fn gen_config(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if rng.one_in(4) {
        let mut out = rng.pick(seeds).clone();
        havoc(rng, &mut out, seeds);
        return out;
    }
    let most = if rng.one_in(10) { 20 } else { 4 };
    let fields: Vec<Value> = (0..rng.below(most))
        .map(|_| {
            json!({
                "name": field_name(rng),
                "dim": if rng.one_in(4) { *rng.pick(&[0u64, 4096, 4097, u64::MAX]) } else { 1 + rng.below(8) as u64 },
                "metric": rng.pick(&["cosine", "dot", "l2", "cosine", "dot", "l2", "L2"]),
                "storage": rng.pick(&["f32", "int8", "int8_only", "f32", "int8", "int8_only", "f16"]),
            })
        })
        .collect();
    let mut config = json!({
        "fields": fields,
        "hnsw": { "m": small(rng), "efConstruction": small(rng), "efSearch": small(rng), "heuristic": rng.one_in(2) },
        "sealThreshold": small(rng),
    });
    if rng.one_in(2) {
        let names: Vec<Value> = (0..rng.below(20)).map(|_| field_name(rng)).collect();
        config["textFields"] = json!(names);
    }
    if rng.one_in(3) {
        edit_json(rng, &mut config);
    }
    serde_json::to_vec(&config).unwrap_or_default()
}

/// `(name, dim)` of each vector field of `config`.
fn field_dims(config: &simil_search::index::IndexConfig) -> Vec<(String, usize)> {
    config
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.dim))
        .collect()
}

/// A query for each vector field of `fields` (`(name, dim)`), `k` 3, some with a filter.
fn probe_queries(fields: &[(String, usize)]) -> Vec<Query> {
    fields
        .iter()
        .map(|(name, dim)| {
            let mut q = Query::nearest(name, (0..*dim).map(|i| 1.0 - i as f32 * 0.1).collect(), 3);
            q.filter = serde_json::from_value(json!({ "exists": { "field": "n" } })).ok();
            q
        })
        .collect()
}

fn run_collection(input: &[u8]) {
    let Ok(mut c) = Collection::from_bytes(input) else {
        return;
    };
    let main = field_dims(&c.config().index);
    let mut fields = main.clone();
    fields.extend(
        c.learned_fields()
            .iter()
            .map(|l| (l.name.clone(), l.head.input)),
    );
    let search = |c: &Collection| {
        for q in probe_queries(&fields) {
            let _ = c.search(&SearchRequest {
                text: Some("red thing".into()),
                ..SearchRequest::from(q.clone())
            });
            // Through a text head, when a learned field has one (else a typed error).
            let _ = c.search(&SearchRequest {
                text_vector: Some(vec![0.25; 384]),
                ..SearchRequest::from(q)
            });
        }
    };
    search(&c);
    let _ = c.stats();
    // A loaded collection keeps working: writes, upkeep (merging the loaded segments), search,
    // and a save that loads again.
    let _ = c.add(new_items(&main));
    let _ = c.delete(&["item-2".to_string(), "new-0".to_string()]);
    for _ in 0..8 {
        if !matches!(c.maintain_step(), Ok(true)) {
            break;
        }
    }
    search(&c);
    reloads("collection", Collection::from_bytes(&c.to_bytes()));
}

/// Asserts that a loaded `what`, saved again, gave a file that loads (`reloaded`).
fn reloads<T, E: std::fmt::Debug>(what: &str, reloaded: Result<T, E>) {
    if let Err(e) = reloaded {
        panic!("a loaded {what} saves to a file that loads: {e:?}");
    }
}

/// Two items with a vector for each of `fields` (`(name, dim)`).
fn new_items(fields: &[(String, usize)]) -> Vec<Item> {
    (0..2)
        .map(|i| Item {
            id: format!("new-{i}"),
            vectors: fields
                .iter()
                .map(|(n, d)| {
                    (
                        n.clone(),
                        (0..*d).map(|k| (k + i) as f32 * 0.5 - 1.0).collect(),
                    )
                })
                .collect(),
            payload: json!({ "name": "red thing", "tags": ["odd"], "n": i }),
        })
        .collect()
}

fn run_index(input: &[u8]) {
    let Ok(mut index) = Index::from_bytes(input) else {
        return;
    };
    let fields = field_dims(index.config());
    let search = |index: &Index| {
        for q in probe_queries(&fields) {
            let _ = index.search(&q);
        }
    };
    search(&index);
    let _ = index.stats();
    for item in new_items(&fields) {
        let _ = index.upsert(item);
    }
    index.delete("item-3");
    index.maintain();
    search(&index);
    reloads("index", Index::from_bytes(&index.to_bytes()));
}

fn run_growth_job(input: &[u8]) {
    let mut builder = simil_search::index::Builder::default();
    // Twice: the second run grows the copy the first one kept.
    if builder.run(input).is_ok() {
        let _ = builder.run(input);
    }
}

fn run_grown_links(input: &[u8]) {
    let mut index = seeds::growing_index();
    let (ticket, _) = index.plan_growth(seeds::GROWTH_ROWS, true).expect("growth");
    let input = seeds::with_instance(input, ticket.key().instance);
    let before = index.to_bytes();
    if index.apply_growth(ticket, &input).is_err() {
        assert!(index.to_bytes() == before, "refused links change nothing");
        return;
    }
    let fields = field_dims(index.config());
    for q in probe_queries(&fields) {
        let _ = index.search(&q);
    }
    index.maintain();
    reloads("grown index", Index::from_bytes(&index.to_bytes()));
}

fn run_head(input: &[u8]) {
    if let Ok(head) = DenseHead::from_safetensors(input) {
        let out = head.apply(&vec![0.5; head.input_dim()]);
        assert_eq!(out.len(), head.output_dim());
    }
}

fn run_whitening(input: &[u8]) {
    if let Ok(w) = Whitening::from_safetensors(input) {
        let out = w.apply(&vec![0.5; w.dim()]);
        assert_eq!(out.map(|o| o.len()).ok(), Some(w.out_dim()));
        let _ = w.apply(&[1.0]);
    }
}

fn run_weights(input: &[u8]) {
    let _ = read_metadata(input);
    let _ = WeightSet::from_safetensors(input, &seeds::conv_layers());
    let _ = TensorSet::from_safetensors(input, &seeds::named_tensors());
    let _ = TensorSet::from_safetensors_ignoring(input, &seeds::named_tensors()[..1], |n| {
        n.contains('.')
    });
}

/// MiniLM's tokeniser: `weights/minilm.tokenizer.json` when present (the runner), else the
/// committed subset of its vocabulary (`fixtures/wordpiece.tokenizer.json`, for CI).
pub fn wordpiece() -> &'static TextTokenizer {
    static TOKENIZER: OnceLock<TextTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let bytes = std::fs::read(repo_root().join("weights/minilm.tokenizer.json"))
            .or_else(|_| {
                std::fs::read(
                    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                        .join("fixtures/wordpiece.tokenizer.json"),
                )
            })
            .expect("a WordPiece tokenizer.json");
        TextTokenizer::from_json(&bytes).expect("the tokenizer loads")
    })
}

fn clip() -> &'static ClipTokenizer {
    static TOKENIZER: OnceLock<ClipTokenizer> = OnceLock::new();
    TOKENIZER.get_or_init(|| {
        let dir = repo_root().join("tests/fixtures/clip");
        let vocab = std::fs::read(dir.join("vocab.json")).expect("vocab.json");
        let merges = std::fs::read(dir.join("merges.txt")).expect("merges.txt");
        ClipTokenizer::from_files(&vocab, &merges).expect("the CLIP tokenizer loads")
    })
}

fn run_wordpiece(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    if let Ok(ids) = wordpiece().encode(&text) {
        assert!(ids.len() <= simil::model::tokenizer::MAX_TOKENS);
    }
}

fn run_clip(input: &[u8]) {
    let text = String::from_utf8_lossy(input);
    let ids = clip().encode(&text);
    assert!(ids.len() <= simil::model::clip_tokenizer::CLIP_MAX_TOKENS);
    assert!(ids.iter().all(|&id| (id as usize) < clip().vocab_size()));
}

fn run_image_model(input: &[u8]) {
    let compute = simil::Compute::cpu();
    if let Ok(embedder) = ImageEmbedder::load(input, compute.device()) {
        assert!(embedder.dim() > 0);
    }
}

fn run_clip_model(input: &[u8]) {
    static FILES: OnceLock<[Vec<u8>; 3]> = OnceLock::new();
    let [config, vocab, merges] = FILES.get_or_init(|| {
        let dir = repo_root().join("tests/fixtures/clip");
        ["config.json", "vocab.json", "merges.txt"]
            .map(|f| std::fs::read(dir.join(f)).expect("CLIP fixture"))
    });
    let compute = simil::Compute::cpu();
    if let Ok(clip) = Clip::load(input, config, vocab, merges, compute.device()) {
        let texts = clip.embed_texts(&["a photo of a cat"]);
        assert_eq!(texts.map(|t| t[0].len()).ok(), Some(clip.dim()));
        let side = clip.image_size();
        if side <= 64 {
            let images = clip.embed_pixels(vec![0.25; 3 * side * side]);
            assert_eq!(images.map(|t| t[0].len()).ok(), Some(clip.dim()));
        }
    }
}

fn search_collection() -> &'static Collection {
    static COLLECTION: OnceLock<Collection> = OnceLock::new();
    COLLECTION.get_or_init(|| seeds::collection(24, 8, true))
}

fn run_search(input: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<SearchRequest>(input)
        && let Ok(hits) = search_collection().search(&request)
    {
        assert!(hits.len() <= request.query.k);
    }
}

fn run_config(input: &[u8]) {
    let Ok(config) = serde_json::from_slice::<CollectionConfig>(input) else {
        return;
    };
    let Ok(mut c) = Collection::new(config) else {
        return;
    };
    let fields = field_dims(&c.config().index);
    let items: Vec<Item> = (0..3)
        .map(|i| Item {
            id: format!("i{i}"),
            vectors: fields
                .iter()
                .map(|(n, d)| (n.clone(), vec![1.0 + i as f32; *d]))
                .collect(),
            payload: json!({ "name": "red thing", "tags": ["a"], "t": "x" }),
        })
        .collect();
    let _ = c.add(items);
    let _ = c.maintain_step();
    for q in probe_queries(&fields) {
        let _ = c.search(&SearchRequest {
            text: Some("red".into()),
            ..SearchRequest::from(q)
        });
    }
}
