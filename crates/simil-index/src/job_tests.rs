//! Segment builds in another worker: a job split into a ticket and bytes, built from the bytes
//! alone, and applied, gives the index the synchronous path gives; changes made during the
//! build are kept; a ticket of another index, or corrupt bytes, are refused.

use serde_json::json;

use super::*;

fn config(seal_threshold: usize) -> IndexConfig {
    let mut config = IndexConfig::with_fields(vec![FieldSpec {
        name: "v".into(),
        dim: 8,
        metric: Metric::Cosine,
        storage: Storage::F32,
    }]);
    config.seal_threshold = seal_threshold;
    config
}

fn vector(i: usize) -> Vec<f32> {
    (0..8)
        .map(|j| ((i * 7 + j * 13) % 17) as f32 - 8.0 + j as f32 * 0.1)
        .collect()
}

fn add(index: &mut Index, id: usize, v: Vec<f32>) {
    let item = Item {
        id: format!("item-{id}"),
        vectors: [("v".to_string(), v)].into(),
        payload: json!({ "n": id }),
    };
    index.upsert(item).unwrap();
}

fn filled() -> Index {
    let mut index = Index::new(config(64)).unwrap();
    (0..80).for_each(|i| add(&mut index, i, vector(i)));
    index
}

/// The ids of the 10 nearest to each of a few queries.
fn answers(index: &Index) -> Vec<Vec<String>> {
    (0..20)
        .map(|q| {
            let hits = index
                .search(&Query::nearest("v", vector(q * 3 + 1), 10))
                .unwrap();
            hits.into_iter().map(|h| h.id).collect()
        })
        .collect()
}

/// What happens to both indexes while the job builds.
fn meanwhile(index: &mut Index) {
    index.delete("item-3");
    add(index, 5, vector(77));
    add(index, 200, vector(4));
}

#[test]
fn a_job_built_from_its_bytes_gives_what_the_synchronous_build_gives() {
    let (mut here, mut there) = (filled(), filled());
    let job = here
        .plan_maintenance()
        .expect("80 rows pass the seal threshold of 64");
    let (ticket, bytes) = job.into_parts();
    meanwhile(&mut here);
    let built = build_job(&bytes).unwrap();
    here.apply(ticket.built(&built).unwrap()).unwrap();

    let job = there.plan_maintenance().unwrap();
    let built = job.run();
    meanwhile(&mut there);
    there.apply(built).unwrap();

    assert_eq!(answers(&here), answers(&there));
    assert_eq!(
        here.stats().items,
        80,
        "one deleted, one added, one upserted"
    );
    assert!(
        here.get("item-3").is_none(),
        "deleted during the build: stays deleted"
    );
    let upserted = here.get("item-5").unwrap();
    assert_eq!(
        upserted.vectors["v"],
        vector(77),
        "upserted during the build: the new version"
    );
    assert!(
        here.stats()
            .segments
            .iter()
            .any(|s| s.kind == SegmentKind::Sealed)
    );
}

#[test]
fn a_ticket_applies_only_to_the_index_that_planned_it() {
    let mut index = filled();
    let (ticket, bytes) = index.plan_maintenance().unwrap().into_parts();
    let built = build_job(&bytes).unwrap();
    let mut other = filled();
    let err = other
        .apply(ticket.clone().built(&built).unwrap())
        .unwrap_err();
    assert!(matches!(err, IndexError::StaleSegment), "{err}");
    index.apply(ticket.built(&built).unwrap()).unwrap();
}

#[test]
fn corrupt_job_or_segment_bytes_are_errors() {
    let index = filled();
    let (ticket, bytes) = index.plan_maintenance().unwrap().into_parts();
    let built = build_job(&bytes).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(build_job(&bytes[..cut]).is_err());
    }
    let mut flipped = built.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert!(ticket.clone().built(&flipped).is_err());
    assert!(
        ticket.clone().built(&bytes).is_err(),
        "a job's bytes are no built segment"
    );
    assert!(
        build_job(&built).is_err(),
        "a built segment's bytes are no job"
    );
}
