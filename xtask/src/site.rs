//! Building the static site: the library compiled to wasm twice (plain, and with wasm
//! threads for cross-origin isolated pages), bound with wasm-bindgen, the page from www/,
//! the headers file for static hosts, and the model weights that are at hand.

use crate::precision::{self, Precision};
use crate::registry;
use crate::{cargo, root, run};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the site in `out` with the known weights files found in `weights` (the first
/// folder holding a file wins), each in `precision` (auto: the smallest that holds on the
/// check photos in `photos`).
pub fn build(out: &Path, weights: &[PathBuf], precision: Precision, photos: &[PathBuf]) -> Result<(), String> {
    run(cargo().args(["build", "--lib", "--release", "--target", "wasm32-unknown-unknown", "--package", "inception-webgpu"]))?;
    let bindgen = wasm_bindgen()?;
    if out.exists() {
        std::fs::remove_dir_all(out).map_err(|e| format!("cannot clear {}: {e}", out.display()))?;
    }
    let wasm = root().join("target/wasm32-unknown-unknown/release/inception.wasm");
    let bind = |wasm: &Path, dir: &str| {
        run(Command::new(&bindgen)
            .args(["--target", "web", "--no-typescript", "--out-name", "inception", "--out-dir"])
            .arg(out.join(dir))
            .arg(wasm))
    };
    bind(&wasm, "pkg")?;
    for (relaxed, dir) in [(false, "pkg-threads"), (true, "pkg-threads-relaxed")] {
        match build_threaded(relaxed) {
            Ok(threaded) => {
                bind(&threaded, dir)?;
                pass_worker_init_as_object(&out.join(dir))?;
            }
            Err(e) => eprintln!("xtask: WARNING: no wasm build with threads ({e}); the page's CPU backend will use one thread"),
        }
    }
    std::fs::write(out.join("_headers"), HEADERS).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(root().join("www")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        std::fs::copy(&path, out.join(path.file_name().unwrap())).map_err(|e| e.to_string())?;
    }
    let models = copy_weights(out, weights, precision, photos)?;
    write_icons(out)?;
    write_package_json(out)?;
    write_service_worker(out)?;
    eprintln!(
        "xtask: site in {} ({} KB of wasm; models: {})",
        out.display(),
        std::fs::metadata(out.join("pkg/inception_bg.wasm")).map(|m| m.len() / 1024).unwrap_or(0),
        if models.is_empty() {
            "none, the page will ask for a weights file; `cargo xtask fetch-weights googlenet` (or inception_v3) \
             downloads torchvision's"
                .into()
        } else {
            models.join(", ")
        }
    );
    Ok(())
}

/// wasm-bindgen-rayon 1.3's worker starts the module with `init(module, memory)`, which
/// wasm-bindgen 0.2.130 accepts but logs "using deprecated parameters for the initialization
/// function; pass a single object instead" for, once per thread on every page load: its
/// copy in the built site passes the one object instead. A later version that does so
/// itself needs nothing; one that starts its workers some other way fails the build here,
/// to be looked at.
fn pass_worker_init_as_object(pkg: &Path) -> Result<(), String> {
    const POSITIONAL: &str = "pkg.default(data.module, data.memory)";
    const OBJECT: &str = "pkg.default({ module_or_path: data.module, memory: data.memory })";
    let snippets = pkg.join("snippets");
    let helpers: Vec<PathBuf> = std::fs::read_dir(&snippets)
        .map_err(|e| format!("{}: {e}", snippets.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("src/workerHelpers.no-bundler.js")))
        .filter(|path| path.exists())
        .collect();
    let [helper] = &helpers[..] else {
        return Err(format!(
            "expected one wasm-bindgen-rayon worker helper under {}, found {}",
            snippets.display(),
            helpers.len()
        ));
    };
    let text = std::fs::read_to_string(helper).map_err(|e| e.to_string())?;
    if text.contains(POSITIONAL) {
        std::fs::write(helper, text.replace(POSITIONAL, OBJECT)).map_err(|e| e.to_string())?;
    } else if !text.contains("pkg.default({") && !text.contains("initSync(data.init)") {
        return Err(format!("{}: the worker no longer starts the module as this build expects", helper.display()));
    }
    Ok(())
}

/// Cross-origin isolation, which wasm threads need (shared memory), in the `_headers`
/// format of Netlify and Cloudflare Pages; `cargo xtask serve` sends the same. Hosts that
/// cannot set headers (GitHub Pages) serve a page that is not isolated on its first visit;
/// the service worker adds the headers from the second on (sw.js). `no-cache`: browsers
/// revalidate every file, so a new build is seen at once (the service worker's cache is what
/// makes visits fast and offline). The Content-Security-Policy (csp.txt) allows only the
/// site's own origin, wasm compilation ('wasm-unsafe-eval') and blob: workers (how
/// wasm-bindgen-rayon starts the CPU backend's threads); camera frames come as media streams.
const HEADERS: &str = concat!(
    "/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n  Cache-Control: no-cache\n",
    "  Content-Security-Policy: ",
    include_str!("csp.txt"),
    "\n"
);

/// Atomics and bulk memory for the code, and for the linker a shared, imported memory
/// (with the maximum shared memories must declare: 1 GiB, Inception v3 needs about 300 MB)
/// and the thread-local storage exports wasm-bindgen's thread support calls.
const THREADED_RUSTFLAGS: [&str; 9] = [
    "-C target-feature=+atomics,+bulk-memory,+mutable-globals",
    "-C link-arg=--shared-memory",
    "-C link-arg=--max-memory=1073741824",
    "-C link-arg=--import-memory",
    "-C link-arg=--export=__wasm_init_tls",
    "-C link-arg=--export=__tls_size",
    "-C link-arg=--export=__tls_align",
    "-C link-arg=--export=__tls_base",
    "-C link-arg=--export=__heap_base",
];

/// The library for wasm with threads: nightly Rust (std rebuilt with atomics and
/// bulk memory), SIMD, and with `relaxed` relaxed SIMD's fused multiply-add (Chrome 114
/// and later; the page checks that the browser validates it), into a target folder of
/// its own. Relaxed SIMD measured 83 against 96 ms per BVLC image in Chromium here.
fn build_threaded(relaxed: bool) -> Result<PathBuf, String> {
    let target = root().join(if relaxed { "target/wasm-threads-relaxed" } else { "target/wasm-threads" });
    let simd = if relaxed { "-C target-feature=+simd128,+relaxed-simd" } else { "-C target-feature=+simd128" };
    run(Command::new("rustup")
        .args(["run", "nightly", "cargo", "build", "--lib", "--release", "--target", "wasm32-unknown-unknown"])
        .args(["--package", "inception-webgpu", "-Z", "build-std=panic_abort,std"])
        .env("RUSTFLAGS", format!("{} {simd}", THREADED_RUSTFLAGS.join(" ")))
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(root()))?;
    Ok(target.join("wasm32-unknown-unknown/release/inception.wasm"))
}

/// Writes the known weights files found in `dirs` into `out/weights`, each in the precision
/// `site_file` picks, and lists them in `weights/models.json` (with a content hash, which
/// versions the page's cache, and the precision, which the page shows).
fn copy_weights(out: &Path, dirs: &[PathBuf], wanted: Precision, photos: &[PathBuf]) -> Result<Vec<String>, String> {
    let target = out.join("weights");
    std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
    if let Some(missing) = dirs.iter().find(|d| !d.is_dir()) {
        return Err(format!("the weights folder {} does not exist", missing.display()));
    }
    let scratch = root().join("target/site-weights");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    let mut names = Vec::new();
    for m in &registry::MODELS {
        let (model, title) = (m.name, m.title);
        let Some(source) = dirs.iter().map(|d| d.join(m.weights_file)).find(|f| f.is_file()) else { continue };
        let (path, precision, why) = precision::site_file(&source, model, wanted, photos, &scratch)?;
        eprintln!("xtask: {model}: {} weights ({why})", precision.name());
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let bytes = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        std::fs::write(target.join(&file), &bytes).map_err(|e| e.to_string())?;
        entries.push(format!(
            r#"{{"model": "{model}", "file": "{file}", "title": "{title}", "bytes": {}, "hash": "{:016x}", "precision": "{}"}}"#,
            bytes.len(),
            fnv1a64(&bytes),
            precision.name()
        ));
        names.push(format!("{model} ({})", precision.name()));
    }
    let manifest = format!("{{\"models\": [\n  {}\n]}}\n", entries.join(",\n  "));
    std::fs::write(target.join("models.json"), manifest).map_err(|e| e.to_string())?;
    Ok(names)
}

/// package.json: the built folder is an npm package as it is (`npm publish dist`), whose
/// entry is the API module (api.js, typed by api.d.ts).
fn write_package_json(out: &Path) -> Result<(), String> {
    let manifest = std::fs::read_to_string(root().join("Cargo.toml")).map_err(|e| e.to_string())?;
    let version = manifest
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"'))
        .ok_or("Cargo.toml has no version")?;
    let json = format!(
        r#"{{
  "name": "inception-webgpu",
  "version": "{version}",
  "description": "GoogLeNet and Inception v3 image classification in the browser, on WebGPU or WebAssembly SIMD, whichever is faster",
  "type": "module",
  "main": "api.js",
  "types": "api.d.ts",
  "exports": {{ ".": {{ "types": "./api.d.ts", "default": "./api.js" }} }},
  "sideEffects": false,
  "license": "MIT OR Apache-2.0"
}}
"#
    );
    std::fs::write(out.join("package.json"), json).map_err(|e| e.to_string())
}

/// sw.js with this build's id (a hash of every file it serves) and file lists: the shell,
/// and the wasm builds apart (a page runs one of them, cached once it says which).
fn write_service_worker(out: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    list_files(out, out, &mut files)?;
    files.retain(|f| f != "sw.js" && f != "_headers" && (!f.starts_with("weights/") || f == "weights/models.json"));
    files.sort();
    let mut hash = 0xcbf29ce484222325u64;
    for f in &files {
        let bytes = std::fs::read(out.join(f)).map_err(|e| e.to_string())?;
        hash = fnv1a64_from(hash, f.as_bytes());
        hash = fnv1a64_from(hash, &bytes);
    }
    let quoted = |list: Vec<&String>| list.iter().map(|f| format!("'{f}'")).collect::<Vec<_>>().join(", ");
    let build_dirs = ["pkg/", "pkg-threads/", "pkg-threads-relaxed/"];
    let shell = quoted(files.iter().filter(|f| !build_dirs.iter().any(|d| f.starts_with(d))).collect());
    let builds = build_dirs
        .iter()
        .map(|d| format!("'{d}': [{}]", quoted(files.iter().filter(|f| f.starts_with(d)).collect())))
        .collect::<Vec<_>>()
        .join(", ");
    let template = std::fs::read_to_string(root().join("www/sw.js")).map_err(|e| e.to_string())?;
    let replaced = template
        .replacen("const BUILD = 'dev';", &format!("const BUILD = '{hash:016x}';"), 1)
        .replacen("const SHELL = [];", &format!("const SHELL = [{shell}];"), 1)
        .replacen("const BUILDS = {};", &format!("const BUILDS = {{{builds}}};"), 1);
    if ["const BUILD = 'dev';", "const SHELL = [];", "const BUILDS = {};"].iter().any(|line| replaced.contains(line)) {
        return Err("www/sw.js no longer has the lines dist fills in".into());
    }
    std::fs::write(out.join("sw.js"), replaced).map_err(|e| e.to_string())
}

/// Every file under `dir`, as paths relative to `base` with forward slashes.
fn list_files(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), String> {
    for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            list_files(base, &path, out)?;
        } else {
            let relative = path.strip_prefix(base).unwrap().components();
            out.push(relative.map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"));
        }
    }
    Ok(())
}

/// The web app manifest's icons, drawn: four bars of different heights side by side, the
/// four branches of an Inception module, on a rounded square.
fn write_icons(out: &Path) -> Result<(), String> {
    const BRANCHES: [([u8; 3], f32); 4] =
        [([233, 196, 106], 0.45), ([244, 162, 97], 0.7), ([231, 111, 81], 0.55), ([42, 157, 143], 0.35)];
    for size in [192u32, 512] {
        let s = size as f32;
        let icon = image::RgbaImage::from_fn(size, size, |x, y| {
            let (fx, fy) = (x as f32 + 0.5, y as f32 + 0.5);
            // a rounded square: the corner radius is a fifth of the side
            let r = s / 5.0;
            let (cx, cy) = (fx.clamp(r, s - r), fy.clamp(r, s - r));
            if (fx - cx).powi(2) + (fy - cy).powi(2) > r * r {
                return image::Rgba([0, 0, 0, 0]);
            }
            let (left, width, bottom) = (0.18 * s, 0.64 * s / 4.0, 0.8 * s);
            let column = ((fx - left) / width).floor();
            if (0.0..4.0).contains(&column) && (fx - left - column * width) < 0.8 * width {
                let (color, height) = BRANCHES[column as usize];
                if fy <= bottom && fy >= bottom - height * s * 0.85 {
                    return image::Rgba([color[0], color[1], color[2], 255]);
                }
            }
            image::Rgba([29, 53, 87, 255])
        });
        icon.save(out.join(format!("icon-{size}.png"))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn fnv1a64_from(hash: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(hash, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, &b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// The wasm-bindgen CLI at exactly the version of the wasm-bindgen crate in Cargo.lock,
/// installed with cargo when missing.
fn wasm_bindgen() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| e.to_string())?;
    let version = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map(|v| v.trim_end_matches('"').to_string())
        .ok_or("Cargo.lock has no wasm-bindgen")?;
    let installed = Command::new("wasm-bindgen").arg("--version").output().ok();
    let found = installed.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if found.as_deref() != Some(&format!("wasm-bindgen {version}")) {
        eprintln!("xtask: installing wasm-bindgen-cli {version} (found: {})", found.as_deref().unwrap_or("none"));
        run(cargo().args(["install", "wasm-bindgen-cli", "--version", &version]))?;
    }
    Ok("wasm-bindgen".into())
}
