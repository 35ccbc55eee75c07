//! The native program as users run it.

mod common;

use std::process::Command;

fn inception(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inception")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// `inception classify --json ARGS`, which must succeed: its document.
fn classify_json(args: &[&str]) -> serde_json::Value {
    let (ok, stdout, stderr) = inception(&[&["classify", "--json"], args].concat());
    assert!(ok, "{args:?}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

/// A fresh folder of this test process's own under the temporary directory.
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("inception-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn shared(path: &str) -> String {
    common::shared().join(path).display().to_string()
}

#[test]
fn classify_prints_pug_first_and_json_with_logits() {
    if common::real_weights("classify_prints_pug_first_and_json_with_logits", "bvlc_googlenet.safetensors").is_none() {
        return;
    }
    let (ok, stdout, stderr) = inception(&["classify", "--model", "bvlc", &shared("images/pug.jpg")]);
    assert!(ok, "{stderr}");
    let first = stdout.lines().nth(1).unwrap();
    assert!(first.ends_with(" pug (254)"), "{stdout}");

    let (ok, stdout, stderr) = inception(&["classify", "--json", &shared("images/tiger_cat.224.png"), &shared("images/pug.jpg")]);
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2);
    assert_eq!(doc[0]["top"][0]["label"], "tiger cat");
    assert_eq!(doc[0]["top"][0]["index"], 282);
    assert_eq!(doc[0]["logits"].as_array().unwrap().len(), 1000);
    assert_eq!(doc[1]["top"][0]["label"], "pug");
}

#[test]
fn clear_errors_for_bad_input() {
    let dir = scratch_dir("cli");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let text = text.display().to_string();

    let (ok, _, stderr) = inception(&["classify", "--weights", &text, &text]);
    assert!(!ok && stderr.contains("weights file error") && stderr.contains("notes.txt"), "{stderr}");
    let (ok, _, stderr) = inception(&["classify", "--weights", "/nonexistent/w.safetensors", &text]);
    assert!(!ok && stderr.contains("cannot read weights file /nonexistent/w.safetensors"), "{stderr}");
    let (ok, _, stderr) = inception(&["classify", "--model", "inception_v9", &text]);
    assert!(!ok && stderr.contains("unknown model `inception_v9`"), "{stderr}");

    // a non-image with valid weights (synthetic, so that no real weights are needed)
    let tensors: Vec<_> =
        inception::Variant::Bvlc.graph(1000).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
    let weights = dir.join("synthetic.safetensors");
    std::fs::write(&weights, inception::synthetic::safetensors_file(&tensors)).unwrap();
    let (ok, _, stderr) = inception(&["classify", "--weights", &weights.display().to_string(), &text]);
    assert!(!ok && stderr.contains("notes.txt is not an image"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// What `cargo xtask fetch-weights googlenet` does after the download: `inception convert`
/// on torchvision's checkpoint. Here the checkpoint is made locally (PyTorch's own pickle of
/// torchvision's googlenet, deterministic values; see tools/golden.py), so the converted
/// file must give PyTorch's logits: exactly in float32, and within a stated tolerance in
/// float16.
#[test]
fn convert_turns_a_torchvision_checkpoint_into_weights_that_give_pytorchs_logits() {
    let dir = scratch_dir("convert");
    let pth = dir.join("googlenet-1378be20.pth");
    std::fs::write(&pth, common::torch_checkpoint("torchvision")).unwrap();
    let golden = common::golden_doc("torchvision");
    let want: Vec<f32> = golden["logits"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    let top5: Vec<u64> = golden["top5"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let range = want.iter().cloned().fold(f32::MIN, f32::max) - want.iter().cloned().fold(f32::MAX, f32::min);
    // float16 weights moved these logits by 4e-4 of their range, float32 by 3e-7.
    for (flag, tolerance) in [(None, 1e-4), (Some("--f16"), 2e-3)] {
        let out = dir.join("googlenet.safetensors");
        let mut args = vec!["convert", "--model", "googlenet"];
        args.extend(flag);
        let (p, o) = (pth.display().to_string(), out.display().to_string());
        args.extend([p.as_str(), o.as_str()]);
        let (ok, stdout, stderr) = inception(&args);
        assert!(ok, "{stderr}");
        assert!(stdout.contains("GoogLeNet (torchvision) (1000 classes)"), "{stdout}");
        let bytes = std::fs::read(&out).unwrap();
        let model = inception::Model::load(&bytes, None).unwrap();
        assert_eq!(model.variant, inception::Variant::Torchvision);
        let mut net = inception::Network::new(common::gpu(), &model).unwrap();
        let result = pollster::block_on(net.classify(&inception::synthetic::image(224, 224), 224, 224, true)).unwrap();
        let d = common::diff(&result.logits.unwrap(), &want);
        println!(
            "convert {}: {:.1} MB, max abs logit diff {:.2e} (allowed {:.2e})",
            flag.unwrap_or("(float32)"),
            bytes.len() as f64 / 1e6,
            d.max_abs,
            tolerance * range
        );
        assert_eq!(common::top_classes(&result.top).iter().map(|&c| c as u64).collect::<Vec<_>>(), top5);
        assert!(d.max_abs <= tolerance * range, "off by {}", d.max_abs);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A custom model: the tutorial's network with 10 classes from its checkpoint, class names
/// from a labels file stored in the converted file, and files that fit no network.
#[test]
fn convert_keeps_labels_and_rejects_what_fits_no_network() {
    let dir = scratch_dir("labels");
    let path = |name: &str| dir.join(name).display().to_string();
    std::fs::write(path("tutorial.pth"), common::torch_checkpoint("seed")).unwrap();
    let names: Vec<String> = (0..10).map(|i| format!("thing number {i}")).collect();
    std::fs::write(path("classes.txt"), names.join("\n") + "\n").unwrap();
    let image = path("input.png");
    image::RgbaImage::from_raw(224, 224, inception::synthetic::image(224, 224)).unwrap().save(&image).unwrap();

    let (ok, stdout, stderr) =
        inception(&["convert", "--labels", &path("classes.txt"), &path("tutorial.pth"), &path("tutorial.safetensors")]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("the tutorial's network) (10 classes)"), "{stdout}");
    // the classes come from the converted file, the network from its names
    let (ok, stdout, stderr) = inception(&["classify", "--json", "--weights", &path("tutorial.safetensors"), &image]);
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let want_top = common::golden_doc("seed")["top5"][0].as_u64().unwrap();
    assert_eq!(doc[0]["top"][0]["index"], want_top);
    assert_eq!(doc[0]["top"][0]["label"], format!("thing number {want_top}"));
    // the checkpoint itself classifies too, labels given on the command line
    let (ok, stdout, stderr) =
        inception(&["classify", "--weights", &path("tutorial.pth"), "--labels", &path("classes.txt"), &image]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&format!("thing number {want_top} ({want_top})")), "{stdout}");

    std::fs::write(path("three.txt"), "a\nb\nc\n").unwrap();
    let (ok, _, stderr) = inception(&["convert", "--labels", &path("three.txt"), &path("tutorial.pth"), &path("x.safetensors")]);
    assert!(!ok && stderr.contains("the labels list has 3 classes but the model has 10"), "{stderr}");
    let (ok, _, stderr) = inception(&["convert", "--model", "inception_v3", &path("tutorial.pth"), &path("x.safetensors")]);
    assert!(!ok && stderr.contains("weights for the `seed` model, not `inception_v3`"), "{stderr}");
    // safetensors holding something else entirely
    let other = inception::synthetic::safetensors_file(&[("encoder.layer.0.weight".into(), vec![4, 4], "float32".into())]);
    std::fs::write(path("other.safetensors"), other).unwrap();
    let (ok, _, stderr) = inception(&["convert", &path("other.safetensors"), &path("x.safetensors")]);
    assert!(!ok && stderr.contains("not the weights of any network") && stderr.contains("encoder.layer.0.weight"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The tutorial's 10-class network with deterministic weights, written into `dir`.
fn seed_weights(dir: &std::path::Path) -> std::path::PathBuf {
    let tensors: Vec<_> =
        inception::Variant::Seed.graph(10).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
    let weights = dir.join("seed.safetensors");
    std::fs::write(&weights, inception::synthetic::safetensors_file(&tensors)).unwrap();
    weights
}

/// `classify` on a folder and a pattern with one loaded network: every image, the same
/// classes on both backends, a throughput line; a file in the folder that is no image is
/// reported, the others still classified, and the exit status says so.
#[test]
fn classify_takes_folders_and_patterns_on_either_backend() {
    let dir = scratch_dir("batch");
    let weights = seed_weights(&dir);
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    for (name, (w, h)) in [("a.png", (64, 48)), ("b.png", (300, 200))] {
        image::RgbaImage::from_raw(w, h, inception::synthetic::image(w, h)).unwrap().save(images.join(name)).unwrap();
    }
    let weights = weights.display().to_string();
    let folder = images.display().to_string();
    let mut tops = Vec::new();
    for backend in ["cpu", "gpu"] {
        let (ok, stdout, stderr) = inception(&["classify", "--json", "--backend", backend, "--weights", &weights, &folder]);
        assert!(ok, "{stderr}");
        assert!(stderr.contains("2 images in") && stderr.contains(&format!("on the {}", backend.to_uppercase())), "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let results = doc.as_array().unwrap();
        assert_eq!(results.len(), 2);
        assert!(results[0]["image"].as_str().unwrap().ends_with("a.png") && results[0]["backend"] == backend);
        tops.push(results.iter().map(|r| r["top"][0]["index"].clone()).collect::<Vec<_>>());
    }
    assert_eq!(tops[0], tops[1], "the backends disagree");

    let pattern = images.join("*.png").display().to_string();
    let (ok, stdout, stderr) = inception(&["classify", "--backend", "cpu", "--weights", &weights, &pattern]);
    assert!(ok && stdout.contains("a.png:") && stdout.contains("b.png:"), "{stdout}{stderr}");
    let (ok, _, stderr) =
        inception(&["classify", "--backend", "cpu", "--weights", &weights, &images.join("*.gif").display().to_string()]);
    assert!(!ok && stderr.contains("no file matches"), "{stderr}");

    std::fs::write(images.join("c.jpg"), "not an image").unwrap();
    let (ok, stdout, stderr) = inception(&["classify", "--backend", "cpu", "--weights", &weights, &folder]);
    assert!(!ok && stdout.contains("b.png:"), "{stdout}");
    assert!(stderr.contains("c.jpg is not an image") && stderr.contains("1 of 3 files could not be read"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `bytes` (a JPEG) with an EXIF block saying `orientation` inserted after its SOI marker.
fn with_exif_orientation(bytes: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01".to_vec(); // big-endian TIFF header, one IFD entry
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]); // Orientation, SHORT, 1 value
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // value padding, no next IFD
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = bytes[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&(app1.len() as u16 + 2).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&bytes[2..]);
    out
}

/// A phone photo stored turned (EXIF orientation 8: the pixels rotated a quarter turn,
/// to be turned back when shown) is classified upright, as browsers show it.
#[test]
fn classify_honours_exif_orientation() {
    let Some(_) = common::real_weights("classify_honours_exif_orientation", "bvlc_googlenet.safetensors") else { return };
    let dir = scratch_dir("exif");
    let upright = image::open(common::shared().join("images/tiger_cat.jpg")).unwrap().to_rgb8();
    let stored = image::imageops::rotate90(&upright);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95).encode_image(&stored).unwrap();
    let (turned, plain) = (dir.join("turned.jpg"), dir.join("plain.jpg"));
    std::fs::write(&turned, with_exif_orientation(&jpeg, 8)).unwrap();
    std::fs::write(&plain, &jpeg).unwrap();
    let top = |file: &std::path::Path| {
        let doc = classify_json(&["--backend", "cpu", "--model", "bvlc", &file.display().to_string()]);
        doc[0]["top"][0]["index"].as_u64().unwrap()
    };
    let (with_exif, without) = (top(&turned), top(&plain));
    println!("tiger_cat.jpg stored turned: top-1 {with_exif} with orientation 8, {without} without");
    assert_eq!(with_exif, 282, "the turned photo is not classified upright");
    assert_ne!(without, 282, "the test's photo is classified right even sideways: it tests nothing");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A JPEG cut short is refused with a message that says so (the decoder alone would fill
/// the missing part with gray); a TIFF is read, and gives the same result as the same
/// pixels in a PNG.
#[test]
fn truncated_jpegs_are_refused_and_tiffs_read() {
    let dir = scratch_dir("formats");
    let weights = seed_weights(&dir);
    let weights = weights.display().to_string();
    let pixels = image::RgbImage::from_fn(300, 200, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]));
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new(&mut jpeg).encode_image(&pixels).unwrap();
    let cut = dir.join("cut.jpg");
    std::fs::write(&cut, &jpeg[..jpeg.len() * 3 / 5]).unwrap();
    let (ok, _, stderr) = inception(&["classify", "--backend", "cpu", "--weights", &weights, &cut.display().to_string()]);
    assert!(!ok && stderr.contains("cut.jpg is a truncated JPEG file"), "{stderr}");
    let whole = dir.join("whole.jpg");
    std::fs::write(&whole, &jpeg).unwrap();
    let (ok, _, stderr) = inception(&["classify", "--backend", "cpu", "--weights", &weights, &whole.display().to_string()]);
    assert!(ok, "the whole JPEG: {stderr}");

    let (png, tiff) = (dir.join("p.png"), dir.join("p.tiff"));
    pixels.save(&png).unwrap();
    pixels.save(&tiff).unwrap();
    let json = |file: &std::path::Path| {
        classify_json(&["--backend", "cpu", "--weights", &weights, &file.display().to_string()])[0]["top"].clone()
    };
    assert_eq!(json(&tiff), json(&png), "a TIFF and a PNG of the same pixels");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An image wider than the GPU's textures (20000 pixels; llvmpipe takes 16384) is resized on
/// the CPU with the shader's own resampling and classified on the GPU as on the CPU.
#[test]
fn images_wider_than_a_texture_are_classified_on_the_gpu_too() {
    let dir = scratch_dir("wide");
    let weights = seed_weights(&dir);
    let wide = dir.join("wide.png");
    image::RgbaImage::from_raw(20000, 300, inception::synthetic::image(20000, 300)).unwrap().save(&wide).unwrap();
    let top = |backend: &str| {
        let doc =
            classify_json(&["--backend", backend, "--weights", &weights.display().to_string(), &wide.display().to_string()]);
        doc[0]["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["index"].as_u64().unwrap(), t["probability"].as_f64().unwrap()))
            .collect::<Vec<_>>()
    };
    let (gpu, cpu) = (top("gpu"), top("cpu"));
    let worst = gpu.iter().zip(&cpu).map(|(g, c)| (g.1 - c.1).abs()).fold(0.0, f64::max);
    println!("20000x300 image: GPU {gpu:?}, CPU {cpu:?}, max probability difference {worst:.1e}");
    assert!(gpu.iter().zip(&cpu).all(|(g, c)| g.0 == c.0) && worst < 1e-4, "the backends disagree");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A GPU device lost under a loaded network (a driver reset; here destroyed on purpose):
/// the next pass fails with an error that says so, in seconds, never a hang or a panic.
#[test]
fn a_lost_gpu_device_is_an_error_that_names_it() {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let tensors: Vec<_> =
            inception::Variant::Bvlc.graph(1000).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
        let model = inception::Model::load(&inception::synthetic::safetensors_file(&tensors), None).unwrap();
        let gpu = pollster::block_on(inception::Gpu::new()).unwrap(); // its own: it is lost here
        let mut net = inception::Network::new(&gpu, &model).unwrap();
        let image = inception::synthetic::image(224, 224);
        let before = pollster::block_on(net.classify(&image, 224, 224, false)).map(|_| ());
        gpu.device.destroy();
        let after = pollster::block_on(net.classify(&image, 224, 224, false)).map(|_| ());
        let _ = sender.send((before, after));
    });
    let (before, after) = receiver.recv_timeout(std::time::Duration::from_secs(120)).expect("a pass on a lost device hung");
    before.unwrap();
    let message = after.expect_err("a pass on a destroyed device succeeded").to_string();
    println!("after the loss: {message}");
    assert!(message.contains("GPU device was lost (destroyed"), "{message}");
}

/// `--cam`: each top-5 entry's map over the 224 x 224 input crop, normalised, the same on
/// both backends; `--cam-out`: one overlay PNG per entry, of the part of the photo the
/// network sees.
#[test]
fn classify_cam_gives_maps_over_the_crop_and_overlays() {
    if common::real_weights("classify_cam_gives_maps_over_the_crop_and_overlays", "bvlc_googlenet.safetensors").is_none() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("inception-cam-{}", std::process::id()));
    let photo = shared("images/tiger_cat.jpg");
    let mut maps = Vec::new();
    for backend in ["gpu", "cpu"] {
        let args = ["classify", "--backend", backend, "--json", "--cam", "--cam-out", dir.to_str().unwrap(), &photo];
        let (ok, stdout, stderr) = inception(&args);
        assert!(ok, "{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let top = doc[0]["top"].as_array().unwrap().clone();
        assert_eq!(top.len(), 5);
        for entry in &top {
            let cam = &entry["cam"];
            assert_eq!((cam["width"].as_u64(), cam["height"].as_u64()), (Some(224), Some(224)), "{backend}");
            let values: Vec<f32> = cam["values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
            assert_eq!(values.len(), 224 * 224);
            let (min, max) = values.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            assert_eq!((min, max), (0.0, 1.0), "{backend}: {} is not normalised", entry["label"]);
            maps.push(values);
        }
    }
    for (rank, (gpu, cpu)) in maps[..5].iter().zip(&maps[5..]).enumerate() {
        let d = common::diff(gpu, cpu);
        assert!(d.max_abs < 1e-4, "rank {rank}: the backends' maps differ by {}", d.max_abs);
    }
    let mut overlays: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    overlays.sort();
    assert_eq!(overlays.len(), 5, "{overlays:?}");
    assert_eq!(overlays[0], "tiger_cat.cam1.tiger_cat.png");
    // the photo's centre crop: 224/256 of its shorter side, square
    let (w, h) = image::image_dimensions(shared("images/tiger_cat.jpg")).unwrap();
    let overlay = image::open(dir.join(&overlays[0])).unwrap();
    let side = (w.min(h) as f32 * 224.0 / 256.0).round() as u32;
    let near = |x: u32| x.abs_diff(side) <= 1;
    assert!(near(overlay.width()) && near(overlay.height()), "{}x{} for a {w}x{h} photo", overlay.width(), overlay.height());
    // text output: where each class is seen most
    let (ok, stdout, stderr) = inception(&["classify", "--backend", "cpu", "--cam", &photo]);
    assert!(ok && stdout.lines().nth(1).unwrap().contains("tiger cat (282), seen most at ("), "{stdout}{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--compute`: a file without calibration runs float32 and says why, `convert
/// --calibrate` makes one that computes in int8 and says on which tier, with the same
/// top-1 here as float32 (the tutorial's network with synthetic weights); a bad value is
/// refused.
#[test]
fn compute_int8_needs_a_calibrated_file_and_says_what_runs() {
    let dir = scratch_dir("compute");
    let weights = seed_weights(&dir);
    let (w, photos) = (weights.display().to_string(), shared("images"));
    let image = shared("images/pug.jpg");
    let (ok, _, stderr) = inception(&["classify", "--backend", "cpu", "--compute", "int8", "--weights", &w, &image]);
    assert!(ok && stderr.contains("compute: f32 (the weights file has no int8 calibration"), "{stderr}");
    assert!(stderr.contains("CPU: f32"), "{stderr}");

    let uncalibrated = dir.join("int8.safetensors").display().to_string();
    let (ok, stdout, stderr) = inception(&["convert", "--int8", &w, &uncalibrated]);
    assert!(ok && stdout.contains("int8 compute: not calibrated"), "{stdout}{stderr}");

    let calibrated = dir.join("calibrated.safetensors").display().to_string();
    let (ok, stdout, stderr) = inception(&["convert", "--int8", "--calibrate", &photos, &w, &calibrated]);
    assert!(ok && stdout.contains("input ranges calibrated on 8 photos"), "{stdout}{stderr}");
    let (ok, _, stderr) = inception(&["classify", "--backend", "cpu", "--weights", &calibrated, &image]);
    assert!(ok && stderr.contains("compute: int8 (the weights file is calibrated for int8)"), "{stderr}");
    assert!(stderr.contains("CPU: int8, "), "{stderr}");
    let top = |compute: &str| {
        classify_json(&["--backend", "cpu", "--compute", compute, "--weights", &calibrated, &image])[0]["top"][0]["index"].clone()
    };
    assert_eq!(top("int8"), top("f32"));

    // auto does not take the portable int8 tier, slower than float32; int8 asked does
    let portable = |compute: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_inception"))
            .args(["classify", "--backend", "cpu", "--compute", compute, "--weights", &calibrated, &image])
            .env("INCEPTION_CPU_INT8_KERNELS", "portable")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    assert!(portable("auto").contains("compute: f32 (this CPU has no SIMD int8 tier"), "{}", portable("auto"));
    assert!(portable("int8").contains("CPU: int8, portable"), "{}", portable("int8"));

    let (ok, _, stderr) = inception(&["classify", "--compute", "int4", "--weights", &calibrated, &image]);
    assert!(!ok && stderr.contains("unknown compute `int4` (auto, f32 or int8)"), "{stderr}");
    let (ok, _, stderr) = inception(&["convert", "--calibrate", "/nonexistent/photos", &w, &calibrated]);
    assert!(!ok && stderr.contains("/nonexistent/photos"), "{stderr}");
}
