//! The safetensors path (header, tensor table, int8 expansion, the checks against a
//! network's graph, the metadata the page reads) must return Ok or Err for any bytes, never
//! panic, hang or allocate without bound. From this folder, seeded with the headers in
//! `seeds/safetensors`:
//!
//! ```text
//! mkdir -p corpus/safetensors && cp seeds/safetensors/* corpus/safetensors/
//! cargo +nightly fuzz run safetensors corpus/safetensors -- -max_total_time=3600 \
//!     -rss_limit_mb=2048 -max_len=4096 -timeout=10 -dict=safetensors.dict
//! ```
//!
//! Inputs are read as whole files, and those that start with `{` also as the JSON header of
//! a file with 256 bytes of tensor data after it: a mutated length prefix rarely stays
//! right, so this is what lets the fuzzer explore the header and the tensor table.
#![no_main]

use inception::weights::read_tensors;
use inception::Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.first() == Some(&b'{') {
        let mut file = (data.len() as u64).to_le_bytes().to_vec();
        file.extend_from_slice(data);
        file.extend((0..=255u8).map(|b| b.wrapping_mul(37)));
        check(&file);
    }
});

fn check(bytes: &[u8]) {
    if let Ok(tensors) = read_tensors(bytes) {
        // Whatever it accepts must be self-consistent: as many bytes as the shape says.
        for t in tensors.map.values() {
            assert_eq!(t.data.len(), t.elements() * t.dtype.bitsize() / 8);
            let _ = t.to_f32();
        }
        let _ = Model::from_tensors(&tensors, None);
    }
    let _ = inception::convert::stored_as(bytes);
    let _ = inception::convert::embedded_labels(bytes);
}
