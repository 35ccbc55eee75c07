//! Softmax and the k most probable classes (`shaders/softmax_topk.wgsl`).

use super::{Dispatch, Kernel, View};

/// The most classes one dispatch can rank (the shader's MAX_K).
pub const MAX_K: u32 = 32;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Params {
    n: u32,
    k: u32,
    _pad: [u32; 2],
}

/// Bytes of the result for `k` classes: (index, probability) pairs of u32.
pub fn result_size(k: u32) -> u64 {
    8 * k as u64
}

pub fn dispatch(kernel: &Kernel, device: &wgpu::Device, n: u32, k: u32, logits: View, result: &wgpu::Buffer) -> Dispatch {
    assert!(k <= MAX_K && logits.c_offset == 0);
    kernel.dispatch(
        device,
        "softmax_topk".into(),
        &Params { n, k, _pad: [0; 2] },
        &[logits.buffer.as_entire_binding(), result.as_entire_binding()],
        [1, 1, 1],
    )
}

/// Decodes the shader's result into (class, probability), most probable first.
pub fn decode(bytes: &[u8], k: u32) -> Vec<(usize, f32)> {
    let words: &[u32] = bytemuck::cast_slice(&bytes[..result_size(k) as usize]);
    words.chunks_exact(2).map(|pair| (pair[0] as usize, f32::from_bits(pair[1]))).collect()
}

/// CPU twin: softmax probabilities of the top `k` logits, ties to the lower index.
pub fn cpu(logits: &[f32], k: usize) -> Vec<(usize, f32)> {
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let sum: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
    order.truncate(k);
    order.into_iter().map(|i| (i, (((logits[i] - max) as f64).exp() / sum) as f32)).collect()
}
