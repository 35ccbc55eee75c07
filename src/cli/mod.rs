//! The command-line program's flags, its usage text and its subcommands, one file each
//! (`classify.rs`, `bench.rs`, `convert.rs`, `info.rs`, `synthetic.rs`), with what they
//! share: loading a network (`load.rs`) and reading images (`images.rs`).

mod bench;
mod classify;
mod convert;
mod images;
mod info;
mod load;
mod synthetic;

use inception::backend::{Backend, ComputeChoice};
use inception::network::ConvKernel;
use inception::{Error, Variant};
use std::path::PathBuf;

const USAGE: &str = "\
usage:
  inception classify [--model M] [--weights FILE] [--labels FILE] [--json] [--f16]
                     [--cam] [--cam-out DIR] [--backend gpu|cpu] [--compute auto|f32|int8]
                     [--threads N]
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
                  [--backend gpu|cpu] [--compute auto|f32|int8] [--threads N]
                  [--autotune | --conv KERNEL] [--f16] [IMAGE]
      milliseconds per image over N runs after warm-up (default 20 and 3), on IMAGE or a
      synthetic image of the network's input size; --per-layer adds each layer's time
      (median over the runs), share of the total and achieved GFLOP/s; --autotune measures the convolution
      kernels first and keeps the fastest per layer, --conv uses one everywhere: a tile
      (pixels x channels per invocation: 4x8, 4x4 or 4x16), or winograd2 4x8, winograd4
      4x16 and so on (Winograd F(2x2,3x3) or F(4x4,3x3) for the 3x3 convolutions, the
      tile elsewhere)
  inception convert [--model M] [--f16 | --int8] [--calibrate PHOTOS]... [--labels FILE]
                    INPUT OUTPUT
      writes OUTPUT, the project's own safetensors file (only the tensors the network
      uses; float16 with --f16, half the size; with --int8 the convolution and linear
      weights as int8 with a float32 scale per output channel, a quarter of the size;
      class names from --labels stored inside), from INPUT: a
      PyTorch checkpoint (.pth, .pt) or a safetensors file. The network is recognised
      from the tensor names, the class count from the classifier. --calibrate (a photo,
      a folder or a pattern; repeatable) stores each convolution's input range over
      those photos and their mirror images: what int8 compute (--compute) needs.
  inception info
      the CPU kernel tiers this machine runs, and the GPU adapter, its features and limits
  inception synthetic GOLDEN OUTPUT
      for tests: the deterministic weights of a golden file of tools/golden.py
      (tests/golden/*.json) as safetensors, or as the PyTorch checkpoint rebuilt from
      PyTorch's pickle when OUTPUT ends in .pth

  Backends: without --backend the program times a few passes on the GPU (WebGPU
  through wgpu) and on the CPU (SIMD GEMMs on --threads threads, default all cores) and
  keeps the faster, remembered per adapter, model and threads in
  ~/.cache/inception/backend-choices.json; with no GPU adapter it runs on the CPU at once.
  The choice and why go to stderr. The CPU's GEMMs run the fastest kernel tier the
  processor has (avx512, avx2+fma, portable: see `inception info`);
  INCEPTION_CPU_KERNELS=NAME forces one.

  Compute: --compute int8 (classify, bench) runs the CPU's convolutions in int8 where
  the weights file holds their calibrated input ranges (convert --calibrate), on the
  fastest int8 tier here (avx512-vnni, avx-vnni, avx2, portable;
  INCEPTION_CPU_INT8_KERNELS=NAME forces one); --compute f32 never does; auto (the
  default) takes int8 where the file allows it and a SIMD int8 tier runs here. What runs goes to stderr.

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
    calibrate: Vec<PathBuf>,
    compute: ComputeChoice,
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
        calibrate: Vec::new(),
        compute: ComputeChoice::Auto,
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
            "--calibrate" => a.calibrate.push(value()?.into()),
            "--compute" => a.compute = value()?.parse()?,
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
        "classify" => pollster::block_on(classify::run(&args)),
        "bench" => pollster::block_on(bench::run(&args)),
        "info" => pollster::block_on(info::run()),
        "convert" => convert::run(&args),
        "synthetic" => synthetic::run(&args),
        "help" | "--help" | "-h" => {
            println!("{USAGE}\n{}", models_help());
            Ok(())
        }
        other => Err(Error::Usage(format!("unknown command `{other}`\n\n{USAGE}"))),
    }
}
