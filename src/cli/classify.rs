//! `inception classify`: the top classes of each image, as text or JSON, with activation maps.

use super::images::{image_files, read_image};
use super::load::{load, Loaded};
use super::{Args, USAGE};
use inception::{Classification, Error};
use std::path::Path;
use std::time::Instant;

pub(super) async fn run(args: &Args) -> Result<(), Error> {
    let files = image_files(&args.files)?;
    if files.is_empty() {
        return Err(Error::Usage(format!("classify needs at least one image\n\n{USAGE}")));
    }
    let Loaded { mut engine, names, model, .. } = load(args).await?;
    if args.cam || args.cam_out.is_some() {
        engine.set_cams(true)?;
    }
    if let Some(dir) = &args.cam_out {
        std::fs::create_dir_all(dir).map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    let crop = model.graph.input_spec.crop;
    let mut results = Vec::new();
    let (mut failed, mut decode_ms, mut classify_ms) = (0, 0.0, 0.0);
    let start = Instant::now();
    for path in &files {
        let decoding = Instant::now();
        let img = match read_image(path) {
            Ok(img) => img,
            // one bad file in a folder is reported, and the others still classified
            Err(e) if files.len() > 1 => {
                eprintln!("error: {e}");
                failed += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        decode_ms += decoding.elapsed().as_secs_f64() * 1e3;
        let classifying = Instant::now();
        let out = engine.classify(img.as_raw(), img.width(), img.height(), args.json).await?;
        classify_ms += classifying.elapsed().as_secs_f64() * 1e3;
        let mut classification = Classification::new(out, &names);
        if let Some(dir) = &args.cam_out {
            write_cam_overlays(dir, path, &img, &model.graph.input_spec, &classification)?;
        }
        classification.cams_over_crop(crop);
        if args.json {
            let mut json = classification.to_json();
            json["image"] = path.display().to_string().into();
            json["backend"] = engine.backend().name().into();
            results.push(json);
        } else {
            println!("{}:", path.display());
            for p in &classification.top {
                let seen =
                    p.cam.as_ref().map(|m| m.peak()).map(|(x, y)| format!(", seen most at ({x}, {y}) of the {crop}x{crop} crop"));
                println!("  {:6.2}%  {} ({}){}", 100.0 * p.probability, p.label, p.index, seen.unwrap_or_default());
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results).unwrap());
    }
    let done = files.len() - failed;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "{done} images in {seconds:.2} s: {:.1} images/s on the {} ({:.1} ms decoding, {:.1} ms classifying per image)",
        done as f64 / seconds,
        engine.backend().name().to_uppercase(),
        decode_ms / done.max(1) as f64,
        classify_ms / done.max(1) as f64
    );
    if failed > 0 {
        return Err(Error::Image(format!("{failed} of {} files could not be read", files.len())));
    }
    Ok(())
}

/// Writes, for each ranked class, its activation map over the part of `img` the network
/// sees (at most 1024 pixels a side), blended at 60% with the map's own alpha.
pub(super) fn write_cam_overlays(
    dir: &Path,
    path: &Path,
    img: &image::RgbaImage,
    spec: &inception::graph::InputSpec,
    classification: &Classification,
) -> Result<(), Error> {
    const OPACITY: f32 = 0.6;
    let [x, y, w, h] = spec.geometry(img.width(), img.height()).source_rect(spec.crop);
    let (x, y) = (x.round() as u32, y.round() as u32);
    let (w, h) = ((w.round() as u32).min(img.width() - x).max(1), (h.round() as u32).min(img.height() - y).max(1));
    let shrink = (1024.0 / w.max(h) as f32).min(1.0);
    let (ow, oh) = (((w as f32 * shrink).round() as u32).max(1), ((h as f32 * shrink).round() as u32).max(1));
    let region = image::imageops::crop_imm(img, x, y, w, h).to_image();
    let base = image::imageops::resize(&region, ow, oh, image::imageops::FilterType::Triangle);
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into());
    for (rank, p) in classification.top.iter().enumerate() {
        let Some(cam) = &p.cam else { continue };
        let heat = cam.resized(ow, oh).normalized().heat_rgba();
        let mut out = base.clone();
        for (pixel, color) in out.pixels_mut().zip(heat.chunks_exact(4)) {
            let a = OPACITY * color[3] as f32 / 255.0;
            for c in 0..3 {
                pixel[c] = (pixel[c] as f32 * (1.0 - a) + color[c] as f32 * a).round() as u8;
            }
            pixel[3] = 255;
        }
        let label: String = p.label.chars().map(|c| if c.is_alphanumeric() { c } else { '_' }).take(40).collect();
        let file = dir.join(format!("{stem}.cam{}.{label}.png", rank + 1));
        out.save(&file).map_err(|e| Error::Usage(format!("cannot write {}: {e}", file.display())))?;
    }
    Ok(())
}
