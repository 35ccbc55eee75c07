//! x86-64 tiers, detected at run time: AVX-512 (Skylake-X, Ice Lake, Zen 4 and later) and
//! AVX2 + FMA (Haswell, Zen 1 and later).

use super::{micro_kernel, vector, MicroKernel};
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

pub fn plug(kernels: &mut Vec<MicroKernel>) {
    kernels.extend([AVX512, AVX2_FMA]);
}
