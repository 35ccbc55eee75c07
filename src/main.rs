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
mod cli;
