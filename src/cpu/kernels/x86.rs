//! x86-64 tiers, detected at run time. Float32: AVX-512 (Skylake-X, Ice Lake, Zen 4 and
//! later) and AVX2 + FMA (Haswell, Zen 1 and later). Int8: AVX512-VNNI (Cascade Lake, Ice
//! Lake, Zen 4), AVX-VNNI (Alder Lake, Zen 5) and AVX2.

use super::dot::dot_kernel;
use super::{micro_kernel, vector, DotVector, Tiers};
use std::arch::x86_64::*;

vector!(Avx(__m256), 8, splat: _mm256_set1_ps, load: |p| _mm256_loadu_ps(p), store: |p, v| _mm256_storeu_ps(p, v),
    mul_add: |s, a, b| _mm256_fmadd_ps(a, b, s), max: _mm256_max_ps);

vector!(Avx512(__m512), 16, splat: _mm512_set1_ps, load: |p| _mm512_loadu_ps(p), store: |p, v| _mm512_storeu_ps(p, v),
    mul_add: |s, a, b| _mm512_fmadd_ps(a, b, s), max: _mm512_max_ps);

micro_kernel! {
    /// 16 x 16: 16 sums, one row of B and a broadcast in AVX-512's 32 registers (NR stays
    /// 16, the most the GEMM's blocks hold).
    AVX512 = "avx512", Avx512, 16 x 1, features "avx512f" if std::is_x86_feature_detected!("avx512f")
}

micro_kernel! {
    /// 6 x 16: 12 sums, 2 of B and a broadcast in 16 registers.
    AVX2_FMA = "avx2+fma", Avx, 6 x 2,
        features "avx2,fma" if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
}

/// Implements [`DotVector`] for a register of 32-bit lanes: its load, broadcast of 32
/// bits, store, and the dot product `|sum, b, a| ...` (b: four u8 per lane, a: four i8).
macro_rules! dot_vector {
    ($name:ident($register:ty), $lanes:expr, load: $load:path, splat: $splat:path, store: $store:path,
     dot_add: |$s:ident, $b:ident, $a:ident| $dot:expr) => {
        #[derive(Clone, Copy)]
        pub struct $name($register);

        impl DotVector for $name {
            const LANES: usize = $lanes;
            type B = $register;
            type A = $register;
            #[inline(always)]
            unsafe fn zero() -> Self {
                $name($splat(0))
            }
            #[inline(always)]
            unsafe fn load(p: *const u8) -> $register {
                $load(p as *const _)
            }
            #[inline(always)]
            unsafe fn splat(p: *const i8) -> $register {
                $splat(std::ptr::read_unaligned(p as *const i32))
            }
            #[inline(always)]
            unsafe fn dot_add(self, $b: $register, $a: $register) -> Self {
                let $s = self.0;
                $name($dot)
            }
            #[inline(always)]
            unsafe fn store(self, p: *mut i32) {
                $store(p as *mut _, self.0)
            }
        }
    };
}

dot_vector!(Vnni512(__m512i), 16, load: _mm512_loadu_si512, splat: _mm512_set1_epi32, store: _mm512_storeu_si512,
    dot_add: |s, b, a| _mm512_dpbusd_epi32(s, b, a));

dot_vector!(Vnni256(__m256i), 8, load: _mm256_loadu_si256, splat: _mm256_set1_epi32, store: _mm256_storeu_si256,
    dot_add: |s, b, a| _mm256_dpbusd_avx_epi32(s, b, a));

// Pairs of products summed in i16 (exact: 7-bit activations, see `dot.rs`), then pairs of
// those in i32.
dot_vector!(Madd256(__m256i), 8, load: _mm256_loadu_si256, splat: _mm256_set1_epi32, store: _mm256_storeu_si256,
    dot_add: |s, b, a| _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(b, a), _mm256_set1_epi16(1))));

dot_kernel! {
    /// 16 x 16: 16 sums, one row of B and a broadcast in AVX-512's 32 registers.
    AVX512_VNNI = "avx512-vnni", Vnni512, 16 x 1,
        features "avx512f,avx512vnni" if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512vnni")
}

dot_kernel! {
    /// 6 x 16: 12 sums, 2 of B and a broadcast in 16 registers.
    AVX_VNNI = "avx-vnni", Vnni256, 6 x 2,
        features "avx2,avxvnni" if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("avxvnni")
}

dot_kernel! {
    /// 4 x 16: 8 sums, 2 of B, a broadcast, the ones and a product in 16 registers.
    AVX2_INT8 = "avx2", Madd256, 4 x 2, features "avx2" if std::is_x86_feature_detected!("avx2")
}

pub fn plug(tiers: &mut Tiers) {
    tiers.float.extend([AVX512, AVX2_FMA]);
    tiers.int8.extend([AVX512_VNNI, AVX_VNNI, AVX2_INT8]);
}
