//! The GEMM micro-kernels in tiers: one generic register tile (MR output channels by NR
//! pixels, accumulated over k, [`tile`]) compiled once per instruction set, each tier in its
//! instruction set's file (`portable.rs`, plain arrays that run everywhere;
//! `x86.rs`: AVX2+FMA and AVX-512; `arm.rs`: NEON; `wasm.rs`: simd128, relaxed where built
//! so). [`available`] is the registry: each file's `plug` adds the tiers this machine runs,
//! after feature detection (at run time on x86-64; at build time in wasm, whose module
//! validates with simd128 or not at all), fastest first, the portable one last.
//! `INCEPTION_CPU_KERNELS=NAME` forces one ([`chosen`]).
//!
//! A tile keeps MR x NR sums in registers; per step of k it loads NR packed values of B
//! (pixels), broadcasts MR packed values of A (weights) and does MR x NR multiply-adds: the
//! classic outer-product kernel, sized so the sums, one row of B and one broadcast fit the
//! vector registers (16 on AVX2, 32 on AVX-512 and NEON, 15 for wasm on x86 after V8's own).
//! Every tier sums each output in the same order (bias, then k upwards, fused where the
//! instruction set fuses), so the fused tiers should give the same bits (checked for
//! avx2+fma against the build before the tiers; not yet for avx512, never run here).
//!
//! A tier is declared with `micro_kernel!`, which also declares its test against a
//! plain-Rust sum; a tier this machine cannot run says so in a `SKIPPED` line.

#[cfg(target_arch = "aarch64")]
mod arm;
pub mod dot;
mod portable;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(target_arch = "x86_64")]
mod x86;

use crate::error::Error;
pub use dot::{DotKernel, DotTile, DotVector};

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

/// Implements [`Vector`] for a one-register newtype from its intrinsics: `splat(x)`,
/// `load(p)`, `store(p, v)`, `mul_add(sum, a, b)`, `max(a, b)`, each a path or an
/// expression of the named arguments.
macro_rules! vector {
    ($name:ident($register:ty), $lanes:expr, splat: $splat:path, load: |$p:ident| $load:expr, store: |$q:ident, $v:ident| $store:expr,
     mul_add: |$s:ident, $a:ident, $b:ident| $mul_add:expr, max: $max:path) => {
        #[derive(Clone, Copy)]
        pub struct $name($register);

        impl $crate::cpu::kernels::Vector for $name {
            const LANES: usize = $lanes;
            #[inline(always)]
            unsafe fn splat(x: f32) -> Self {
                $name($splat(x))
            }
            #[inline(always)]
            unsafe fn load($p: *const f32) -> Self {
                $name($load)
            }
            #[inline(always)]
            unsafe fn store(self, $q: *mut f32) {
                let $v = self.0;
                $store
            }
            #[inline(always)]
            unsafe fn mul_add(self, a: Self, b: Self) -> Self {
                let ($s, $a, $b) = (self.0, a.0, b.0);
                $name($mul_add)
            }
            #[inline(always)]
            unsafe fn max(self, other: Self) -> Self {
                $name($max(self.0, other.0))
            }
        }
    };
}
pub(crate) use vector;

/// Declares a tier of one kernel family: `NAME = "name", Vector, MR x NV registers of B`
/// and, where the instruction set is detected at run time, `features "f1,f2" if detected`.
/// It makes the const kernel, its entry function compiled with those features (the
/// family's generic tile inlined into it), and its test against a plain-Rust sum
/// (`SKIPPED` where this machine lacks the features). Used through [`micro_kernel!`]
/// (float32) and `dot_kernel!` (int8, see `dot.rs`).
macro_rules! kernel_tier {
    ($kernel:ty, $tile_type:ty, $tile:path, $lanes:expr, $check:path;
     $(#[$doc:meta])* $name:ident = $label:expr, $vector:ty, $mr:literal x $nv:literal $(, features $features:literal if $detected:expr)?) => {
        $(#[$doc])*
        pub const $name: $kernel = {
            $(#[target_feature(enable = $features)])?
            unsafe fn entry(t: &$tile_type) {
                use $tile as generic_tile;
                generic_tile::<$vector, $mr, $nv>(t)
            }
            fn runs_here() -> bool {
                true $(&& $detected)?
            }
            $crate::cpu::kernels::Kernel { name: $label, mr: $mr, nr: $nv * $lanes, run: entry, runs_here }
        };

        #[cfg(test)]
        #[allow(non_snake_case)]
        mod $name {
            #[test]
            fn matches_a_plain_sum() {
                $check(&super::$name);
            }
        }
    };
}
pub(crate) use kernel_tier;

/// Declares a float32 tier (see [`kernel_tier!`]).
macro_rules! micro_kernel {
    ($(#[$doc:meta])* $name:ident = $label:expr, $vector:ty, $($rest:tt)*) => {
        $crate::cpu::kernels::kernel_tier!($crate::cpu::kernels::MicroKernel, $crate::cpu::kernels::Tile,
            $crate::cpu::kernels::tile, <$vector as $crate::cpu::kernels::Vector>::LANES, $crate::cpu::kernels::tests::check;
            $(#[$doc])* $name = $label, $vector, $($rest)*);
    };
}
pub(crate) use micro_kernel;

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

/// A micro-kernel of one family (`T`, the tile it computes: [`Tile`] for float32,
/// [`DotTile`] for int8): its tile size and the function computing one tile.
pub struct Kernel<T: 'static> {
    pub name: &'static str,
    pub mr: usize,
    pub nr: usize,
    run: unsafe fn(&T),
    runs_here: fn() -> bool,
}

/// A float32 GEMM micro-kernel.
pub type MicroKernel = Kernel<Tile>;

impl<T> Clone for Kernel<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Kernel<T> {}

impl<T> Kernel<T> {
    /// # Safety
    /// The pointers of `tile` must be valid for the tile's size (see [`Tile`], [`DotTile`]).
    pub unsafe fn run(&self, tile: &T) {
        (self.run)(tile)
    }

    /// Whether this machine has the kernel's instruction set.
    pub fn runs_here(&self) -> bool {
        (self.runs_here)()
    }
}

impl<T> std::fmt::Debug for Kernel<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}x{}", self.name, self.mr, self.nr)
    }
}

/// The tiers each instruction set's file adds (`plug`), fastest first.
#[derive(Default)]
pub struct Tiers {
    pub float: Vec<MicroKernel>,
    pub int8: Vec<DotKernel>,
}

/// Every tier built for this target, runnable here or not, fastest first in each family.
pub fn tiers() -> Tiers {
    let mut tiers = Tiers::default();
    #[cfg(target_arch = "x86_64")]
    x86::plug(&mut tiers);
    #[cfg(target_arch = "aarch64")]
    arm::plug(&mut tiers);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    wasm::plug(&mut tiers);
    portable::plug(&mut tiers);
    tiers
}

/// Every float32 tier built for this target, runnable here or not, fastest first.
pub fn compiled() -> Vec<MicroKernel> {
    tiers().float
}

/// The registry: the float32 tiers this machine runs, fastest first; the last is the
/// portable one.
pub fn available() -> Vec<MicroKernel> {
    runnable(compiled())
}

/// The fastest float32 tier here.
pub fn best() -> MicroKernel {
    available()[0]
}

/// The environment variable that forces a float32 tier by name.
pub const FORCE: &str = "INCEPTION_CPU_KERNELS";

/// The float32 tier to run: the one `INCEPTION_CPU_KERNELS` names where it is set
/// (natively), else the fastest here. A name this machine cannot run is an error that
/// lists those it can.
pub fn chosen() -> Result<MicroKernel, Error> {
    choose(compiled(), FORCE)
}

/// The float32 tier called `name`, where this machine runs it.
pub fn by_name(name: &str) -> Result<MicroKernel, Error> {
    find(compiled(), name, FORCE)
}

fn runnable<T>(kernels: Vec<Kernel<T>>) -> Vec<Kernel<T>> {
    kernels.into_iter().filter(Kernel::runs_here).collect()
}

/// The tier `variable` names (natively, where it is set), else the fastest of `kernels`
/// that runs here (the portable tier always does).
fn choose<T>(kernels: Vec<Kernel<T>>, variable: &str) -> Result<Kernel<T>, Error> {
    #[cfg(target_arch = "wasm32")]
    let _ = variable; // (a page has no environment)
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(name) = std::env::var(variable) {
        return find(kernels, &name, variable);
    }
    Ok(runnable(kernels)[0])
}

fn find<T>(kernels: Vec<Kernel<T>>, name: &str, variable: &str) -> Result<Kernel<T>, Error> {
    let names = |kernels: &[Kernel<T>]| kernels.iter().map(|k| k.name).collect::<Vec<_>>().join(", ");
    match kernels.iter().find(|k| k.name == name) {
        Some(kernel) if kernel.runs_here() => Ok(*kernel),
        Some(_) => Err(Error::Usage(format!(
            "{variable}={name}: this CPU lacks that instruction set; it runs {}",
            names(&runnable(kernels))
        ))),
        None => Err(Error::Usage(format!("{variable}={name}: no such CPU kernel tier; this build has {}", names(&kernels)))),
    }
}

/// The generic tile, inlined into each instruction set's entry function so that its
/// vector operations compile with that instruction set.
///
/// # Safety
/// As [`MicroKernel::run`], and the instruction set of `V` must be available.
#[inline(always)]
pub unsafe fn tile<V: Vector, const MR: usize, const NV: usize>(t: &Tile) {
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

#[cfg(test)]
pub(crate) mod tests {
    use super::{MicroKernel, Tile};

    /// One tile of `kernel` against the same tile summed in plain f64: every combination of
    /// start (bias or C), ReLU, B read packed or in place (a wider `ldb`), C inside a wider
    /// matrix, and k from 1 to past a block. Prints a SKIPPED line where this machine
    /// cannot run the kernel.
    pub fn check(kernel: &MicroKernel) {
        if !kernel.runs_here() {
            println!("SKIPPED micro-kernel {kernel:?}: this CPU lacks its instruction set");
            return;
        }
        let (mr, nr) = (kernel.mr, kernel.nr);
        let value = |i: usize, salt: usize| ((i * 7919 + salt * 104729) % 2001) as f32 / 1000.0 - 1.0;
        for k in [1, 2, 7, 64, 300] {
            for (accumulate, relu, ldb, ldc) in
                [(false, false, nr, nr), (true, false, nr + 5, nr + 3), (false, true, nr, nr + 1), (true, true, 2 * nr, nr)]
            {
                let a: Vec<f32> = (0..k * mr).map(|i| value(i, 1)).collect();
                let b: Vec<f32> = (0..k * ldb).map(|i| value(i, 2)).collect();
                let bias: Vec<f32> = (0..mr).map(|i| value(i, 3)).collect();
                let start: Vec<f32> = (0..mr * ldc).map(|i| value(i, 4)).collect();
                let mut c = start.clone();
                let tile =
                    Tile { k, a: a.as_ptr(), b: b.as_ptr(), ldb, c: c.as_mut_ptr(), ldc, bias: bias.as_ptr(), accumulate, relu };
                // SAFETY: the buffers are sized for the tile.
                unsafe { kernel.run(&tile) };
                for r in 0..mr {
                    for col in 0..nr {
                        let mut sum = if accumulate { start[r * ldc + col] as f64 } else { bias[r] as f64 };
                        for kk in 0..k {
                            sum += a[kk * mr + r] as f64 * b[kk * ldb + col] as f64;
                        }
                        let want = if relu { sum.max(0.0) } else { sum };
                        let got = c[r * ldc + col] as f64;
                        assert!((got - want).abs() <= 1e-5 * (1.0 + k as f64), "{kernel:?} k {k} ({r}, {col}): {got} vs {want}");
                    }
                    // nothing written past the tile's columns
                    assert_eq!(&c[r * ldc + nr..(r + 1) * ldc], &start[r * ldc + nr..(r + 1) * ldc], "{kernel:?}");
                }
            }
        }
    }

    #[test]
    fn the_registry_ends_with_the_portable_tier_and_refuses_unknown_names() {
        let kernels = super::available();
        assert_eq!(kernels.last().unwrap().name, "portable");
        assert!(kernels.iter().all(MicroKernel::runs_here));
        assert_eq!(super::by_name("portable").unwrap().name, "portable");
        let e = super::by_name("sse1").unwrap_err().to_string();
        assert!(e.contains("no such CPU kernel tier") && e.contains("portable"), "{e}");
    }
}
