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
