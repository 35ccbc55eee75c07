//! Deterministic weights and images, computed from tensor names, so that tests can compare
//! whole networks against PyTorch without storing weights. `tools/golden.py` implements
//! the same scheme in numpy (see its docstring); both must stay in step.

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn fnv1a64(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3))
}

/// SplitMix64 outputs for counters 1..=n seeded by the name.
fn mixed(name: &str, n: usize) -> impl Iterator<Item = u64> {
    let seed = fnv1a64(name);
    (1..=n as u64).map(move |i| {
        let mut z = seed.wrapping_add(i.wrapping_mul(GOLDEN_GAMMA));
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// Values in [-1, 1), exactly representable in f32.
pub fn uniform(name: &str, n: usize) -> Vec<f32> {
    mixed(name, n).map(|z| (z >> 40) as f32 * (2.0f32).powi(-23) - 1.0).collect()
}

/// The value of a named parameter tensor: He-uniform weights, batch-norm statistics near
/// their identity values, small biases.
pub fn tensor(name: &str, shape: &[usize]) -> Vec<f32> {
    let n = shape.iter().product();
    let u = uniform(name, n);
    if shape.len() >= 2 {
        let fan_in: usize = shape[1..].iter().product();
        let bound = (6.0f32 / fan_in as f32).sqrt();
        u.into_iter().map(|v| v * bound).collect()
    } else if name.ends_with("running_var") {
        u.into_iter().map(|v| 1.0 + 0.25 * (v + 1.0)).collect()
    } else if name.ends_with("running_mean") || name.ends_with("bias") {
        u.into_iter().map(|v| 0.1 * v).collect()
    } else {
        u.into_iter().map(|v| 1.0 + 0.1 * v).collect()
    }
}

/// A noise image, RGBA8 row-major with opaque alpha.
pub fn image(width: u32, height: u32) -> Vec<u8> {
    let mut rgba: Vec<u8> = mixed("input", (width * height * 4) as usize).map(|z| (z >> 56) as u8).collect();
    rgba.chunks_exact_mut(4).for_each(|px| px[3] = 255);
    rgba
}

/// A safetensors file holding the given tensors (name, shape, PyTorch dtype name) with
/// deterministic values; integer tensors (batch-norm counters) are zeros.
pub fn safetensors_file(tensors: &[(String, Vec<usize>, String)]) -> Vec<u8> {
    use safetensors::{tensor::TensorView, Dtype};
    let data: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = tensors
        .iter()
        .map(|(name, shape, dtype)| {
            let n: usize = shape.iter().product();
            let (dtype, bytes) = match dtype.as_str() {
                "float32" => (Dtype::F32, bytemuck::cast_slice(&tensor(name, shape)).to_vec()),
                "int64" => (Dtype::I64, vec![0u8; 8 * n]),
                other => panic!("no synthetic values for dtype {other}"),
            };
            (name.clone(), shape.clone(), dtype, bytes)
        })
        .collect();
    let views: Vec<(&str, TensorView)> = data
        .iter()
        .map(|(name, shape, dtype, bytes)| (name.as_str(), TensorView::new(*dtype, shape.clone(), bytes).unwrap()))
        .collect();
    safetensors::serialize(views, None).expect("serialising synthetic tensors")
}
