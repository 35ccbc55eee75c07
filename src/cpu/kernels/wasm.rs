//! The WebAssembly tiers: simd128, with relaxed SIMD's fused multiply-add and its int8
//! dot product where the module is built with it (the site builds both and the page picks
//! what the browser validates).

use super::dot::dot_kernel;
use super::{micro_kernel, vector, DotVector, Tiers};
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

/// Four pixels' int8 sums. With relaxed SIMD, one `i32x4_relaxed_dot_i8x16_i7x16_add`
/// per 16 products (weights the signed operand, the 7-bit activations the other: the
/// case every engine computes alike). Plain simd128 widens to i16 and sums pairs with
/// `i32x4_dot_i16x8`: two partial sums per pixel, kept in two registers and added once
/// at the end.
#[derive(Clone, Copy)]
pub struct Dot(v128, v128);

impl DotVector for Dot {
    const LANES: usize = 4;
    type B = v128;
    type A = v128;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Dot(i32x4_splat(0), i32x4_splat(0))
    }
    #[inline(always)]
    unsafe fn load(p: *const u8) -> v128 {
        v128_load(p as *const v128)
    }
    #[inline(always)]
    unsafe fn splat(p: *const i8) -> v128 {
        let weights = i32x4_splat(std::ptr::read_unaligned(p as *const i32));
        #[cfg(target_feature = "relaxed-simd")]
        return weights;
        #[cfg(not(target_feature = "relaxed-simd"))]
        i16x8_extend_low_i8x16(weights)
    }
    #[inline(always)]
    unsafe fn dot_add(self, b: v128, a: v128) -> Self {
        #[cfg(target_feature = "relaxed-simd")]
        return Dot(i32x4_relaxed_dot_i8x16_i7x16_add(a, b, self.0), self.1);
        #[cfg(not(target_feature = "relaxed-simd"))]
        Dot(
            i32x4_add(self.0, i32x4_dot_i16x8(u16x8_extend_low_u8x16(b), a)),
            i32x4_add(self.1, i32x4_dot_i16x8(u16x8_extend_high_u8x16(b), a)),
        )
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut i32) {
        #[cfg(target_feature = "relaxed-simd")]
        let sums = self.0;
        // (pixel 0's two halves, pixel 1's; then pixels 2 and 3)
        #[cfg(not(target_feature = "relaxed-simd"))]
        let sums = i32x4_add(i32x4_shuffle::<0, 2, 4, 6>(self.0, self.1), i32x4_shuffle::<1, 3, 5, 7>(self.0, self.1));
        v128_store(p as *mut v128, sums)
    }
}

dot_kernel! {
    /// 4 x 8, as the float32 tier.
    SIMD128_INT8 = if cfg!(target_feature = "relaxed-simd") { "simd128+relaxed" } else { "simd128" }, Dot, 4 x 2
}

pub fn plug(tiers: &mut Tiers) {
    tiers.float.push(SIMD128);
    tiers.int8.push(SIMD128_INT8);
}
