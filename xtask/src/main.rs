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
    cargo(&args)
}
