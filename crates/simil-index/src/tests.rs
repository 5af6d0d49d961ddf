//! Behavioural tests of the index against a brute-force reference.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use super::distance::{QueryVec, VecRef, similarity};
use super::*;

/// The seeded generator of simil's tests (ChaCha8), with the draws these tests use.
struct Rng(ChaCha8Rng);

impl Rng {
    fn seeded(seed: u64) -> Self {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }
    /// Roughly normal: the sum of four uniform draws, centred.
    fn gauss(&mut self) -> f32 {
        (0..4).map(|_| self.0.gen_range(0.0..1.0)).sum::<f32>() - 2.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.gauss()).collect()
    }
}

/// `n` vectors around `clusters` random centres.
fn clustered(rng: &mut Rng, n: usize, dim: usize, clusters: usize) -> Vec<Vec<f32>> {
    let centres: Vec<Vec<f32>> = (0..clusters)
        .map(|_| rng.vector(dim).iter().map(|x| 3.0 * x).collect())
        .collect();
    (0..n)
        .map(|i| {
            let c = &centres[i % clusters];
            c.iter().map(|x| x + 0.6 * rng.gauss()).collect()
        })
        .collect()
}

fn field(name: &str, dim: usize, metric: Metric, storage: Storage) -> FieldSpec {
    FieldSpec {
        name: name.into(),
        dim,
        metric,
        storage,
    }
}

fn config(fields: Vec<FieldSpec>, seal_threshold: usize) -> IndexConfig {
    IndexConfig {
        fields,
        hnsw: HnswParams::default(),
        seal_threshold,
        owner: Default::default(),
    }
}

/// An empty index of `fields` that seals at `seal_threshold` items.
fn new_index(fields: Vec<FieldSpec>, seal_threshold: usize) -> Index {
    Index::new(config(fields, seal_threshold)).unwrap()
}

fn item(id: &str, vectors: &[(&str, Vec<f32>)], payload: Value) -> Item {
    Item {
        id: id.into(),
        vectors: vectors
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        payload,
    }
}

fn query(field: &str, vector: Vec<f32>, k: usize) -> Query {
    Query::nearest(field, vector, k)
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

/// Reference semantics: brute force over the live items as returned by `get`.
fn brute_force(items: &BTreeMap<String, Item>, config: &IndexConfig, q: &Query) -> Vec<Hit> {
    let mut hits: Vec<Hit> = items
        .values()
        .filter(|it| q.filter.as_ref().is_none_or(|f| f.matches(&it.payload)))
        .filter_map(|it| {
            let mut score = None;
            for fq in &q.vectors {
                let spec = config.fields.iter().find(|f| f.name == fq.field).unwrap();
                if let Some(v) = it.vectors.get(&fq.field) {
                    score = Some(
                        score.unwrap_or(0.0)
                            + fq.weight
                                * similarity(
                                    spec.metric,
                                    QueryVec::new(&fq.vector),
                                    VecRef::F32(v),
                                ),
                    );
                }
            }
            let score = score?;
            q.min_score.is_none_or(|m| score >= m).then(|| Hit {
                id: it.id.clone(),
                score,
                payload: it.payload.clone(),
            })
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    hits.truncate(q.k);
    hits
}

fn snapshot(index: &Index, ids: impl Iterator<Item = String>) -> BTreeMap<String, Item> {
    ids.filter_map(|id| index.get(&id).map(|it| (id, it)))
        .collect()
}

fn recall(got: &[Hit], truth: &[Hit]) -> f64 {
    let hit = truth
        .iter()
        .filter(|t| got.iter().any(|g| g.id == t.id))
        .count();
    hit as f64 / truth.len().max(1) as f64
}

// ---------------------------------------------------------------- config & validation

#[test]
fn config_validation() {
    let ok = config(vec![field("a", 4, Metric::Cosine, Storage::F32)], 10);
    assert!(Index::new(ok.clone()).is_ok());
    let mut c = ok.clone();
    c.fields[0].dim = 0;
    assert!(matches!(
        Index::new(c),
        Err(IndexError::InvalidDimension { dim: 0, .. })
    ));
    let mut c = ok.clone();
    c.fields[0].dim = MAX_DIM + 1;
    assert!(matches!(
        Index::new(c),
        Err(IndexError::InvalidDimension { .. })
    ));
    let mut c = ok.clone();
    c.fields.push(field("a", 3, Metric::L2, Storage::F32));
    assert_eq!(
        Index::new(c).err(),
        Some(IndexError::DuplicateField("a".into()))
    );
    let mut c = ok.clone();
    c.hnsw.ef_search = 0;
    assert!(matches!(
        Index::new(c),
        Err(IndexError::OutOfRange {
            name: "hnsw.ef_search",
            ..
        })
    ));
    let mut c = ok.clone();
    c.seal_threshold = 0;
    assert!(matches!(
        Index::new(c),
        Err(IndexError::OutOfRange {
            name: "seal_threshold",
            ..
        })
    ));
    assert_eq!(
        Index::new(config(vec![], 10)).err(),
        Some(IndexError::NoFields)
    );
}

#[test]
fn config_json_defaults() {
    let c: IndexConfig = serde_json::from_value(json!({
        "fields": [{"name": "img", "dim": 3, "metric": "l2"}, {"name": "txt", "dim": 2, "metric": "cosine", "storage": "int8"},
                   {"name": "codes", "dim": 2, "metric": "dot", "storage": "int8_only"}]
    }))
    .unwrap();
    assert_eq!(c.fields[0].storage, Storage::F32);
    assert_eq!(c.fields[1].storage, Storage::Int8);
    assert_eq!(c.fields[2].storage, Storage::Int8Only);
    assert_eq!(
        serde_json::to_value(Storage::Int8Only).unwrap(),
        json!("int8_only")
    );
    assert_eq!(c.hnsw, HnswParams::default());
    assert!(c.hnsw.heuristic);
    assert_eq!(c.seal_threshold, 4096);
    let q: Query =
        serde_json::from_value(json!({"vectors": [{"field": "img", "vector": [1, 2, 3]}], "k": 3}))
            .unwrap();
    assert_eq!(q.vectors[0].weight, 1.0);
    assert!(!q.exact);
}

#[test]
fn upsert_validation_messages() {
    let mut index = new_index(
        vec![
            field("img", 3, Metric::L2, Storage::F32),
            field("q", 2, Metric::Dot, Storage::Int8),
        ],
        10,
    );
    let e = index
        .upsert(item("a", &[("img", vec![1.0, 2.0])], json!({})))
        .unwrap_err();
    assert_eq!(e.to_string(), "field `img` expects 3 dimensions, got 2");
    let e = index
        .upsert(item("a", &[("img", vec![1.0, f32::NAN, 0.0])], json!({})))
        .unwrap_err();
    assert!(
        matches!(e, IndexError::InvalidValue { position: 1, .. }),
        "{e}"
    );
    let e = index
        .upsert(item("a", &[("nope", vec![1.0])], json!({})))
        .unwrap_err();
    assert_eq!(e, IndexError::UnknownField("nope".into()));
    let e = index.upsert(item("", &[], json!({}))).unwrap_err();
    assert_eq!(e, IndexError::InvalidId(0));
    let e = index
        .upsert(item("a", &[("q", vec![1e6, 0.0])], json!({})))
        .unwrap_err();
    assert!(
        matches!(e, IndexError::InvalidValue { position: 0, .. }),
        "{e}"
    );
    assert!(index.is_empty());
    // Items may omit fields.
    index
        .upsert(item("a", &[("q", vec![1.0, 0.0])], json!({})))
        .unwrap();
    assert_eq!(index.len(), 1);
}

#[test]
fn query_bounds_errors() {
    let mut index = new_index(vec![field("v", 2, Metric::Dot, Storage::F32)], 10);
    index
        .upsert(item("a", &[("v", vec![1.0, 0.0])], json!({})))
        .unwrap();
    let base = query("v", vec![1.0, 0.0], 1);
    let err = |f: &dyn Fn(&mut Query)| {
        let mut q = base.clone();
        f(&mut q);
        index.search(&q).unwrap_err()
    };
    assert!(matches!(
        err(&|q| q.k = 0),
        IndexError::OutOfRange { name: "k", .. }
    ));
    assert!(matches!(
        err(&|q| q.k = MAX_K + 1),
        IndexError::OutOfRange { name: "k", .. }
    ));
    assert_eq!(
        err(&|q| {
            q.k = 5;
            q.num_candidates = Some(4)
        }),
        IndexError::CandidatesBelowK {
            k: 5,
            num_candidates: 4
        }
    );
    assert!(matches!(
        err(&|q| q.num_candidates = Some(MAX_NUM_CANDIDATES + 1)),
        IndexError::OutOfRange {
            name: "num_candidates",
            ..
        }
    ));
    assert_eq!(err(&|q| q.vectors.clear()), IndexError::EmptyQuery);
    assert_eq!(
        err(&|q| q.vectors[0].field = "x".into()),
        IndexError::UnknownField("x".into())
    );
    assert!(matches!(
        err(&|q| q.vectors[0].vector.push(1.0)),
        IndexError::DimensionMismatch { .. }
    ));
    assert_eq!(
        err(&|q| q.vectors[0].weight = f32::NAN),
        IndexError::NotFinite("weight")
    );
    assert_eq!(
        err(&|q| q.min_score = Some(f32::NAN)),
        IndexError::NotFinite("min_score")
    );
    assert_eq!(index.search(&base).unwrap().len(), 1);
}

// ---------------------------------------------------------------- semantics

#[test]
fn scores_per_metric() {
    let mut index = new_index(
        vec![
            field("c", 2, Metric::Cosine, Storage::F32),
            field("d", 2, Metric::Dot, Storage::F32),
            field("l", 2, Metric::L2, Storage::F32),
        ],
        100,
    );
    let v = vec![3.0, 4.0];
    index
        .upsert(item(
            "a",
            &[("c", v.clone()), ("d", v.clone()), ("l", v.clone())],
            json!({}),
        ))
        .unwrap();
    let score = |f: &str| index.search(&query(f, vec![1.0, 0.0], 1)).unwrap()[0].score;
    assert!((score("c") - 0.6).abs() < 1e-6);
    assert!((score("d") - 3.0).abs() < 1e-6);
    // d² = 4 + 16 = 20
    assert!((score("l") - 1.0 / 21.0).abs() < 1e-6);
}

#[test]
fn upsert_replaces_and_delete_tombstones() {
    let mut index = new_index(vec![field("v", 2, Metric::Dot, Storage::F32)], 3);
    for i in 0..5 {
        index
            .upsert(item(
                &format!("i{i}"),
                &[("v", vec![i as f32, 0.0])],
                json!({"n": i}),
            ))
            .unwrap();
    }
    index.maintain();
    assert!(
        index
            .stats()
            .segments
            .iter()
            .any(|s| s.kind == SegmentKind::Sealed)
    );
    // Replace a sealed item and a mutable one: the old versions must vanish.
    index
        .upsert(item("i1", &[("v", vec![100.0, 0.0])], json!({"n": "new"})))
        .unwrap();
    index
        .upsert(item(
            "i4",
            &[("v", vec![-100.0, 0.0])],
            json!({"n": "new4"}),
        ))
        .unwrap();
    assert_eq!(index.len(), 5);
    assert_eq!(index.get("i1").unwrap().payload, json!({"n": "new"}));
    assert_eq!(index.get("i1").unwrap().vectors["v"], vec![100.0, 0.0]);
    for exact in [false, true] {
        let mut q = query("v", vec![1.0, 0.0], 10);
        q.exact = exact;
        let hits = index.search(&q).unwrap();
        assert_eq!(ids(&hits), vec!["i1", "i3", "i2", "i0", "i4"]);
        assert_eq!(hits[0].score, 100.0);
    }
    assert!(index.delete("i1"));
    assert!(!index.delete("i1"));
    assert!(index.delete("i3"));
    assert!(index.get("i1").is_none());
    assert_eq!(index.len(), 3);
    let hits = index.search(&query("v", vec![1.0, 0.0], 10)).unwrap();
    assert_eq!(ids(&hits), vec!["i2", "i0", "i4"]);
    index.maintain();
    assert_eq!(
        ids(&index.search(&query("v", vec![1.0, 0.0], 10)).unwrap()),
        vec!["i2", "i0", "i4"]
    );
}

#[test]
fn multi_field_weighted_and_min_score() {
    let mut index = new_index(
        vec![
            field("a", 2, Metric::Dot, Storage::F32),
            field("b", 2, Metric::Cosine, Storage::F32),
        ],
        2,
    );
    index
        .upsert(item(
            "both",
            &[("a", vec![1.0, 0.0]), ("b", vec![0.0, 1.0])],
            json!({}),
        ))
        .unwrap();
    index
        .upsert(item("only_a", &[("a", vec![2.0, 0.0])], json!({})))
        .unwrap();
    index
        .upsert(item("only_b", &[("b", vec![1.0, 1.0])], json!({})))
        .unwrap();
    index.upsert(item("none", &[], json!({}))).unwrap();
    for maintain in [false, true] {
        if maintain {
            index.maintain();
        }
        let mut q = query("a", vec![1.0, 0.0], 10);
        q.vectors.push(FieldQuery {
            field: "b".into(),
            vector: vec![0.0, 1.0],
            weight: 3.0,
        });
        let hits = index.search(&q).unwrap();
        // both: 1 + 3·1 = 4; only_b: 0 + 3·cos45° ≈ 2.12; only_a: 2 + 0; "none" never.
        assert_eq!(ids(&hits), vec!["both", "only_b", "only_a"]);
        assert!((hits[0].score - 4.0).abs() < 1e-6);
        assert!((hits[1].score - 3.0 * std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-5);
        assert!((hits[2].score - 2.0).abs() < 1e-6);
        q.min_score = Some(2.5);
        assert_eq!(ids(&index.search(&q).unwrap()), vec!["both"]);
        q.min_score = Some(4.5);
        assert!(index.search(&q).unwrap().is_empty());
    }
}

#[test]
fn ties_break_by_id() {
    let mut index = new_index(vec![field("v", 2, Metric::Dot, Storage::F32)], 100);
    for id in ["c", "a", "b"] {
        index
            .upsert(item(id, &[("v", vec![1.0, 1.0])], json!({})))
            .unwrap();
    }
    assert_eq!(
        ids(&index.search(&query("v", vec![1.0, 0.0], 2)).unwrap()),
        vec!["a", "b"]
    );
}

// ---------------------------------------------------------------- filters

fn f(v: Value) -> Filter {
    serde_json::from_value(v).unwrap()
}

#[test]
fn filter_operators() {
    let p = json!({"album": "cats", "year": 2004, "tags": ["x", "y"], "meta": {"author": {"name": "ann"}}, "nul": null, "list": [{"k": 1}]});
    let cases = [
        (json!({"eq": {"field": "album", "value": "cats"}}), true),
        (json!({"eq": {"field": "album", "value": "dogs"}}), false),
        (json!({"eq": {"field": "year", "value": 2004.0}}), true),
        (json!({"eq": {"field": "tags", "value": "y"}}), true),
        (json!({"eq": {"field": "tags", "value": ["x", "y"]}}), true),
        (
            json!({"eq": {"field": "meta.author.name", "value": "ann"}}),
            true,
        ),
        (json!({"eq": {"field": "list.0.k", "value": 1}}), true),
        (json!({"eq": {"field": "missing", "value": 1}}), false),
        (
            json!({"in": {"field": "album", "values": ["dogs", "cats"]}}),
            true,
        ),
        (json!({"in": {"field": "album", "values": ["dogs"]}}), false),
        (json!({"in": {"field": "tags", "values": ["z", "x"]}}), true),
        (
            json!({"range": {"field": "year", "gte": 2004, "lt": 2005}}),
            true,
        ),
        (json!({"range": {"field": "year", "gt": 2004}}), false),
        (
            json!({"range": {"field": "year", "lte": 2004, "gt": 2000}}),
            true,
        ),
        (json!({"range": {"field": "year", "lt": 2004}}), false),
        (json!({"range": {"field": "album", "gte": 0}}), false),
        (json!({"exists": {"field": "meta.author"}}), true),
        (json!({"exists": {"field": "nul"}}), false),
        (json!({"exists": {"field": "nope"}}), false),
        (json!({"and": []}), true),
        (json!({"or": []}), false),
        (
            json!({"not": {"eq": {"field": "album", "value": "cats"}}}),
            false,
        ),
        (
            json!({"and": [{"eq": {"field": "album", "value": "cats"}}, {"or": [{"range": {"field": "year", "lt": 2000}}, {"not": {"exists": {"field": "nope"}}}]}]}),
            true,
        ),
        (
            json!({"or": [{"eq": {"field": "album", "value": "dogs"}}, {"and": [{"exists": {"field": "year"}}, {"not": {"in": {"field": "tags", "values": ["x"]}}}]}]}),
            false,
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(f(filter.clone()).matches(&p), expected, "{filter}");
    }
    assert!(serde_json::from_value::<Filter>(json!({"like": {"field": "a"}})).is_err());
}

/// An index of `n` clustered items with payload `{"i": i, "g": i % 100}`, upkeep run once
/// all are in.
fn clustered_index(
    n: usize,
    dim: usize,
    storage: Storage,
    seal_threshold: usize,
) -> (Index, Vec<Vec<f32>>) {
    grown_index(n, dim, storage, seal_threshold, n)
}

/// [`clustered_index`] added in batches of `batch` items, upkeep run after each as a
/// growing collection's is.
fn grown_index(
    n: usize,
    dim: usize,
    storage: Storage,
    seal_threshold: usize,
    batch: usize,
) -> (Index, Vec<Vec<f32>>) {
    let mut rng = Rng::seeded(42);
    let data = clustered(&mut rng, n, dim, 50);
    let mut index = new_index(
        vec![field("v", dim, Metric::Cosine, storage)],
        seal_threshold,
    );
    for (i, v) in data.iter().enumerate() {
        index
            .upsert(item(
                &format!("{i:05}"),
                &[("v", v.clone())],
                json!({"i": i, "g": i % 100}),
            ))
            .unwrap();
        if (i + 1) % batch == 0 {
            index.maintain();
        }
    }
    index.maintain();
    (index, data)
}

fn all_items(index: &Index, n: usize) -> BTreeMap<String, Item> {
    snapshot(index, (0..n).map(|i| format!("{i:05}")))
}

#[test]
fn filtered_search_matches_brute_force_and_keeps_recall() {
    let n = 2000;
    let (index, _) = clustered_index(n, 16, Storage::F32, 2000);
    assert_eq!(
        index.stats().segments.len(),
        2,
        "one sealed segment expected"
    );
    let items = all_items(&index, n);
    let mut rng = Rng::seeded(7);
    let filters = [
        json!({"eq": {"field": "g", "value": 3}}),           // 1 %
        json!({"range": {"field": "g", "lt": 30}}),          // 30 %
        json!({"not": {"range": {"field": "g", "lt": 10}}}), // 90 %
        json!({"and": [{"range": {"field": "g", "gte": 20}}, {"or": [{"eq": {"field": "g", "value": 21}}, {"in": {"field": "g", "values": [40, 41, 42]}}]}]}),
    ];
    let (mut unfiltered, mut filtered) = (vec![0.0; filters.len()], vec![0.0; filters.len()]);
    for _ in 0..20 {
        let qv = rng.vector(16);
        let base = query("v", qv, 10);
        let truth = brute_force(&items, index.config(), &base);
        for (j, filter) in filters.iter().enumerate() {
            unfiltered[j] += recall(&index.search(&base).unwrap(), &truth);
            let mut q = base.clone();
            q.filter = Some(f(filter.clone()));
            let hits = index.search(&q).unwrap();
            let truth = brute_force(&items, index.config(), &q);
            assert!(
                hits.iter()
                    .all(|h| q.filter.as_ref().unwrap().matches(&h.payload))
            );
            assert_eq!(hits.len(), truth.len().min(10));
            filtered[j] += recall(&hits, &truth);
            q.exact = true;
            assert_eq!(index.search(&q).unwrap(), truth);
        }
    }
    for (j, total) in filtered.iter().enumerate() {
        assert!(total / 20.0 >= 0.9, "filter {j}: recall {}", total / 20.0);
    }
    // The 1 % filter takes the exact path: recall at least the unfiltered one.
    assert!(
        filtered[0] >= unfiltered[0],
        "{} < {}",
        filtered[0],
        unfiltered[0]
    );
    assert_eq!(filtered[0], 20.0);
}

// ---------------------------------------------------------------- recall

/// Recall@10 over 30 noisy queries of an index of clustered items, built in one go
/// (`batches` 1) or grown over `batches` batches.
fn measure_recall(storage: Storage, batches: usize) -> f64 {
    // Debug builds are ~20x slower: shrink the data set there.
    let n = if cfg!(debug_assertions) { 2000 } else { 5000 };
    let (index, data) = grown_index(n, 64, storage, n / batches, n / batches);
    let sealed = index.stats().segments.len() - 1;
    assert_eq!(sealed, 1, "one graph, grown or built in one go");
    let items = all_items(&index, n);
    let mut rng = Rng::seeded(99);
    let queries = 30;
    let mut total = 0.0;
    for i in 0..queries {
        // Queries drawn like the data: a stored vector plus fresh noise.
        let qv = data[i * 67 % n]
            .iter()
            .map(|x| x + 0.6 * rng.gauss())
            .collect();
        let q = query("v", qv, 10);
        let hits = index.search(&q).unwrap();
        let truth = brute_force(&items, index.config(), &q);
        for h in &hits {
            let exact = truth.iter().find(|t| t.id == h.id).map(|t| t.score);
            let tol = if storage == Storage::F32 { 0.0 } else { 1e-3 };
            if let Some(s) = exact {
                assert!((s - h.score).abs() <= tol, "score of {} differs", h.id);
            }
        }
        total += recall(&hits, &truth);
    }
    total / queries as f64
}

fn assert_recall_at_least(storage: Storage, batches: usize, bar: f64) {
    let r = measure_recall(storage, batches);
    eprintln!("recall@10 {storage:?} over {batches} batches: {r}");
    assert!(r >= bar, "recall@10 = {r}");
}

#[test]
fn recall_f32() {
    assert_recall_at_least(Storage::F32, 1, 0.95);
}

#[test]
fn recall_int8() {
    assert_recall_at_least(Storage::Int8, 1, 0.95);
}

/// A graph grown by insertion (20 batches: the first sealed in one go, the others inserted)
/// finds what one built in one go finds.
#[test]
fn recall_of_a_grown_graph() {
    let built = measure_recall(Storage::F32, 1);
    let grown = measure_recall(Storage::F32, 20);
    eprintln!("recall@10 built {built}, grown {grown}");
    assert!(grown >= 0.95 && grown >= built - 0.02, "{grown} vs {built}");
    assert_recall_at_least(Storage::Int8, 20, 0.95);
}

/// Whether every sealed graph of `index` searches with beam width `ef`.
fn every_graph_searches_with(index: &Index, ef: usize) -> bool {
    let mut graphs = index.sealed.iter().flat_map(|s| &s.fields);
    graphs.all(|f| f.ef() == ef)
}

#[test]
fn ef_search_changes_without_a_rebuild_and_persists() {
    let n = 600;
    let (mut index, data) = clustered_index(n, 16, Storage::F32, 200);
    let q = query("v", data[7].clone(), 10);
    let before = index.search(&q).unwrap();
    assert!(matches!(
        index.set_ef_search(0),
        Err(IndexError::OutOfRange {
            name: "ef_search",
            ..
        })
    ));
    index.set_ef_search(7).unwrap();
    assert_eq!(index.config().hnsw.ef_search, 7);
    assert!(every_graph_searches_with(&index, 7));
    let narrow = index.search(&q).unwrap();
    assert_eq!(narrow.len(), 10);
    let loaded = Index::from_bytes(&index.to_bytes()).unwrap();
    assert_eq!(loaded.config().hnsw.ef_search, 7);
    assert!(every_graph_searches_with(&loaded, 7));
    assert_eq!(loaded.search(&q).unwrap(), narrow);
    index.set_ef_search(100).unwrap();
    assert_eq!(
        index.search(&q).unwrap(),
        before,
        "back to the original beam width"
    );
}

#[test]
fn recall_int8_only() {
    assert_recall_at_least(Storage::Int8Only, 1, 0.95);
}

#[test]
fn code_distances_match_decoded_vectors() {
    // Graph construction compares int8 points by their codes; the result must be the
    // distance between the decoded vectors, for every metric.
    let mut rng = Rng::seeded(21);
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        for storage in [Storage::Int8, Storage::Int8Only] {
            let data: Vec<Vec<f32>> = (0..40).map(|_| rng.vector(37)).collect();
            let spec = field("v", 37, metric, storage);
            let rows = data
                .iter()
                .enumerate()
                .map(|(i, v)| (i as u32, v.as_slice()));
            let (quant, points) = super::hnsw::SealedField::build_points(&spec, rows);
            let quant = quant.unwrap();
            let decode = |p: &super::hnsw::GraphPoint| -> Vec<f32> {
                let (codes, _) = p.codes().unwrap();
                let parts = quant.offset.iter().zip(&quant.scale);
                codes
                    .iter()
                    .zip(parts)
                    .map(|(&c, (&o, &s))| o + s * f32::from(c))
                    .collect()
            };
            for (a, b) in points.iter().zip(points.iter().skip(1)) {
                let got = instant_distance::Point::distance(a, b);
                let (x, y) = (decode(a), decode(b));
                let want = super::distance::distance(metric, VecRef::F32(&x), VecRef::F32(&y));
                assert!(
                    (got - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "{metric:?} {storage:?}: {got} vs {want}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------- maintenance

fn small_index(seal_threshold: usize) -> Index {
    new_index(
        vec![
            field("v", 4, Metric::L2, Storage::F32),
            field("w", 3, Metric::Cosine, Storage::Int8),
            field("x", 5, Metric::Dot, Storage::Int8Only),
        ],
        seal_threshold,
    )
}

fn upsert_n(index: &mut Index, rng: &mut Rng, range: std::ops::Range<usize>) {
    for i in range {
        let mut vectors = vec![("v", rng.vector(4))];
        if i % 3 != 0 {
            vectors.push(("w", rng.vector(3)));
        }
        if i % 2 == 0 && index.config().fields.len() > 2 {
            vectors.push(("x", rng.vector(5)));
        }
        index
            .upsert(item(&format!("{i:05}"), &vectors, json!({"i": i})))
            .unwrap();
    }
}

/// Live segments as (kind, live rows), sealed ones by size.
fn layout(index: &Index) -> Vec<(SegmentKind, usize)> {
    let mut s: Vec<_> = index
        .stats()
        .segments
        .iter()
        .map(|s| (s.kind, s.live))
        .collect();
    s[1..].sort_by_key(|s| s.1);
    s
}

#[test]
fn seal_then_grow_in_place_and_rebuild_tombstones() {
    use SegmentKind::{Mutable, Sealed};
    let growing = |threshold| {
        new_index(
            vec![
                field("v", 4, Metric::L2, Storage::F32),
                field("w", 3, Metric::Cosine, Storage::Int8),
            ],
            threshold,
        )
    };
    let mut index = growing(10);
    let mut rng = Rng::seeded(1);
    upsert_n(&mut index, &mut rng, 0..35);
    assert!(!index.can_grow(), "no graph to grow yet");
    let job = index
        .plan_maintenance()
        .expect("mutable segment is past the threshold");
    assert_eq!(job.rows(), 35);
    index.apply(job.run()).unwrap();
    assert_eq!(layout(&index), vec![(Mutable, 0), (Sealed, 35)]);
    // Later rows grow that graph, a few at a time, whatever the threshold.
    upsert_n(&mut index, &mut rng, 100..112);
    index.delete("00101");
    assert!(index.plan_maintenance().is_none() && index.can_grow());
    // A job planned before a growth step goes stale.
    let mut other = growing(10);
    upsert_n(&mut other, &mut rng, 0..12);
    other.maintain();
    upsert_n(&mut other, &mut rng, 12..42);
    let stale = other.plan_maintenance().unwrap();
    (12..32).for_each(|i| assert!(other.delete(&format!("{i:05}"))));
    assert_eq!(
        other.grow_step(1),
        21,
        "twenty dead rows dropped, one moved"
    );
    assert_eq!(
        index.grow_step(4),
        5,
        "four rows moved, one dead row dropped"
    );
    assert_eq!(layout(&index), vec![(Mutable, 7), (Sealed, 39)]);
    let items = snapshot(&index, (0..120).map(|i| format!("{i:05}")));
    let mut q = query("v", vec![0.5; 4], 50);
    q.exact = true;
    assert_eq!(
        index.search(&q).unwrap(),
        brute_force(&items, index.config(), &q)
    );
    index.maintain();
    assert_eq!(layout(&index), vec![(Mutable, 0), (Sealed, 46)]);
    // Int8 vectors come back at f16 precision once sealed.
    let items = snapshot(&index, (0..120).map(|i| format!("{i:05}")));
    assert_eq!(items.len(), 46);
    assert_eq!(
        index.search(&q).unwrap(),
        brute_force(&items, index.config(), &q)
    );
    // A bulk add as large as the graph is sealed in one go, then inserted into the larger.
    upsert_n(&mut index, &mut rng, 200..260);
    assert!(!index.can_grow());
    let job = index.plan_maintenance().unwrap();
    index.apply(job.run()).unwrap();
    assert_eq!(
        layout(&index),
        vec![(Mutable, 0), (Sealed, 46), (Sealed, 60)]
    );
    assert!(index.can_grow() && index.plan_maintenance().is_none());
    index.maintain();
    assert_eq!(layout(&index), vec![(Mutable, 0), (Sealed, 106)]);
    assert!(!index.can_grow() && index.plan_maintenance().is_none());
    // A segment that is mostly tombstones gets rebuilt without them.
    for i in 200..260 {
        index.delete(&format!("{i:05}"));
    }
    let job = index.plan_maintenance().unwrap();
    assert!(job.is_rebuild());
    index.apply(job.run()).unwrap();
    assert_eq!(layout(&index), vec![(Mutable, 0), (Sealed, 46)]);
    assert_eq!(index.len(), 46);
    let items = snapshot(&index, (0..300).map(|i| format!("{i:05}")));
    assert_eq!(items.len(), 46);
    assert_eq!(
        index.search(&q).unwrap(),
        brute_force(&items, index.config(), &q)
    );
    // The grown graphs (renumbered for the file) load and answer alike.
    let loaded = Index::from_bytes(&index.to_bytes()).unwrap();
    q.exact = false;
    assert_eq!(loaded.search(&q).unwrap(), index.search(&q).unwrap());
    assert_eq!(
        other.apply(stale.run()).err(),
        Some(IndexError::StaleSegment)
    );
}

/// With an `int8_only` field graphs do not grow in place: segments are sealed at the
/// threshold and rebuilt as one by size tier.
#[test]
fn int8_only_indexes_seal_and_merge_by_tier() {
    let mut index = small_index(10);
    let mut rng = Rng::seeded(1);
    upsert_n(&mut index, &mut rng, 0..35);
    let job = index
        .plan_maintenance()
        .expect("mutable segment is past the threshold");
    assert_eq!(job.rows(), 35);
    index.apply(job.run()).unwrap();
    let kinds: Vec<_> = index
        .stats()
        .segments
        .iter()
        .map(|s| (s.kind, s.rows))
        .collect();
    assert_eq!(
        kinds,
        vec![(SegmentKind::Mutable, 0), (SegmentKind::Sealed, 35)]
    );
    // Four tier-0 segments merge into one.
    for round in 0..4 {
        upsert_n(&mut index, &mut rng, 100 + round * 10..110 + round * 10);
        let job = index.plan_maintenance().unwrap();
        index.apply(job.run()).unwrap();
    }
    let sealed = |index: &Index| {
        let mut s: Vec<usize> = index
            .stats()
            .segments
            .iter()
            .filter(|s| s.kind == SegmentKind::Sealed)
            .map(|s| s.live)
            .collect();
        s.sort();
        s
    };
    assert_eq!(sealed(&index), vec![10, 10, 10, 10, 35]);
    assert!(!index.can_grow());
    index.maintain();
    assert_eq!(sealed(&index), vec![35, 40]);
    assert!(index.plan_maintenance().is_none());
    // A segment that is mostly tombstones gets rewritten.
    for i in 100..125 {
        index.delete(&format!("{i:05}"));
    }
    index.maintain();
    assert_eq!(sealed(&index), vec![15, 35]);
    assert_eq!(index.len(), 50);
    let stats = index.stats();
    assert_eq!(stats.fields[0].bytes_per_vector, 16);
    assert_eq!(stats.fields[1].bytes_per_vector, 3 * 3 + 4);
    assert_eq!(stats.fields[2].bytes_per_vector, 5 + 8);
}

/// A loaded graph grows on: int8 construction terms come back on load, and a grown graph
/// saves and loads again with the same answers.
#[test]
fn a_loaded_graph_grows_and_saves_again() {
    let (index, data) = clustered_index(600, 16, Storage::Int8, 300);
    let mut loaded = Index::from_bytes(&index.to_bytes()).unwrap();
    let mut rng = Rng::seeded(8);
    for (i, near) in data.iter().take(200).enumerate() {
        let v: Vec<f32> = near.iter().map(|x| x + 0.1 * rng.gauss()).collect();
        loaded
            .upsert(item(&format!("new{i}"), &[("v", v)], json!({})))
            .unwrap();
    }
    loaded.maintain();
    assert_eq!(loaded.stats().segments.len(), 2);
    assert_eq!(loaded.len(), 800);
    let again = Index::from_bytes(&loaded.to_bytes()).unwrap();
    let mut found = 0;
    for i in 0..200 {
        let q = query(
            "v",
            loaded.get(&format!("new{i}")).unwrap().vectors["v"].clone(),
            10,
        );
        let hits = loaded.search(&q).unwrap();
        assert_eq!(again.search(&q).unwrap(), hits);
        found += usize::from(hits.iter().any(|h| h.id == format!("new{i}")));
    }
    assert!(
        found >= 198,
        "{found} of 200 inserted items find themselves"
    );
}

#[test]
fn apply_respects_writes_made_while_building() {
    let mut index = small_index(10);
    let mut rng = Rng::seeded(2);
    upsert_n(&mut index, &mut rng, 0..12);
    let original = index.get("00004").unwrap().vectors;
    let job = index.plan_maintenance().unwrap();
    // Writes during the build: a delete, a replacement, a new item.
    index.delete("00001");
    index
        .upsert(item("00002", &[("v", vec![9.0; 4])], json!({"new": true})))
        .unwrap();
    upsert_n(&mut index, &mut rng, 50..51);
    let stale = index.plan_maintenance().unwrap();
    index.apply(job.run()).unwrap();
    assert_eq!(
        index.apply(stale.run()).err(),
        Some(IndexError::StaleSegment)
    );
    assert_eq!(index.len(), 12);
    assert!(index.get("00001").is_none());
    assert_eq!(index.get("00002").unwrap().payload, json!({"new": true}));
    assert!(index.get("00050").is_some());
    let items = snapshot(&index, (0..60).map(|i| format!("{i:05}")));
    let mut q = query("v", vec![9.0; 4], 20);
    q.exact = true;
    let hits = index.search(&q).unwrap();
    assert_eq!(hits, brute_force(&items, index.config(), &q));
    assert_eq!(hits[0].id, "00002");
    assert_eq!(hits.iter().filter(|h| h.id == "00002").count(), 1);
    // Int8 vectors come back at f16 precision after sealing, int8_only ones decoded
    // from their codes (within half a step of the widest dimension).
    let (before, decoded) = (&original, index.get("00004").unwrap().vectors);
    for (a, b) in decoded["w"].iter().zip(&before["w"]) {
        assert!((a - b).abs() <= b.abs() * 1e-3);
    }
    assert_ne!(decoded["x"], before["x"], "int8_only keeps no exact copy");
    for (a, b) in decoded["x"].iter().zip(&before["x"]) {
        assert!((a - b).abs() <= 0.05, "{a} vs {b}");
    }
}

#[test]
fn job_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<MaintenanceJob>();
    assert_send::<BuiltSegment>();
    let mut index = small_index(5);
    upsert_n(&mut index, &mut Rng::seeded(3), 0..8);
    let job = index.plan_maintenance().unwrap();
    let built = std::thread::spawn(move || job.run()).join().unwrap();
    index.apply(built).unwrap();
    assert_eq!(index.stats().segments[1].live, 8);
}

// ---------------------------------------------------------------- format

fn sample_index() -> Index {
    let mut index = small_index(20);
    let mut rng = Rng::seeded(5);
    upsert_n(&mut index, &mut rng, 0..60);
    index.maintain();
    upsert_n(&mut index, &mut rng, 60..70);
    index.delete("00003");
    index.delete("00065");
    index
}

fn sample_queries() -> Vec<Query> {
    let mut rng = Rng::seeded(11);
    let mut qs = Vec::new();
    for exact in [false, true] {
        let mut q = query("v", rng.vector(4), 7);
        q.exact = exact;
        // Few candidates, so that the sealed segment is searched through its graph.
        q.num_candidates = Some(7);
        q.vectors.push(FieldQuery {
            field: "w".into(),
            vector: rng.vector(3),
            weight: 0.5,
        });
        qs.push(q.clone());
        let mut with_codes = q.clone();
        with_codes.vectors.push(FieldQuery {
            field: "x".into(),
            vector: rng.vector(5),
            weight: 0.25,
        });
        qs.push(with_codes);
        q.filter = Some(f(json!({"range": {"field": "i", "lt": 30}})));
        qs.push(q);
    }
    qs
}

#[test]
fn format_round_trip() {
    let index = sample_index();
    let bytes = index.to_bytes();
    assert_eq!(&bytes[..4], b"SIML");
    let loaded = Index::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.len(), index.len());
    assert_eq!(loaded.stats(), index.stats());
    assert_eq!(loaded.config(), index.config());
    for q in sample_queries() {
        assert_eq!(loaded.search(&q).unwrap(), index.search(&q).unwrap());
    }
    for i in 0..70 {
        let id = format!("{i:05}");
        assert_eq!(loaded.get(&id), index.get(&id));
    }
    assert_eq!(loaded.to_bytes(), bytes);
    // The loaded index keeps working.
    let mut loaded = loaded;
    upsert_n(&mut loaded, &mut Rng::seeded(8), 100..130);
    loaded.maintain();
    assert_eq!(loaded.len(), index.len() + 30);
}

#[test]
fn format_reads_version_1_and_2_files() {
    // Version 2 only added `int8_only` points, version 3 extra sections: a file with
    // neither, stamped version 1 or 2 (header checksum fixed up), is what those versions
    // wrote and must load unchanged.
    let mut index = new_index(
        vec![
            field("v", 4, Metric::L2, Storage::F32),
            field("w", 3, Metric::Cosine, Storage::Int8),
        ],
        20,
    );
    let mut rng = Rng::seeded(6);
    for i in 0..50 {
        let vectors = [("v", rng.vector(4)), ("w", rng.vector(3))];
        index
            .upsert(item(&format!("{i:05}"), &vectors, json!({"i": i})))
            .unwrap();
    }
    index.maintain();
    let mut q = query("v", rng.vector(4), 5);
    q.vectors.push(FieldQuery {
        field: "w".into(),
        vector: rng.vector(3),
        weight: 1.0,
    });
    for version in [1u32, 2] {
        let mut bytes = index.to_bytes();
        bytes[4..8].copy_from_slice(&version.to_le_bytes());
        let count = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
        let header = 12 + count * 16;
        let crc = crc32fast::hash(&bytes[..header]);
        bytes[header..header + 4].copy_from_slice(&crc.to_le_bytes());
        let loaded = Index::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.search(&q).unwrap(), index.search(&q).unwrap());
        assert_eq!(loaded.get("00007"), index.get("00007"));
    }
}

#[test]
fn format_extra_sections_come_back_only_when_allowed() {
    let index = sample_index();
    let extra = vec![(*b"HEAD", b"first".to_vec()), (*b"HEAD", Vec::new())];
    let bytes = index.to_bytes_with(extra.clone());
    let (loaded, sections) = Index::from_bytes_with(&bytes, &[*b"HEAD"]).unwrap();
    assert_eq!(sections, extra);
    assert_eq!(loaded.to_bytes(), index.to_bytes());
    // A reader that does not ask for the tag rejects the file, as any unknown tag.
    assert!(matches!(
        Index::from_bytes(&bytes),
        Err(IndexError::Corrupt(_))
    ));
    assert!(matches!(
        Index::from_bytes_with(&bytes, &[*b"XTRA"]),
        Err(IndexError::Corrupt(_))
    ));
    // The extra sections are checksummed like the others.
    let mut damaged = bytes.clone();
    let last = damaged.len() - 3;
    damaged[last] ^= 1;
    assert_eq!(
        Index::from_bytes_with(&damaged, &[*b"HEAD"]).err(),
        Some(IndexError::ChecksumMismatch("section"))
    );
    // Without extras, the plain reader and writer agree.
    let (_, none) = Index::from_bytes_with(&index.to_bytes(), &[*b"HEAD"]).unwrap();
    assert!(none.is_empty());
}

/// (offset, length) of each section body, parsed from the table.
fn section_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    let count = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let mut offset = 12 + count * 16 + 4;
    (0..count)
        .map(|i| {
            let e = 12 + i * 16;
            let len = u64::from_le_bytes(bytes[e + 4..e + 12].try_into().unwrap()) as usize;
            let span = (offset, len);
            offset += len;
            span
        })
        .collect()
}

/// Replaces section `i` with `body`, fixing lengths and checksums.
fn replace_section(bytes: &[u8], i: usize, body: &[u8]) -> Vec<u8> {
    let spans = section_spans(bytes);
    let mut out = bytes[..spans[0].0].to_vec();
    let e = 12 + i * 16;
    out[e + 4..e + 12].copy_from_slice(&(body.len() as u64).to_le_bytes());
    out[e + 12..e + 16].copy_from_slice(&crc32fast::hash(body).to_le_bytes());
    let table_end = out.len() - 4;
    let crc = crc32fast::hash(&out[..table_end]);
    out[table_end..].copy_from_slice(&crc.to_le_bytes());
    for (j, &(o, l)) in spans.iter().enumerate() {
        out.extend_from_slice(if j == i { body } else { &bytes[o..o + l] });
    }
    out
}

#[test]
fn format_rejects_truncation_everywhere() {
    let bytes = sample_index().to_bytes();
    let spans = section_spans(&bytes);
    assert!(spans.len() >= 3, "META, MUTB and a sealed segment");
    let mut cuts: Vec<usize> = spans
        .iter()
        .flat_map(|&(o, l)| [o, o + 1, o + l / 2, o + l - 1, o + l])
        .collect();
    cuts.extend(0..40);
    cuts.extend((0..bytes.len()).step_by(97));
    for cut in cuts.into_iter().filter(|&c| c < bytes.len()) {
        assert!(Index::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Index::from_bytes(&longer).is_err());
}

#[test]
fn format_rejects_bad_headers_and_lengths() {
    let bytes = sample_index().to_bytes();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(Index::from_bytes(&b).err(), Some(IndexError::BadMagic));
    let mut b = bytes.clone();
    b[4] = 9;
    assert_eq!(
        Index::from_bytes(&b).err(),
        Some(IndexError::UnsupportedVersion(9, 3))
    );
    let mut b = bytes.clone();
    b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        Index::from_bytes(&b).err(),
        Some(IndexError::SizeLimit("section table"))
    );
    // Huge section length, with a valid header checksum.
    let mut b = bytes.clone();
    b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let end = 12 + 16 * section_spans(&bytes).len();
    let crc = crc32fast::hash(&b[..end]);
    b[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        Index::from_bytes(&b),
        Err(IndexError::Truncated(_) | IndexError::SizeLimit(_))
    ));
    // Huge row count inside a checksummed section.
    let spans = section_spans(&bytes);
    let (o, l) = spans[1];
    let mut body = bytes[o..o + l].to_vec();
    body[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    assert!(matches!(
        Index::from_bytes(&replace_section(&bytes, 1, &body)),
        Err(IndexError::SizeLimit(_))
    ));
    // Checksum mismatch in a body.
    let mut b = bytes.clone();
    b[o + 3] ^= 0x10;
    assert_eq!(
        Index::from_bytes(&b).err(),
        Some(IndexError::ChecksumMismatch("section"))
    );
    assert!(Index::from_bytes(b"SIM").is_err());
    assert!(Index::from_bytes(&[]).is_err());
}

#[test]
fn format_rejects_hostile_graph_with_valid_checksums() {
    let bytes = sample_index().to_bytes();
    let spans = section_spans(&bytes);
    let (o, l) = spans[2];
    let body = &bytes[o..o + l];
    // Corrupt every 4-byte word of the segment in turn (checksums fixed up):
    // each load must fail cleanly or load an index that can still be searched.
    let mut loaded_ok = 0;
    for pos in (0..body.len().saturating_sub(4)).step_by(13) {
        for value in [u32::MAX - 1, 1 << 20, 7] {
            let mut evil = body.to_vec();
            evil[pos..pos + 4].copy_from_slice(&value.to_le_bytes());
            if let Ok(index) = Index::from_bytes(&replace_section(&bytes, 2, &evil)) {
                loaded_ok += 1;
                for q in sample_queries() {
                    index.search(&q).unwrap();
                }
            }
        }
    }
    assert!(
        loaded_ok > 0,
        "some words (e.g. vector values) are free to change"
    );
}

/// Found by crates/simil-fuzz: a file whose mutable rows hold an int8 field's value beyond the
/// f16 range (which `upsert` refuses) loaded, and once sealed the index wrote a file it could
/// not read back (its f16 rescoring vectors infinite). The reader checks rows as `upsert` does.
#[test]
fn format_rejects_mutable_rows_that_upsert_would_refuse() {
    let spec = field("w", 2, Metric::Dot, Storage::Int8);
    let mut index = Index::new(config(vec![spec], 8)).unwrap();
    index
        .upsert(item("a", &[("w", vec![60000.0, -1.0])], json!({})))
        .unwrap();
    let bytes = index.to_bytes();
    let (o, l) = section_spans(&bytes)[1];
    let mut body = bytes[o..o + l].to_vec();
    let at = body
        .windows(4)
        .position(|w| w == 60000f32.to_le_bytes())
        .unwrap();
    body[at..at + 4].copy_from_slice(&1e6f32.to_le_bytes());
    let evil = replace_section(&bytes, 1, &body);
    assert!(matches!(Index::from_bytes(&evil), Err(IndexError::Corrupt(m)) if m.contains("f16")));

    // At the cap the row loads, seals, and the sealed file loads again.
    let mut loaded = Index::from_bytes(&bytes).unwrap();
    for i in 0..8 {
        let v = vec![i as f32, 1.0];
        loaded
            .upsert(item(&format!("n{i}"), &[("w", v)], json!({})))
            .unwrap();
    }
    loaded.maintain();
    assert!(loaded.stats().segments.len() > 1);
    Index::from_bytes(&loaded.to_bytes()).unwrap();
}

/// Found by crates/simil-fuzz: a file whose metadata put `next_seq`, `next_segment` or
/// `generation` at the top of u64 loaded, and the next write overflowed the counter.
#[test]
fn format_rejects_counters_at_the_top_of_u64() {
    let bytes = sample_index().to_bytes();
    let (o, l) = section_spans(&bytes)[0];
    let meta: Value = serde_json::from_slice(&bytes[o..o + l]).unwrap();
    for key in ["next_seq", "next_segment", "generation"] {
        let with = |value: u64| {
            let mut m = meta.clone();
            m[key] = json!(value);
            replace_section(&bytes, 0, &serde_json::to_vec(&m).unwrap())
        };
        assert!(Index::from_bytes(&with(u64::MAX)).is_err(), "{key}");
        let mut index = Index::from_bytes(&with(1 << 62)).unwrap();
        upsert_n(&mut index, &mut Rng::seeded(7), 100..140);
        index.maintain();
    }
}

// ---------------------------------------------------------------- property tests

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        id: u8,
        v: Vec<i8>,
        w: Option<Vec<i8>>,
        tag: u8,
    },
    Delete {
        id: u8,
    },
    Search {
        v: Vec<i8>,
        w: Option<(Vec<i8>, i8)>,
        k: usize,
        exact: bool,
        tag: Option<u8>,
        min_score: Option<i8>,
    },
    Maintain,
    Grow {
        rows: usize,
    },
}

fn vec3() -> impl Strategy<Value = Vec<i8>> {
    prop::collection::vec(-3i8..=3, 3)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..16, vec3(), prop::option::of(vec3()), 0u8..3).prop_map(|(id, v, w, tag)| Op::Upsert { id, v, w, tag }),
        2 => (0u8..16).prop_map(|id| Op::Delete { id }),
        3 => (vec3(), prop::option::of((vec3(), -2i8..=2)), 1usize..8, any::<bool>(), prop::option::of(0u8..3), prop::option::of(-3i8..3))
            .prop_map(|(v, w, k, exact, tag, min_score)| Op::Search { v, w, k, exact, tag, min_score }),
        1 => Just(Op::Maintain),
        1 => (1usize..4).prop_map(|rows| Op::Grow { rows }),
    ]
}

fn floats(v: &[i8]) -> Vec<f32> {
    v.iter().map(|&x| f32::from(x)).collect()
}

fn model_config(w_storage: Storage) -> IndexConfig {
    IndexConfig {
        fields: vec![
            field("v", 3, Metric::L2, Storage::F32),
            field("w", 3, Metric::Cosine, w_storage),
        ],
        hnsw: HnswParams {
            m: 16,
            ef_construction: 32,
            ef_search: 2,
            ..HnswParams::default()
        },
        seal_threshold: 4,
        owner: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn matches_brute_force_model(ops in prop::collection::vec(op(), 1..60)) {
        check_model(ops, Storage::F32)?;
    }

    /// `int8_only` fields: the reference is brute force over the vectors as `get`
    /// returns them, refreshed after each seal or merge re-encodes them.
    #[test]
    fn int8_only_matches_brute_force_model(ops in prop::collection::vec(op(), 1..60)) {
        check_model(ops, Storage::Int8Only)?;
    }
}

fn check_model(ops: Vec<Op>, w_storage: Storage) -> Result<(), TestCaseError> {
    let mut index = Index::new(model_config(w_storage)).unwrap();
    let mut model: BTreeMap<String, Item> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Upsert { id, v, w, tag } => {
                let mut vectors = vec![("v", floats(&v))];
                if let Some(w) = w {
                    vectors.push(("w", floats(&w)));
                }
                let it = item(&format!("id{id}"), &vectors, json!({"tag": tag}));
                index.upsert(it.clone()).unwrap();
                model.insert(it.id.clone(), it);
            }
            Op::Delete { id } => {
                let id = format!("id{id}");
                prop_assert_eq!(index.delete(&id), model.remove(&id).is_some());
            }
            op @ (Op::Maintain | Op::Grow { .. }) => {
                // Each job (a seal or a rebuild) or growth step may re-encode an int8-only
                // vector once.
                let mut jobs = 0;
                if let Op::Grow { rows } = op {
                    jobs += usize::from(index.grow_step(rows) > 0);
                }
                while let Some(job) = index.plan_maintenance() {
                    index.apply(job.run()).unwrap();
                    jobs += 1;
                }
                for (id, it) in model.iter_mut() {
                    let got = index.get(id).unwrap();
                    prop_assert_eq!(&got.payload, &it.payload);
                    prop_assert_eq!(&got.vectors["v"], &it.vectors["v"]);
                    let (Some(a), Some(b)) = (got.vectors.get("w"), it.vectors.get("w")) else {
                        prop_assert_eq!(got.vectors.get("w"), it.vectors.get("w"));
                        continue;
                    };
                    // One re-encoding moves each value by at most half a step of the
                    // unit vector (range ≤ 2, 254 steps), times the vector's length.
                    let norm = b.iter().map(|x| x * x).sum::<f32>().sqrt();
                    let tolerance = jobs.max(1) as f32 * norm / 200.0 + 1e-6;
                    prop_assert!(
                        a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tolerance),
                        "{:?} vs {:?}",
                        a,
                        b
                    );
                    *it = got;
                }
            }
            Op::Search {
                v,
                w,
                k,
                exact,
                tag,
                min_score,
            } => {
                let mut q = query("v", floats(&v), k);
                if let Some((w, weight)) = w {
                    q.vectors.push(FieldQuery {
                        field: "w".into(),
                        vector: floats(&w),
                        weight: f32::from(weight),
                    });
                }
                q.exact = exact;
                q.filter = tag.map(|t| f(json!({"eq": {"field": "tag", "value": t}})));
                q.min_score = min_score.map(f32::from);
                let hits = index.search(&q).unwrap();
                let truth = brute_force(&model, index.config(), &q);
                if exact {
                    prop_assert_eq!(&hits, &truth);
                } else {
                    prop_assert!(hits.len() <= truth.len());
                    let mut all = q.clone();
                    all.k = MAX_K;
                    let everything = brute_force(&model, index.config(), &all);
                    for h in &hits {
                        let t = everything.iter().find(|t| t.id == h.id);
                        prop_assert!(t.is_some(), "{} is not a valid hit", h.id);
                        prop_assert_eq!(t.unwrap(), h);
                    }
                    prop_assert!(hits.windows(2).all(|p| p[0].score > p[1].score
                        || (p[0].score == p[1].score && p[0].id < p[1].id)));
                }
            }
        }
        prop_assert_eq!(index.len(), model.len());
    }
    for (id, it) in &model {
        prop_assert_eq!(index.get(id), Some(it.clone()));
    }
    let loaded = Index::from_bytes(&index.to_bytes()).unwrap();
    let mut q = query("v", vec![0.0, 1.0, 0.0], 10);
    q.exact = true;
    q.vectors.push(FieldQuery {
        field: "w".into(),
        vector: vec![1.0, -1.0, 2.0],
        weight: 0.5,
    });
    prop_assert_eq!(loaded.search(&q).unwrap(), index.search(&q).unwrap());
    Ok(())
}

fn sample_bytes() -> &'static [u8] {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES.get_or_init(|| sample_index().to_bytes())
}

/// A file that loads answers every query without panicking: with hits, or with an error where
/// the edit changed the configuration (a field renamed, a dimension changed).
fn check_loads_safely(bytes: &[u8]) {
    if let Ok(index) = Index::from_bytes(bytes) {
        for q in sample_queries() {
            if let Err(e) = index.search(&q) {
                assert!(
                    matches!(
                        e,
                        IndexError::UnknownField(_) | IndexError::DimensionMismatch { .. }
                    ),
                    "{e}"
                );
            }
        }
        let _ = index.to_bytes();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fuzz_random_mutations(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
                             cut in prop::option::of(any::<prop::sample::Index>())) {
        let mut bytes = sample_bytes().to_vec();
        for (pos, x) in flips {
            let i = pos.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        prop_assert!(Index::from_bytes(&bytes).is_err());
    }

    #[test]
    fn fuzz_mutations_behind_valid_checksums(section in any::<prop::sample::Index>(),
                                             edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
                                             resize in prop::option::of((any::<prop::sample::Index>(), any::<bool>()))) {
        let bytes = sample_bytes();
        let spans = section_spans(bytes);
        let s = section.index(spans.len());
        let (o, l) = spans[s];
        let mut body = bytes[o..o + l].to_vec();
        for (pos, b) in edits {
            let i = pos.index(body.len());
            body[i] = b;
        }
        if let Some((at, grow)) = resize {
            let i = at.index(body.len());
            if grow { body.insert(i, 0xff) } else { body.truncate(i) }
        }
        check_loads_safely(&replace_section(bytes, s, &body));
    }
}
