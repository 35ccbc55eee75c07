//! Project tasks: `cargo xtask <task>`.
//!
//!   serve [--weights DIR] [--port P]   build the site and serve it on http://127.0.0.1:8000
//!   dist [--weights DIR] [--out DIR] [--precision auto|float32|float16|int8] [--check-photos DIR]
//!                                       write the self-contained static site (default dist/), the
//!                                       weights in the smallest precision whose top-5 holds against
//!                                       float32 on the check photos (auto), or the one named
//!   test                                every test: native (llvmpipe) and in headless Chromium
//!   bench-web [--runs N] [--per-layer] [--model M] [--backend gpu|cpu] [--threads N]
//!             [--compute auto|f32|int8]
//!             [--peer [--peer-ep webgpu|wasm] [--peer-threads N] [--peer-run SCRIPT]]
//!                                       the page's benchmark mode in headless Chromium, as JSON;
//!                                       --per-layer adds per-layer times, --backend forces one,
//!                                       --threads sets the CPU backend's (1: no wasm threads),
//!                                       --compute what it computes in (?compute=; int8 needs the
//!                                       site's calibrated int8 file, as auto precision writes; the
//!                                       peer then runs ORT's own int8 model)
//!                                       (default: the page's measured choice), --peer also runs
//!                                       ONNX Runtime Web on the same network right after, on its
//!                                       WebGPU or wasm provider (../shared/peers/run, or SCRIPT: a
//!                                       copy holding more models, for inception_v3 see
//!                                       tools/export_inception_v3_onnx.py), and prints the ratio
//!   bench-web --first-visit [--mbit N] [--latency MS] [--precision P]
//!                                       a cold visit (empty browser profile), a warm one and an
//!                                       offline one, with the fake camera: milliseconds to the first
//!                                       shown prediction, bytes sent, the page's timeline; one JSON
//!   bench-web --soak N [--model M] [--backend gpu|cpu] [--threads N]
//!                                       N camera frames (the fake camera) after the start-up work
//!                                       and 50 more; JS heap, wasm memory and live GPU objects at
//!                                       both ends, one JSON
//!   bench-native [--runs N] [--threads N] [--rounds R] [--python PY]
//!                                       the CPU backend, ONNX Runtime CPU (../shared/peers/native)
//!                                       and PyTorch CPU (tools/bench_torch.py with PY, a Python
//!                                       with torch) on BVLC GoogLeNet, R rounds taking turns;
//!                                       prints each one's medians and our ratio to each (best
//!                                       median against best median)
//!   odd-images [--out DIR]              the odd-image corpus (odd_images.rs) from ../shared/images,
//!                                       default target/odd-images; the browser tests make and use it
//!   fetch-weights googlenet|inception_v3 [--from FILE]
//!                                       torchvision's pretrained checkpoint, downloaded, verified
//!                                       and converted into weights/
//!
//! Weights come from --weights DIR or $INCEPTION_WEIGHTS (a folder holding, for example,
//! bvlc_googlenet.safetensors), and from weights/ (what fetch-weights fetched).

mod bench_native;
mod browser;
mod fetch;
mod odd_images;
mod precision;
/// The model registry of the engine, this very file (plain data, no dependencies).
#[path = "../../src/models/registry.rs"]
#[allow(dead_code, reason = "xtask uses only part of the registry")]
mod registry;
mod server;
mod site;

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("dist") => dist(&Options::parse(&args[1..])).map(|_| ()),
        Some("serve") => serve(&Options::parse(&args[1..])),
        // the browser scenarios alone (E2E_ONLY=a,b runs only those), after a `test` built the program
        Some("test-browser") => browser::test().map(|skipped| skipped.iter().for_each(|s| eprintln!("{s}"))),
        Some("bench-web") => {
            let options = Options::parse(&args[1..]);
            if options.first_visit {
                browser::first_visit(&options)
            } else {
                browser::bench_web(&options)
            }
        }
        Some("bench-native") => {
            // --python PY (a Python with torch for tools/bench_torch.py) and --rounds R are its own
            let (mut python, mut rounds, mut rest) = ("python3".to_string(), 3, Vec::new());
            let mut it = args[1..].iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--python" => python = it.next().cloned().unwrap_or_else(|| fail("--python needs a value")),
                    "--rounds" => {
                        rounds = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| fail("--rounds takes a number"))
                    }
                    _ => rest.push(arg.clone()),
                }
            }
            bench_native::bench_native(&Options::parse(&rest), &python, rounds)
        }
        Some("fetch-weights") => fetch::fetch_weights(&args[1..]),
        Some("odd-images") => {
            let out = match &args[1..] {
                [] => root().join("target/odd-images"),
                [flag, dir] if flag == "--out" => PathBuf::from(dir),
                _ => fail("odd-images takes --out DIR"),
            };
            odd_images::write(&root().join("../shared/images"), &out)
                .map(|n| println!("{n} files and corpus.json in {}", out.display()))
        }
        _ => Err("usage: cargo xtask (serve|dist|test|bench-web|fetch-weights) [--weights DIR] [--port P] [--out DIR] \
                  [--runs N] [--per-layer] [--peer]; see xtask/src/main.rs"
            .into()),
    };
    if let Err(message) = result {
        eprintln!("xtask: {message}");
        exit(1);
    }
}

pub struct Options {
    pub weights: Option<PathBuf>,
    pub out: PathBuf,
    pub port: u16,
    pub runs: u32,
    pub peer: bool,
    pub per_layer: bool,
    /// bench-web: the model to measure (default: the site's first)
    pub model: Option<String>,
    /// bench-web --peer: the peer benchmark's run script
    pub peer_run: PathBuf,
    /// bench-web --peer: the peer's execution provider (webgpu or wasm)
    pub peer_ep: String,
    /// bench-web --peer: ORT Web's wasm threads
    pub peer_threads: u32,
    /// bench-web: the page's CPU threads (?threads=N)
    pub threads: Option<u32>,
    /// bench-web: the page's backend (gpu or cpu; default: the page's own choice)
    pub backend: Option<String>,
    /// bench-web: what the page's CPU computes in (?compute=: auto, f32 or int8)
    pub compute: Option<String>,
    /// dist, serve: the weights' precision (auto: the smallest that holds on the check photos)
    pub precision: precision::Precision,
    /// dist, serve: the photos precisions are checked on
    pub check_photos: Option<PathBuf>,
    /// bench-web --first-visit: cold, warm and offline visits instead of the benchmark
    pub first_visit: bool,
    /// bench-web --first-visit: the network's throughput in Mbit/s (Chrome's throttling)
    pub mbit: Option<f64>,
    /// bench-web --first-visit: the network's latency in milliseconds
    pub latency: u32,
    /// bench-web --soak N: N camera frames with memory reported before and after
    pub soak: Option<u32>,
}

impl Options {
    fn parse(args: &[String]) -> Options {
        let mut o = Options {
            weights: std::env::var_os("INCEPTION_WEIGHTS").map(PathBuf::from),
            out: root().join("dist"),
            port: 8000,
            runs: 10,
            peer: false,
            per_layer: false,
            model: None,
            peer_run: root().join("../shared/peers/run"),
            peer_ep: "webgpu".into(),
            peer_threads: 2,
            threads: None,
            backend: None,
            compute: None,
            precision: precision::Precision::Auto,
            check_photos: None,
            first_visit: false,
            mbit: None,
            latency: 0,
            soak: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().unwrap_or_else(|| fail(&format!("{arg} needs a value")));
            match arg.as_str() {
                "--weights" => o.weights = Some(value().into()),
                "--out" => o.out = value().into(),
                "--port" => o.port = value().parse().unwrap_or_else(|_| fail("--port takes a number")),
                "--runs" => o.runs = value().parse().unwrap_or_else(|_| fail("--runs takes a number")),
                "--peer" => o.peer = true,
                "--per-layer" => o.per_layer = true,
                "--model" => o.model = Some(value()),
                "--peer-run" => o.peer_run = value().into(),
                "--peer-ep" => o.peer_ep = value(),
                "--peer-threads" => o.peer_threads = value().parse().unwrap_or_else(|_| fail("--peer-threads takes a number")),
                "--backend" => o.backend = Some(value()),
                "--precision" => o.precision = precision::Precision::parse(&value()).unwrap_or_else(|e| fail(&e)),
                "--compute" => o.compute = Some(value()),
                "--check-photos" => o.check_photos = Some(value().into()),
                "--first-visit" => o.first_visit = true,
                "--soak" => o.soak = Some(value().parse().unwrap_or_else(|_| fail("--soak takes a number of frames"))),
                "--mbit" => o.mbit = Some(value().parse().unwrap_or_else(|_| fail("--mbit takes a number"))),
                "--latency" => o.latency = value().parse().unwrap_or_else(|_| fail("--latency takes milliseconds")),
                "--threads" => o.threads = Some(value().parse().unwrap_or_else(|_| fail("--threads takes a number"))),
                other => fail(&format!("unknown option {other}")),
            }
        }
        o
    }
}

fn fail(message: &str) -> ! {
    eprintln!("xtask: {message}");
    exit(2)
}

/// The project's root folder.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn run(command: &mut Command) -> Result<(), String> {
    eprintln!("xtask: {command:?}");
    let status = command.status().map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed ({status})", command.get_program()))
    }
}

/// What `command` printed on stdout, where it succeeded; its stderr in the error where not.
pub fn stdout_of(command: &mut Command) -> Result<Vec<u8>, String> {
    let program = command.get_program().to_string_lossy().into_owned();
    let output = command.output().map_err(|e| format!("cannot run {program}: {e}"))?;
    if !output.status.success() {
        return Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(output.stdout)
}

pub fn cargo() -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(root());
    c
}

impl Options {
    /// The folders weights are taken from: --weights / $INCEPTION_WEIGHTS, then weights/.
    pub fn weight_dirs(&self) -> Vec<PathBuf> {
        let fetched = fetch::weights_dir();
        self.weights.iter().cloned().chain(fetched.is_dir().then_some(fetched)).collect()
    }
}

impl Options {
    /// The photos a smaller precision is checked on: --check-photos DIR, else an `images`
    /// folder beside a weights folder (as ../shared has).
    pub fn check_photos(&self) -> Vec<PathBuf> {
        let beside = self.weight_dirs().into_iter().filter_map(|d| d.parent().map(|p| p.join("images")));
        let dirs: Vec<PathBuf> = self.check_photos.iter().cloned().chain(beside).collect();
        dirs.iter().map(|d| precision::photos_in(d)).find(|p| !p.is_empty()).unwrap_or_default()
    }
}

fn dist(options: &Options) -> Result<PathBuf, String> {
    site::build(&options.out, &options.weight_dirs(), options.precision, &options.check_photos())?;
    Ok(options.out.clone())
}

fn serve(options: &Options) -> Result<(), String> {
    let dir = dist(options)?;
    let server = server::Server::start(&dir, options.port)?;
    println!("serving {} on {} (Ctrl-C to stop)", dir.display(), server.url(""));
    loop {
        std::thread::park();
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    // Formatting and lints are part of the tests, so CI enforces them.
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    // The library's browser side (wasm.rs and every cfg(target_arch = "wasm32") edge) must
    // be as clean; the browser tests below build it for real.
    run(cargo()
        .args(["clippy", "--lib", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"])
        .env("RUSTFLAGS", "-C target-feature=+simd128,+relaxed-simd"))?;
    // xtask's own tests (fetch-weights up to the network), in the profile xtask runs in.
    run(cargo().args(["test", "--package", "xtask"]))?;
    let mut args = vec!["test", "--release", "--package", "inception-webgpu"];
    args.extend(extra.iter().map(String::as_str));
    // Show what passing tests print: measured errors, and SKIPPED lines for tests whose
    // data ($INCEPTION_WEIGHTS) is absent.
    args.extend(["--", "--show-output"]);
    let mut skipped = cargo_reporting_skips(&args)?;
    skipped.extend(browser::test()?);
    if !skipped.is_empty() {
        eprintln!("xtask: {} test(s) were skipped, not passed:", skipped.len());
        skipped.iter().for_each(|line| eprintln!("  {line}"));
    }
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// Runs cargo, echoing its output, and returns the `SKIPPED ...` lines tests printed.
fn cargo_reporting_skips(args: &[&str]) -> Result<Vec<String>, String> {
    use std::io::{BufRead, BufReader};
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut child =
        cargo().args(args).stdout(std::process::Stdio::piped()).spawn().map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut skipped = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if line.starts_with("SKIPPED ") {
            skipped.push(line);
        }
    }
    if child.wait().map_err(|e| e.to_string())?.success() {
        Ok(skipped)
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}
