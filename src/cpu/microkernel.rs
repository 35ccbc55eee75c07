//! The GEMM micro-kernels: one generic register tile (MR output channels by NR pixels,
//! accumulated over k), compiled once per instruction set and chosen at run time where the
//! instruction set is (AVX2 + FMA on x86-64), at build time where it is not (wasm simd128,
//! whose module either validates with it or not at all).
//!
//! NEON (always there on aarch64) is compiled in on that target.
//!
//! A tile keeps MR x NR sums in registers; per step of k it loads NR packed values of B
//! (pixels), broadcasts MR packed values of A (weights) and does MR x NR multiply-adds: the
//! classic outer-product kernel, sized so the sums, one row of B and one broadcast fit the
//! vector registers (16 on AVX2, 15 for wasm on x86 after V8's own, 32 on NEON).

/// One SIMD register of f32 lanes, as the tile needs it.
pub trait Vector: Copy {
    const LANES: usize;
    /// # Safety
    /// The instruction set must be available (the tile's entry function checks).
    unsafe fn splat(x: f32) -> Self;
    /// # Safety
    /// `p` must be valid for `LANES` reads.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` must be valid for `LANES` writes.
    unsafe fn store(self, p: *mut f32);
    /// `self + a * b` (fused where the instruction set has it).
    ///
    /// # Safety
    /// As `splat`.
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
    /// # Safety
    /// As `splat`.
    unsafe fn max(self, other: Self) -> Self;
}

/// What one tile computes: `C[MR x NR] = start + A[k x MR] * B[k x NR]` where `start` is
/// the bias (one per row) or, when `accumulate`, C itself; then ReLU if `relu`.
pub struct Tile {
    pub k: usize,
    /// MR packed weights per step of k.
    pub a: *const f32,
    /// NR pixels per step of k, steps `ldb` apart (NR where B is packed).
    pub b: *const f32,
    pub ldb: usize,
    /// Row-major, rows `ldc` apart.
    pub c: *mut f32,
    pub ldc: usize,
    /// MR values.
    pub bias: *const f32,
    pub accumulate: bool,
    pub relu: bool,
}

/// A micro-kernel: its tile size and the function computing one tile.
#[derive(Clone, Copy)]
pub struct MicroKernel {
    pub name: &'static str,
    pub mr: usize,
    pub nr: usize,
    run: unsafe fn(&Tile),
}

impl MicroKernel {
    /// # Safety
    /// The pointers of `tile` must be valid for the tile's size: `k * mr` values of A,
    /// `k` runs of `nr` values `ldb` apart of B, `mr` of bias, and `mr` rows of `nr`
    /// values of C.
    pub unsafe fn run(&self, tile: &Tile) {
        (self.run)(tile)
    }
}

impl std::fmt::Debug for MicroKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{}", self.name, self.mr, self.nr)
    }
}

/// The micro-kernels this machine can run, fastest first; the last is always the portable one.
pub fn available() -> Vec<MicroKernel> {
    let candidates = [
        #[cfg(target_arch = "x86_64")]
        (std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")).then_some(x86::AVX2_FMA),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Some(wasm::SIMD128),
        #[cfg(target_arch = "aarch64")]
        Some(arm::NEON),
        Some(PORTABLE),
    ];
    candidates.into_iter().flatten().collect()
}

/// The fastest micro-kernel here.
pub fn best() -> MicroKernel {
    available()[0]
}

/// The generic tile, inlined into each instruction set's entry function so that its
/// vector operations compile with that instruction set.
#[inline(always)]
unsafe fn tile<V: Vector, const MR: usize, const NV: usize>(t: &Tile) {
    let lanes = V::LANES;
    let mut acc = [[V::splat(0.0); NV]; MR];
    for (r, row) in acc.iter_mut().enumerate() {
        for (v, sum) in row.iter_mut().enumerate() {
            *sum = if t.accumulate { V::load(t.c.add(r * t.ldc + v * lanes)) } else { V::splat(*t.bias.add(r)) };
        }
    }
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.k {
        let mut bv = [V::splat(0.0); NV];
        for (v, x) in bv.iter_mut().enumerate() {
            *x = V::load(b.add(v * lanes));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let av = V::splat(*a.add(r));
            for (sum, x) in row.iter_mut().zip(&bv) {
                *sum = sum.mul_add(av, *x);
            }
        }
        a = a.add(MR);
        b = b.add(t.ldb);
    }
    let zero = V::splat(0.0);
    for (r, row) in acc.iter().enumerate() {
        for (v, sum) in row.iter().enumerate() {
            let value = if t.relu { sum.max(zero) } else { *sum };
            value.store(t.c.add(r * t.ldc + v * lanes));
        }
    }
}

/// Plain arrays of 8 lanes, which the compiler vectorises for the baseline instruction set
/// (SSE2 on x86-64, NEON on aarch64, scalar wasm); fused where the target always has FMA.
#[derive(Clone, Copy)]
struct Lanes([f32; 8]);

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

unsafe fn portable_4x8(t: &Tile) {
    tile::<Lanes, 4, 1>(t)
}

/// Runs everywhere.
pub const PORTABLE: MicroKernel = MicroKernel { name: "portable", mr: 4, nr: 8, run: portable_4x8 };

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{tile, MicroKernel, Tile, Vector};
    use std::arch::x86_64::*;

    #[derive(Clone, Copy)]
    pub struct Avx(__m256);

    impl Vector for Avx {
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Avx(_mm256_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Avx(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm256_storeu_ps(p, self.0)
        }
        #[inline(always)]
        unsafe fn mul_add(self, a: Self, b: Self) -> Self {
            Avx(_mm256_fmadd_ps(a.0, b.0, self.0))
        }
        #[inline(always)]
        unsafe fn max(self, other: Self) -> Self {
            Avx(_mm256_max_ps(self.0, other.0))
        }
    }

    /// 6 x 16: 12 sums, 2 of B and a broadcast in 16 registers.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn avx2_6x16(t: &Tile) {
        tile::<Avx, 6, 2>(t)
    }

    pub const AVX2_FMA: MicroKernel = MicroKernel { name: "avx2+fma", mr: 6, nr: 16, run: avx2_6x16 };
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{tile, MicroKernel, Tile, Vector};
    use std::arch::aarch64::*;

    #[derive(Clone, Copy)]
    pub struct Neon(float32x4_t);

    impl Vector for Neon {
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Neon(vdupq_n_f32(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Neon(vld1q_f32(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            vst1q_f32(p, self.0)
        }
        #[inline(always)]
        unsafe fn mul_add(self, a: Self, b: Self) -> Self {
            Neon(vfmaq_f32(self.0, a.0, b.0))
        }
        #[inline(always)]
        unsafe fn max(self, other: Self) -> Self {
            Neon(vmaxq_f32(self.0, other.0))
        }
    }

    /// 8 x 12: 24 sums, 3 of B and a broadcast in NEON's 32 registers. (Compiled here for
    /// aarch64 but not measured: this project's machines are x86-64.)
    unsafe fn neon_8x12(t: &Tile) {
        tile::<Neon, 8, 3>(t)
    }

    pub const NEON: MicroKernel = MicroKernel { name: "neon", mr: 8, nr: 12, run: neon_8x12 };
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::{tile, MicroKernel, Tile, Vector};
    use std::arch::wasm32::*;

    #[derive(Clone, Copy)]
    pub struct Simd(v128);

    impl Vector for Simd {
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            Simd(f32x4_splat(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            Simd(v128_load(p as *const v128))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            v128_store(p as *mut v128, self.0)
        }
        #[inline(always)]
        unsafe fn mul_add(self, a: Self, b: Self) -> Self {
            #[cfg(target_feature = "relaxed-simd")]
            return Simd(f32x4_relaxed_madd(a.0, b.0, self.0));
            #[cfg(not(target_feature = "relaxed-simd"))]
            Simd(f32x4_add(self.0, f32x4_mul(a.0, b.0)))
        }
        #[inline(always)]
        unsafe fn max(self, other: Self) -> Self {
            Simd(f32x4_pmax(self.0, other.0))
        }
    }

    /// 4 x 8: 8 sums, 2 of B and a broadcast. V8 keeps one of x86's 16 vector registers
    /// for itself, so 6 x 8 (15 live values) spilled: BVLC took 68.3 ms a pass in Chromium
    /// with 6 x 8, 59.3 ms with 4 x 8 (5 x 8: 72.7 ms).
    unsafe fn simd128_4x8(t: &Tile) {
        tile::<Simd, 4, 2>(t)
    }

    pub const SIMD128: MicroKernel = MicroKernel {
        name: if cfg!(target_feature = "relaxed-simd") { "simd128+relaxed" } else { "simd128" },
        mr: 4,
        nr: 8,
        run: simd128_4x8,
    };
}
