//! Fuzzing of simil's decoders on stable Rust.
//!
//! Each [`Target`] feeds bytes to one real public decoder (collection and index files, saved
//! heads, whitening, model weights, the two tokenisers, search requests and collection
//! configurations as JSON): an `Err` is a fine answer, a panic is a bug. Inputs come from a
//! seeded generator ([`Target::generate`]): valid files and structured values mutated as AFL's
//! havoc does, with the containers made consistent again after mutating ([`mutate`]), and
//! `arbitrary`-driven text and JSON. [`CappedAlloc`] turns any single allocation over
//! [`ALLOC_CAP`] into a failure. `cargo run -p simil-fuzz -- all --inputs N` runs them;
//! `tests/corpus.rs` replays the kept corpus (`corpus/<target>/`) in `cargo test`.

pub mod alloc;
pub mod mutate;
pub mod rng;
pub mod seeds;
mod targets;

pub use alloc::{ALLOC_CAP, CappedAlloc};
pub use targets::{TARGETS, Target, target};

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

/// The folder of the kept corpus: one folder per target.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// The repository root (fixtures and weights are read from there).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How one input went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The decoder answered (`Ok` or `Err`).
    Fine,
    /// It panicked, with this message.
    Panic(String),
    /// It asked for one allocation of this many bytes, over [`ALLOC_CAP`].
    OverCap(usize),
}

/// Runs `input` through `target`, catching a panic and checking the allocation cap.
pub fn run_one(target: &Target, input: &[u8]) -> Outcome {
    alloc::reset();
    IN_TARGET.with(|t| t.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    IN_TARGET.with(|t| t.set(false));
    if let Some(size) = alloc::over_cap() {
        return Outcome::OverCap(size);
    }
    match result {
        Ok(()) => Outcome::Fine,
        Err(e) => Outcome::Panic(
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "non-string panic".into()),
        ),
    }
}

/// Silences the default panic message inside [`run_one`] (panics there are counted and
/// reported by the caller), and records where each panic happened.
pub fn quiet_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_TARGET.with(|t| t.get()) {
            return default(info);
        }
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        LAST_PANIC_AT.with(|p| *p.borrow_mut() = at);
    }));
}

thread_local! {
    static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static LAST_PANIC_AT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Where the last panic on this thread happened (`file:line`).
pub fn last_panic_location() -> String {
    LAST_PANIC_AT.with(|p| p.borrow().clone())
}
