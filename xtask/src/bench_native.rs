//! `cargo xtask bench-native`: the CPU backend beside ONNX Runtime's CPU provider
//! (../shared/peers/native) and PyTorch (tools/bench_torch.py), on the same BVLC GoogLeNet
//! and weights, the same thread count, in one run, taking turns, so that the machine's
//! drift hits all three alike.

use crate::{root, Options};
use std::process::Command;

/// One engine's command and how its median is read from what it prints.
struct Engine {
    name: &'static str,
    command: Command,
    median: fn(&str) -> Option<f64>,
}

pub fn bench_native(options: &Options, python: &str, rounds: usize) -> Result<(), String> {
    let weights = options
        .weight_dirs()
        .into_iter()
        .map(|d| d.join("bvlc_googlenet.safetensors"))
        .find(|f| f.exists())
        .ok_or("bench-native needs bvlc_googlenet.safetensors: --weights DIR or INCEPTION_WEIGHTS")?;
    crate::run(crate::cargo().args(["build", "--release", "--bin", "inception"]))?;
    let threads = options.threads.unwrap_or(2).to_string();
    let runs = options.runs.to_string();
    let mut ours = Command::new(root().join("target/release/inception"));
    ours.args(["bench", "--backend", "cpu", "--threads", &threads, "--runs", &runs, "--weights"]).arg(&weights);
    let mut ort = Command::new(root().join("../shared/peers/native"));
    ort.args(["--threads", &threads, "--runs", &runs]);
    let mut torch = Command::new(python);
    torch.arg(root().join("tools/bench_torch.py")).arg(&weights).args(["--threads", &threads, "--runs", &runs]);
    let mut engines = [
        Engine { name: "inception_cpu", command: ours, median: |out| number_after(out, "end to end   median ") },
        Engine { name: "onnxruntime_cpu", command: ort, median: |out| number_after(out, "\"median\": ") },
        Engine { name: "pytorch_cpu", command: torch, median: |out| number_after(out, ": median ") },
    ];
    let mut medians: Vec<Vec<f64>> = vec![Vec::new(); engines.len()];
    for round in 0..rounds {
        for (engine, samples) in engines.iter_mut().zip(&mut medians) {
            let out = engine.command.output().map_err(|e| format!("cannot run {}: {e}", engine.name))?;
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            match (engine.median)(&text).filter(|_| out.status.success()) {
                Some(ms) => samples.push(ms),
                None if round == 0 => eprintln!("xtask: {} gave no median, left out:\n{}", engine.name, text.trim_end()),
                None => {}
            }
        }
    }
    let ours = medians[0].iter().copied().fold(f64::NAN, f64::min);
    let mut line = format!("{{\"threads\": {threads}, \"rounds\": {rounds}, \"runs\": {runs}");
    for (engine, samples) in engines.iter().zip(&medians) {
        let best = samples.iter().copied().fold(f64::NAN, f64::min);
        line += &format!(", \"{}_ms\": {samples:.1?}", engine.name);
        if engine.name != "inception_cpu" && best.is_finite() {
            line += &format!(", \"ours_over_{}\": {:.2}", engine.name, ours / best);
        }
    }
    println!("{line}}}");
    Ok(())
}

/// The number right after the first `marker` in `text`.
fn number_after(text: &str, marker: &str) -> Option<f64> {
    let rest = &text[text.find(marker)? + marker.len()..];
    rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect::<String>().parse().ok()
}
