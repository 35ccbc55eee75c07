//! Softmax and the k most probable classes (`shaders/softmax_topk.wgsl`).

use super::{interface, Context, Dispatch, Variant, View};

/// The most classes one dispatch can rank.
pub const MAX_K: u32 = SHADER.constant(1);

interface! {
    "softmax_topk", include_str!("../../shaders/softmax_topk.wgsl"),
    // one workgroup of THREADS invocations; MAX_K sizes the shader's list of chosen classes
    constants [THREADS = 256, MAX_K = 32] entries [main(logits, result)]
    struct Params {
        n: u32, k: u32, _pad0: u32, _pad1: u32,
    }
}

/// Bytes of the result for `k` classes: (index, probability) pairs of u32.
pub fn result_size(k: u32) -> u64 {
    8 * k as u64
}

/// Records the softmax of `n` logits and the ranking of the `k` most probable classes into
/// `result` ([`result_size`] bytes).
pub fn dispatch(ctx: &Context, n: u32, k: u32, logits: View, result: &wgpu::Buffer) -> Dispatch {
    assert!(k <= MAX_K && logits.c_offset == 0);
    ctx.kernel(&SHADER, &Variant::entry("main")).dispatch(
        &ctx.device,
        "softmax_topk".into(),
        &Params { n, k, _pad0: 0, _pad1: 0 },
        &[("logits", logits.buffer.as_entire_binding()), ("result", result.as_entire_binding())],
        [1, 1, 1],
    )
}

/// Decodes the shader's result into (class, probability), most probable first.
pub fn decode(bytes: &[u8], k: u32) -> Vec<(usize, f32)> {
    let words: &[u32] = bytemuck::cast_slice(&bytes[..result_size(k) as usize]);
    words.chunks_exact(2).map(|pair| (pair[0] as usize, f32::from_bits(pair[1]))).collect()
}
