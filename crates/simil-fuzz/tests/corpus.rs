//! Replays the kept corpus (`corpus/<target>/*`) through its target: no input may panic or
//! allocate over the cap. Every input that ever found a bug is kept there.

use simil_fuzz::{CappedAlloc, Outcome, TARGETS, corpus_dir, run_one};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

#[test]
fn the_kept_corpus_replays_without_a_panic() {
    simil_fuzz::quiet_panics();
    let mut failures = Vec::new();
    for t in TARGETS {
        let dir = corpus_dir().join(t.name);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        assert!(
            files.len() >= 100,
            "{}: only {} corpus inputs",
            t.name,
            files.len()
        );
        for file in files {
            let input = std::fs::read(&file).expect("read");
            match run_one(t, &input) {
                Outcome::Fine => {}
                failure => failures.push(format!(
                    "{}: {failure:?} ({})",
                    file.display(),
                    simil_fuzz::last_panic_location()
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_seed_is_accepted_by_its_decoder() {
    // The seeds must be valid files, or the mutators would start from noise.
    use simil_search::Collection;
    for f in simil_fuzz::seeds::collection_files() {
        Collection::from_bytes(&f).expect("a seed collection loads");
    }
    for f in simil_fuzz::seeds::index_files() {
        simil_search::index::Index::from_bytes(&f).expect("a seed index loads");
    }
    for f in simil_fuzz::seeds::head_files() {
        simil_search::head::DenseHead::from_safetensors(&f).expect("a seed head loads");
    }
    for f in simil_fuzz::seeds::growth_jobs() {
        simil_search::index::Builder::default()
            .run(&f)
            .expect("a seed growth job runs");
    }
    for f in simil_fuzz::seeds::grown_links() {
        let mut index = simil_fuzz::seeds::growing_index();
        let (ticket, _) = index
            .plan_growth(simil_fuzz::seeds::GROWTH_ROWS, true)
            .expect("growth");
        let f = simil_fuzz::seeds::with_instance(&f, ticket.key().instance);
        index.apply_growth(ticket, &f).expect("seed links apply");
    }
    assert_eq!(simil_fuzz::seeds::whitening_files().len(), 3);
    for f in simil_fuzz::seeds::whitening_files() {
        simil_search::whitening::Whitening::from_safetensors(&f).expect("a seed whitening loads");
    }
}
