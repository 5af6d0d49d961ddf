//! Build step (run by `scripts/build-data.mjs`, from `scripts/setup.sh`'s `build_web`): the
//! demo's sample collection. Every emoji Google draws (npm `emoji-datasource-google`, 64 px
//! PNGs) is embedded with the model the browser uses by default (MobileNetV2 int8 and its
//! shipped whitening, through the same [`Engine`] the browser's model module runs) into the
//! image field of a collection bound to images, with its name, short names, category and
//! subcategory as payload (names, keywords and categories searched by words). A text→image
//! aligner trained here on the emoji's names (frozen MiniLM int8 name vectors against the image
//! vectors) is installed as the learned field `aligned` with its text head, so that words find
//! emoji whose names lack them. Writes `<out>/emoji.siml` (the collection file the page
//! imports) and copies the PNGs into `<out>/emoji/`.
//!
//!   cargo run --example build_sample -- www/data

use std::path::PathBuf;
use std::time::Instant;

use serde::Deserialize;
use serde_json::json;
use simil::collection::{Collection, CollectionConfig};
use simil::compute::Compute;
use simil::engine::Engine;
use simil::index::Item;
use simil::model::preprocess;
use simil::text::{Aligner, AlignerConfig};
use simil_search::head::DenseHead;

#[derive(Deserialize)]
struct Emoji {
    name: Option<String>,
    short_name: String,
    #[serde(default)]
    short_names: Vec<String>,
    image: String,
    category: String,
    subcategory: String,
    sort_order: u32,
    #[serde(default)]
    has_img_google: bool,
}

fn main() {
    let started = Instant::now();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "www/data".into()));
    let source = root.join("node_modules/emoji-datasource-google");
    let mut list: Vec<Emoji> = serde_json::from_slice(
        &std::fs::read(source.join("emoji.json")).expect("emoji.json: run npm ci"),
    )
    .expect("emoji.json");
    list.retain(|e| e.has_img_google && source.join("img/google/64").join(&e.image).exists());
    list.sort_by_key(|e| e.sort_order);

    let read = |p: &str| std::fs::read(root.join(p)).expect("weights: run scripts/setup.sh");
    let mut engine = Engine::new(Compute::cpu());
    let info = engine
        .load_image_model(
            &read("weights/mobilenet_v2.int8.safetensors"),
            Some(&read("weights/mobilenet_v2.whitening.safetensors")),
        )
        .expect("image model");
    engine
        .load_text_model(
            &read("weights/minilm.int8.safetensors"),
            &read("weights/minilm.tokenizer.json"),
        )
        .expect("text model");

    let pngs = out.join("emoji");
    std::fs::create_dir_all(&pngs).expect("create the output folder");
    let mut images = Vec::with_capacity(list.len() * info.dim);
    for batch in list.chunks(32) {
        let decoded: Vec<_> = batch
            .iter()
            .map(|e| {
                let file = source.join("img/google/64").join(&e.image);
                let bytes = std::fs::read(&file).unwrap_or_else(|err| panic!("{file:?}: {err}"));
                std::fs::write(pngs.join(&e.image), &bytes).expect("copy a png");
                preprocess::decode_image(&bytes).unwrap_or_else(|err| panic!("{file:?}: {err}"))
            })
            .collect();
        images.extend(pollster::block_on(engine.embed_images(decoded, true)).expect("embed"));
    }
    let embedded = started.elapsed().as_secs_f64();

    let names: Vec<String> = list.iter().map(display_name).collect();
    let texts: Vec<f32> = names
        .chunks(64)
        .flat_map(|c| pollster::block_on(engine.embed_texts(c)).expect("embed names"))
        .collect();
    let text_dim = texts.len() / list.len();
    let (aligner, losses) = Aligner::train(
        &images,
        info.dim,
        &texts,
        text_dim,
        &AlignerConfig::default(),
        engine.compute().device(),
    )
    .expect("train the aligner");
    let [image_head, text_head] = aligner.save_heads().expect("aligner heads");

    let config: CollectionConfig = serde_json::from_value(json!({
        "fields": [{ "name": "image", "dim": info.dim, "metric": "cosine" }],
        "embed": { "image": "image" },
        "textFields": ["name", "keywords", "category"],
    }))
    .expect("config");
    let mut collection = Collection::new(config).expect("collection");
    let items: Vec<Item> = list
        .iter()
        .zip(&names)
        .zip(images.chunks_exact(info.dim))
        .enumerate()
        .map(|(order, ((e, name), vector))| Item {
            id: e.image.trim_end_matches(".png").to_string(),
            vectors: [("image".to_string(), vector.to_vec())].into(),
            payload: json!({
                "name": name,
                "keywords": e.short_names.iter().map(|s| s.replace('_', " ")).collect::<Vec<_>>().join(" "),
                "category": e.category,
                "subcategory": e.subcategory,
                "file": e.image,
                "order": order,
            }),
        })
        .collect();
    collection.add(items).expect("add");
    collection
        .learn_aligned_field(
            "aligned",
            "image",
            DenseHead::from_safetensors(&image_head).expect("image head"),
            Some(DenseHead::from_safetensors(&text_head).expect("text head")),
        )
        .expect("install the aligner");
    // Seal every segment into its HNSW graph now, so that the browser has no upkeep to do.
    while collection.maintain_step().expect("upkeep") {}
    let bytes = collection.to_bytes();
    let file = out.join("emoji.siml");
    std::fs::write(&file, &bytes).expect("write the collection");
    eprintln!(
        "{} emoji embedded in {embedded:.1} s; aligner loss {:.3} -> {:.3}; {} ({} bytes) in {:.1} s",
        list.len(),
        losses[0],
        losses[losses.len() - 1],
        file.display(),
        bytes.len(),
        started.elapsed().as_secs_f64()
    );
}

/// An emoji's name as a person says it: "grinning face" (emoji.json spells names in capitals).
fn display_name(e: &Emoji) -> String {
    match &e.name {
        Some(name) if !name.is_empty() => name.to_lowercase(),
        _ => e.short_name.replace('_', " "),
    }
}
