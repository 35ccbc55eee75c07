//! The native command-line program: classify images, benchmark, describe the GPU.
//! Run `inception help` for usage.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    // Without XDG_RUNTIME_DIR (headless machines, containers) the Vulkan loader's Wayland
    // probe prints "error: XDG_RUNTIME_DIR is invalid or not set", which is harmless but
    // reads like a failure of this program. Set before any thread exists.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    if let Err(e) = cli::main() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod cli {
    use inception::backend::{self, Backend, Choice, Engine};
    use inception::convert::Storage;
    use inception::network::{ConvKernel, Options};
    use inception::tensors::Precision;

    use inception::{labels, Classification, CpuOptions, Error, Gpu, Model, Variant};
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    const USAGE: &str = "\
usage:
  inception classify [--model M] [--weights FILE] [--labels FILE] [--json] [--f16]
                     [--cam] [--cam-out DIR] [--backend gpu|cpu] [--threads N]
                     IMAGE|FOLDER|PATTERN...
      top-5 classes of each image (a folder: its images; a pattern such as
      photos/*.jpg: the matching files), then a throughput line on stderr; one loaded
      network serves them all. --json prints per image the top-5 (index, label,
      probability) and the logits; --labels names the classes (one per line); --f16
      stores the convolution weights as float16 on the GPU (needs shader-f16; the page
      does this by itself where it can); --cam adds each class's activation map (where
      in the crop the network saw it: with --json, a cam object (width, height, values) over
      the input crop, row-major, 0..1; else its peak), --cam-out DIR writes each as an
      overlay on the part of the image the network sees (IMAGE.camRANK.LABEL.png)
  inception bench [--model M] [--weights FILE] [--runs N] [--warmup N] [--per-layer]
                  [--backend gpu|cpu] [--threads N] [--autotune | --conv KERNEL] [--f16] [IMAGE]
      milliseconds per image over N runs after warm-up (default 20 and 3), on IMAGE or a
      synthetic image of the network's input size; --per-layer adds each layer's time
      (median over the runs), share of the total and achieved GFLOP/s; --autotune measures the convolution
      kernels first and keeps the fastest per layer, --conv uses one everywhere: a tile
      (pixels x channels per invocation: 4x8, 4x4 or 4x16), or winograd2 4x8, winograd4
      4x16 and so on (Winograd F(2x2,3x3) or F(4x4,3x3) for the 3x3 convolutions, the
      tile elsewhere)
  inception convert [--model M] [--f16 | --int8] [--labels FILE] INPUT OUTPUT
      writes OUTPUT, the project's own safetensors file (only the tensors the network
      uses; float16 with --f16, half the size; with --int8 the convolution and linear
      weights as int8 with a float32 scale per output channel, a quarter of the size;
      class names from --labels stored inside), from INPUT: a
      PyTorch checkpoint (.pth, .pt) or a safetensors file. The network is recognised
      from the tensor names, the class count from the classifier.
  inception info
      the GPU adapter, its features and limits
  inception synthetic GOLDEN OUTPUT
      for tests: the deterministic weights of a golden file of tools/golden.py
      (tests/golden/*.json) as safetensors, or as the PyTorch checkpoint rebuilt from
      PyTorch's pickle when OUTPUT ends in .pth

  Backends: without --backend the program times a few passes on the GPU (WebGPU
  through wgpu) and on the CPU (SIMD GEMMs on --threads threads, default all cores) and
  keeps the faster, remembered per adapter, model and threads in
  ~/.cache/inception/backend-choices.json; with no GPU adapter it runs on the CPU at once.
  The choice and why go to stderr.

  Weights files may be safetensors or PyTorch checkpoints (torch.save of a state_dict,
  plain or wrapped in {state_dict: ...} or {model: ...}). --model is one of the models
  below; with --weights it is optional (the file says which network it is). Without
  --weights the model's file is looked for in the folder named by $INCEPTION_WEIGHTS.
";

    /// The models (from the registry): name, aliases, title, file.
    fn models_help() -> String {
        let rows = inception::models::registry::MODELS.iter().map(|m| {
            let aliases: String = m.aliases.iter().map(|a| format!(" (alias {a})")).collect();
            format!("  {:<13} {}{aliases}, {}x{}; file {}\n", m.name, m.title, m.input_size, m.input_size, m.weights_file)
        });
        format!("models (the first is the default):\n{}", rows.collect::<String>())
    }

    struct Args {
        command: String,
        model: Option<Variant>,
        weights: Option<PathBuf>,
        labels: Option<PathBuf>,
        json: bool,
        cam: bool,
        cam_out: Option<PathBuf>,
        half: bool,
        int8: bool,
        per_layer: bool,
        autotune: bool,
        conv: Option<ConvKernel>,
        backend: Option<Backend>,
        threads: Option<usize>,
        runs: usize,
        warmup: usize,
        files: Vec<PathBuf>,
    }

    fn parse(args: &[String]) -> Result<Args, Error> {
        let usage = |m: String| Error::Usage(format!("{m}\n\n{USAGE}"));
        let mut a = Args {
            command: args.first().cloned().unwrap_or_else(|| "help".into()),
            model: None,
            weights: None,
            labels: None,
            json: false,
            cam: false,
            cam_out: None,
            half: false,
            int8: false,
            per_layer: false,
            autotune: false,
            conv: None,
            backend: None,
            threads: None,
            runs: 20,
            warmup: 3,
            files: Vec::new(),
        };
        let mut it = args.iter().skip(1);
        while let Some(arg) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| usage(format!("{arg} needs a value")));
            let count = |v: String| v.parse::<usize>().map_err(|_| usage(format!("{arg} takes a number, not `{v}`")));
            match arg.as_str() {
                "--model" => a.model = Some(Variant::from_name(&value()?)?),
                "--weights" => a.weights = Some(value()?.into()),
                "--labels" => a.labels = Some(value()?.into()),
                "--json" => a.json = true,
                "--cam" => a.cam = true,
                "--cam-out" => a.cam_out = Some(value()?.into()),
                "--f16" => a.half = true,
                "--int8" => a.int8 = true,
                "--per-layer" => a.per_layer = true,
                "--autotune" => a.autotune = true,
                "--conv" => a.conv = Some(value()?.parse()?),
                "--backend" => a.backend = Some(value()?.parse()?),
                "--threads" => a.threads = Some(count(value()?)?.max(1)),
                "--runs" => a.runs = count(value()?)?.max(1),
                "--warmup" => a.warmup = count(value()?)?,
                flag if flag.starts_with("--") => return Err(usage(format!("unknown option {flag}"))),
                file => a.files.push(file.into()),
            }
        }
        Ok(a)
    }

    pub fn main() -> Result<(), Error> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let args = parse(&args)?;
        match args.command.as_str() {
            "classify" => pollster::block_on(classify(&args)),
            "bench" => pollster::block_on(bench(&args)),
            "info" => pollster::block_on(info()),
            "convert" => convert(&args),
            "synthetic" => synthetic(&args),
            "help" | "--help" | "-h" => {
                println!("{USAGE}\n{}", models_help());
                Ok(())
            }
            other => Err(Error::Usage(format!("unknown command `{other}`\n\n{USAGE}"))),
        }
    }

    fn weights_path(args: &Args) -> Result<PathBuf, Error> {
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

    fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, Error> {
        std::fs::read(path).map_err(|e| Error::Usage(format!("cannot read {what} {}: {e}", path.display())))
    }

    fn read_labels(args: &Args) -> Result<Option<Vec<String>>, Error> {
        let Some(path) = &args.labels else { return Ok(None) };
        let text = String::from_utf8(read_file(path, "labels file")?)
            .map_err(|_| Error::Usage(format!("the labels file {} is not UTF-8 text", path.display())))?;
        Ok(Some(labels::parse(&text)))
    }

    /// A loaded network on the backend asked for, or the one measured faster here.
    struct Loaded {
        gpu: Option<Gpu>,
        model: Model,
        engine: Engine,
        choice: Choice,
        names: Vec<String>,
    }

    async fn load(args: &Args) -> Result<Loaded, Error> {
        let path = weights_path(args)?;
        let in_file = |e: inception::WeightsError| Error::Usage(format!("{}: {}", path.display(), Error::from(e)));
        let bytes = read_file(&path, "weights file")?;
        let model = Model::load(&bytes, args.model).map_err(in_file)?;
        let names = labels::choose(read_labels(args)?, inception::convert::embedded_labels(&bytes), model.graph.num_classes())
            .map_err(in_file)?;
        let gpu_options = Options { precision: if args.half { Precision::F16 } else { Precision::F32 }, ..Options::default() };
        let cpu_options = CpuOptions { threads: args.threads, ..CpuOptions::default() };
        let gpu = match args.backend {
            Some(Backend::Cpu) => None,
            Some(Backend::Gpu) => Some(Gpu::new().await?),
            None => Gpu::new().await.map_err(|e| eprintln!("no GPU: {e}")).ok(),
        };
        let (mut engine, choice) = match (args.backend, &gpu) {
            (Some(backend), _) => {
                (Engine::new(backend, gpu.as_ref(), &model, gpu_options, cpu_options)?, Choice::forced(backend))
            }
            (None, None) => {
                (Engine::new(Backend::Cpu, None, &model, gpu_options, cpu_options)?, Choice::no_adapter("none found"))
            }
            (None, Some(gpu)) => {
                let key =
                    format!("{} | {} | {:?} | {:?} threads", gpu.describe(), model.variant, gpu_options.precision, args.threads);
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
    fn choices_file() -> Option<PathBuf> {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))?;
        Some(cache.join("inception/backend-choices.json"))
    }

    /// The choice measured on an earlier run for `key`, if any (a damaged file is ignored).
    fn saved_choice(key: &str) -> Option<Choice> {
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
    fn save_choice(key: &str, choice: &Choice) {
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

    fn synthetic(args: &Args) -> Result<(), Error> {
        let [golden, output] = &args.files[..] else {
            return Err(Error::Usage(format!("synthetic takes a golden file and an output file\n\n{USAGE}")));
        };
        let checkpoint = output.extension().is_some_and(|e| e == "pth");
        let bytes = inception::synthetic::golden_weights(golden, checkpoint).map_err(Error::Usage)?;
        std::fs::write(output, bytes).map_err(|e| Error::Usage(format!("cannot write {}: {e}", output.display())))
    }

    fn convert(args: &Args) -> Result<(), Error> {
        let [input, output] = &args.files[..] else {
            return Err(Error::Usage(format!("convert takes an input and an output file\n\n{USAGE}")));
        };
        let bytes = read_file(input, "weights file")?;
        let labels = read_labels(args)?;
        let storage = match (args.half, args.int8) {
            (true, true) => return Err(Error::Usage("convert takes --f16 or --int8, not both".into())),
            (true, false) => Storage::F16,
            (false, true) => Storage::Int8,
            (false, false) => Storage::F32,
        };
        let out = inception::convert::convert(&bytes, args.model, storage, labels.as_deref())
            .map_err(|e| Error::Usage(format!("{}: {}", input.display(), Error::from(e))))?;
        std::fs::write(output, &out.bytes).map_err(|e| Error::Usage(format!("cannot write {}: {e}", output.display())))?;
        println!(
            "{}: {} ({} classes), {} tensors, {:.1} MB ({})",
            output.display(),
            out.variant.title(),
            out.num_classes,
            out.tensors,
            out.bytes.len() as f64 / 1e6,
            storage.name()
        );
        Ok(())
    }

    /// Decodes an image file upright, as browsers show it (EXIF orientation applied), and
    /// refuses a JPEG that ends before its last scan does (the decoder would fill the
    /// missing part with gray and say nothing; browsers refuse such a file).
    fn read_image(path: &Path) -> Result<image::RgbaImage, Error> {
        use image::ImageDecoder;
        let bytes = std::fs::read(path).map_err(|e| Error::Image(format!("cannot open {}: {e}", path.display())))?;
        if bytes.is_empty() {
            return Err(Error::Image(format!("{} is empty (0 bytes)", path.display())));
        }
        let not_an_image =
            |e: image::ImageError| Error::Image(format!("{} is not an image this program can decode ({e})", path.display()));
        let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
            .with_guessed_format()
            .map_err(|e| Error::Image(format!("cannot read {}: {e}", path.display())))?;
        if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
            return Err(Error::Image(format!(
                "{} is a truncated JPEG file: it ends before its end-of-image marker",
                path.display()
            )));
        }
        let mut decoder = reader.into_decoder().map_err(not_an_image)?;
        let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut img = image::DynamicImage::from_decoder(decoder).map_err(not_an_image)?;
        img.apply_orientation(orientation);
        Ok(img.to_rgba8())
    }

    /// Whether a JPEG's last scan (after its last start-of-scan marker, FF DA) is followed by
    /// the end-of-image marker (FF D9). Neither can occur inside entropy-coded data (an FF
    /// there is followed by 00), so a file cut short in its last scan has no FF D9 after it.
    /// The page's twin: `jpegIsComplete` in www/images.js.
    fn jpeg_is_complete(bytes: &[u8]) -> bool {
        let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
        last_scan.is_some_and(|start| bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]))
    }

    /// The image files named by the arguments: files as given, a folder's images (sorted),
    /// and a pattern's matches (`*` and `?` in the file name, sorted).
    fn image_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "jfif", "tif", "tiff"];
        let mut files = Vec::new();
        for arg in args {
            let name = arg.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let listed = if arg.is_dir() {
                list(arg, |f: &Path| {
                    f.extension().is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str()))
                })?
            } else if !arg.exists() && name.contains(['*', '?']) {
                let dir = arg.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let found = list(dir, |f: &Path| f.file_name().is_some_and(|n| matches(&name, &n.to_string_lossy())))?;
                if found.is_empty() {
                    return Err(Error::Usage(format!("no file matches {}", arg.display())));
                }
                found
            } else {
                vec![arg.clone()]
            };
            files.extend(listed);
        }
        Ok(files)
    }

    /// The files of `dir` that `keep`, sorted.
    fn list(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, Error> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::Usage(format!("cannot list {}: {e}", dir.display())))?;
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && keep(p)).collect();
        files.sort();
        Ok(files)
    }

    /// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one).
    fn matches(pattern: &str, name: &str) -> bool {
        let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
        fn go(p: &[char], n: &[char]) -> bool {
            match (p.first(), n.first()) {
                (None, None) => true,
                (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
                (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
                (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
                _ => false,
            }
        }
        go(&p, &n)
    }

    async fn classify(args: &Args) -> Result<(), Error> {
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
                    let seen = p
                        .cam
                        .as_ref()
                        .map(|m| m.peak())
                        .map(|(x, y)| format!(", seen most at ({x}, {y}) of the {crop}x{crop} crop"));
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
    fn write_cam_overlays(
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

    async fn bench(args: &Args) -> Result<(), Error> {
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
    struct Held {
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
    async fn per_layer(engine: &mut Engine, runs: usize) -> Result<(), Error> {
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
    fn summary(v: &mut [f64]) -> String {
        v.sort_by(f64::total_cmp);
        format!("median {:.3} ms  (min {:.3}, max {:.3}, n {})", v[v.len() / 2], v[0], v[v.len() - 1], v.len())
    }

    async fn info() -> Result<(), Error> {
        let gpu = Gpu::new().await?;
        println!("adapter   {}", gpu.describe());
        println!("features  {:?}", gpu.adapter_features);
        println!("limits    {:#?}", gpu.adapter_limits);
        Ok(())
    }
}
