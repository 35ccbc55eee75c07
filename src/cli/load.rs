//! What the subcommands share: the weights file, the class names and a loaded network on
//! the backend asked for (or the one measured faster here, remembered between runs).

use super::Args;
use inception::backend::{self, Backend, Choice, Engine};
use inception::network::Options;
use inception::tensors::Precision;
use inception::{labels, CpuOptions, Error, Gpu, Model, Variant};
use std::path::{Path, PathBuf};

pub(super) fn weights_path(args: &Args) -> Result<PathBuf, Error> {
    if let Some(p) = &args.weights {
        return Ok(p.clone());
    }
    let file = args.model.unwrap_or(Variant::Bvlc).info().weights_file;
    match std::env::var_os("INCEPTION_WEIGHTS") {
        Some(dir) => Ok(Path::new(&dir).join(file)),
        None => Err(Error::Usage(format!(
            "no weights given: pass --weights FILE, or set INCEPTION_WEIGHTS to a folder holding {file}"
        ))),
    }
}

pub(super) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Usage(format!("cannot read {what} {}: {e}", path.display())))
}

pub(super) fn read_labels(args: &Args) -> Result<Option<Vec<String>>, Error> {
    let Some(path) = &args.labels else { return Ok(None) };
    let text = String::from_utf8(read_file(path, "labels file")?)
        .map_err(|_| Error::Usage(format!("the labels file {} is not UTF-8 text", path.display())))?;
    Ok(Some(labels::parse(&text)))
}

/// A loaded network on the backend asked for, or the one measured faster here.
pub(super) struct Loaded {
    pub gpu: Option<Gpu>,
    pub model: Model,
    pub engine: Engine,
    pub choice: Choice,
    pub names: Vec<String>,
}

pub(super) async fn load(args: &Args) -> Result<Loaded, Error> {
    let path = weights_path(args)?;
    let in_file = |e: inception::WeightsError| Error::Usage(format!("{}: {}", path.display(), Error::from(e)));
    let bytes = read_file(&path, "weights file")?;
    let model = Model::load(&bytes, args.model).map_err(in_file)?;
    let names = labels::choose(read_labels(args)?, inception::convert::embedded_labels(&bytes), model.graph.num_classes())
        .map_err(in_file)?;
    let gpu_options = Options { precision: if args.half { Precision::F16 } else { Precision::F32 }, ..Options::default() };
    let (compute, why) = args.compute.resolve(&model, &inception::cpu::kernels::dot::chosen()?);
    if args.backend != Some(Backend::Gpu) {
        eprintln!("compute: {} ({why})", compute.name());
    }
    let cpu_options = CpuOptions { threads: args.threads, compute, ..CpuOptions::default() };
    let gpu = match args.backend {
        Some(Backend::Cpu) => None,
        Some(Backend::Gpu) => Some(Gpu::new().await?),
        None => Gpu::new().await.map_err(|e| eprintln!("no GPU: {e}")).ok(),
    };
    let (mut engine, choice) = match (args.backend, &gpu) {
        (Some(backend), _) => (Engine::new(backend, gpu.as_ref(), &model, gpu_options, cpu_options)?, Choice::forced(backend)),
        (None, None) => (Engine::new(Backend::Cpu, None, &model, gpu_options, cpu_options)?, Choice::no_adapter("none found")),
        (None, Some(gpu)) => {
            let key = format!(
                "{} | {} | {:?} | {:?} threads | {}",
                gpu.describe(),
                model.variant,
                gpu_options.precision,
                args.threads,
                compute.name()
            );
            match saved_choice(&key) {
                Some(choice) => (Engine::new(choice.backend, Some(gpu), &model, gpu_options, cpu_options)?, choice),
                None => {
                    let side = model.graph.input_spec.crop;
                    let image = inception::synthetic::image(side, side);
                    let measured = (&image[..], side, side);
                    let (engine, choice) =
                        backend::choose_by_measuring(gpu, &model, gpu_options, cpu_options, measured, 3).await?;
                    save_choice(&key, &choice);
                    (engine, choice)
                }
            }
        }
    };
    if let Engine::Gpu(network) = &mut engine {
        if args.command != "bench" {
            network.release_unused_kernels(); // bench may tune first
        }
    }
    eprintln!("backend: {} ({}): {}", choice.backend.name(), choice.reason, engine.describe(gpu.as_ref()));
    Ok(Loaded { gpu, model, engine, choice, names })
}

/// Where the measured choices of backend are kept: one JSON object, keyed by adapter,
/// model, precision and threads.
pub(super) fn choices_file() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
    Some(cache.join("inception/backend-choices.json"))
}

/// The choice measured on an earlier run for `key`, if any (a damaged file is ignored).
pub(super) fn saved_choice(key: &str) -> Option<Choice> {
    let file = choices_file()?;
    let all: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
    let saved = &all[key];
    let backend: Backend = saved["backend"].as_str()?.parse().ok()?;
    let (gpu_ms, cpu_ms) = (saved["gpuMs"].as_f64()?, saved["cpuMs"].as_f64()?);
    let reason = format!(
        "measured on an earlier run: GPU {gpu_ms:.1} ms, CPU {cpu_ms:.1} ms per image; delete {} to measure again",
        file.display()
    );
    Some(Choice { backend, reason, gpu_ms: Some(gpu_ms), cpu_ms: Some(cpu_ms) })
}

/// Keeps a measured choice for later runs (silently not, where the cache cannot be written).
pub(super) fn save_choice(key: &str, choice: &Choice) {
    let Some(file) = choices_file() else { return };
    let mut all: serde_json::Value =
        std::fs::read(&file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(serde_json::json!({}));
    if !all.is_object() {
        all = serde_json::json!({});
    }
    all[key] = serde_json::json!({"backend": choice.backend.name(), "gpuMs": choice.gpu_ms, "cpuMs": choice.cpu_ms});
    let _ = std::fs::create_dir_all(file.parent().unwrap());
    let _ = std::fs::write(&file, serde_json::to_vec_pretty(&all).unwrap());
}
