//! The PyTorch checkpoint reader (`inception::pth`): the fixtures written by
//! tools/pth_fixtures.py read back exactly, and hostile or broken files give errors that say
//! what is wrong, never a panic, a hang or a huge allocation.

use inception::pth::{self, PthError};
use inception::tensors::RawTensor;
use safetensors::Dtype;
use std::borrow::Cow;

fn fixture_dir() -> String {
    format!("{}/tests/pth", env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/{name}", fixture_dir())).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn expected() -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(format!("{}/expected.json", fixture_dir())).unwrap();
    match serde_json::from_str(&text).unwrap() {
        serde_json::Value::Object(map) => map,
        _ => panic!("expected.json is not an object"),
    }
}

fn error(result: Result<impl std::fmt::Debug, PthError>) -> String {
    match result {
        Ok(t) => panic!("a bad file was read: {t:?}"),
        Err(e) => e.to_string(),
    }
}

fn assert_error(result: Result<impl std::fmt::Debug, PthError>, words: &[&str]) {
    let msg = error(result);
    for w in words {
        assert!(msg.contains(w), "error {msg:?} does not contain {w:?}");
    }
}

/// The elements as numbers, exactly: floats widened to f64, integers as i64.
fn elements(t: &RawTensor) -> Vec<f64> {
    let d = &t.data[..];
    let chunks = |n: usize| d.chunks_exact(n);
    match t.dtype {
        Dtype::F32 => chunks(4).map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
        Dtype::F64 => chunks(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect(),
        Dtype::F16 => chunks(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        Dtype::BF16 => chunks(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f64()).collect(),
        Dtype::I64 => chunks(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
        Dtype::I32 => chunks(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f64).collect(),
        Dtype::I16 => chunks(2).map(|b| i16::from_le_bytes([b[0], b[1]]) as f64).collect(),
        Dtype::U16 => chunks(2).map(|b| u16::from_le_bytes([b[0], b[1]]) as f64).collect(),
        Dtype::I8 => d.iter().map(|&b| b as i8 as f64).collect(),
        Dtype::U8 | Dtype::BOOL => d.iter().map(|&b| b as f64).collect(),
        other => panic!("unexpected dtype {other:?}"),
    }
}

#[test]
fn fixtures_read_exactly() {
    let expected = expected();
    assert!(expected.len() >= 12, "expected.json lists {} files", expected.len());
    for (file, want) in &expected {
        let bytes = fixture(file);
        let result = pth::read(&bytes);
        if let Some(words) = want.get("error") {
            let words: Vec<&str> = words.as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
            assert_error(result, &words);
            continue;
        }
        let tensors = result.unwrap_or_else(|e| panic!("{file}: {e}"));
        let want = want["tensors"].as_array().unwrap();
        let mut names: Vec<&str> = want.iter().map(|t| t["name"].as_str().unwrap()).collect();
        names.sort();
        assert_eq!(tensors.names().collect::<Vec<_>>(), names, "{file}: names");
        for w in want {
            let name = w["name"].as_str().unwrap();
            let t = tensors.get(name).unwrap();
            assert_eq!(format!("{:?}", t.dtype), w["dtype"].as_str().unwrap(), "{file}: {name}: dtype");
            let shape: Vec<usize> = w["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
            assert_eq!(t.shape, shape, "{file}: {name}: shape");
            assert_eq!(t.data.len(), t.elements() * t.dtype.bitsize() / 8, "{file}: {name}: length");
            // Floats are written as strings: Rust's parser rounds correctly, serde_json's may not.
            let values: Vec<f64> = w["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.as_i64().unwrap() as f64, |s| s.parse().unwrap()))
                .collect();
            assert_eq!(elements(t), values, "{file}: {name}: values");
        }
    }
}

#[test]
fn contiguous_tensors_are_borrowed_and_views_copied() {
    for file in ["views.pt", "views_legacy.pt"] {
        let bytes = fixture(file);
        let tensors = pth::read(&bytes).unwrap();
        for name in ["whole", "rows", "scalar", "ints"] {
            assert!(matches!(tensors.get(name).unwrap().data, Cow::Borrowed(_)), "{file}: {name} was copied");
        }
        for name in ["transposed", "column", "permuted", "expanded"] {
            assert!(matches!(tensors.get(name).unwrap().data, Cow::Owned(_)), "{file}: {name} is not a copy");
        }
    }
}

#[test]
fn names_are_kept_as_stored() {
    let bytes = fixture("data_parallel.pt");
    let tensors = pth::read(&bytes).unwrap();
    assert!(tensors.names().all(|n| n.starts_with("module.")));
    let plain = fixture("f32.pt");
    let plain = pth::read(&plain).unwrap();
    for (name, t) in &plain.map {
        assert_eq!(tensors.get(&format!("module.{name}")), Some(t));
    }
}

#[test]
fn truncated_fixtures_are_refused() {
    for (file, _) in expected() {
        let bytes = fixture(&file);
        let cuts = (0..bytes.len()).step_by(97).chain(bytes.len().saturating_sub(64)..bytes.len());
        for cut in cuts {
            assert!(pth::read(&bytes[..cut]).is_err(), "{file} cut at {cut} of {} was read", bytes.len());
        }
    }
}

#[test]
fn random_bytes_are_refused() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for i in 0..2000 {
        let len = (next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Give some the start of a pickle, of a zip, of a legacy file.
        match i % 4 {
            1 if len >= 2 => bytes[..2].copy_from_slice(&[0x80, 2]),
            2 if len >= 4 => bytes[..4].copy_from_slice(b"PK\x03\x04"),
            3 if len >= 4 => bytes[..4].copy_from_slice(&[0x80, 2, 0x8a, 10]),
            _ => {}
        }
        assert!(pth::read(&bytes).is_err());
    }
    assert_error(pth::read(b""), &["not a PyTorch checkpoint"]);
    assert_error(pth::read(b"{\"not\": \"a checkpoint\"}"), &["not a PyTorch checkpoint"]);
}

// ---- Hand-made checkpoints -------------------------------------------------------------

/// Writes pickle opcodes.
#[derive(Default)]
struct P(Vec<u8>);

impl P {
    fn new() -> P {
        P(vec![0x80, 2])
    }
    fn op(&mut self, bytes: &[u8]) -> &mut P {
        self.0.extend_from_slice(bytes);
        self
    }
    fn global(&mut self, module: &str, name: &str) -> &mut P {
        self.op(format!("c{module}\n{name}\n").as_bytes())
    }
    fn str(&mut self, s: &str) -> &mut P {
        self.op(b"X").op(&(s.len() as u32).to_le_bytes()).op(s.as_bytes())
    }
    fn int(&mut self, v: i128) -> &mut P {
        match u8::try_from(v) {
            Ok(b) => self.op(&[b'K', b]),
            Err(_) => self.op(&[0x8a, 16]).op(&v.to_le_bytes()),
        }
    }
    fn ints(&mut self, v: &[i128]) -> &mut P {
        self.op(b"(");
        for &x in v {
            self.int(x);
        }
        self.op(b"t")
    }
    /// `_rebuild_tensor_v2(('storage', torch.<class>, key, 'cpu', numel), offset, size, stride, False, OrderedDict())`
    fn tensor(&mut self, class: &str, key: &str, numel: i128, offset: i128, size: &[i128], stride: &[i128]) -> &mut P {
        self.global("torch._utils", "_rebuild_tensor_v2").op(b"((").str("storage").global("torch", class).str(key).str("cpu");
        self.int(numel).op(b"tQ").int(offset).ints(size).ints(stride);
        self.op(&[0x89]).global("collections", "OrderedDict").op(b")RtR")
    }
    /// The persistent id `('storage', torch.FloatStorage, key, 'cpu', numel)`, loaded.
    fn float_storage(&mut self, key: &str, numel: i128) -> &mut P {
        self.op(b"(").str("storage").global("torch", "FloatStorage").str(key).str("cpu").int(numel).op(b"NtQ")
    }
    fn stop(&mut self) -> Vec<u8> {
        self.op(b".");
        std::mem::take(&mut self.0)
    }
}

/// `{name: tensor}` with one tensor of `size`/`stride` over storage "0".
fn one_tensor(numel: i128, offset: i128, size: &[i128], stride: &[i128]) -> Vec<u8> {
    P::new().op(b"}(").str("w").tensor("FloatStorage", "0", numel, offset, size, stride).op(b"u").stop()
}

struct Zip {
    method: u16,
    zip64: bool,
}

impl Zip {
    const PLAIN: Zip = Zip { method: 0, zip64: false };

    /// A zip laid out like torch's: local headers and data, central directory, end record.
    fn write(&self, entries: &[(String, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        let u16s = |v: &mut Vec<u8>, xs: &[u16]| xs.iter().for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
        let u32s = |v: &mut Vec<u8>, xs: &[u32]| xs.iter().for_each(|x| v.extend_from_slice(&x.to_le_bytes()));
        for (name, data) in entries {
            let offset = out.len() as u32;
            let size = data.len() as u32;
            u32s(&mut out, &[0x0403_4b50]);
            u16s(&mut out, &[20, 0, self.method, 0, 0]);
            u32s(&mut out, &[0, size, size]);
            u16s(&mut out, &[name.len() as u16, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(data);
            let (field, extra) = if self.zip64 {
                let mut extra = Vec::new();
                u16s(&mut extra, &[1, 24]);
                for v in [size as u64, size as u64, offset as u64] {
                    extra.extend_from_slice(&v.to_le_bytes());
                }
                (0xFFFF_FFFF, extra)
            } else {
                (0, Vec::new())
            };
            u32s(&mut central, &[0x0201_4b50]);
            u16s(&mut central, &[20, 20, 0, self.method, 0, 0]);
            let s = if self.zip64 { field } else { size };
            u32s(&mut central, &[0, s, s]);
            u16s(&mut central, &[name.len() as u16, extra.len() as u16, 0, 0, 0]);
            u32s(&mut central, &[0, if self.zip64 { field } else { offset }]);
            central.extend_from_slice(name.as_bytes());
            central.extend_from_slice(&extra);
        }
        let cd_offset = out.len();
        let n = entries.len();
        out.extend_from_slice(&central);
        if self.zip64 {
            let record = out.len();
            u32s(&mut out, &[0x0606_4b50]);
            out.extend_from_slice(&44u64.to_le_bytes());
            u16s(&mut out, &[45, 45]);
            u32s(&mut out, &[0, 0]);
            for v in [n as u64, n as u64, central.len() as u64, cd_offset as u64] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            u32s(&mut out, &[0x0706_4b50, 0]);
            out.extend_from_slice(&(record as u64).to_le_bytes());
            u32s(&mut out, &[1]);
            u32s(&mut out, &[0x0605_4b50]);
            u16s(&mut out, &[0, 0, 0xFFFF, 0xFFFF]);
            u32s(&mut out, &[0xFFFF_FFFF, 0xFFFF_FFFF]);
            u16s(&mut out, &[0]);
        } else {
            u32s(&mut out, &[0x0605_4b50]);
            u16s(&mut out, &[0, 0, n as u16, n as u16]);
            u32s(&mut out, &[central.len() as u32, cd_offset as u32]);
            u16s(&mut out, &[0]);
        }
        out
    }
}

/// A torch.save-style archive: data.pkl, byteorder, and the storages `data/<key>`.
fn checkpoint_with(zip: &Zip, pkl: Vec<u8>, byteorder: &[u8], storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut entries = vec![("archive/data.pkl".to_string(), pkl), ("archive/byteorder".to_string(), byteorder.to_vec())];
    for (key, data) in storages {
        entries.push((format!("archive/data/{key}"), data.clone()));
    }
    entries.push(("archive/version".to_string(), b"3\n".to_vec()));
    zip.write(&entries)
}

fn checkpoint(pkl: Vec<u8>, storages: &[(&str, Vec<u8>)]) -> Vec<u8> {
    checkpoint_with(&Zip::PLAIN, pkl, b"little", storages)
}

fn floats(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

/// The legacy format: magic, protocol, system info, `main`, the storage keys, the data.
fn legacy(main: Vec<u8>, little_endian: bool, storages: &[(&str, u64, Vec<u8>)]) -> Vec<u8> {
    let mut out = vec![0x80, 2, 0x8a, 10];
    out.extend_from_slice(&0x1950a86a20f9469cfc6cu128.to_le_bytes()[..10]);
    out.push(b'.');
    out.extend_from_slice(&[0x80, 2, b'M', 0xe9, 0x03, b'.']);
    out.extend(P::new().op(b"}").str("little_endian").op(&[if little_endian { 0x88 } else { 0x89 }]).op(b"s").stop());
    out.extend(main);
    let mut keys = P::new();
    keys.op(b"](");
    for (k, _, _) in storages {
        keys.str(k);
    }
    out.extend(keys.op(b"e").stop());
    for (_, count, data) in storages {
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

#[test]
fn hand_made_checkpoints_read() {
    // The builders themselves: a plain tensor, a transposed one, in a zip and legacy.
    let file = checkpoint(one_tensor(6, 0, &[2, 3], &[3, 1]), &[("0", floats(6))]);
    let t = pth::read(&file).unwrap();
    assert_eq!(elements(t.get("w").unwrap()), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    let file = checkpoint(one_tensor(6, 0, &[3, 2], &[1, 3]), &[("0", floats(6))]);
    let t = pth::read(&file).unwrap();
    assert_eq!(elements(t.get("w").unwrap()), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    // A storage entry longer than the storage: torch reads what it needs, so do we.
    let file = checkpoint(one_tensor(6, 0, &[2, 3], &[3, 1]), &[("0", floats(8))]);
    assert_eq!(pth::read(&file).unwrap().get("w").unwrap().shape, [2, 3]);
    // ZIP64 end records and extra fields.
    let file = checkpoint_with(&Zip { method: 0, zip64: true }, one_tensor(6, 1, &[5], &[1]), b"little", &[("0", floats(6))]);
    assert_eq!(elements(pth::read(&file).unwrap().get("w").unwrap()), [1.0, 2.0, 3.0, 4.0, 5.0]);
    // Legacy, with a storage view (`view_metadata`, as PyTorch < 1.0 could write).
    let main = P::new()
        .op(b"}(")
        .str("w")
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(b"((")
        .str("storage")
        .global("torch", "FloatStorage")
        .str("root")
        .str("cpu")
        .int(6)
        .op(b"(")
        .str("view")
        .int(2)
        .int(3)
        .op(b"ttQ")
        .int(1)
        .ints(&[2])
        .ints(&[1])
        .op(&[0x89])
        .global("collections", "OrderedDict")
        .op(b")RtRu")
        .stop();
    let file = legacy(main, true, &[("root", 6, floats(6))]);
    assert_eq!(elements(pth::read(&file).unwrap().get("w").unwrap()), [3.0, 4.0]);
    // PyTorch before 0.4: `torch.FloatTensor.__new__()` then BUILD with the tensor's state,
    // and `_rebuild_tensor` (v1).
    let main = P::new()
        .op(b"}(")
        .str("old")
        .global("torch", "FloatTensor")
        .op(b")\x81(")
        .float_storage("0", 6)
        .int(2)
        .ints(&[2, 2])
        .ints(&[1, 2])
        .op(b"tb")
        .str("v1")
        .global("torch._utils", "_rebuild_tensor")
        .op(b"(")
        .float_storage("0", 6)
        .int(0)
        .ints(&[3])
        .ints(&[2])
        .op(b"tRu")
        .stop();
    let file = legacy(main, true, &[("0", 6, floats(6))]);
    let t = pth::read(&file).unwrap();
    assert_eq!(elements(t.get("old").unwrap()), [2.0, 4.0, 3.0, 5.0]);
    assert_eq!(elements(t.get("v1").unwrap()), [0.0, 2.0, 4.0]);
}

#[test]
fn globals_outside_the_allowlist_are_refused() {
    assert_error(pth::read(&fixture("os_system.pt")), &["`os.system`", "no reason", "refusing"]);
    // STACK_GLOBAL (protocol 4), never executed.
    let mut p = P::new();
    p.str("builtins").str("eval").op(&[0x93]).str("1").op(&[0x85, b'R']);
    assert_error(pth::read(&checkpoint(p.stop(), &[])), &["`builtins.eval`"]);
    assert_error(pth::read(&fixture("whole_model.pt")), &["whole pickled model object", "state_dict()"]);
    // A model class of one's own, in a file that also has torch.nn classes.
    let pkl = P::new().global("__main__", "Net").op(b")").op(&[0x81]).global("torch.nn.modules.linear", "Linear").op(b"0").stop();
    assert_error(pth::read(&checkpoint(pkl, &[])), &["whole pickled model", "`__main__.Net`"]);
}

#[test]
fn absurd_sizes_are_refused() {
    let data = [("0", floats(6))];
    // 2^62 elements over a storage of 6.
    assert_error(pth::read(&checkpoint(one_tensor(6, 0, &[1 << 31, 1 << 31], &[1 << 31, 1]), &data)), &["tensor `w`", "storage"]);
    // Sizes whose product overflows.
    assert_error(pth::read(&checkpoint(one_tensor(6, 0, &[1 << 40, 1 << 40, 1 << 40], &[0, 0, 0]), &data)), &["`w`", "overflow"]);
    // A zero-stride view of 2^40 elements: valid in torch, but not copied from a tiny file.
    assert_error(pth::read(&checkpoint(one_tensor(6, 0, &[1 << 20, 1 << 20], &[0, 0]), &data)), &["`w`", "too many to copy"]);
    // A storage claiming more elements than its entry has.
    assert_error(pth::read(&checkpoint(one_tensor(1000, 0, &[6], &[1]), &data)), &["`w`", "data/0", "1000 elements", "24 bytes"]);
    // A storage claiming 2^62 elements.
    assert_error(
        pth::read(&checkpoint(one_tensor(1 << 62, 0, &[6], &[1]), &data)),
        &["`w`", "data/0", "4611686018427387904 elements"],
    );
    // Negative strides, sizes, offsets (torch has none).
    for (offset, size, stride) in [(0, [2, 3], [-3, 1]), (0, [-2, 3], [3, 1]), (-1, [2, 3], [3, 1])] {
        assert_error(pth::read(&checkpoint(one_tensor(6, offset, &size, &stride), &data)), &["`w`", "negative"]);
    }
    // Offsets and strides that overflow, or reach past the storage.
    assert_error(pth::read(&checkpoint(one_tensor(6, i64::MAX as i128, &[2], &[1]), &data)), &["`w`", "past the end"]);
    assert_error(pth::read(&checkpoint(one_tensor(6, 1, &[2], &[u64::MAX as i128]), &data)), &["`w`", "past the end"]);
    assert_error(pth::read(&checkpoint(one_tensor(6, 1, &[2, 3], &[3, 1]), &data)), &["`w`", "past the end"]);
    // Too many dimensions.
    let ones = vec![1; 100];
    assert_error(pth::read(&checkpoint(one_tensor(6, 0, &ones, &ones), &data)), &["`w`", "dimensions"]);
}

#[test]
fn broken_archives_are_refused() {
    // A storage entry that is not there.
    assert_error(pth::read(&checkpoint(one_tensor(6, 0, &[6], &[1]), &[])), &["tensor `w`", "data/0", "missing"]);
    // Garbage for a pickle.
    assert_error(pth::read(&checkpoint(b"\x80\x02garbage".to_vec(), &[])), &["data.pkl"]);
    assert_error(pth::read(&checkpoint(b"not a pickle".to_vec(), &[])), &["data.pkl"]);
    // Compressed entries.
    let file = checkpoint_with(&Zip { method: 8, zip64: false }, one_tensor(6, 0, &[6], &[1]), b"little", &[("0", floats(6))]);
    assert_error(pth::read(&file), &["compressed", "deflate"]);
    // Big endian, in both formats.
    let file = checkpoint_with(&Zip::PLAIN, one_tensor(6, 0, &[6], &[1]), b"big", &[("0", floats(6))]);
    assert_error(pth::read(&file), &["big-endian"]);
    assert_error(pth::read(&legacy(one_tensor(6, 0, &[6], &[1]), false, &[("0", 6, floats(6))])), &["big-endian"]);
    // A zip without data.pkl.
    let file = Zip::PLAIN.write(&[("archive/other".to_string(), vec![1, 2, 3])]);
    assert_error(pth::read(&file), &["no data.pkl"]);
    // Legacy: counts that disagree, storages missing or unknown.
    let main = || one_tensor(6, 0, &[6], &[1]);
    assert_error(pth::read(&legacy(main(), true, &[("0", 5, floats(5))])), &["storage `0`", "5 elements"]);
    assert_error(pth::read(&legacy(main(), true, &[])), &["tensor `w`", "storage `0`"]);
    assert_error(pth::read(&legacy(main(), true, &[("0", 6, floats(6)), ("9", 1, floats(1))])), &["storage `9`"]);
    assert_error(pth::read(&legacy(main(), true, &[("0", 1 << 62, floats(6))])), &["storage `0`"]);
}

#[test]
fn state_dict_contents_are_checked() {
    let data = [("0", floats(6))];
    // An entry that is not a tensor.
    let pkl = P::new().op(b"}(").str("w").tensor("FloatStorage", "0", 6, 0, &[6], &[1]).str("x").int(3).op(b"u").stop();
    assert_error(pth::read(&checkpoint(pkl, &data)), &["`x`", "an int", "not a tensor"]);
    // A tensor kind we do not read, named.
    let pkl = P::new()
        .op(b"}(")
        .str("w")
        .tensor("FloatStorage", "0", 6, 0, &[6], &[1])
        .str("s")
        .global("torch._utils", "_rebuild_sparse_tensor")
        .op(b")R")
        .op(b"u")
        .stop();
    assert_error(pth::read(&checkpoint(pkl, &data)), &["`s`", "sparse"]);
    // No state_dict at all.
    assert_error(pth::read(&checkpoint(P::new().op(b"]").stop(), &[])), &["holds a list"]);
    let pkl = P::new().op(b"}(").str("epoch").int(3).str("lr").op(b"G").op(&0.1f64.to_be_bytes()).op(b"u").stop();
    assert_error(pth::read(&checkpoint(pkl, &[])), &["without tensors", "`epoch`", "`lr`"]);
    assert_error(pth::read(&checkpoint(P::new().op(b"}").stop(), &[])), &["empty dict"]);
}

#[test]
fn deep_and_large_pickles_are_harmless() {
    // 100000 nested lists, built with MARKs or APPENDs: no recursion, no stack overflow.
    let mut p = P::new();
    for _ in 0..100_000 {
        p.op(b"(]");
    }
    assert!(pth::read(&checkpoint(p.stop(), &[])).is_err());
    let mut p = P::new();
    for _ in 0..100_000 {
        p.op(b"]");
    }
    for _ in 0..99_999 {
        p.op(b"a");
    }
    assert_error(pth::read(&checkpoint(p.stop(), &[])), &["holds a list"]);
    // A list containing itself.
    assert_error(pth::read(&checkpoint(P::new().op(b"]q\x00h\x00a").stop(), &[])), &["holds a list"]);
    // Huge memo indices and lengths do not size allocations.
    let pkl = P::new().op(b"]r\xff\xff\xff\xff0j\xff\xff\xff\xff").stop();
    assert_error(pth::read(&checkpoint(pkl, &[])), &["holds a list"]);
    assert_error(pth::read(&checkpoint(P::new().op(b"X\xff\xff\xff\xff").stop(), &[])), &["data.pkl", "ends early"]);
    assert_error(
        pth::read(&checkpoint(P::new().op(&[0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).stop(), &[])),
        &["data.pkl"],
    );
    assert_error(pth::read(&checkpoint(P::new().op(&[0x8b, 0xff, 0xff, 0xff, 0x7f]).stop(), &[])), &["data.pkl"]);
}

#[test]
fn repeated_references_stay_cheap() {
    // Each of these would take hours (or terabytes) if a reference were copied or walked
    // again each time it is used.
    let start = std::time::Instant::now();
    let data = [("0", floats(6))];
    let n: i32 = 100_000;
    // One 1 MB name, used for n entries, and one tensor: one entry, the last.
    let long = "n".repeat(1 << 20);
    let mut p = P::new();
    p.op(b"}").str(&long).op(b"r\x00\x00\x00\x00").tensor("FloatStorage", "0", 6, 0, &[6], &[1]).op(b"r\x01\x00\x00\x00s");
    for _ in 0..n {
        p.op(b"j\x00\x00\x00\x00j\x01\x00\x00\x00s");
    }
    let file = checkpoint(p.stop(), &data);
    let tensors = pth::read(&file).unwrap();
    assert_eq!(tensors.names().collect::<Vec<_>>(), [long.as_str()]);
    // One dict of n ints, passed n times to OrderedDict(), and put under n keys of a dict
    // that has no tensors.
    let mut p = P::new();
    p.op(b"}(");
    for i in 0..n {
        p.op(b"J").op(&i.to_le_bytes()).op(b"N");
    }
    p.op(b"ur\x00\x00\x00\x00").global("collections", "OrderedDict").op(b"r\x01\x00\x00\x000");
    p.op(b"}(");
    for i in 0..n {
        p.str(&i.to_string()).op(b"j\x01\x00\x00\x00j\x00\x00\x00\x00\x85R");
    }
    assert_error(pth::read(&checkpoint(p.op(b"u").stop(), &[])), &["without tensors"]);
    // One 1 MB storage key in n persistent ids.
    let mut p = P::new();
    p.op(b"]").str(&long).op(b"r\x00\x00\x00\x000(");
    for _ in 0..n {
        p.op(b"(").str("storage").global("torch", "FloatStorage").op(b"j\x00\x00\x00\x00").str("cpu").int(6).op(b"tQ");
    }
    p.op(b"e");
    assert_error(pth::read(&checkpoint(p.stop(), &[])), &["holds a list"]);
    assert!(start.elapsed().as_secs() < 20, "took {:?}", start.elapsed());
}
