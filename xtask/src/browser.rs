//! The page in a real browser: Debian's Chromium (WebGPU on SwiftShader), driven by
//! playwright-core from tests/browser, against the built site served on 127.0.0.1.

use crate::precision::Precision;
use crate::server::Server;
use crate::{root, run, site, stdout_of, Options};
use std::path::{Path, PathBuf};
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";
/// The scenarios of tests/browser/e2e.mjs, named for the skip report.
const SCENARIOS: [&str; 28] = [
    "steady_labels",
    "camera_tiger_cat",
    "no_requests_after_load",
    "cam_overlay",
    "cam_cost",
    "upload_pug",
    "same_origin_only",
    "weights_cached",
    "camera_denied",
    "corrupt_weights",
    "weights_from_disk",
    "camera_two_frames_in_flight",
    "device_lost",
    "no_webgpu",
    "backend_choice",
    "forced_backends",
    "gpu_forced_without_webgpu",
    "engine_unavailable",
    "inception_v3",
    "explorer",
    "api_cams",
    "int8_compute",
    "custom_checkpoint",
    "custom_file_that_fits_nothing",
    "huge_images",
    "camera_and_tab_events",
    "soak",
    "odd_images",
];

fn prerequisites() -> Result<PathBuf, String> {
    if !Path::new(CHROMIUM).exists() {
        return Err(format!("the browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium"));
    }
    let dir = root().join("tests/browser");
    if !dir.join("node_modules/playwright-core").exists() {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&dir))?;
    }
    Ok(dir)
}

fn weights_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("INCEPTION_WEIGHTS")?);
    Some(dir.canonicalize().unwrap_or(dir))
}

/// Runs the end-to-end browser tests; returns SKIPPED lines when they cannot run.
pub fn test() -> Result<Vec<String>, String> {
    let Some(weights) = weights_dir() else {
        return Ok(SCENARIOS
            .iter()
            .map(|s| format!("SKIPPED browser::{s}: INCEPTION_WEIGHTS is not set (the page needs bvlc_googlenet.safetensors)"))
            .collect());
    };
    let weights_file = weights.join("bvlc_googlenet.safetensors");
    if !weights_file.exists() {
        return Err(format!("INCEPTION_WEIGHTS is set but {} does not exist", weights_file.display()));
    }
    let scripts = prerequisites()?;
    let work = root().join("target/web-test");
    // Deterministic weights (tests/golden, made by tools/golden.py): Inception v3 for the
    // site, and the tutorial's network as a torch.save checkpoint for the custom-model path.
    let inception = root().join("target/release/inception");
    let models = work.join("models");
    std::fs::create_dir_all(&models).map_err(|e| e.to_string())?;
    let golden = root().join("tests/golden");
    let v3 = models.join("inception_v3.safetensors");
    run(Command::new(&inception).arg("synthetic").arg(golden.join("inception_v3.json")).arg(&v3))?;
    let tutorial = work.join("tutorial.pth");
    run(Command::new(&inception).arg("synthetic").arg(golden.join("seed.json")).arg(&tutorial))?;
    let labels = work.join("tutorial-classes.txt");
    let names: Vec<String> = (0..10).map(|i| format!("tutorial class {i}")).collect();
    std::fs::write(&labels, names.join("\n")).map_err(|e| e.to_string())?;
    // The site lives in a sub-folder of what is served, as on https://user.github.io/project/;
    // its weights are float32, as the native program's expected results are.
    site::build(&work.join("site/inception"), &[weights.clone(), models], Precision::Float32, &[])?;
    let photo = root().join("../shared/images/tiger_cat.jpg");
    let (y4m, frame) = (work.join("tiger_cat.y4m"), work.join("tiger_cat.frame.png"));
    fake_camera(&photo, &y4m, &frame)?;
    // What the native program says about the frame the fake camera shows.
    let native = Command::new(root().join("target/release/inception"))
        .args(["classify", "--json", "--model", "bvlc", "--weights"])
        .arg(&weights_file)
        .arg(&frame)
        .output()
        .map_err(|e| format!("cannot run the native program (built by the native tests): {e}"))?;
    if !native.status.success() {
        return Err(format!("native classify failed: {}", String::from_utf8_lossy(&native.stderr)));
    }
    let expected = work.join("tiger_cat.native.json");
    std::fs::write(&expected, &native.stdout).map_err(|e| e.to_string())?;
    let cam_expected = native_json(
        &inception,
        &["--cam".as_ref(), "--model".as_ref(), "bvlc".as_ref(), "--weights".as_ref(), weights_file.as_os_str()],
        &frame,
        &work.join("tiger_cat.cam.native.json"),
    )?;
    // A PNG (decoded identically everywhere) through both synthetic networks.
    let png = root().join("../shared/images/tiger_cat.224.png");
    let v3_expected = native_json(&inception, &["--weights".as_ref(), v3.as_os_str()], &png, &work.join("v3.native.json"))?;
    let png_expected =
        native_json(&inception, &["--weights".as_ref(), weights_file.as_os_str()], &png, &work.join("bvlc_png.native.json"))?;
    // An int8 file calibrated for int8 compute on the photos other than tiger cat (the
    // picture the page classifies is then one the calibration has not seen), and what the
    // native program computes in int8 on it.
    let int8 = work.join("bvlc_googlenet.int8.calibrated.safetensors");
    let mut convert = Command::new(&inception);
    convert.args(["convert", "--model", "bvlc", "--int8"]);
    for photo in ["pug.jpg", "tusker.jpg", "volcano.jpg"] {
        convert.arg("--calibrate").arg(root().join("../shared/images").join(photo));
    }
    run(convert.arg(&weights_file).arg(&int8))?;
    let int8_args = ["--backend", "cpu", "--compute", "int8", "--weights"].map(std::ffi::OsStr::new);
    let int8_expected =
        native_json(&inception, &[&int8_args[..], &[int8.as_os_str()]].concat(), &png, &work.join("int8.native.json"))?;
    let tutorial_expected = native_json(
        &inception,
        &["--weights".as_ref(), tutorial.as_os_str(), "--labels".as_ref(), labels.as_os_str()],
        &png,
        &work.join("tutorial.native.json"),
    )?;
    let odd = work.join("odd-images");
    crate::odd_images::write(&root().join("../shared/images"), &odd)?;
    let odd_native = odd_images_natively(&inception, &weights_file, &odd)?;

    // Without nightly Rust the site has no wasm threads build: the scenarios then skip
    // their threaded checks, and this says so.
    let threads_built =
        work.join("site/inception/pkg-threads").is_dir() && work.join("site/inception/pkg-threads-relaxed").is_dir();
    let mut skipped = Vec::new();
    if !threads_built {
        skipped.push("SKIPPED browser::forced_backends threads: the site has no wasm threads build (needs nightly Rust)".into());
    }
    let server = Server::start(&work.join("site"), 0)?;
    let artifacts = root().join("artifacts");
    std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;
    run(Command::new("node")
        .arg(scripts.join("e2e.mjs"))
        .arg("--base")
        .arg(server.url("inception/"))
        .arg("--site")
        .arg(work.join("site/inception"))
        .arg("--readme")
        .arg(root().join("README.md"))
        .arg("--y4m")
        .arg(&y4m)
        .arg("--expected")
        .arg(&expected)
        .arg("--pug")
        .arg(root().join("../shared/images/pug.jpg"))
        .arg("--weights")
        .arg(&weights_file)
        .arg("--png")
        .arg(&png)
        .arg("--v3-expected")
        .arg(&v3_expected)
        .arg("--tutorial")
        .arg(&tutorial)
        .arg("--tutorial-labels")
        .arg(&labels)
        .arg("--tutorial-expected")
        .arg(&tutorial_expected)
        .arg("--png-expected")
        .arg(&png_expected)
        .arg("--int8-weights")
        .arg(&int8)
        .arg("--int8-expected")
        .arg(&int8_expected)
        .arg("--artifacts")
        .arg(&artifacts)
        .arg("--cam-native")
        .arg(&cam_expected)
        .arg("--odd")
        .arg(&odd)
        .arg("--odd-native")
        .arg(&odd_native)
        .args(["--threads-built", if threads_built { "1" } else { "0" }])
        .args(std::env::var("E2E_ONLY").map(|only| vec!["--only".to_string(), only]).unwrap_or_default()))?;
    Ok(skipped)
}

/// What the native program says of each file of the odd-image corpus in `dir` (on the CPU
/// backend): `{file: {"top1": label} | {"error": message}}`, and of the photos it was made
/// from, in `dir/native.json`.
fn odd_images_natively(inception: &Path, weights: &Path, dir: &Path) -> Result<PathBuf, String> {
    let corpus: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("corpus.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut said = serde_json::Map::new();
    let photos = crate::odd_images::PHOTOS.map(|p| root().join("../shared/images").join(p));
    let files = corpus.as_array().into_iter().flatten().map(|entry| dir.join(entry["file"].as_str().unwrap_or_default()));
    for path in photos.into_iter().chain(files) {
        // the photos themselves under their own names: the classes the others must give
        let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let out = Command::new(inception)
            .args(["classify", "--json", "--backend", "cpu", "--weights"])
            .arg(weights)
            .arg(&path)
            .output()
            .map_err(|e| format!("cannot run the native program: {e}"))?;
        let result = match serde_json::from_slice::<serde_json::Value>(&out.stdout) {
            Ok(json) if out.status.success() => serde_json::json!({ "top1": json[0]["top"][0]["label"] }),
            _ => {
                let stderr = String::from_utf8_lossy(&out.stderr);
                let error = stderr.lines().find(|l| l.starts_with("error")).unwrap_or("failed without a message");
                serde_json::json!({ "error": error })
            }
        };
        said.insert(file, result);
    }
    let path = dir.join("native.json");
    std::fs::write(&path, serde_json::to_string_pretty(&said).unwrap()).map_err(|e| e.to_string())?;
    Ok(path)
}

/// `inception classify --json ARGS IMAGE` written to `out`.
fn native_json(inception: &Path, args: &[&std::ffi::OsStr], image: &Path, out: &Path) -> Result<PathBuf, String> {
    let json = stdout_of(Command::new(inception).args(["classify", "--json"]).args(args).arg(image))?;
    std::fs::write(out, json).map_err(|e| e.to_string())?;
    Ok(out.to_path_buf())
}

/// The site a benchmark serves, built into `work/site`, and the browser scripts' folder.
fn bench_site(options: &Options, work: &str) -> Result<(PathBuf, PathBuf), String> {
    let dirs = options.weight_dirs();
    if dirs.is_empty() {
        return Err("bench-web needs weights: --weights DIR, INCEPTION_WEIGHTS, or cargo xtask fetch-weights".into());
    }
    let scripts = prerequisites()?;
    let work = root().join(work);
    site::build(&work.join("site"), &dirs, options.precision, &options.check_photos())?;
    Ok((work, scripts))
}

/// `cargo xtask bench-web`: the page's benchmark mode in headless Chromium, and with
/// `--peer` ONNX Runtime Web's WebGPU figure on the same network right after it.
pub fn bench_web(options: &Options) -> Result<(), String> {
    let (work, scripts) = bench_site(options, "target/web-bench")?;
    let server = Server::start(&work.join("site"), 0)?;
    let out = work.join("inception.json");
    let mut query = match options.soak {
        Some(frames) => format!("?soak={frames}"),
        None => format!("?bench={}&warmup=2", options.runs),
    };
    if options.per_layer {
        query += "&layers=1";
    }
    if let Some(model) = &options.model {
        query += &format!("&model={model}");
    }
    if let Some(backend) = &options.backend {
        query += &format!("&backend={backend}");
    }
    if let Some(threads) = options.threads {
        query += &format!("&threads={threads}");
    }
    if let Some(compute) = &options.compute {
        query += &format!("&compute={compute}");
    }
    let mut node = Command::new("node");
    node.arg(scripts.join("bench.mjs")).arg("--url").arg(server.url(&query)).arg("--out").arg(&out);
    if options.soak.is_some() {
        let (y4m, frame) = (work.join("tiger_cat.y4m"), work.join("tiger_cat.frame.png"));
        fake_camera(&root().join("../shared/images/tiger_cat.jpg"), &y4m, &frame)?;
        node.arg("--y4m").arg(&y4m).args(["--soak", "--timeout", "7200"]);
    }
    run(&mut node)?;
    let ours = std::fs::read_to_string(&out).map_err(|e| e.to_string())?;
    println!("{ours}");
    if options.peer {
        // the peer's name for the network: its models/<name>.onnx
        let peer_model = match options.model.as_deref() {
            None | Some("bvlc") => "bvlc_googlenet",
            Some(other) => other,
        };
        // ORT's own int8 model where ours computes in int8 (models/<name>_int8.onnx)
        let peer_model =
            if options.compute.as_deref() == Some("int8") { format!("{peer_model}_int8") } else { peer_model.to_string() };
        let peer = Command::new(&options.peer_run)
            .args(["--model", &peer_model, "--ep", &options.peer_ep, "--runs", &options.runs.to_string()])
            .args(["--threads", &options.peer_threads.to_string()])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", options.peer_run.display()))?;
        let peer_json = String::from_utf8_lossy(&peer.stdout).to_string();
        println!("{peer_json}");
        let ours_ms = median_of(&ours).ok_or("no median in our result")?;
        let peer_ms = median_of(&peer_json).ok_or("no median in the peer's result")?;
        let backend = string_of(&ours, "\"stats\"", "\"backend\"").unwrap_or_default();
        let compute = string_of(&ours, "\"stats\"", "\"compute\"").unwrap_or_default();
        let ep = &options.peer_ep;
        println!(
            "{{\"inception_median_ms\": {ours_ms:.1}, \"inception_backend\": \"{backend}\", \"inception_compute\": \"{compute}\", \"onnxruntime_web_{ep}_model\": \"{peer_model}\", \"onnxruntime_web_{ep}_median_ms\": {peer_ms:.1}, \"ours_over_peer\": {:.2}, \"speedup\": {:.2}}}",
            ours_ms / peer_ms,
            peer_ms / ours_ms
        );
    }
    Ok(())
}

/// `cargo xtask bench-web --first-visit`: three visits of the site (auto precision) in one
/// browser profile: cold (empty), warm, offline; each the time to the first prediction shown,
/// the bytes the server sent during it and the page's timeline, as one JSON object.
pub fn first_visit(options: &Options) -> Result<(), String> {
    let (work, scripts) = bench_site(options, "target/web-first-visit")?;
    let (y4m, frame) = (work.join("tiger_cat.y4m"), work.join("tiger_cat.frame.png"));
    fake_camera(&root().join("../shared/images/tiger_cat.jpg"), &y4m, &frame)?;
    let server = Server::start(&work.join("site"), 0)?;
    let profile = work.join("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let mut visits = serde_json::Map::new();
    for visit in ["cold", "warm", "offline"] {
        let before = server.bytes_sent();
        let mut node = Command::new("node");
        node.arg(scripts.join("first-visit.mjs")).arg("--url").arg(server.url("")).arg("--profile").arg(&profile);
        node.arg("--y4m").arg(&y4m);
        if let Some(mbit) = options.mbit {
            node.args(["--mbit", &mbit.to_string(), "--latency", &options.latency.to_string()]);
        }
        if visit == "offline" {
            node.arg("--offline");
        }
        eprintln!("xtask: {visit} visit");
        let out = node.output().map_err(|e| format!("cannot run node: {e}"))?;
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            let last = stderr.lines().find(|l| l.contains("Error") || l.contains("ERR_")).unwrap_or("no report");
            serde_json::json!({ "top1": null, "error": last.trim() })
        });
        report["bytes_sent"] = (server.bytes_sent() - before).into();
        visits.insert(visit.into(), report);
    }
    let network = match options.mbit {
        Some(mbit) => format!("{mbit} Mbit/s, {} ms latency (Chrome's throttling)", options.latency),
        None => "unthrottled (127.0.0.1)".into(),
    };
    visits.insert("network".into(), network.into());
    println!("{}", serde_json::to_string_pretty(&visits).unwrap());
    if visits.values().any(|v| v.get("top1").is_some_and(|t| t.is_null())) {
        return Err("a visit showed no prediction".into());
    }
    Ok(())
}

/// The string value of `key` after `section` in a result JSON (`"stats": {... "backend": "cpu"`).
fn string_of(json: &str, section: &str, key: &str) -> Option<String> {
    let rest = &json[json.find(section)?..];
    let rest = &rest[rest.find(key)? + key.len()..];
    let start = rest.find('"')? + 1;
    Some(rest[start..start + rest[start..].find('"')?].to_string())
}

/// `"timing_ms": {"median": X` from a result JSON (without a JSON parser in xtask).
fn median_of(json: &str) -> Option<f64> {
    let at = json.find("\"timing_ms\"")?;
    let rest = &json[at..];
    let m = rest.find("\"median\"")?;
    let num: String = rest[m + 8..]
        .chars()
        .skip_while(|c| *c == ':' || c.is_whitespace())
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse().ok()
}

/// Writes a one-frame y4m video of `photo` for Chromium's fake camera (4:2:0, full-range
/// BT.601 as "C420jpeg" says), and the RGB picture that frame decodes back to, which the
/// native program classifies for comparison.
fn fake_camera(photo: &Path, y4m: &Path, frame: &Path) -> Result<(), String> {
    let img = image::open(photo).map_err(|e| format!("{}: {e}", photo.display()))?.to_rgb8();
    let (w, h) = (img.width() & !1, img.height() & !1);
    let px = |x: u32, y: u32| {
        let p = img.get_pixel(x, y).0;
        (p[0] as f32, p[1] as f32, p[2] as f32)
    };
    let clamp = |v: f32| v.round().clamp(0.0, 255.0) as u8;
    let mut y_plane = Vec::with_capacity((w * h) as usize);
    for y in 0..h {
        for x in 0..w {
            let (r, g, b) = px(x, y);
            y_plane.push(clamp(0.299 * r + 0.587 * g + 0.114 * b));
        }
    }
    let (mut u_plane, mut v_plane) = (Vec::new(), Vec::new());
    for y in (0..h).step_by(2) {
        for x in (0..w).step_by(2) {
            let (mut r, mut g, mut b) = (0.0, 0.0, 0.0);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(x + dx, y + dy);
                (r, g, b) = (r + p.0 / 4.0, g + p.1 / 4.0, b + p.2 / 4.0);
            }
            u_plane.push(clamp(128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b));
            v_plane.push(clamp(128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b));
        }
    }
    let mut file = format!("YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\nFRAME\n").into_bytes();
    file.extend_from_slice(&y_plane);
    file.extend_from_slice(&u_plane);
    file.extend_from_slice(&v_plane);
    std::fs::write(y4m, file).map_err(|e| e.to_string())?;
    let decoded = image::RgbImage::from_fn(w, h, |x, y| {
        let luma = y_plane[(y * w + x) as usize] as f32;
        let c = ((y / 2) * (w / 2) + x / 2) as usize;
        let (cb, cr) = (u_plane[c] as f32 - 128.0, v_plane[c] as f32 - 128.0);
        image::Rgb([clamp(luma + 1.402 * cr), clamp(luma - 0.344136 * cb - 0.714136 * cr), clamp(luma + 1.772 * cb)])
    });
    decoded.save(frame).map_err(|e| e.to_string())
}
