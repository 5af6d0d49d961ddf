//! What every simil wasm binding crate shares: start-up, `SimilError` values and JS ↔ Rust
//! conversion. The bindings only convert and dispatch; every rule lives in the core crates.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;

pub use serde::Serialize;
pub use serde::de::DeserializeOwned;

/// Declares a binding module's start-up (`init`), `Failure` (any `$error` converts into it with
/// `?`, reaching JS as a `SimilError` with its code), `read` and `reply` (JS data ↔ Rust).
#[macro_export]
macro_rules! binding_module {
    ($error:ty) => {
        #[wasm_bindgen::prelude::wasm_bindgen(start)]
        fn start() {
            $crate::init();
        }

        /// A failed call: a `SimilError` carrying the code and message of a core error.
        pub struct Failure(wasm_bindgen::JsValue);

        /// What a call that answers with JS data returns.
        pub type JsResult = Result<wasm_bindgen::JsValue, Failure>;

        impl<E: Into<$error>> From<E> for Failure {
            fn from(error: E) -> Self {
                let error: $error = error.into();
                Failure($crate::js_error(error.code(), &error.to_string()))
            }
        }

        impl From<Failure> for wasm_bindgen::JsValue {
            fn from(failure: Failure) -> Self {
                failure.0
            }
        }

        /// Reads `value` as a `T`, or fails with code `input` naming `what`.
        #[allow(dead_code)]
        fn read<T: $crate::DeserializeOwned>(
            what: &str,
            value: wasm_bindgen::JsValue,
        ) -> Result<T, Failure> {
            $crate::from_js(what, value).map_err(Failure)
        }

        /// `value` as plain JS data.
        #[allow(dead_code)]
        fn reply<T: $crate::Serialize>(value: T) -> JsResult {
            $crate::to_js(&value).map_err(Failure)
        }
    };
}

/// Runs once when a module is instantiated (call it from the crate's `#[wasm_bindgen(start)]`).
/// Static constructors (burn/cubecl register kernels with `inventory`) must run once. When no
/// input calls `__wasm_call_ctors`, wasm-ld wraps *every* export in a call to it, so each call
/// re-ran them all and grew inventory's registry (a 2,000-vector add took 28 s). Calling it
/// here, once, makes wasm-ld leave the exports alone.
pub fn init() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: wasm-ld synthesises `__wasm_call_ctors`; `init` runs once, before any export.
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

/// A JS `Error` named `SimilError` whose `code` names the kind of failure.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let js = js_sys::Error::new(message);
    js.set_name("SimilError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &code.into());
    js.into()
}

/// Reads `value` as a `T`, or rejects naming `what`.
pub fn from_js<T: serde::de::DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value)
        .map_err(|e| js_error("input", &format!("invalid {what}: {e}")))
}

/// Writes `value` as plain JS data (objects, arrays, numbers; maps become objects).
pub fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("internal", &format!("unwritable result: {e}")))
}
