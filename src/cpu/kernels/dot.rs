//! The int8 family of micro-kernels: integer dot products of 7-bit activations (u8,
//! 0..=127) by int8 weights (-127..=127), four consecutive k per 32-bit lane, summed
//! exactly in i32. Each instruction set has its own dot product: AVX512-VNNI and
//! AVX-VNNI `vpdpbusd`, AVX2 `vpmaddubsw` + `vpmaddwd`, wasm relaxed SIMD
//! `i32x4_relaxed_dot_i8x16_i7x16_add`, plain simd128 `i32x4_dot_i16x8` on widened bytes.
//!
//! Why 7-bit activations: `vpmaddubsw` sums two products in i16 with saturation, and
//! 2 x 127 x 127 = 32,258 fits where 2 x 255 x 127 does not; relaxed SIMD's dot product is
//! only defined the same on every engine when one operand has 7 bits. With 7 bits every
//! tier's sums are exact, so every tier (and the page, and the program) gives the same
//! bits, and the tests compare them for equality.
//!
//! Layouts (k in quads of four, zero-padded): A, per panel of MR output channels,
//! `[k/4][MR][4]` i8; B `[k/4][pixels][4]` u8, quads `ldb` bytes apart. The tile writes
//! its MR x NR i32 sums; the scale, bias and ReLU are applied by the GEMM (`cpu::int8`),
//! in one plain-Rust epilogue for every tier.

use super::Kernel;
use crate::error::Error;

/// One tile of the int8 family: `out[r * NR + c] = sum over k of A[k][r] * B[k][c]`.
pub struct DotTile {
    /// Quads of k.
    pub quads: usize,
    /// MR x 4 weights per quad.
    pub a: *const i8,
    /// NR x 4 activations per quad, quads `ldb` bytes apart.
    pub b: *const u8,
    pub ldb: usize,
    /// MR x NR sums, row-major.
    pub out: *mut i32,
}

/// An int8 micro-kernel.
pub type DotKernel = Kernel<DotTile>;

/// One SIMD register of i32 lanes, one pixel each, as the int8 tile needs it.
pub trait DotVector: Copy {
    /// Pixels per register.
    const LANES: usize;
    /// B as loaded: `LANES` pixels x 4 activations.
    type B: Copy;
    /// A as broadcast: one output channel's 4 weights in every lane.
    type A: Copy;
    /// # Safety
    /// The instruction set must be available (the tile's entry function checks).
    unsafe fn zero() -> Self;
    /// # Safety
    /// `p` must be valid for `4 * LANES` reads.
    unsafe fn load(p: *const u8) -> Self::B;
    /// # Safety
    /// `p` must be valid for 4 reads.
    unsafe fn splat(p: *const i8) -> Self::A;
    /// `self + (the 4 products of b by a, per lane)`.
    ///
    /// # Safety
    /// As `zero`.
    unsafe fn dot_add(self, b: Self::B, a: Self::A) -> Self;
    /// # Safety
    /// `p` must be valid for `LANES` writes.
    unsafe fn store(self, p: *mut i32);
}

/// Declares an int8 tier (see `kernel_tier!`).
macro_rules! dot_kernel {
    ($(#[$doc:meta])* $name:ident = $label:expr, $vector:ty, $($rest:tt)*) => {
        $crate::cpu::kernels::kernel_tier!($crate::cpu::kernels::DotKernel, $crate::cpu::kernels::DotTile,
            $crate::cpu::kernels::dot::dot_tile, <$vector as $crate::cpu::kernels::DotVector>::LANES,
            $crate::cpu::kernels::dot::tests::check;
            $(#[$doc])* $name = $label, $vector, $($rest)*);
    };
}
pub(crate) use dot_kernel;

/// The generic int8 tile (see [`super::tile`] for the float32 one).
///
/// # Safety
/// As [`Kernel::run`]: `quads * MR * 4` weights, `quads` runs of `NR * 4` activations
/// `ldb` apart, `MR * NR` sums; and the instruction set of `V` must be available.
#[inline(always)]
pub unsafe fn dot_tile<V: DotVector, const MR: usize, const NV: usize>(t: &DotTile) {
    let lanes = V::LANES;
    let mut acc = [[V::zero(); NV]; MR];
    let (mut a, mut b) = (t.a, t.b);
    for _ in 0..t.quads {
        let mut bv = [V::load(b); NV];
        for (v, x) in bv.iter_mut().enumerate().skip(1) {
            *x = V::load(b.add(v * lanes * 4));
        }
        for (r, row) in acc.iter_mut().enumerate() {
            let av = V::splat(a.add(r * 4));
            for (sum, x) in row.iter_mut().zip(&bv) {
                *sum = sum.dot_add(*x, av);
            }
        }
        a = a.add(MR * 4);
        b = b.add(t.ldb);
    }
    for (r, row) in acc.iter().enumerate() {
        for (v, sum) in row.iter().enumerate() {
            sum.store(t.out.add(r * NV * lanes + v * lanes));
        }
    }
}

/// Every int8 tier built for this target, runnable here or not, fastest first.
pub fn compiled() -> Vec<DotKernel> {
    super::tiers().int8
}

/// The int8 tiers this machine runs, fastest first; the last is the portable one.
pub fn available() -> Vec<DotKernel> {
    super::runnable(compiled())
}

/// The environment variable that forces an int8 tier by name.
pub const FORCE: &str = "INCEPTION_CPU_INT8_KERNELS";

/// The int8 tier to run: the one `INCEPTION_CPU_INT8_KERNELS` names where it is set
/// (natively), else the fastest here.
pub fn chosen() -> Result<DotKernel, Error> {
    super::choose(compiled(), FORCE)
}

/// The int8 tier called `name`, where this machine runs it.
pub fn by_name(name: &str) -> Result<DotKernel, Error> {
    super::find(compiled(), name, FORCE)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{DotKernel, DotTile};

    /// One tile of `kernel` against the same sums in plain Rust, compared for equality:
    /// k from one quad to past a layer's, B read in a wider matrix, and the extremes
    /// (127 x -127 and 127 x 127 everywhere: where `vpmaddubsw` would saturate with 8-bit
    /// activations). Prints a SKIPPED line where this machine cannot run the kernel.
    pub fn check(kernel: &DotKernel) {
        if !kernel.runs_here() {
            println!("SKIPPED int8 micro-kernel {kernel:?}: this CPU lacks its instruction set");
            return;
        }
        let (mr, nr) = (kernel.mr, kernel.nr);
        let mixed = |i: usize, salt: usize| (i * 7919 + salt * 104729) % 255;
        type Pattern<'a> = (&'a str, &'a dyn Fn(usize) -> i8, &'a dyn Fn(usize) -> u8);
        let patterns: [Pattern; 3] = [
            ("mixed", &|i| (mixed(i, 1) as i32 - 127) as i8, &|i| (mixed(i, 2) % 128) as u8),
            ("most negative", &|_| -127, &|_| 127),
            ("most positive", &|_| 127, &|_| 127),
        ];
        for (pattern, weight, activation) in patterns {
            for quads in [1, 2, 7, 75, 300] {
                for ldb in [nr * 4, nr * 4 + 20] {
                    let a: Vec<i8> = (0..quads * mr * 4).map(weight).collect();
                    let b: Vec<u8> = (0..quads * ldb).map(activation).collect();
                    let mut out = vec![i32::MIN; mr * nr];
                    let tile = DotTile { quads, a: a.as_ptr(), b: b.as_ptr(), ldb, out: out.as_mut_ptr() };
                    // SAFETY: the buffers are sized for the tile.
                    unsafe { kernel.run(&tile) };
                    for r in 0..mr {
                        for c in 0..nr {
                            let want: i32 = (0..quads * 4)
                                .map(|k| a[(k / 4) * mr * 4 + r * 4 + k % 4] as i32 * b[(k / 4) * ldb + c * 4 + k % 4] as i32)
                                .sum();
                            assert_eq!(out[r * nr + c], want, "{kernel:?} {pattern} quads {quads} ldb {ldb} ({r}, {c})");
                        }
                    }
                }
            }
        }
    }
}
