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

/// Settles `index` with growth run by `builder` from bytes alone, in steps of `rows`, as
/// simil's worker and its builder do; `during` runs while each step is out.
fn settle_elsewhere(
    index: &mut Index,
    builder: &mut Builder,
    held: &mut Option<CopyKey>,
    rows: usize,
    mut during: impl FnMut(&mut Index),
) {
    loop {
        if let Some(job) = index.plan_maintenance() {
            let (ticket, bytes) = job.into_parts();
            index
                .apply(ticket.built(&builder.run(&bytes).unwrap()).unwrap())
                .unwrap();
            continue;
        }
        let Some(key) = index.growth_key() else {
            return;
        };
        let (ticket, bytes) = index.plan_growth(rows, *held != Some(key)).unwrap();
        during(index);
        index
            .apply_growth(ticket.clone(), &builder.run(&bytes).unwrap())
            .unwrap();
        *held = Some(ticket.after());
    }
}

/// Settles `index` growing in place, in steps of `rows` (segments built from bytes, as above).
fn settle_here(index: &mut Index, rows: usize) {
    loop {
        if let Some(job) = index.plan_maintenance() {
            let (ticket, bytes) = job.into_parts();
            index
                .apply(ticket.built(&build_job(&bytes).unwrap()).unwrap())
                .unwrap();
        } else if index.grow_step(rows) == 0 {
            return;
        }
    }
}

#[test]
fn graphs_grown_by_a_builder_are_the_graphs_grown_in_place() {
    // A second field stored as int8 codes, present on most rows.
    let mut two = config(16);
    two.fields.push(FieldSpec {
        name: "w".into(),
        dim: 8,
        metric: Metric::L2,
        storage: Storage::Int8,
    });
    let (mut here, mut there) = (Index::new(two.clone()).unwrap(), Index::new(two).unwrap());
    let mut builder = Builder::default();
    let mut held = None;
    for batch in 0..6 {
        for i in batch * 30..(batch + 1) * 30 {
            let mut vectors: BTreeMap<String, Vec<f32>> = [("v".to_string(), vector(i))].into();
            if i % 5 != 0 {
                vectors.insert("w".into(), vector(i * 2 + 1));
            }
            for index in [&mut here, &mut there] {
                let item = Item {
                    id: format!("item-{i}"),
                    vectors: vectors.clone(),
                    payload: json!({ "n": i }),
                };
                index.upsert(item).unwrap();
            }
        }
        settle_elsewhere(&mut there, &mut builder, &mut held, 7, |_| {});
        settle_here(&mut here, 7);
    }
    assert_eq!(
        there.stats().segments.len(),
        2,
        "one grown graph and an empty exact segment"
    );
    assert_eq!(builder.copies(), 1);
    let (a, b) = (here.to_bytes(), there.to_bytes());
    let first = a.iter().zip(&b).position(|(x, y)| x != y);
    assert!(
        a == b,
        "the same rows, graph and links: {} vs {} bytes, first difference at {first:?}",
        a.len(),
        b.len()
    );
}

#[test]
fn writes_made_while_a_builder_grows_are_kept() {
    let mut index = Index::new(config(16)).unwrap();
    let mut builder = Builder::default();
    let mut held = None;
    (0..40).for_each(|i| add(&mut index, i, vector(i)));
    settle_elsewhere(&mut index, &mut builder, &mut held, 64, |_| {});
    (40..100).for_each(|i| add(&mut index, i, vector(i)));
    let mut once = true;
    settle_elsewhere(&mut index, &mut builder, &mut held, 64, |index| {
        if std::mem::take(&mut once) {
            // Rows of the step out: one deleted, one replaced.
            index.delete("item-41");
            add(index, 42, vector(500));
            add(index, 300, vector(7));
        }
    });
    assert!(index.get("item-41").is_none(), "deleted while growing");
    assert_eq!(index.get("item-42").unwrap().vectors["v"], vector(500));
    assert_eq!(index.len(), 100);
    let exact = |q: usize| {
        let mut query = Query::nearest("v", vector(q), 10);
        query.exact = true;
        index.search(&query).unwrap()
    };
    for q in [0, 42, 77, 300, 500] {
        let found: Vec<String> = index
            .search(&Query::nearest("v", vector(q), 10))
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect();
        assert!(!found.contains(&"item-41".to_string()));
        let want: Vec<String> = exact(q).into_iter().map(|h| h.id).collect();
        let overlap = found.iter().filter(|id| want.contains(id)).count();
        assert!(overlap >= 9, "query {q}: {found:?} vs exact {want:?}");
    }
}

#[test]
fn growth_out_while_the_index_changed_shape_goes_stale_and_the_copy_is_sent_again() {
    let mut index = Index::new(config(16)).unwrap();
    let mut builder = Builder::default();
    let mut held = None;
    (0..40).for_each(|i| add(&mut index, i, vector(i)));
    settle_elsewhere(&mut index, &mut builder, &mut held, 64, |_| {});
    (40..60).for_each(|i| add(&mut index, i, vector(i)));
    let (ticket, bytes) = index.plan_growth(5, true).unwrap();
    let grown = builder.run(&bytes).unwrap();
    // Grown in place meanwhile: the delta is stale, and so is the builder's copy.
    assert_eq!(index.grow_step(3), 3);
    let before = index.to_bytes();
    let err = index.apply_growth(ticket, &grown).unwrap_err();
    assert!(matches!(err, IndexError::StaleSegment), "{err}");
    assert_eq!(index.to_bytes(), before, "a stale step changes nothing");
    let (_, bytes) = index.plan_growth(5, false).unwrap();
    assert!(matches!(builder.run(&bytes), Err(IndexError::StaleSegment)));
    let (ticket, bytes) = index.plan_growth(5, true).unwrap();
    index
        .apply_growth(ticket, &builder.run(&bytes).unwrap())
        .unwrap();
    assert_eq!(index.len(), 60);
}

#[test]
fn corrupt_growth_bytes_are_errors_and_change_nothing() {
    let mut index = Index::new(config(16)).unwrap();
    let mut builder = Builder::default();
    (0..40).for_each(|i| add(&mut index, i, vector(i)));
    settle_elsewhere(&mut index, &mut builder, &mut None, 64, |_| {});
    (40..50).for_each(|i| add(&mut index, i, vector(i)));
    let (ticket, bytes) = index.plan_growth(10, true).unwrap();
    for cut in [0, 11, bytes.len() / 2, bytes.len() - 1] {
        assert!(Builder::default().run(&bytes[..cut]).is_err());
    }
    let grown = builder.run(&bytes).unwrap();
    let before = index.to_bytes();
    let mut flipped = grown.clone();
    flipped[20] ^= 1;
    assert!(index.apply_growth(ticket.clone(), &flipped).is_err());
    assert!(
        index.apply_growth(ticket.clone(), &bytes).is_err(),
        "a job is no delta"
    );
    assert_eq!(index.to_bytes(), before);
    index.apply_growth(ticket, &grown).unwrap();
    assert_eq!(index.len(), 50);
}
