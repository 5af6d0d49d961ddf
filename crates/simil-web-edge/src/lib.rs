//! What every simil wasm binding crate shares: start-up, `SimilError` values, and the
//! conversion of JS values to and from Rust. The bindings themselves only convert and
//! dispatch; every rule lives in the plain-Rust crates they call.

use js_sys::{Array, Float32Array, Reflect};
use wasm_bindgen::prelude::*;

pub use serde::Serialize;

/// Declares what every binding module has: its start-up (`init`), `fail` (a core error
/// `$error` as a `SimilError` with its code) and `reply` (a core result as JS data).
#[macro_export]
macro_rules! binding_module {
    ($error:ty) => {
        #[wasm_bindgen::prelude::wasm_bindgen(start)]
        fn start() {
            $crate::init();
        }

        /// A core error as a `SimilError` carrying its code and message.
        fn fail(error: impl Into<$error>) -> wasm_bindgen::JsValue {
            let error: $error = error.into();
            $crate::js_error(error.code(), &error.to_string())
        }

        /// `result`'s value as plain JS data, or its error as a `SimilError`.
        fn reply<T: $crate::Serialize>(
            result: Result<T, impl Into<$error>>,
        ) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue> {
            $crate::to_js(&result.map_err(fail)?)
        }
    };
}

/// Runs once when a module is instantiated (call it from the crate's `#[wasm_bindgen(start)]`).
///
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

/// A `SimilError` with code `input`: `what` could not be read as the expected shape.
pub fn bad_input(what: &str, error: impl std::fmt::Display) -> JsValue {
    js_error("input", &format!("invalid {what}: {error}"))
}

/// Reads `value` as a `T`, or rejects naming `what`.
pub fn from_js<T: serde::de::DeserializeOwned>(what: &str, value: JsValue) -> Result<T, JsValue> {
    serde_wasm_bindgen::from_value(value).map_err(|e| bad_input(what, e))
}

/// Writes `value` as plain JS data (objects, arrays, numbers; maps become objects).
pub fn to_js<T: serde::Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| bad_input("result", e))
}

/// The numbers of a JS array or typed array, copied in one call (serde would make one call per
/// number, ~0.3 µs each: most of a query's time at 384 dimensions). Non-numbers turn into NaN,
/// which the index then rejects. `None` for anything else.
pub fn lift_f32s(value: &JsValue) -> Option<Vec<f32>> {
    if let Some(floats) = value.dyn_ref::<Float32Array>() {
        return Some(floats.to_vec());
    }
    (Array::is_array(value) || js_sys::ArrayBuffer::is_view(value))
        .then(|| Float32Array::new(value).to_vec())
}

/// A shallow copy of object `value` with `key` set to `replacement`.
pub fn with_key(value: &JsValue, key: &str, replacement: &JsValue) -> JsValue {
    let copy = js_sys::Object::assign(&js_sys::Object::new(), value.unchecked_ref());
    let _ = Reflect::set(&copy, &key.into(), replacement);
    copy.into()
}
