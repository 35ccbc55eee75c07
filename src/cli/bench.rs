//! `inception bench`: milliseconds per image, memory held, and the per-layer table.

use super::images::read_image;
use super::load::{load, Loaded};
use super::Args;
use inception::backend::{Backend, Engine};
use inception::Error;
use std::time::Instant;

pub(super) async fn run(args: &Args) -> Result<(), Error> {
    let Loaded { gpu, model, mut engine, choice, .. } = load(args).await?;
    match args.files.first() {
        Some(path) => {
            let img = read_image(path)?;
            engine.set_image(img.as_raw(), img.width(), img.height())?;
        }
        None => {
            let side = model.graph.input_spec.crop;
            engine.set_image(&inception::synthetic::image(side, side), side, side)?
        }
    }
    let mut wall = Vec::new();
    let mut encode = Vec::new();
    let mut gpu_time = Vec::new();
    let mut after_warmup = Held::now();
    match &mut engine {
        Engine::Gpu(network) => {
            let gpu = gpu.as_ref().expect("a GPU engine has a GPU");
            if let Some(kernel) = args.conv {
                network.set_conv_kernel(kernel);
            }
            if args.autotune {
                let start = Instant::now();
                let chosen = network.autotune().await?;
                let kernels = chosen.summary();
                println!("autotune     {:.0} ms; kernels chosen: {kernels}", start.elapsed().as_secs_f64() * 1e3);
            }
            network.release_unused_kernels();
            for i in 0..args.warmup + args.runs {
                if i == args.warmup {
                    after_warmup = Held::now();
                }
                let start = Instant::now();
                let (commands, ticket) = network.encode(false)?;
                let encoded = start.elapsed();
                gpu.queue.submit([commands]);
                let out = network.read_output(ticket).await?;
                if i >= args.warmup {
                    wall.push(start.elapsed().as_secs_f64() * 1e3);
                    encode.push(encoded.as_secs_f64() * 1e3);
                    gpu_time.extend(out.gpu_ms);
                }
            }
        }
        Engine::Cpu(network) => {
            for i in 0..args.warmup + args.runs {
                if i == args.warmup {
                    after_warmup = Held::now();
                }
                let start = Instant::now();
                network.run(false)?;
                if i >= args.warmup {
                    wall.push(start.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
    }
    let at_end = Held::now();
    let s = engine.stats();
    println!("backend      {} ({})", choice.backend.name(), choice.reason);
    println!("device       {}", engine.describe(gpu.as_ref()));
    let precision = match &engine {
        Engine::Gpu(n) => format!("{:?}", n.precision()),
        Engine::Cpu(_) => "F32".into(),
    };
    println!(
        "model        {} ({} classes), {precision} weights, {} runs after {} warm-up",
        model.variant,
        model.graph.num_classes(),
        args.runs,
        args.warmup
    );
    println!("end to end   {}", summary(&mut wall));
    if let Engine::Gpu(_) = engine {
        println!("CPU encode   {}", summary(&mut encode));
        if gpu_time.is_empty() {
            println!("GPU time     (no timestamp queries on this adapter)");
        } else {
            println!("GPU time     {}", summary(&mut gpu_time));
        }
    }
    let median = wall[wall.len() / 2];
    println!(
        "work         {:.2} G multiply-adds per image, {:.1} GFLOP/s end to end",
        s.multiply_adds as f64 / 1e9,
        2.0 * s.multiply_adds as f64 / (median * 1e6)
    );
    let steps = if engine.backend() == Backend::Gpu { "dispatches" } else { "layers" };
    println!(
        "memory       {:.1} MB weights, {:.1} MB activations, {} {steps} per image",
        s.weight_bytes as f64 / 1e6,
        s.activation_bytes as f64 / 1e6,
        s.dispatches
    );
    println!("held         after warm-up: {after_warmup}");
    println!("             after the last run: {at_end}");
    if args.per_layer {
        per_layer(&mut engine, args.runs).await?;
    }
    Ok(())
}

/// What the process holds: resident memory (Linux) and the live GPU objects, which
/// `bench` reports after the warm-up and after the last run, so a long run shows growth.
pub(super) struct Held {
    resident_kb: Option<u64>,
    objects: inception::gpu_objects::LiveObjects,
}

impl Held {
    fn now() -> Held {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let resident_kb = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
        Held { resident_kb, objects: inception::gpu_objects::live() }
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self.resident_kb {
            Some(kb) => write!(f, "{:.1} MB resident", kb as f64 / 1024.0)?,
            None => write!(f, "resident memory unknown (no /proc)")?,
        }
        let o = &self.objects;
        write!(
            f,
            "; GPU objects: {} buffers, {} textures, {} bind groups, {} query sets",
            o.buffers, o.textures, o.bind_groups, o.query_sets
        )
    }
}

/// The per-layer table: median milliseconds of each layer over `runs` passes (on the
/// GPU each timed alone with timestamp queries, on the CPU in a pass).
pub(super) async fn per_layer(engine: &mut Engine, runs: usize) -> Result<(), Error> {
    let mut samples: Vec<Vec<inception::plan::LayerTime>> = Vec::new();
    for _ in 0..runs {
        samples.push(engine.profile().await?);
    }
    let median = |i: usize| {
        let mut v: Vec<f64> = samples.iter().map(|s| s[i].ms).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let layers = &samples[0];
    let medians: Vec<f64> = (0..layers.len()).map(median).collect();
    let total: f64 = medians.iter().sum();
    let heading = if engine.backend() == Backend::Gpu { "layer (timed alone)" } else { "layer (within a pass)" };
    println!("\n{:<28} {:>9} {:>7} {:>9}  kernel", heading, "ms", "share", "GFLOP/s");
    for (layer, ms) in layers.iter().zip(&medians) {
        let gflops = if layer.multiply_adds > 0 {
            format!("{:9.2}", 2.0 * layer.multiply_adds as f64 / (ms * 1e6))
        } else {
            format!("{:>9}", "-")
        };
        let kernel = layer.kernel.as_deref().unwrap_or("-");
        println!("{:<28} {:9.3} {:6.1}% {gflops}  {kernel}", layer.label, ms, 100.0 * ms / total);
    }
    println!("{:<28} {:9.3}", "sum", total);
    Ok(())
}

/// "median M ms (min A, max B, n N)"; sorts `v`.
pub(super) fn summary(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    format!("median {:.3} ms  (min {:.3}, max {:.3}, n {})", v[v.len() / 2], v[0], v[v.len() - 1], v.len())
}
