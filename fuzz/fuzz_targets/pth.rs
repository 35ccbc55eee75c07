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
        let mut entries = vec![("a/data.pkl".to_string(), data.to_vec()), ("a/byteorder".to_string(), b"little".to_vec())];
        for i in 0..4 {
            entries.push((format!("a/data/{i}"), storage[..16 << i.min(2)].to_vec()));
        }
        check(&inception::synthetic::stored_zip(&entries));
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
