//! The tier that runs everywhere: plain arrays of 8 lanes, which the compiler vectorises
//! for the baseline instruction set (SSE2 on x86-64, NEON on aarch64, scalar wasm).

use super::{micro_kernel, MicroKernel, Vector};

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

pub fn plug(kernels: &mut Vec<MicroKernel>) {
    kernels.push(PORTABLE);
}
