//! `cargo run -p simil-fuzz -- <target|all> --inputs N [--seed S]`: runs each target on N
//! generated inputs and prints one JSON line per target, `{ target, inputs, panics, seconds }`.
//! Inputs that panic (or allocate over the cap) are written to `crashes/<target>/`.
//!
//! Build it with the dev profile, as above (simil's crates at opt-level 3, debug assertions and
//! overflow checks on): the workspace's release profile sets `panic = "abort"`, under which a
//! panic cannot be caught and counted, so a release build refuses to run.
//!
//! `cargo run -p simil-fuzz -- corpus <target|all> --inputs N [--seed S]` writes the seeds and
//! N small generated inputs per target to `corpus/<target>/` (the kept corpus).

use std::path::PathBuf;
use std::time::Instant;

use simil_fuzz::rng::Rng;
use simil_fuzz::{CappedAlloc, Outcome, TARGETS, Target, corpus_dir, run_one, target};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn usage() -> ! {
    let names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    eprintln!(
        "usage: simil-fuzz [corpus] <all|{}> --inputs N [--seed S]",
        names.join("|")
    );
    std::process::exit(2)
}

fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    if cfg!(panic = "abort") {
        eprintln!(
            "simil-fuzz must catch panics: build it without --release (the release profile aborts on panic)"
        );
        std::process::exit(2);
    }
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let corpus = args.first().is_some_and(|a| a == "corpus");
    if corpus {
        args.remove(0);
    }
    let mut inputs = 10_000u64;
    let mut seed = 1u64;
    let mut which = None;
    let mut i = 0;
    while i < args.len() {
        let value = |i: usize| {
            args.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match args[i].as_str() {
            "--inputs" => (inputs, i) = (value(i), i + 1),
            "--seed" => (seed, i) = (value(i), i + 1),
            name if which.is_none() => which = Some(name.to_string()),
            _ => usage(),
        }
        i += 1;
    }
    let selected: Vec<&Target> = match which.as_deref() {
        Some("all") => TARGETS.iter().collect(),
        Some(name) => vec![target(name).unwrap_or_else(|| usage())],
        None => usage(),
    };
    simil_fuzz::quiet_panics();
    for t in selected {
        if corpus {
            write_corpus(t, inputs, seed);
        } else {
            fuzz(t, inputs, seed);
        }
    }
}

fn fuzz(t: &Target, inputs: u64, seed: u64) {
    let seeds = (t.seeds)();
    let mut rng = Rng::new(seed ^ hash(t.name.as_bytes()));
    let crashes = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("crashes")
        .join(t.name);
    let start = Instant::now();
    let mut panics = 0u64;
    for n in 0..inputs {
        let input = if (n as usize) < seeds.len() {
            seeds[n as usize].clone()
        } else {
            (t.generate)(&mut rng, &seeds)
        };
        let why = match run_one(t, &input) {
            Outcome::Fine => continue,
            Outcome::Panic(message) => {
                format!("panic at {}: {message}", simil_fuzz::last_panic_location())
            }
            Outcome::OverCap(size) => format!("allocation of {size} bytes over the cap"),
        };
        panics += 1;
        let file = crashes.join(format!("{:016x}", hash(&input)));
        let _ = std::fs::create_dir_all(&crashes);
        let _ = std::fs::write(&file, &input);
        if panics <= 5 {
            eprintln!("{}: input {n} ({}): {why}", t.name, file.display());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "target": t.name, "inputs": inputs, "panics": panics, "seconds": (seconds * 10.0).round() / 10.0 })
    );
}

/// Keeps `count` generated inputs of at most 16 KB (the smallest of each four tries) in
/// `corpus/<target>/`, with the seeds of at most 16 KB (the replay test runs every seed too).
fn write_corpus(t: &Target, count: u64, seed: u64) {
    let seeds = (t.seeds)();
    let mut rng = Rng::new(seed ^ hash(t.name.as_bytes()) ^ 0xC0);
    let dir = corpus_dir().join(t.name);
    std::fs::create_dir_all(&dir).expect("corpus folder");
    let mut kept = 0;
    for s in seeds.iter().filter(|s| s.len() <= LIMIT) {
        std::fs::write(dir.join(format!("seed-{:016x}", hash(s))), s).expect("write");
    }
    const LIMIT: usize = 16 << 10;
    let mut tries = 0;
    while kept < count && tries < count * 100 {
        tries += 1;
        let input = (0..4)
            .map(|_| (t.generate)(&mut rng, &seeds))
            .min_by_key(|i| i.len())
            .unwrap_or_default();
        if input.len() <= LIMIT {
            std::fs::write(dir.join(format!("gen-{:016x}", hash(&input))), &input).expect("write");
            kept += 1;
        }
    }
    eprintln!(
        "{}: {} seeds and {kept} generated inputs in {}",
        t.name,
        seeds.len(),
        dir.display()
    );
}
