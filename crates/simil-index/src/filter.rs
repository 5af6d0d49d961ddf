//! Payload filters, deserialized from JSON such as
//! `{"and":[{"eq":{"field":"album","value":"cats"}},{"range":{"field":"year","gte":2000}}]}`.
//!
//! `field` is a dotted path into the payload (`"meta.author.name"`; a numeric
//! segment indexes an array). When the value at the path is an array and the
//! operand is not, `eq`, `in` and `range` match if any element matches.
//! Numbers compare by value (`1` equals `1.0`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A predicate over item payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// The value at `field` equals `value`.
    Eq {
        /// Dotted payload path.
        field: String,
        /// Value to compare with.
        value: Value,
    },
    /// The value at `field` equals one of `values`.
    In {
        /// Dotted payload path.
        field: String,
        /// Accepted values.
        values: Vec<Value>,
    },
    /// The number at `field` lies within the given bounds (all optional).
    Range {
        /// Dotted payload path.
        field: String,
        /// Exclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gt: Option<f64>,
        /// Inclusive lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gte: Option<f64>,
        /// Exclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lt: Option<f64>,
        /// Inclusive upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lte: Option<f64>,
    },
    /// `field` is present and not null.
    Exists {
        /// Dotted payload path.
        field: String,
    },
    /// All sub-filters match (an empty list matches everything).
    And(Vec<Filter>),
    /// At least one sub-filter matches (an empty list matches nothing).
    Or(Vec<Filter>),
    /// The sub-filter does not match.
    Not(Box<Filter>),
}

fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(payload, |v, key| match v {
        Value::Object(map) => map.get(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Applies `pred` to the value, or to each element when the value is an array
/// (unless `whole` says the operand itself is an array).
fn any_element(v: &Value, whole: bool, pred: impl Fn(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) if !whole => items.iter().any(pred),
        _ => pred(v),
    }
}

impl Filter {
    /// Whether `payload` satisfies the filter.
    pub fn matches(&self, payload: &Value) -> bool {
        match self {
            Filter::Eq { field, value } => lookup(payload, field)
                .is_some_and(|v| any_element(v, value.is_array(), |x| json_eq(x, value))),
            Filter::In { field, values } => lookup(payload, field).is_some_and(|v| {
                values
                    .iter()
                    .any(|value| any_element(v, value.is_array(), |x| json_eq(x, value)))
            }),
            Filter::Range {
                field,
                gt,
                gte,
                lt,
                lte,
            } => lookup(payload, field).is_some_and(|v| {
                any_element(v, false, |x| {
                    x.as_f64().is_some_and(|n| {
                        gt.is_none_or(|b| n > b)
                            && gte.is_none_or(|b| n >= b)
                            && lt.is_none_or(|b| n < b)
                            && lte.is_none_or(|b| n <= b)
                    })
                })
            }),
            Filter::Exists { field } => lookup(payload, field).is_some_and(|v| !v.is_null()),
            Filter::And(fs) => fs.iter().all(|f| f.matches(payload)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(payload)),
            Filter::Not(f) => !f.matches(payload),
        }
    }
}
