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

/// A zip archive with the given entries stored uncompressed, as `torch.save` writes them.
pub fn stored_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        !data
            .iter()
            .fold(!0u32, |crc, &b| (0..8).fold(crc ^ b as u32, |c, _| if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 }))
    }
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, data) in entries {
        let (crc, size, offset) = (crc32(data), data.len() as u32, out.len() as u32);
        // version 20, no flags, stored, no time, crc, sizes, name length, no extra
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, 0, 0, 0] {
                v.extend(x.to_le_bytes());
            }
            for x in [crc, size, size] {
                v.extend(x.to_le_bytes());
            }
            v.extend((name.len() as u16).to_le_bytes());
            v.extend(0u16.to_le_bytes());
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend(name.as_bytes());
        out.extend(data);
        central.extend(0x0201_4b50u32.to_le_bytes());
        central.extend(20u16.to_le_bytes()); // made by
        common(&mut central);
        for x in [0u16, 0, 0] {
            central.extend(x.to_le_bytes()); // comment, disk, internal attributes
        }
        central.extend(0u32.to_le_bytes()); // external attributes
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let (directory_offset, directory_size) = (out.len() as u32, central.len() as u32);
    out.extend(central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    for x in [0u16, 0, entries.len() as u16, entries.len() as u16] {
        out.extend(x.to_le_bytes());
    }
    out.extend(directory_size.to_le_bytes());
    out.extend(directory_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A `torch.save(model.state_dict())` checkpoint rebuilt from PyTorch's own pickle of it
/// and storages filled with the deterministic values: `storages` says which tensor of
/// `tensors` (name, shape, dtype) each storage key holds. Integer tensors are zeros.
pub fn torch_checkpoint(pickle: &[u8], storages: &[(String, String)], tensors: &[(String, Vec<usize>, String)]) -> Vec<u8> {
    let mut entries =
        vec![("archive/data.pkl".to_string(), pickle.to_vec()), ("archive/byteorder".to_string(), b"little".to_vec())];
    for (key, name) in storages {
        let (_, shape, dtype) = tensors.iter().find(|t| &t.0 == name).expect("storage of a listed tensor");
        let bytes = match dtype.as_str() {
            "float32" => bytemuck::cast_slice(&tensor(name, shape)).to_vec(),
            "int64" => vec![0u8; 8 * shape.iter().product::<usize>()],
            other => panic!("{name}: no synthetic values for {other}"),
        };
        entries.push((format!("archive/data/{key}"), bytes));
    }
    entries.push(("archive/version".to_string(), b"3\n".to_vec()));
    stored_zip(&entries)
}

/// The deterministic weights of a golden file written by tools/golden.py
/// (`tests/golden/<variant>.json`): a safetensors file, or with `checkpoint` the PyTorch
/// checkpoint rebuilt from the pickle saved beside it (`<variant>.data.pkl`).
#[cfg(not(target_arch = "wasm32"))]
pub fn golden_weights(golden: &std::path::Path, checkpoint: bool) -> Result<Vec<u8>, String> {
    let text = std::fs::read_to_string(golden).map_err(|e| format!("{}: {e}", golden.display()))?;
    let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", golden.display()))?;
    let bad = || format!("{} is not a golden file of tools/golden.py", golden.display());
    let tensors: Vec<(String, Vec<usize>, String)> = doc["tensors"]
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|t| {
            let shape = t[1].as_array()?.iter().map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<_>>()?;
            Some((t[0].as_str()?.to_string(), shape, t[2].as_str()?.to_string()))
        })
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    if !checkpoint {
        return Ok(safetensors_file(&tensors));
    }
    let storages: Vec<(String, String)> = doc["checkpoint_storages"]
        .as_array()
        .ok_or_else(|| format!("{} has no checkpoint", golden.display()))?
        .iter()
        .map(|s| Some((s[0].as_str()?.to_string(), s[1].as_str()?.to_string())))
        .collect::<Option<_>>()
        .ok_or_else(bad)?;
    let pickle_path = golden.with_extension("data.pkl");
    let pickle = std::fs::read(&pickle_path).map_err(|e| format!("{}: {e}", pickle_path.display()))?;
    Ok(torch_checkpoint(&pickle, &storages, &tensors))
}
