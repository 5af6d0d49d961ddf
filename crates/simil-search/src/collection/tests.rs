//! The collection's behaviour: items, keyword and hybrid search, learned fields, the file,
//! and evaluation over it.

use serde_json::json;

use super::*;
use std::collections::BTreeMap;

use crate::error::Error;
use crate::eval::Match;
use crate::eval::collection::{MatchQuery, calibrate, match_label};
use crate::eval::{LabelledQueries, evaluate};
use crate::head::{DenseHead, HeadConfig};
use crate::index::{
    FieldQuery, FieldSpec, Filter, HnswParams, IndexConfig, IndexError, Metric, Query, Storage,
};
use crate::text::hybrid;

/// Asserts that `result` failed with the collection error `pattern` (and `guard`); returns
/// the error.
macro_rules! collection_err {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {
        match $result {
            Err(e) => {
                assert!(matches!(e, Error::Collection($pattern) $(if $guard)?), "{e}");
                e
            }
            Ok(_) => panic!("expected a collection error"),
        }
    };
}

/// An empty collection of f32 vector fields `(name, dim, metric)` that seals at
/// `seal_threshold`, with keyword search over `text_fields`.
fn collection(
    fields: &[(&str, usize, Metric)],
    seal_threshold: usize,
    text_fields: &[&str],
) -> Collection {
    let fields = fields
        .iter()
        .map(|&(name, dim, metric)| FieldSpec {
            name: name.into(),
            dim,
            metric,
            storage: Storage::F32,
        })
        .collect();
    Collection::new(CollectionConfig {
        index: IndexConfig {
            fields,
            hnsw: HnswParams::default(),
            seal_threshold,
            owner: Default::default(),
        },
        text_fields: text_fields.iter().map(|f| f.to_string()).collect(),
        embed: Default::default(),
    })
    .unwrap()
}

/// Items on a 2-d circle (angle in degrees) with a name and tags.
fn fruit_stand() -> Collection {
    let mut c = collection(&[("v", 2, Metric::Cosine)], 3, &["name", "tags"]);
    let items = [
        (
            "strawberry",
            5.0,
            json!({ "name": "strawberry", "aisle": 1 }),
        ),
        (
            "sku",
            170.0,
            json!({ "name": "SKU-204", "tags": ["fruit", "red"], "aisle": 2 }),
        ),
        ("whale", 90.0, json!({ "name": "blue whale", "aisle": 1 })),
        ("piano", 120.0, json!({ "name": "grand piano", "aisle": 2 })),
        ("rain", 60.0, json!({ "aisle": 1 })),
    ];
    c.add(
        items
            .iter()
            .map(|(id, deg, payload)| {
                let r = f32::to_radians(*deg);
                Item {
                    id: id.to_string(),
                    vectors: [("v".to_string(), vec![r.cos(), r.sin()])].into(),
                    payload: payload.clone(),
                }
            })
            .collect(),
    )
    .unwrap();
    while c.maintain_step().unwrap() {}
    c
}

fn ids(hits: &[Hit]) -> Vec<&str> {
    hits.iter().map(|h| h.id.as_str()).collect()
}

fn text_query(text: &str, vector: Option<Vec<f32>>, k: usize) -> SearchRequest {
    SearchRequest::keywords(text, vector.map(|v| ("v", v)), k)
}

#[test]
fn keyword_query_ranks_by_bm25_and_honours_filters_and_changes() {
    let mut c = fruit_stand();
    let hits = c.search(&text_query("red fruit", None, 10)).unwrap();
    assert_eq!(
        ids(&hits),
        ["sku"],
        "only the SKU shares a word with the query"
    );
    assert!(hits[0].score > 0.0);
    assert_eq!(hits[0].payload["aisle"], 2);

    let mut q = text_query("whale piano", None, 10);
    q.query.filter = Some(Filter::Eq {
        field: "aisle".into(),
        value: json!(1),
    });
    assert_eq!(ids(&c.search(&q).unwrap()), ["whale"]);

    // Upsert changes the text; delete removes it.
    c.add(vec![Item {
        id: "piano".into(),
        vectors: [("v".to_string(), vec![0.0, 1.0])].into(),
        payload: json!({ "name": "red fruit bowl" }),
    }])
    .unwrap();
    assert_eq!(
        ids(&c.search(&text_query("bowl", None, 10)).unwrap()),
        ["piano"]
    );
    assert!(c.search(&text_query("grand", None, 10)).unwrap().is_empty());
    c.delete(&["piano".to_string()]);
    assert!(c.search(&text_query("bowl", None, 10)).unwrap().is_empty());
}

#[test]
fn hybrid_ranks_first_what_either_signal_finds_and_survives_a_reload() {
    let c = fruit_stand();
    // The query vector sits next to the strawberry (5°); its words match only the SKU
    // (170°, far from the query). Both must lead, ahead of items neither signal favours.
    let q = text_query("red fruit", Some(vec![1.0, 0.0]), 2);
    let hits = c.search(&q).unwrap();
    assert_eq!(ids(&hits), ["sku", "strawberry"]);
    // The SKU is last on the vector side (5th of 5) and first by BM25; the strawberry is
    // first on the vector side only.
    let s = |r: f32| 1.0 / (60.0 + r);
    assert!(
        (hits[0].score - (s(5.0) + s(1.0))).abs() < 1e-6,
        "{}",
        hits[0].score
    );
    assert!((hits[1].score - s(1.0)).abs() < 1e-6, "{}", hits[1].score);

    let reloaded = Collection::from_bytes(&c.to_bytes()).unwrap();
    assert_eq!(reloaded.search(&q).unwrap(), hits);
}

#[test]
fn bad_keyword_queries_are_typed_errors() {
    let c = fruit_stand();
    let long = "a".repeat(MAX_QUERY_TEXT + 1);
    collection_err!(
        c.search(&text_query(&long, None, 3)),
        CollectionError::TextTooLong { .. }
    );
    assert!(matches!(
        c.search(&text_query("fruit", None, 0)),
        Err(Error::Index(IndexError::OutOfRange { name: "k", .. }))
    ));
    let plain = Collection::new(c.config().index.clone()).unwrap();
    collection_err!(
        plain.search(&text_query("fruit", None, 3)),
        CollectionError::NoTextFields
    );
}

// ---- Learned fields ----

use rand::{Rng, SeedableRng};

use crate::eval::CalibrationTarget;
use crate::head::write_saved;

/// A head of random (seeded) weights, through its saved bytes as a trainer delivers it.
fn head(input: usize, output: usize, seed: u64) -> DenseHead {
    let config = HeadConfig {
        input,
        hidden: vec![16],
        output,
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let layers: Vec<_> = config
        .widths()
        .unwrap()
        .windows(2)
        .map(|w| {
            let bound = 1.0 / (w[0] as f32).sqrt();
            let mut draw = |n| (0..n).map(|_| rng.gen_range(-bound..bound)).collect();
            (draw(w[0] * w[1]), draw(w[1]))
        })
        .collect();
    DenseHead::from_safetensors(&write_saved(&config, &layers).unwrap()).unwrap()
}

/// The tests' one seeded generator (as every crate's tests use).
type TestRng = rand_chacha::ChaCha8Rng;

fn rng(seed: u64) -> TestRng {
    TestRng::seed_from_u64(seed)
}

const CLASSES: [&str; 3] = ["a", "b", "c"];

/// A vector of cluster `class` (around `2·e_class`) in 8-d.
fn cluster_vector(rng: &mut TestRng, class: usize) -> Vec<f32> {
    (0..8)
        .map(|d| if d == class { 2.0 } else { 0.0 } + 0.5 * rng.gen_range(-1.0f32..1.0))
        .collect()
}

/// 30 items, 10 per cluster, with the class (and a word) in the payload; seals at 16.
fn clusters() -> Collection {
    let mut c = collection(&[("v", 8, Metric::Cosine)], 16, &["word"]);
    let mut rng = rng(7);
    let items = (0..30)
        .map(|i| Item {
            id: format!("i{i:02}"),
            vectors: [("v".to_string(), cluster_vector(&mut rng, i % 3))].into(),
            payload: json!({ "class": CLASSES[i % 3], "word": format!("w{}", i % 5) }),
        })
        .collect();
    c.add(items).unwrap();
    c
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Ids of every item with `v`, best first, by cosine of the head's outputs.
fn brute_force(c: &Collection, head: &DenseHead, q: &[f32]) -> Vec<(String, f32)> {
    let hq = head.apply(q);
    let mut ids: Vec<String> = c.index.payloads().map(|(id, _)| id.to_string()).collect();
    ids.sort();
    let mut scored: Vec<(String, f32)> = ids
        .into_iter()
        .filter_map(|id| {
            let v = c.get(&id)?.vectors.get("v")?.clone();
            Some((id, cosine(&hq, &head.apply(&v))))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    scored
}

/// Checks a learned search of `q` (k = 10) against brute force over the head's outputs.
fn assert_like_brute_force(c: &Collection, head: &DenseHead, q: &[f32]) {
    let hits = c
        .search(&Query::nearest("h", q.to_vec(), 10).into())
        .unwrap();
    let expected = brute_force(c, head, q);
    assert_eq!(hits.len(), 10.min(expected.len()));
    for (hit, (id, score)) in hits.iter().zip(&expected) {
        assert_eq!(&hit.id, id, "{hits:?} vs {expected:?}");
        assert!((hit.score - score).abs() < 1e-5, "{} vs {score}", hit.score);
    }
}

#[test]
fn learned_field_search_matches_brute_force_through_the_head() {
    let mut c = clusters();
    let h = head(8, 6, 1);
    c.learn_field("h", "v", h.clone()).unwrap();
    assert_eq!(
        c.learned_fields(),
        vec![LearnedField {
            name: "h".into(),
            source: "v".into(),
            dim: 6,
            head: h.config().clone(),
            text: None,
        }]
    );
    let mut rng = rng(99);
    let queries: Vec<Vec<f32>> = (0..6).map(|i| cluster_vector(&mut rng, i % 3)).collect();
    // Exact (mutable segment) first, then through the sealed graphs.
    for q in &queries {
        assert_like_brute_force(&c, &h, q);
    }
    while c.maintain_step().unwrap() {}
    assert!(
        c.learned[0]
            .index
            .stats()
            .segments
            .iter()
            .any(|s| s.kind == crate::index::SegmentKind::Sealed)
    );
    for q in &queries {
        assert_like_brute_force(&c, &h, q);
    }
    // get() carries the learned vector; len() counts items once.
    let item = c.get("i04").unwrap();
    let expected = h.apply(&item.vectors["v"]);
    for (a, b) in item.vectors["h"].iter().zip(&expected) {
        assert!((a - b).abs() < 1e-6);
    }
    assert_eq!(c.len(), 30);
    // Evaluation routes through the head too: the clusters stay apart.
    let eval = evaluate(
        &c,
        &LabelledQueries {
            field: "h".into(),
            label_key: "class".into(),
            vectors: queries.clone(),
            labels: (0..6).map(|i| CLASSES[i % 3].to_string()).collect(),
        },
        5,
    )
    .unwrap();
    assert_eq!((eval.queries, eval.k), (6, 5));
    assert!(eval.recall_at_k == 1.0 && eval.map_at_r > 0.5, "{eval:?}");
}

#[test]
fn learned_field_follows_adds_deletes_and_upserts() {
    let mut c = clusters();
    let h = head(8, 6, 2);
    c.learn_field("h", "v", h.clone()).unwrap();
    let all = |c: &Collection, q: &[f32]| -> Vec<String> {
        let mut q = Query::nearest("h", q.to_vec(), 100);
        q.exact = true;
        c.search(&q.clone().into())
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect()
    };
    let mut rng = rng(5);
    let q = cluster_vector(&mut rng, 1);
    assert!(all(&c, &q).contains(&"i01".to_string()));
    assert_eq!(c.delete(&["i01".to_string()]), 1);
    assert!(!all(&c, &q).contains(&"i01".to_string()));
    assert!(c.get("i01").is_none());
    // A new item is found through the learned field with its own source vector.
    let v = cluster_vector(&mut rng, 2);
    c.add(vec![Item {
        id: "new".into(),
        vectors: [("v".to_string(), v.clone())].into(),
        payload: json!({ "class": "c" }),
    }])
    .unwrap();
    let hits = c.search(&Query::nearest("h", v.clone(), 1).into()).unwrap();
    assert_eq!(hits[0].id, "new");
    assert!((hits[0].score - 1.0).abs() < 1e-5);
    // An upsert moves it; an item without the source has no learned vector either.
    let moved = cluster_vector(&mut rng, 0);
    c.add(vec![
        Item {
            id: "new".into(),
            vectors: [("v".to_string(), moved.clone())].into(),
            payload: json!({ "class": "a" }),
        },
        Item {
            id: "bare".into(),
            vectors: BTreeMap::new(),
            payload: json!({ "class": "a" }),
        },
    ])
    .unwrap();
    assert_eq!(c.get("new").unwrap().vectors["h"], h.apply(&moved));
    assert_eq!(c.get("new").unwrap().payload["class"], "a");
    assert!(c.get("bare").unwrap().vectors.is_empty());
    assert!(!all(&c, &q).contains(&"bare".to_string()));
    assert_eq!(c.len(), 31);
    while c.maintain_step().unwrap() {}
    assert_like_brute_force(&c, &h, &moved);
    // Learned vectors are computed, never given: the whole batch is refused.
    collection_err!(
        c.add(vec![
            Item {
                id: "ok".into(),
                vectors: [("v".to_string(), v.clone())].into(),
                payload: Value::Null,
            },
            Item {
                id: "given".into(),
                vectors: [("h".to_string(), vec![0.0; 6])].into(),
                payload: Value::Null,
            },
        ]),
        CollectionError::ComputedField(ref f) if f == "h"
    );
    assert!(c.get("ok").is_none());
}

#[test]
fn filters_and_hybrid_queries_work_on_a_learned_field() {
    let mut c = clusters();
    let h = head(8, 6, 3);
    c.learn_field("h", "v", h.clone()).unwrap();
    while c.maintain_step().unwrap() {}
    let mut rng = rng(11);
    let q = cluster_vector(&mut rng, 0);
    let mut query = Query::nearest("h", q.clone(), 5);
    query.filter = Some(Filter::Eq {
        field: "class".into(),
        value: json!("b"),
    });
    let hits = c.search(&query.clone().into()).unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits.iter().all(|h| h.payload["class"] == "b"), "{hits:?}");
    let expected: Vec<String> = brute_force(&c, &h, &q)
        .into_iter()
        .filter(|(id, _)| c.get(id).unwrap().payload["class"] == "b")
        .map(|(id, _)| id)
        .take(5)
        .collect();
    assert_eq!(ids(&hits), expected);

    // Hybrid: the vector side is the learned ranking, fused with BM25's.
    let hybrid_query = SearchRequest::keywords("w3", Some(("h", q.clone())), 4);
    let got = c.search(&hybrid_query).unwrap();
    let vector_side: Vec<(String, f32)> = c
        .search(&Query::nearest("h", q.clone(), 30).into())
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.score))
        .collect();
    let keyword_side: Vec<(String, f32)> = c
        .search(&text_query("w3", None, 30))
        .unwrap()
        .into_iter()
        .map(|h| (h.id, h.score))
        .collect();
    assert_eq!(keyword_side.len(), 6);
    let fused = hybrid(&vector_side, &keyword_side, 4);
    let fused: Vec<&str> = fused.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids(&got), fused);
}

#[test]
fn learned_fields_survive_a_reload_and_damage_is_an_error() {
    let mut c = clusters();
    let h = head(8, 6, 4);
    c.learn_field("h", "v", h.clone()).unwrap();
    c.maintain_step().unwrap(); // The main index sealed, the learned one not yet.
    let mut rng = rng(21);
    let queries: Vec<Vec<f32>> = (0..4).map(|i| cluster_vector(&mut rng, i % 3)).collect();
    for _ in 0..2 {
        let bytes = c.to_bytes();
        let loaded = Collection::from_bytes(&bytes).unwrap();
        assert_eq!(loaded.learned_fields(), c.learned_fields());
        for q in &queries {
            for field in ["h", "v"] {
                let query = Query::nearest(field, q.clone(), 10);
                assert_eq!(
                    loaded.search(&query.clone().into()).unwrap(),
                    c.search(&query.clone().into()).unwrap()
                );
            }
        }
        assert_eq!(loaded.get("i07"), c.get("i07"));
        assert_eq!(loaded.to_bytes(), bytes);
        // Any damage is an error, never a panic: the learned field's section ends the file.
        for at in [bytes.len() - 1, bytes.len() - 200, bytes.len() / 2, 30] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            assert!(Collection::from_bytes(&damaged).is_err(), "flip at {at}");
        }
        assert!(Collection::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        while c.maintain_step().unwrap() {}
    }
    // The reloaded collection keeps computing its learned field.
    let mut loaded = Collection::from_bytes(&c.to_bytes()).unwrap();
    let v = cluster_vector(&mut rng, 1);
    loaded
        .add(vec![Item {
            id: "later".into(),
            vectors: [("v".to_string(), v.clone())].into(),
            payload: json!({}),
        }])
        .unwrap();
    assert_eq!(
        loaded.search(&Query::nearest("h", v, 1).into()).unwrap()[0].id,
        "later"
    );
    // A plain index reader refuses the file rather than dropping the learned field.
    assert!(Index::from_bytes(&c.to_bytes()).is_err());
}

#[test]
fn relearning_replaces_the_head_and_bad_requests_change_nothing() {
    let mut c = clusters();
    c.learn_field("h", "v", head(8, 6, 5)).unwrap();
    let second = head(8, 5, 6);
    c.learn_field("h", "v", second.clone()).unwrap();
    assert_eq!(c.learned_fields().len(), 1);
    assert_eq!(c.learned_fields()[0].dim, 5);
    assert_eq!(c.get("i00").unwrap().vectors["h"].len(), 5);
    let mut rng = rng(3);
    assert_like_brute_force(&c, &second, &cluster_vector(&mut rng, 2));

    let before = c.learned_fields();
    let e = collection_err!(
        c.learn_field("g", "nope", head(8, 4, 7)),
        CollectionError::UnknownField(_)
    );
    assert_eq!(e.code(), "collection");
    collection_err!(
        c.learn_field("g", "h", head(5, 4, 7)),
        CollectionError::LearnedSource(_)
    );
    collection_err!(
        c.learn_field("v", "v", head(8, 4, 7)),
        CollectionError::FieldNameTaken(_)
    );
    collection_err!(
        c.learn_field("g", "v", head(7, 4, 7)),
        CollectionError::HeadInputMismatch {
            dim: 8,
            input: 7,
            ..
        }
    );
    assert_eq!(c.learned_fields(), before);
    // A second learned field lives beside the first.
    c.learn_field("g", "v", head(8, 4, 8)).unwrap();
    assert_eq!(c.learned_fields().len(), 2);
    assert_eq!(c.get("i03").unwrap().vectors.len(), 3);
}

#[test]
fn queries_mixing_or_misshaping_learned_fields_are_typed_errors() {
    let mut c = clusters();
    c.learn_field("h", "v", head(8, 6, 9)).unwrap();
    let mut q = Query::nearest("h", vec![0.5; 8], 3);
    q.vectors.push(FieldQuery {
        field: "v".into(),
        vector: vec![0.5; 8],
        weight: 1.0,
    });
    let e = collection_err!(c.search(&q.into()), CollectionError::MixedFields { .. });
    assert_eq!(e.code(), "collection");
    // A vector of the learned space (6) where the source's (8) is expected.
    let e = collection_err!(
        c.search(&Query::nearest("h", vec![0.5; 6], 3).into()),
        CollectionError::LearnedQueryDim {
            expected: 8,
            got: 6,
            ..
        }
    );
    assert!(e.to_string().contains('8') && e.to_string().contains('6'));
    let mut nan = vec![0.5; 8];
    nan[2] = f32::NAN;
    assert!(matches!(
        c.search(&Query::nearest("h", nan, 3).into()),
        Err(Error::Index(IndexError::InvalidValue { position: 2, .. }))
    ));
}

/// Hand-made: 2-d unit vectors at the given angles (degrees), labels in `class`.
fn angles(items: &[(&str, f32, Value)]) -> Collection {
    let mut c = collection(&[("v", 2, Metric::Cosine), ("w", 1, Metric::Dot)], 100, &[]);
    c.add(
        items
            .iter()
            .map(|(id, deg, payload)| Item {
                id: id.to_string(),
                vectors: [("v".to_string(), unit(*deg))].into(),
                payload: payload.clone(),
            })
            .collect(),
    )
    .unwrap();
    c
}

fn unit(deg: f32) -> Vec<f32> {
    let r = deg.to_radians();
    vec![r.cos(), r.sin()]
}

#[test]
fn training_rows_are_in_id_order_with_first_seen_classes() {
    let mut c = angles(&[
        ("b", 10.0, json!({ "y": "x" })),
        ("a", 20.0, json!({ "y": 2 })),
        ("d", 30.0, json!({ "z": "x" })),
        ("c", 40.0, json!({ "y": "x" })),
        ("f", 50.0, json!({ "y": true })),
        ("g", 60.0, json!({ "y": ["x"] })),
    ]);
    c.add(vec![Item {
        id: "e".into(),
        vectors: [("w".to_string(), vec![1.0])].into(),
        payload: json!({ "y": "x" }),
    }])
    .unwrap();
    let rows = c.training_rows("v", "y").unwrap();
    // Labelled, by id: a (2), b (x), c (x), f (true); d has no label, g an array; e no `v`.
    assert_eq!(rows.dim, 2);
    assert_eq!(rows.classes, ["2", "x", "true"]);
    assert_eq!(rows.labels, [0, 1, 1, 2]);
    let expected: Vec<f32> = [20.0, 10.0, 40.0, 50.0]
        .into_iter()
        .flat_map(unit)
        .collect();
    assert_eq!(rows.rows, expected);
    let unlabelled: Vec<f32> = [30.0, 60.0].into_iter().flat_map(unit).collect();
    assert_eq!(rows.unlabelled, unlabelled);

    collection_err!(
        c.training_rows("nope", "y"),
        CollectionError::UnknownField(_)
    );
    c.learn_field("h", "v", head(2, 3, 1)).unwrap();
    collection_err!(c.training_rows("h", "y"), CollectionError::LearnedSource(_));
}

/// a1 at 0°, a2 at 10°, b1 at 20°, b2 at 90°.
fn two_classes() -> Collection {
    angles(&[
        ("a1", 0.0, json!({ "class": "a" })),
        ("a2", 10.0, json!({ "class": "a" })),
        ("b1", 20.0, json!({ "class": "b" })),
        ("b2", 90.0, json!({ "class": "b" })),
    ])
}

fn labelled(queries: &[(f32, &str)]) -> LabelledQueries {
    LabelledQueries {
        field: "v".into(),
        label_key: "class".into(),
        vectors: queries.iter().map(|(deg, _)| unit(*deg)).collect(),
        labels: queries.iter().map(|(_, l)| l.to_string()).collect(),
    }
}

#[test]
fn evaluate_matches_hand_computed_metrics() {
    let c = two_classes();
    // Query a at 2°: a1 (2° away), a2 (8°), b1 (18°), b2 (88°) → a a b b.
    // Query b at 16°: b1 (4°), a2 (6°), a1 (16°), b2 (74°) → b a a b.
    // Both labels have R = 2 items.
    let q = labelled(&[(2.0, "a"), (16.0, "b")]);
    // k = 1 (2 hits each, R = 2): recall 1, precision 1, NDCG 1;
    // mAP@R: a → (1/1 + 2/2)/2 = 1, b → (1/1)/2 = 1/2; mean 3/4.
    let e = evaluate(&c, &q, 1).unwrap();
    assert_eq!((e.queries, e.k), (2, 1));
    assert_eq!(
        (e.recall_at_k, e.precision_at_k, e.ndcg_at_k),
        (1.0, 1.0, 1.0)
    );
    assert!((e.map_at_r - 0.75).abs() < 1e-12, "{e:?}");
    // k = 3: a → [a a b], b → [b a a]. Precision (2/3 + 1/3)/2 = 1/2.
    // NDCG: ideal 1 + 1/log2 3; a's DCG the same (1), b's DCG 1 → 1/(1 + 1/log2 3).
    let e = evaluate(&c, &q, 3).unwrap();
    assert_eq!(e.recall_at_k, 1.0);
    assert!((e.precision_at_k - 0.5).abs() < 1e-12);
    let b = 1.0 / (1.0 + 1.0 / 3f64.log2());
    assert!((e.ndcg_at_k - (1.0 + b) / 2.0).abs() < 1e-12, "{e:?}");
    assert!((e.map_at_r - 0.75).abs() < 1e-12);

    let mut bad = q.clone();
    bad.labels.pop();
    collection_err!(
        evaluate(&c, &bad, 1),
        CollectionError::QueryLabels {
            vectors: 2,
            labels: 1
        }
    );
    collection_err!(evaluate(&c, &labelled(&[]), 1), CollectionError::NoQueries);
    assert!(evaluate(&c, &q, 0).is_err());
}

#[test]
fn calibrate_finds_the_hand_computed_min_score() {
    let c = two_classes();
    // Nearest hits: a@2° → a1 at 2° (right); b@16° → b1 at 4° (right);
    // a@60° → b2 at 30° (wrong); b@52° → b1 at 32° (right).
    let q = labelled(&[(2.0, "a"), (16.0, "b"), (60.0, "a"), (52.0, "b")]);
    let cos = |deg: f32| deg.to_radians().cos();
    // By score: cos 2° ✓, cos 4° ✓, cos 30° ✗, cos 32° ✓. Precision 1 holds down to
    // cos 4° (2 of 4 found: recall 1/2, F1 2/3).
    let p = calibrate(&c, &q, CalibrationTarget::Precision(1.0)).unwrap();
    assert!((p.min_score - cos(4.0)).abs() < 1e-6, "{p:?}");
    assert_eq!((p.precision, p.recall), (1.0, 0.5));
    assert!((p.f1 - 2.0 / 3.0).abs() < 1e-12);
    // F1 by threshold: 2/5, 2/3, 4/7, 3/4 → best at cos 32° (precision = recall = 3/4).
    let f = calibrate(&c, &q, CalibrationTarget::BestF1).unwrap();
    assert!((f.min_score - cos(32.0)).abs() < 1e-6, "{f:?}");
    assert_eq!((f.precision, f.recall, f.f1), (0.75, 0.75, 0.75));
    collection_err!(
        calibrate(
            &c,
            &labelled(&[(60.0, "a")]),
            CalibrationTarget::Precision(0.5)
        ),
        CollectionError::NoThreshold
    );
}

#[test]
fn match_label_is_unknown_below_min_score() {
    let c = two_classes();
    // 16° is nearest b1 (4° away): cos 4° ≈ 0.99756.
    let query = |field: Option<&str>, min_score| MatchQuery {
        field: field.map(str::to_string),
        label_key: "class".into(),
        min_score,
    };
    // No field named: the first vector field, `v`.
    let m = match_label(&c, &unit(16.0), &query(None, 0.99)).unwrap();
    assert_eq!(m.label.as_deref(), Some("b"));
    assert_eq!(m.id.as_deref(), Some("b1"));
    assert!((m.score.unwrap() - 4f32.to_radians().cos()).abs() < 1e-6);
    let m = match_label(&c, &unit(16.0), &query(Some("v"), 0.999)).unwrap();
    assert_eq!((m.label, m.id.as_deref()), (None, Some("b1")));
    // No item has `w`: nothing to match.
    let m = match_label(&c, &[1.0], &query(Some("w"), 0.0)).unwrap();
    assert_eq!(
        m,
        Match {
            label: None,
            id: None,
            score: None
        }
    );
}

#[test]
fn catalog_upkeep_names_the_collection_each_step_changed() {
    let mut catalog = Catalog::default();
    let config = fruit_stand().config();
    catalog.create("quiet", config.clone()).unwrap();
    let busy = catalog.create("busy", config).unwrap();
    let item = |i: usize| Item {
        id: format!("i{i}"),
        vectors: [("v".to_string(), vec![1.0, i as f32])].into(),
        payload: json!({}),
    };
    busy.add((0..8).map(item).collect()).unwrap();
    let mut changed = Vec::new();
    while let Some(name) = catalog.maintain_step().unwrap() {
        changed.push(name.to_string());
    }
    assert!(
        !changed.is_empty(),
        "8 items over a seal threshold of 3 need upkeep"
    );
    assert!(changed.iter().all(|name| name == "busy"), "{changed:?}");
    assert_eq!(catalog.maintain_step().unwrap(), None);
}

#[test]
fn open_or_create_reopens_the_same_configuration_and_refuses_another() {
    let mut catalog = Catalog::default();
    let config = fruit_stand().config();
    assert!(catalog.open_or_create("fruit", config.clone()).unwrap());
    catalog.get_mut("fruit").unwrap().add(vec![]).unwrap();
    assert!(!catalog.open_or_create("fruit", config.clone()).unwrap());
    let mut other = config;
    other.text_fields = vec!["name".into()];
    collection_err!(
        catalog.open_or_create("fruit", other),
        CollectionError::OtherConfig(_)
    );
}

#[test]
fn model_bindings_are_checked_kept_and_saved() {
    let mut config = fruit_stand().config();
    config.embed.insert("v".into(), Embed::Image);
    let c = Collection::new(config.clone()).unwrap();
    assert_eq!(c.config().embed, config.embed);
    let back = Collection::from_bytes(&c.to_bytes()).unwrap();
    assert_eq!(back.config(), config);
    let json: CollectionConfig = serde_json::from_value(json!({
        "fields": [{ "name": "photo", "dim": 4, "metric": "cosine" }],
        "embed": { "photo": "image" },
    }))
    .unwrap();
    assert_eq!(json.embed["photo"], Embed::Image);
    config.embed.insert("nope".into(), Embed::Text);
    let unknown = Collection::new(config)
        .err()
        .expect("an unknown bound field is refused");
    assert!(unknown.to_string().contains("nope"), "{unknown}");
}

#[test]
fn a_text_head_maps_text_vectors_into_its_learned_field_and_is_saved() {
    let mut c = clusters();
    c.learn_field("joint", "v", head(8, 6, 1)).unwrap();
    let words = head(5, 6, 2);
    collection_err!(
        c.search(&no_vectors_with(&[0.5; 5])),
        CollectionError::NoTextHead
    );
    collection_err!(
        c.set_text_head("joint", head(5, 7, 2)),
        CollectionError::TextHeadMismatch {
            dim: 6,
            output: 7,
            ..
        }
    );
    c.set_text_head("joint", words.clone()).unwrap();
    assert_eq!(c.learned_fields()[0].text, Some(words.config().clone()));
    let text = [0.3, -0.2, 0.9, 0.1, 0.4];
    let hits = c.search(&no_vectors_with(&text)).unwrap();
    // The same as searching the learned index with the text head's output, exactly.
    let (index, _) = c.route(&Query::nearest("joint", vec![0.0; 8], 1)).unwrap();
    let direct = index
        .search(&Query::nearest("joint", words.apply(&text), 4))
        .unwrap();
    assert_eq!(hits, direct);
    let back = Collection::from_bytes(&c.to_bytes()).unwrap();
    assert_eq!(back.search(&no_vectors_with(&text)).unwrap(), hits);
    assert_eq!(back.learned_fields(), c.learned_fields());
    collection_err!(
        c.search(&no_vectors_with(&[1.0; 4])),
        CollectionError::LearnedQueryDim {
            expected: 5,
            got: 4,
            ..
        }
    );
    // Retraining the field drops its text head.
    c.learn_field("joint", "v", head(8, 6, 3)).unwrap();
    collection_err!(
        c.search(&no_vectors_with(&text)),
        CollectionError::NoTextHead
    );
}

fn no_vectors_with(text: &[f32]) -> SearchRequest {
    let mut query = Query::nearest("", Vec::new(), 4);
    query.vectors.clear();
    SearchRequest {
        text_vector: Some(text.to_vec()),
        ..SearchRequest::from(query)
    }
}

#[test]
fn catalog_upkeep_built_in_another_worker_keeps_the_writes_made_meanwhile() {
    let item = |i: usize, x: f32| Item {
        id: format!("i{i}"),
        vectors: [("v".to_string(), vec![1.0, x])].into(),
        payload: json!({}),
    };
    let fill = |catalog: &mut Catalog| {
        let c = catalog.create("busy", fruit_stand().config()).unwrap();
        c.add((0..8).map(|i| item(i, i as f32)).collect()).unwrap();
    };
    let (mut here, mut there) = (Catalog::default(), Catalog::default());
    fill(&mut here);
    fill(&mut there);
    let bytes = here
        .plan_upkeep(0)
        .expect("8 items over a seal threshold of 3");
    assert_eq!(here.plan_upkeep(8), None, "one job out at a time");
    let meanwhile = |c: &mut Catalog| {
        let busy = c.get_mut("busy").unwrap();
        busy.delete(&["i1".to_string()]);
        busy.add(vec![item(2, -5.0), item(9, 9.0)]).unwrap();
    };
    meanwhile(&mut here);
    let built = crate::index::build_job(&bytes).unwrap();
    assert_eq!(
        here.apply_upkeep(Some(&built))
            .unwrap()
            .map(|a| a.collection),
        Some("busy".to_string())
    );
    while here.maintain_step().unwrap().is_some() {}
    meanwhile(&mut there);
    while there.maintain_step().unwrap().is_some() {}
    let (a, b) = (here.get("busy").unwrap(), there.get("busy").unwrap());
    assert_eq!(a.len(), 8);
    assert!(a.get("i1").is_none());
    assert_eq!(a.get("i2").unwrap().vectors["v"], vec![1.0, -5.0]);
    let request: SearchRequest = serde_json::from_value(
        json!({ "vectors": [{ "field": "v", "vector": [1.0, 3.0] }], "k": 8 }),
    )
    .unwrap();
    let ids = |c: &Collection| {
        c.search(&request)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(a), ids(b));
}

#[test]
fn catalog_upkeep_out_for_a_collection_replaced_meanwhile_goes_stale() {
    let mut catalog = Catalog::default();
    let c = catalog.create("busy", fruit_stand().config()).unwrap();
    let item = |i: usize| Item {
        id: format!("i{i}"),
        vectors: [("v".to_string(), vec![1.0, i as f32])].into(),
        payload: json!({}),
    };
    c.add((0..8).map(item).collect()).unwrap();
    let saved = c.to_bytes();
    let bytes = catalog.plan_upkeep(0).unwrap();
    catalog.load("busy", &saved).unwrap();
    let built = crate::index::build_job(&bytes).unwrap();
    assert_eq!(
        catalog.apply_upkeep(Some(&built)).unwrap(),
        None,
        "the job's index is gone"
    );
    assert!(
        catalog.plan_upkeep(0).is_some(),
        "the next plan starts again"
    );
    assert_eq!(
        catalog.apply_upkeep(None).unwrap(),
        None,
        "a failed build drops the job"
    );
    assert!(
        catalog.plan_upkeep(0).is_some(),
        "and the next plan makes it again"
    );
}

#[test]
fn catalog_growth_leaves_the_index_of_the_job_out_alone() {
    let mut catalog = Catalog::default();
    let item = |i: usize| Item {
        id: format!("i{i}"),
        vectors: [("v".to_string(), vec![1.0, i as f32])].into(),
        payload: json!({}),
    };
    for name in ["a", "b"] {
        let c = catalog.create(name, fruit_stand().config()).unwrap();
        c.add((0..8).map(item).collect()).unwrap();
        while c.maintain_step().unwrap() {}
        c.add((8..11).map(item).collect()).unwrap();
    }
    // "b" gets a job out (a bulk add as large as its graph is sealed in one go), "a" grows.
    let b = catalog.get_mut("b").unwrap();
    b.add((20..40).map(item).collect()).unwrap();
    let bytes = catalog.plan_upkeep(0).expect("b's seal");
    assert_eq!(catalog.grow_step(2), Some("a"));
    assert_eq!(catalog.grow_step(2), Some("a"));
    assert_eq!(
        catalog.grow_step(2),
        None,
        "a is done; b's index has the job out"
    );
    let built = crate::index::build_job(&bytes).unwrap();
    assert_eq!(
        catalog
            .apply_upkeep(Some(&built))
            .unwrap()
            .map(|a| a.collection),
        Some("b".to_string())
    );
    // Then b's smaller graph is inserted into the one just built.
    assert_eq!(catalog.grow_step(100), Some("b"));
    assert_eq!(catalog.grow_step(100), None);
    for name in ["a", "b"] {
        let stats = catalog.get(name).unwrap().stats();
        assert_eq!(stats.segments.len(), 2, "{name}: {stats:?}");
        assert_eq!(stats.segments[0].rows, 0);
    }
}

#[test]
fn catalog_growth_runs_in_a_builder_that_keeps_a_copy_of_the_graph() {
    let item = |i: usize| Item {
        id: format!("i{i}"),
        vectors: [("v".to_string(), vec![1.0, i as f32 * 0.37 - 3.0])].into(),
        payload: json!({}),
    };
    let (mut elsewhere, mut here) = (Catalog::default(), Catalog::default());
    let mut builder = crate::index::Builder::default();
    let mut kinds = Vec::new();
    for catalog in [&mut elsewhere, &mut here] {
        let c = catalog.create("grows", fruit_stand().config()).unwrap();
        c.add((0..8).map(item).collect()).unwrap();
    }
    for batch in 1..4 {
        for catalog in [&mut elsewhere, &mut here] {
            let c = catalog.get_mut("grows").unwrap();
            c.add((batch * 8..batch * 8 + 5).map(item).collect())
                .unwrap();
        }
        while let Some(job) = elsewhere.plan_upkeep(2) {
            let applied = elsewhere.apply_upkeep(Some(&builder.run(&job).unwrap()));
            kinds.push(applied.unwrap().expect("applied").grew);
        }
        assert_eq!(
            elsewhere.grow_step(100),
            None,
            "nothing left to grow in place"
        );
        while here.maintain_step().unwrap().is_some() {}
    }
    assert!(!kinds[0], "the first graph is built in one go");
    // 13 rows sealed at once, then 2 × 5 rows grown 2 at a time.
    assert_eq!(kinds.iter().filter(|&&grew| grew).count(), 6);
    assert_eq!(builder.copies(), 1);
    let (a, b) = (elsewhere.get("grows").unwrap(), here.get("grows").unwrap());
    assert_eq!(
        a.stats().segments.len(),
        2,
        "one graph, an empty exact segment"
    );
    assert_eq!(a.len(), 23);
    for q in [-3.0, 0.0, 2.5, 6.0] {
        let request: SearchRequest = serde_json::from_value(
            json!({ "vectors": [{ "field": "v", "vector": [1.0, q] }], "k": 5 }),
        )
        .unwrap();
        let ids = |c: &Collection| -> Vec<String> {
            c.search(&request)
                .unwrap()
                .into_iter()
                .map(|h| h.id)
                .collect()
        };
        assert_eq!(ids(a), ids(b), "query {q}");
    }
}
