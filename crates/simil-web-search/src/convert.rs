//! JS values into the search core's types. Vectors are lifted out in one copy each
//! ([`lift_f32s`]) and the small rest goes through serde.

use js_sys::{Array, Object, Reflect};
use simil_search::collection::SearchRequest;
use simil_search::eval::LabelledQueries;
use simil_search::index::Item;
use simil_web_edge::{bad_input, from_js, lift_f32s, with_key};
use wasm_bindgen::prelude::*;

/// The numbers of `value`, or an input error naming `what`.
pub fn read_f32s(what: &str, value: &JsValue) -> Result<Vec<f32>, JsValue> {
    lift_f32s(value).ok_or_else(|| bad_input(what, "expected an array of numbers"))
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Reads a search request, lifting each `vectors[i].vector` (the caller's object is not
/// changed).
pub fn read_request(value: JsValue) -> Result<SearchRequest, JsValue> {
    let entries = get(&value, "vectors");
    if !Array::is_array(&entries) {
        return from_js("query", value);
    }
    let (mut lifted, light) = (Vec::new(), Array::new());
    for entry in Array::from(&entries).iter() {
        let vector = lift_f32s(&get(&entry, "vector")).filter(|_| entry.is_object());
        let shown = if vector.is_some() {
            with_key(&entry, "vector", &Array::new())
        } else {
            entry
        };
        light.push(&shown);
        lifted.push(vector);
    }
    let mut request: SearchRequest = from_js("query", with_key(&value, "vectors", &light))?;
    for (field, v) in request.query.vectors.iter_mut().zip(lifted) {
        field.vector = v.unwrap_or(std::mem::take(&mut field.vector));
    }
    Ok(request)
}

/// One item's vectors lifted out (name, numbers), and the item without them.
fn split_item(entry: JsValue) -> (Vec<(String, Vec<f32>)>, JsValue) {
    let vectors = get(&entry, "vectors");
    if !entry.is_object() || !vectors.is_object() || Array::is_array(&vectors) {
        return (Vec::new(), entry);
    }
    let (mut fields, rest) = (Vec::new(), Object::new());
    for key in Object::keys(vectors.unchecked_ref::<Object>()).iter() {
        let v = Reflect::get(&vectors, &key).unwrap_or(JsValue::UNDEFINED);
        match (key.as_string(), lift_f32s(&v)) {
            (Some(name), Some(f)) => fields.push((name, f)),
            _ => drop(Reflect::set(&rest, &key, &v)),
        }
    }
    (fields, with_key(&entry, "vectors", &rest))
}

/// Reads `[Item]`, lifting every `vectors[field]`.
pub fn read_items(value: JsValue) -> Result<Vec<Item>, JsValue> {
    if !Array::is_array(&value) {
        return from_js("items", value);
    }
    let (lifted, light): (Vec<_>, Array) = {
        let (mut lifted, light) = (Vec::new(), Array::new());
        for entry in Array::from(&value).iter() {
            let (fields, rest) = split_item(entry);
            lifted.push(fields);
            light.push(&rest);
        }
        (lifted, light)
    };
    let mut items: Vec<Item> = from_js("items", light.into())?;
    for (item, fields) in items.iter_mut().zip(lifted) {
        item.vectors.extend(fields);
    }
    Ok(items)
}

/// Reads `{ field, labelKey, vectors, labels }`, lifting each vector.
pub fn read_labelled(value: JsValue) -> Result<LabelledQueries, JsValue> {
    let vectors = get(&value, "vectors");
    if !Array::is_array(&vectors) {
        return Err(bad_input(
            "queries",
            "`vectors` must be an array of vectors",
        ));
    }
    let lifted = Array::from(&vectors)
        .iter()
        .enumerate()
        .map(|(i, v)| read_f32s(&format!("queries: vector {i}"), &v))
        .collect::<Result<Vec<_>, _>>()?;
    let mut queries: LabelledQueries =
        from_js("queries", with_key(&value, "vectors", &Array::new()))?;
    queries.vectors = lifted;
    Ok(queries)
}
