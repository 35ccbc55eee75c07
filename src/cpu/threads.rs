//! The CPU backend's one parallel loop. Natively rayon's pool (all cores, or the pool a
//! [`super::CpuNetwork`] installs for a given thread count); in wasm one thread, until the
//! page can run wasm threads. Tasks never depend on which thread runs them, so the
//! results are the same for any thread count.

/// Threads the current pool runs tasks on.
pub fn count() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    return rayon::current_num_threads();
    #[cfg(target_arch = "wasm32")]
    1
}

/// Runs `task(0..tasks)`, in parallel where there are threads.
pub fn for_each(tasks: usize, task: impl Fn(usize) + Sync + Send) {
    #[cfg(not(target_arch = "wasm32"))]
    {
        use rayon::prelude::*;
        (0..tasks).into_par_iter().for_each(task);
    }
    #[cfg(target_arch = "wasm32")]
    (0..tasks).for_each(task);
}
