//! Helpers shared by the integration tests.
#![allow(dead_code)]

use inception::Gpu;
use std::path::PathBuf;
use std::sync::OnceLock;

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
        assert!(
            (g - w).abs() <= atol + rtol * w.abs(),
            "{what}: element {i} is {g}, expected {w} (atol {atol}, rtol {rtol})"
        );
    }
}

/// Deterministic pseudo-random values in [-1, 1) for test inputs.
pub fn random(seed: &str, n: usize) -> Vec<f32> {
    inception::synthetic::uniform(seed, n)
}

pub fn top_classes(top: &[(usize, f32)]) -> Vec<usize> {
    top.iter().map(|t| t.0).collect()
}

/// A zip archive with the given entries stored uncompressed, as `torch.save` writes them.
pub fn stored_zip(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    fn crc32(data: &[u8]) -> u32 {
        !data.iter().fold(!0u32, |crc, &b| {
            (0..8).fold(crc ^ b as u32, |c, _| if c & 1 != 0 { (c >> 1) ^ 0xEDB8_8320 } else { c >> 1 })
        })
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

/// The golden file of `variant` (tests/golden, made by tools/golden.py).
pub fn golden_doc(variant: &str) -> serde_json::Value {
    let path = format!("{}/tests/golden/{variant}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The `torch.save(model.state_dict())` checkpoint tools/golden.py made for `variant`,
/// rebuilt from PyTorch's own pickle (tests/golden/<variant>.data.pkl) and storages filled
/// with the deterministic values PyTorch held (each tensor's own storage, as listed in the
/// golden file; batch-norm counters are zero).
pub fn torch_checkpoint(variant: &str) -> Vec<u8> {
    let doc = golden_doc(variant);
    let dir = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    let pickle = std::fs::read(format!("{dir}/{variant}.data.pkl")).unwrap();
    let tensors = doc["tensors"].as_array().unwrap();
    let mut entries = vec![
        ("archive/data.pkl".to_string(), pickle),
        ("archive/byteorder".to_string(), b"little".to_vec()),
    ];
    for storage in doc["checkpoint_storages"].as_array().unwrap() {
        let (key, name) = (storage[0].as_str().unwrap(), storage[1].as_str().unwrap());
        let t = tensors.iter().find(|t| t[0] == name).unwrap();
        let shape: Vec<usize> = t[1].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
        let bytes = match t[2].as_str().unwrap() {
            "float32" => bytemuck::cast_slice(&inception::synthetic::tensor(name, &shape)).to_vec(),
            "int64" => vec![0u8; 8 * shape.iter().product::<usize>()],
            other => panic!("{name}: no synthetic values for {other}"),
        };
        entries.push((format!("archive/data/{key}"), bytes));
    }
    entries.push(("archive/version".to_string(), b"3\n".to_vec()));
    stored_zip(&entries)
}
