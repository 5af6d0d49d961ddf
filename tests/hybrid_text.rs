//! Hybrid ranking with real signals: MiniLM (int8) vectors of item names and BM25 over the
//! same names, fused by reciprocal-rank fusion. "red fruit" must bring first the items that
//! either signal finds: a strawberry that shares no word with the query (only the vectors find
//! it) and a catalogue entry whose words match but whose name reads like a code (BM25 finds it).
//!
//! Needs `weights/minilm.int8.safetensors` and `weights/minilm.tokenizer.json`.

mod common;

use burn::prelude::*;
use simil::model::TextEmbedder;
use simil::text::{KeywordIndex, hybrid};

const ITEMS: [&str; 10] = [
    "red apple",
    "strawberry",
    "cherries",
    "SKU-204 FRUIT RED 6PK",
    "blue whale",
    "laptop computer",
    "running shoes",
    "grand piano",
    "rain cloud",
    "office chair",
];

fn weights(file: &str) -> Vec<u8> {
    common::read(
        format!("weights/{file}"),
        "run scripts/setup.sh's build_text_weights",
    )
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn red_fruit_ranks_items_either_signal_finds_first() {
    let model = TextEmbedder::load(
        &weights("minilm.int8.safetensors"),
        &weights("minilm.tokenizer.json"),
        &Device::flex(),
    )
    .unwrap();
    let vectors = model.embed(&ITEMS).unwrap();
    let query = &model.embed(&["red fruit"]).unwrap()[0];
    let k = 4;

    // The vector side: exact cosine kNN, k hits.
    let mut vector_hits: Vec<(u64, f32)> = vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, dot(query, v)))
        .collect();
    vector_hits.sort_by(|a, b| b.1.total_cmp(&a.1));
    vector_hits.truncate(k);

    let keywords: KeywordIndex<u64> =
        KeywordIndex::build(ITEMS.iter().enumerate().map(|(i, t)| (i as u64, [*t])));
    let keyword_hits = keywords.search("red fruit", k);

    let fused = hybrid(&vector_hits, &keyword_hits, k);
    let name = |id: u64| ITEMS[id as usize];
    let fused_names: Vec<&str> = fused.iter().map(|h| name(h.0)).collect();
    let keyword_names: Vec<&str> = keyword_hits.iter().map(|h| name(h.0)).collect();
    eprintln!(
        "vector:  {:?}",
        vector_hits.iter().map(|h| name(h.0)).collect::<Vec<_>>()
    );
    eprintln!("keyword: {keyword_names:?}");
    eprintln!("hybrid:  {fused_names:?}");

    // BM25 alone never finds the strawberry; the vectors find it.
    assert!(!keyword_names.contains(&"strawberry"));
    assert!(vector_hits.iter().any(|h| name(h.0) == "strawberry"));
    // Whatever either signal found is in the fused top k (their union has k items here).
    for (id, _) in vector_hits.iter().chain(&keyword_hits) {
        assert!(fused.iter().any(|h| h.0 == *id), "{} missing", name(*id));
    }
    // The item both signals find comes first; the fused top 4 are the four fruit items.
    assert_eq!(fused_names[0], "red apple");
    let mut top = fused_names.clone();
    top.sort();
    assert_eq!(
        top,
        [
            "SKU-204 FRUIT RED 6PK",
            "cherries",
            "red apple",
            "strawberry"
        ]
    );
}
