//! `inception info`: the CPU kernel tiers this machine runs (float32 and int8), and the
//! GPU adapter, its features and limits.

use inception::cpu::kernels::{self, dot, Kernel};
use inception::{Error, Gpu};

/// One family's tiers: those that run here (fastest first), those that don't, the chosen.
fn tiers<T>(family: &str, compiled: Vec<Kernel<T>>, chosen: Kernel<T>, force: &str) {
    let names = |kernels: &[Kernel<T>]| kernels.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
    let (here, missing): (Vec<_>, Vec<_>) = compiled.into_iter().partition(|k| k.runs_here());
    println!("          {family} tiers, fastest first: {}", names(&here));
    if !missing.is_empty() {
        println!("            not on this CPU: {}", names(&missing));
    }
    println!("            running: {chosen:?} ({force} forces a tier by name)");
}

pub(super) async fn run() -> Result<(), Error> {
    println!("cpu       {} threads", inception::parallel::count());
    tiers("float32", kernels::compiled(), kernels::chosen()?, kernels::FORCE);
    tiers("int8", dot::compiled(), dot::chosen()?, dot::FORCE);
    let gpu = Gpu::new().await?;
    println!("adapter   {}", gpu.describe());
    println!("features  {:?}", gpu.adapter_features);
    println!("limits    {:#?}", gpu.adapter_limits);
    Ok(())
}
