//! The WebAssembly tier: simd128, with relaxed SIMD's fused multiply-add where the module
//! is built with it (the site builds both and the page picks what the browser validates).

use super::{micro_kernel, vector, MicroKernel};
use std::arch::wasm32::*;

#[inline(always)]
unsafe fn mul_add(sum: v128, a: v128, b: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    return f32x4_relaxed_madd(a, b, sum);
    #[cfg(not(target_feature = "relaxed-simd"))]
    f32x4_add(sum, f32x4_mul(a, b))
}

vector!(Simd(v128), 4, splat: f32x4_splat, load: |p| v128_load(p as *const v128), store: |p, v| v128_store(p as *mut v128, v),
    mul_add: |s, a, b| mul_add(s, a, b), max: f32x4_pmax);

micro_kernel! {
    /// 4 x 8: 8 sums, 2 of B and a broadcast. V8 keeps one of x86's 16 vector registers
    /// for itself, so 6 x 8 (15 live values) spilled: BVLC took 68.3 ms a pass in Chromium
    /// with 6 x 8, 59.3 ms with 4 x 8 (5 x 8: 72.7 ms).
    SIMD128 = if cfg!(target_feature = "relaxed-simd") { "simd128+relaxed" } else { "simd128" }, Simd, 4 x 2
}

pub fn plug(kernels: &mut Vec<MicroKernel>) {
    kernels.push(SIMD128);
}
