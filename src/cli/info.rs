//! `inception info`: the CPU kernel tiers this machine runs, and the GPU adapter, its
//! features and limits.

use inception::cpu::kernels;
use inception::{Error, Gpu};

pub(super) async fn run() -> Result<(), Error> {
    let names = |kernels: &[kernels::MicroKernel]| kernels.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
    let (here, missing): (Vec<_>, Vec<_>) = kernels::compiled().into_iter().partition(|k| k.runs_here());
    println!("cpu       {} threads; kernel tiers, fastest first: {}", inception::parallel::count(), names(&here));
    if !missing.is_empty() {
        println!("          not on this CPU: {}", names(&missing));
    }
    println!("          running: {:?} ({} forces a tier by name)", kernels::chosen()?, kernels::FORCE);
    let gpu = Gpu::new().await?;
    println!("adapter   {}", gpu.describe());
    println!("features  {:?}", gpu.adapter_features);
    println!("limits    {:#?}", gpu.adapter_limits);
    Ok(())
}
