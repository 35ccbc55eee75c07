//! The CPU backend's one parallel loop, on rayon's pool: natively all cores (or the pool
//! a [`super::CpuNetwork`] installs for a given thread count); in the browser the pool of
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
