//! Helpers shared by the integration tests.
#![allow(dead_code, reason = "each test binary uses only some of the helpers")]

pub mod cases;

use inception::Gpu;
use std::path::PathBuf;
use std::sync::OnceLock;

/// A network of `variant` with 1000 classes and deterministic float32 weights
/// (`synthetic::safetensors_file`).
pub fn synthetic_model(variant: inception::Variant) -> inception::Model {
    let tensors: Vec<_> =
        variant.graph(1000).parameters().into_iter().map(|(name, shape)| (name, shape, "float32".to_owned())).collect();
    inception::Model::from_safetensors(variant, &inception::synthetic::safetensors_file(&tensors)).unwrap()
}

/// One device for all tests of a test binary.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| pollster::block_on(Gpu::new()).expect("these tests need a GPU adapter (llvmpipe will do)"))
}

/// `../shared` beside the project: test images and their reference outputs.
pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// The real weights file `name` in the folder `$INCEPTION_WEIGHTS`, or `None` (after saying
/// that `test` is skipped, by name) when the variable is unset. A set variable that points
/// at a missing file fails the test.
pub fn real_weights(test: &str, name: &str) -> Option<Vec<u8>> {
    let Some(dir) = std::env::var_os("INCEPTION_WEIGHTS") else {
        println!("SKIPPED {test}: INCEPTION_WEIGHTS is not set (it names a folder holding {name})");
        return None;
    };
    let path = PathBuf::from(dir).join(name);
    Some(std::fs::read(&path).unwrap_or_else(|e| panic!("INCEPTION_WEIGHTS is set but {} cannot be read: {e}", path.display())))
}

/// Largest absolute and relative differences between two equally long slices.
pub struct Diff {
    pub max_abs: f32,
    pub max_rel: f32,
    pub worst: usize,
}

pub fn diff(got: &[f32], want: &[f32]) -> Diff {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let mut d = Diff { max_abs: 0.0, max_rel: 0.0, worst: 0 };
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let abs = (g - w).abs();
        assert!(!abs.is_nan(), "NaN at {i}: got {g}, want {w}");
        if abs > d.max_abs {
            d.max_abs = abs;
            d.worst = i;
        }
        d.max_rel = d.max_rel.max(abs / w.abs().max(1e-6));
    }
    d
}

/// Asserts |got - want| <= atol + rtol * |want| everywhere (numpy's allclose).
pub fn assert_all_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= atol + rtol * w.abs(), "{what}: element {i} is {g}, expected {w} (atol {atol}, rtol {rtol})");
    }
}

/// Deterministic pseudo-random values in [-1, 1) for test inputs.
pub fn random(seed: &str, n: usize) -> Vec<f32> {
    inception::synthetic::uniform(seed, n)
}

pub fn top_classes(top: &[(usize, f32)]) -> Vec<usize> {
    top.iter().map(|t| t.0).collect()
}

/// The golden file of `variant` (tests/golden, made by tools/golden.py).
pub fn golden_doc(variant: &str) -> serde_json::Value {
    let path = format!("{}/tests/golden/{variant}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `torch.save(model.state_dict())` checkpoint tools/golden.py made for `variant`
/// (see `synthetic::torch_checkpoint`).
pub fn torch_checkpoint(variant: &str) -> Vec<u8> {
    let dir = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    inception::synthetic::golden_weights(std::path::Path::new(&format!("{dir}/{variant}.json")), true).unwrap()
}
