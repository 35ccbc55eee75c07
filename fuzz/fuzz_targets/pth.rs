//! The PyTorch checkpoint reader must return Ok or Err for any bytes, never panic, hang or
//! allocate without bound. From this folder, seeded with the test fixtures:
//!
//! ```text
//! mkdir -p corpus/pth && cp ../tests/pth/*.pt corpus/pth/
//! cargo +nightly fuzz run pth corpus/pth -- -max_total_time=600 -rss_limit_mb=2048 \
//!     -max_len=16384 -timeout=10 -dict=pth.dict
//! ```
//!
//! Inputs are read as whole files, and those that start like a pickle also as the data.pkl
//! of a well-formed torch.save archive with a few storages: mutations of a zip rarely stay
//! valid zips, so this is what lets the fuzzer explore pickles and tensor views in that
//! format (legacy files reach them directly).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.first() == Some(&0x80) {
        let storage: Vec<u8> = (0..64u8).collect();
        let mut entries = vec![("a/data.pkl", data), ("a/byteorder", b"little".as_slice())];
        let names = ["a/data/0", "a/data/1", "a/data/2", "a/data/3"];
        for (i, name) in names.iter().enumerate() {
            entries.push((name, &storage[..16 << i.min(2)]));
        }
        check(&zip(&entries));
    }
});

fn check(bytes: &[u8]) {
    if let Ok(tensors) = inception::pth::read(bytes) {
        // Whatever it accepts must be self-consistent: as many bytes as the shape says.
        for t in tensors.map.values() {
            assert_eq!(t.data.len(), t.elements() * t.dtype.bitsize() / 8);
        }
    }
}

/// A zip of stored entries (no CRCs: the reader does not check them, as torch does not).
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let le16 = |v: &mut Vec<u8>, x: usize| v.extend_from_slice(&(x as u16).to_le_bytes());
    let le32 = |v: &mut Vec<u8>, x: usize| v.extend_from_slice(&(x as u32).to_le_bytes());
    for (name, data) in entries {
        let offset = out.len();
        le32(&mut out, 0x0403_4b50);
        for x in [20, 0, 0, 0, 0] {
            le16(&mut out, x);
        }
        for x in [0, data.len(), data.len()] {
            le32(&mut out, x);
        }
        le16(&mut out, name.len());
        le16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        le32(&mut central, 0x0201_4b50);
        for x in [20, 20, 0, 0, 0, 0] {
            le16(&mut central, x);
        }
        for x in [0, data.len(), data.len()] {
            le32(&mut central, x);
        }
        for x in [name.len(), 0, 0, 0, 0] {
            le16(&mut central, x);
        }
        le32(&mut central, 0);
        le32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len();
    out.extend_from_slice(&central);
    le32(&mut out, 0x0605_4b50);
    for x in [0, 0, entries.len(), entries.len()] {
        le16(&mut out, x);
    }
    le32(&mut out, central.len());
    le32(&mut out, cd_offset);
    le16(&mut out, 0);
    out
}
