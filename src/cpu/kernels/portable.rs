//! The tier that runs everywhere: plain arrays of 8 lanes, which the compiler vectorises
//! for the baseline instruction set (SSE2 on x86-64, NEON on aarch64, scalar wasm).

use super::dot::dot_kernel;
use super::{micro_kernel, DotVector, Tiers, Vector};

#[derive(Clone, Copy)]
pub struct Lanes([f32; 8]);

impl Vector for Lanes {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Lanes([x; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Lanes(std::ptr::read_unaligned(p as *const [f32; 8]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        std::ptr::write_unaligned(p as *mut [f32; 8], self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        let mut out = self.0;
        for ((o, x), y) in out.iter_mut().zip(a.0).zip(b.0) {
            // (a separate multiply and add unless the target always fuses: a software fma
            // call per lane would be far slower)
            *o = if cfg!(any(target_arch = "aarch64", target_feature = "fma")) { x.mul_add(y, *o) } else { *o + x * y };
        }
        Lanes(out)
    }
    #[inline(always)]
    unsafe fn max(self, other: Self) -> Self {
        let mut out = self.0;
        for (o, x) in out.iter_mut().zip(other.0) {
            *o = o.max(x);
        }
        Lanes(out)
    }
}

micro_kernel! {
    /// Runs everywhere.
    PORTABLE = "portable", Lanes, 4 x 1
}

/// Eight pixels' int8 sums in plain arrays.
#[derive(Clone, Copy)]
pub struct DotLanes([i32; 8]);

impl DotVector for DotLanes {
    const LANES: usize = 8;
    type B = [u8; 32];
    type A = [i8; 4];
    #[inline(always)]
    unsafe fn zero() -> Self {
        DotLanes([0; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const u8) -> [u8; 32] {
        std::ptr::read_unaligned(p as *const [u8; 32])
    }
    #[inline(always)]
    unsafe fn splat(p: *const i8) -> [i8; 4] {
        std::ptr::read_unaligned(p as *const [i8; 4])
    }
    #[inline(always)]
    unsafe fn dot_add(self, b: [u8; 32], a: [i8; 4]) -> Self {
        let mut out = self.0;
        for (lane, sum) in out.iter_mut().enumerate() {
            for j in 0..4 {
                *sum += b[lane * 4 + j] as i32 * a[j] as i32;
            }
        }
        DotLanes(out)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut i32) {
        std::ptr::write_unaligned(p as *mut [i32; 8], self.0)
    }
}

dot_kernel! {
    /// Runs everywhere.
    PORTABLE_INT8 = "portable", DotLanes, 4 x 1
}

pub fn plug(tiers: &mut Tiers) {
    tiers.float.push(PORTABLE);
    tiers.int8.push(PORTABLE_INT8);
}
