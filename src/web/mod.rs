//! The browser face of simil: every `wasm_bindgen`, `web_sys`, `js_sys` and
//! `serde_wasm_bindgen` use lives here. The worker script (`pkg/worker.js`) drives an
//! [`engine::Engine`]; the main-thread module (`pkg/index.js`) speaks to the worker by
//! messages.
//!
//! One crate builds two wasm modules. The default build is the engine (`simil_bg.wasm`):
//! models, collections, search. Built with `--features trainer`, it is the trainer
//! (`simil_train_bg.wasm`, [`trainer::HeadTrainer`]), which the worker loads on the first
//! `trainHead`: training needs burn's autodiff and optimiser (~160 KB gzipped) that pages
//! which only search should not download.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

use crate::error::Error;

#[cfg(not(feature = "trainer"))]
mod engine;
#[cfg(feature = "trainer")]
mod trainer;

#[wasm_bindgen(start)]
fn start() {
    // Static constructors (burn/cubecl register kernels with `inventory`) must run once. When
    // no input calls `__wasm_call_ctors`, wasm-ld wraps *every* export in a call to it, so
    // each call into the engine re-ran them all and grew inventory's registry: searches and
    // adds got slower with every call (a 2,000-vector add took 28 s). Calling it here, once,
    // at instantiation, makes wasm-ld leave the exports alone.
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: wasm-ld synthesises `__wasm_call_ctors`; `start` runs once, before any export.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

/// Turns an [`Error`] into a JS `Error` named `SimilError` with a `code` property.
fn js_error(error: Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("SimilError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    js.into()
}

/// A JS `Error` for input that could not be read as the expected shape.
fn bad_input(what: &str, error: impl std::fmt::Display) -> JsValue {
    let js = js_sys::Error::new(&format!("invalid {what}: {error}"));
    js.set_name("SimilError");
    let _ = Reflect::set(&js, &"code".into(), &"input".into());
    js.into()
}

fn from_js<T: serde::de::DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| bad_input(what, e))
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| bad_input("result", e))
}
