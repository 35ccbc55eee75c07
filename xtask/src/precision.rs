//! Which precision the site ships for a model: the smallest (int8, then float16, then
//! float32) whose predictions hold against float32 on check photos, or the one asked for.
//! An int8 file is also calibrated on the check photos for int8 compute (`convert
//! --calibrate`), and checked computing in int8; where that does not hold, the same int8
//! weights without calibration (the CPU then computes them in float32) are checked next.
//! The conversions and the predictions come from the native program (`inception convert`,
//! `inception classify --backend cpu --json`), so the check runs the engine the page runs.

use crate::{cargo, root, run, stdout_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A precision of the site's weights files: `auto` is the smallest that holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    Auto,
    Float32,
    Float16,
    Int8,
}

impl Precision {
    pub fn parse(name: &str) -> Result<Precision, String> {
        Ok(match name {
            "auto" => Precision::Auto,
            "float32" | "f32" => Precision::Float32,
            "float16" | "f16" => Precision::Float16,
            "int8" => Precision::Int8,
            other => return Err(format!("--precision takes auto, float32, float16 or int8, not `{other}`")),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::Float32 => "float32",
            Precision::Float16 => "float16",
            Precision::Int8 => "int8",
        }
    }

    fn convert_flag(self) -> Option<&'static str> {
        match self {
            Precision::Float16 => Some("--f16"),
            Precision::Int8 => Some("--int8"),
            Precision::Auto | Precision::Float32 => None,
        }
    }
}

/// How far a smaller precision's logits may be from float32's on a check photo, as a
/// fraction of float32's logit range (largest minus smallest logit). int8 weights measured
/// 0.10-0.24 on BVLC GoogLeNet's four reference crops, at most 0.96% of the range; twice
/// that is allowed, as in tests/bvlc_real.rs; float16 measured 0.02%. Top-1 and the top-5
/// set must be the same too.
const LOGIT_TOLERANCE: f64 = 0.02;

/// The same for int8 compute, where every convolution's input is rounded too: on the 8
/// shared check photos (calibrated on them) 1.1-2.7% of the range, with the same top-5 in
/// the same order; photos not calibrated on measured up to 2.5% (tests/bvlc_real.rs allows
/// 5%, as here). ORT's own int8 model is further off: 3.90 in logits on the tiger-cat crop
/// against our 0.23.
const INT8_COMPUTE_TOLERANCE: f64 = 0.05;

/// A weights file for the site: `(path, precision, why)`. `file` is float32 (what
/// `fetch-weights` writes, or the shared weights); the result lies in `scratch`.
pub fn site_file(
    file: &Path,
    model: &str,
    wanted: Precision,
    photos: &[PathBuf],
    scratch: &Path,
) -> Result<(PathBuf, Precision, String), String> {
    let candidates: &[(Precision, Calibrated)] = match wanted {
        Precision::Auto if photos.is_empty() => {
            return Ok((file.to_path_buf(), Precision::Float32, "no check photos to verify a smaller precision".into()));
        }
        Precision::Auto => &[(Precision::Int8, true), (Precision::Int8, false), (Precision::Float16, false)],
        Precision::Float32 => return Ok((file.to_path_buf(), Precision::Float32, "asked for".into())),
        other => {
            let calibrated = other == Precision::Int8 && !photos.is_empty();
            let why = if calibrated { "asked for; calibrated for int8 compute on the check photos" } else { "asked for" };
            return Ok((convert(file, model, other, calibrated.then_some(photos), scratch)?, other, why.into()));
        }
    };
    let reference = predictions(file, photos)?;
    let mut refused = Vec::new();
    for &(precision, calibrated) in candidates {
        let converted = convert(file, model, precision, calibrated.then_some(photos), scratch)?;
        let what = if calibrated { format!("{} computing in int8", precision.name()) } else { precision.name().into() };
        let tolerance = if calibrated { INT8_COMPUTE_TOLERANCE } else { LOGIT_TOLERANCE };
        match agreement(&reference, &predictions(&converted, photos)?, tolerance) {
            Ok(worst) => {
                let compute = if calibrated { ", computing in int8, calibrated on them" } else { "" };
                let why =
                    format!("holds on {} photos{compute} (worst logit error {:.1}% of the range)", photos.len(), 100.0 * worst);
                return Ok((converted, precision, why));
            }
            Err(e) => refused.push(format!("{what}: {e}")),
        }
    }
    Ok((file.to_path_buf(), Precision::Float32, format!("smaller precisions did not hold ({})", refused.join("; "))))
}

/// Photos to check precisions on: image files in `dir`.
pub fn photos_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    found
        .retain(|p| p.extension().is_some_and(|e| ["jpg", "jpeg", "png"].contains(&e.to_string_lossy().to_lowercase().as_str())));
    found.sort();
    found
}

fn program() -> Result<PathBuf, String> {
    run(cargo().args(["build", "--release", "--bin", "inception"]))?;
    Ok(root().join("target/release/inception"))
}

/// Whether an int8 file carries the input ranges int8 compute needs.
type Calibrated = bool;

/// `file` converted to `precision`, calibrated for int8 compute on `calibrate` where given.
fn convert(
    file: &Path,
    model: &str,
    precision: Precision,
    calibrate: Option<&[PathBuf]>,
    scratch: &Path,
) -> Result<PathBuf, String> {
    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
    let suffix = if calibrate.is_some() { ".calibrated" } else { "" };
    let out = scratch.join(format!("{stem}.{}{suffix}.safetensors", precision.name()));
    let mut convert = Command::new(program()?);
    convert.args(["convert", "--model", model]).args(precision.convert_flag());
    for photo in calibrate.unwrap_or_default() {
        convert.arg("--calibrate").arg(photo);
    }
    run(convert.arg(file).arg(&out))?;
    Ok(out)
}

/// Each photo's logits, on the CPU backend, in int8 where the file is calibrated for it
/// (float32 where not, as the page computes it).
fn predictions(weights: &Path, photos: &[PathBuf]) -> Result<Vec<Vec<f64>>, String> {
    let classify = ["classify", "--backend", "cpu", "--compute", "int8", "--json", "--weights"];
    let stdout = stdout_of(Command::new(program()?).args(classify).arg(weights).args(photos))?;
    let json: serde_json::Value = serde_json::from_slice(&stdout).map_err(|e| e.to_string())?;
    let results = json.as_array().ok_or("inception classify --json printed no list")?;
    results
        .iter()
        .map(|r| {
            let logits = r["logits"].as_array().ok_or("a result without logits")?;
            Ok(logits.iter().filter_map(|v| v.as_f64()).collect())
        })
        .collect()
}

/// The worst logit error as a fraction of the logit range, or why the predictions differ.
fn agreement(reference: &[Vec<f64>], other: &[Vec<f64>], tolerance: f64) -> Result<f64, String> {
    let top5 = |l: &[f64]| {
        let mut order: Vec<usize> = (0..l.len()).collect();
        order.sort_by(|&a, &b| l[b].total_cmp(&l[a]));
        order.truncate(5);
        order
    };
    let mut worst = 0f64;
    for (i, (a, b)) in reference.iter().zip(other).enumerate() {
        let (ta, tb) = (top5(a), top5(b));
        let mut sorted = (ta.clone(), tb.clone());
        sorted.0.sort();
        sorted.1.sort();
        if ta[0] != tb[0] || sorted.0 != sorted.1 {
            return Err(format!("photo {} has top-5 {tb:?} instead of {ta:?}", i + 1));
        }
        let range = a.iter().cloned().fold(f64::MIN, f64::max) - a.iter().cloned().fold(f64::MAX, f64::min);
        let error = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max) / range;
        if error > tolerance {
            return Err(format!("photo {}: logit error {:.1}% of the range", i + 1, 100.0 * error));
        }
        worst = worst.max(error);
    }
    Ok(worst)
}
