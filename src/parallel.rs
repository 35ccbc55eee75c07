//! The host's one parallel loop, on rayon's pool: natively all cores (or the pool
//! a `cpu::CpuNetwork` installs for a given thread count); in the browser the pool of
//! web workers `initThreadPool` starts in the wasm build with threads (atomics), and one
//! thread in the plain wasm build. Tasks never depend on which thread runs them, so the
//! results are the same for any thread count.

/// Threads the current pool runs tasks on.
pub fn count() -> usize {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    return rayon::current_num_threads();
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    1
}

/// Runs `task(0..tasks)`, in parallel where there are threads.
pub fn for_each(tasks: usize, task: impl Fn(usize) + Sync + Send) {
    #[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
    {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each(task);
    }
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    (0..tasks).for_each(task);
}

/// Runs `f` compiled for AVX2 where this CPU has it (x86-64; elsewhere as built), for a
/// plain loop that vectorises twice as wide as with the default x86-64 target's SSE2
/// (BVLC's LRN layers: 0.20 and 0.63 -> 0.13 and 0.39 ms). Mark the closure
/// `#[inline(always)]`, else its body stays SSE2; keep it to loops that measured faster,
/// as code around it can lose inlining (the pools ran 2-3x slower wrapped whole). IEEE
/// arithmetic, never fused without FMA enabled, so the bits are the same.
#[inline(always)]
pub fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has AVX2.
        return unsafe { avx2(f) };
    }
    f()
}

/// A mutable slice that parallel tasks write in disjoint chunks of `chunk` values.
pub struct Disjoint<'a, T = f32> {
    data: *mut T,
    len: usize,
    chunk: usize,
    _slice: std::marker::PhantomData<&'a mut [T]>,
}

unsafe impl<T: Send> Sync for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub fn new(data: &'a mut [T], chunk: usize) -> Disjoint<'a, T> {
        Disjoint { data: data.as_mut_ptr(), len: data.len(), chunk, _slice: std::marker::PhantomData }
    }

    /// Chunk `i` (the last may be shorter).
    ///
    /// # Safety
    /// No two live references may be to the same chunk.
    #[allow(clippy::mut_from_ref, reason = "disjoint chunks of one exclusive borrow, one per task")]
    pub unsafe fn get(&self, i: usize) -> &mut [T] {
        let start = (i * self.chunk).min(self.len);
        let end = (start + self.chunk).min(self.len);
        std::slice::from_raw_parts_mut(self.data.add(start), end - start)
    }

    /// `len` values from `start`, for tasks whose parts are not whole chunks (Winograd's
    /// input transform writes runs of a channel's tiles at a stride).
    ///
    /// # Safety
    /// The run must lie inside the slice, and no two live references may overlap.
    #[allow(clippy::mut_from_ref, reason = "disjoint runs of one exclusive borrow, one per task")]
    pub unsafe fn range(&self, start: usize, len: usize) -> &mut [T] {
        assert!(start + len <= self.len, "a run outside the slice");
        std::slice::from_raw_parts_mut(self.data.add(start), len)
    }
}
