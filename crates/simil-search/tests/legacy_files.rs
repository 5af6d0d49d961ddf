//! Files saved before the search core moved out of `simil` (format version 3, commit 9dfac8d:
//! keyword fields inside the index configuration, snake_case keys) still load, and answer as
//! the code that wrote them did. `fixtures/collection-v3.siml` and the answers beside it were
//! written by `fixtures/collection-v3.writer.rs.txt` built against that commit.

use serde_json::Value;
use simil_search::Collection;
use simil_search::collection::SearchRequest;

const FILE: &[u8] = include_bytes!("fixtures/collection-v3.siml");
const ANSWERS: &str = include_str!("fixtures/collection-v3.siml.json");

fn assert_same_hits(c: &Collection) {
    let answers: Vec<Value> = serde_json::from_str(ANSWERS).unwrap();
    assert_eq!(answers.len(), 5);
    for answer in answers {
        let request: SearchRequest = serde_json::from_value(answer["query"].clone()).unwrap();
        let hits = c.search(&request).unwrap();
        let expected = answer["hits"].as_array().unwrap();
        assert!(!hits.is_empty(), "{request:?}");
        assert_eq!(hits.len(), expected.len(), "{request:?}");
        for (hit, want) in hits.iter().zip(expected) {
            assert_eq!(hit.id, want["id"].as_str().unwrap(), "{request:?}");
            assert_eq!(hit.payload, want["payload"]);
            // The same f32 (JSON's decimal text parses to the nearest f64 first).
            assert_eq!(hit.score, want["score"].as_f64().unwrap() as f32);
        }
    }
}

#[test]
fn a_version_3_collection_loads_with_its_keyword_fields_learned_field_and_answers() {
    let c = Collection::from_bytes(FILE).unwrap();
    assert_eq!(c.len(), 9);
    assert_eq!(c.config().text_fields, ["name", "tags"]);
    let config = c.config();
    let index = &config.index;
    assert_eq!((index.hnsw.m, index.hnsw.ef_construction), (8, 40));
    assert_eq!((index.hnsw.ef_search, index.seal_threshold), (30, 6));
    assert!(index.owner.is_empty(), "{:?}", index.owner);
    let learned = c.learned_fields();
    assert_eq!((learned.len(), learned[0].name.as_str()), (1, "learned"));
    assert_same_hits(&c);
}

#[test]
fn a_version_3_collection_saved_again_keeps_everything() {
    let c = Collection::from_bytes(FILE).unwrap();
    let again = Collection::from_bytes(&c.to_bytes()).unwrap();
    assert_eq!(again.config(), c.config());
    assert_eq!(again.learned_fields(), c.learned_fields());
    assert_same_hits(&again);
    // The new file writes camelCase keys and its own `COLL` section.
    let bytes = c.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("sealThreshold") && !text.contains("seal_threshold"));
    assert!(text.contains(r#""textFields":["name","tags"]"#));
}
