//! Project tasks: `cargo xtask <task>`.
//!
//!   test    every test: the library for wasm32, then native tests on the GPU wgpu finds
//!           (llvmpipe on CI), in release mode because they run whole networks.

use std::process::{exit, Command};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask test [extra cargo test args]");
            exit(2);
        }
    };
    if let Err(message) = result {
        eprintln!("xtask: {message}");
        exit(1);
    }
}

fn cargo(args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(env!("CARGO")).args(args).status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`cargo {}` failed", args.join(" ")))
    }
}

fn test(extra: &[String]) -> Result<(), String> {
    // The library must keep building for the browser.
    cargo(&["build", "--lib", "--release", "--target", "wasm32-unknown-unknown"])?;
    let mut args = vec!["test", "--release", "--package", "inception-webgpu"];
    args.extend(extra.iter().map(String::as_str));
    // Show what passing tests print: measured errors, and SKIPPED lines for tests whose
    // data ($INCEPTION_WEIGHTS) is absent.
    args.extend(["--", "--show-output"]);
    let skipped = cargo_reporting_skips(&args)?;
    if !skipped.is_empty() {
        eprintln!("xtask: {} test(s) were skipped, not passed:", skipped.len());
        skipped.iter().for_each(|line| eprintln!("  {line}"));
    }
    Ok(())
}

/// Runs cargo, echoing its output, and returns the `SKIPPED ...` lines tests printed.
fn cargo_reporting_skips(args: &[&str]) -> Result<Vec<String>, String> {
    use std::io::{BufRead, BufReader};
    eprintln!("xtask: cargo {}", args.join(" "));
    let mut child = Command::new(env!("CARGO"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
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
