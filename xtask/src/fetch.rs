//! `cargo xtask fetch-weights <model>`: torchvision's pretrained checkpoint, downloaded from
//! its published URL, verified against the SHA-256 prefix torchvision puts in the file name,
//! and converted by `inception convert` into the project's own format in `weights/`, where
//! `serve` and `dist` find it.

use crate::registry::{self, Download};
use crate::{cargo, root, run};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A published checkpoint from the model registry: the model it holds, and where from.
#[derive(Debug)]
pub struct Checkpoint {
    pub name: &'static str,
    pub url: &'static str,
    /// the engine's model name
    pub model: &'static str,
    /// the file the conversion writes
    pub file: &'static str,
    download: &'static Download,
}

impl Checkpoint {
    /// Every model of the registry that has published weights.
    fn all() -> impl Iterator<Item = Checkpoint> {
        registry::MODELS.iter().filter_map(|m| {
            let d = m.download.as_ref()?;
            Some(Checkpoint { name: d.name, url: d.url, model: m.name, file: m.weights_file, download: d })
        })
    }

    pub fn find(name: &str) -> Result<Checkpoint, String> {
        Checkpoint::all().find(|c| c.name == name).ok_or_else(|| {
            let names: Vec<_> = Checkpoint::all().map(|c| c.name).collect();
            format!("fetch-weights knows {}, not `{name}`", names.join(" and "))
        })
    }

    fn file_name(&self) -> &'static str {
        self.download.file_name()
    }

    /// torchvision's convention: `<name>-<first 8 hex digits of the SHA-256>.pth`.
    pub fn hash_prefix(&self) -> &'static str {
        self.download.hash_prefix()
    }
}

/// The folder fetched weights go to (ignored by git).
pub fn weights_dir() -> PathBuf {
    root().join("weights")
}

/// `fetch-weights <model> [--from FILE]`: with --from, a checkpoint downloaded by hand is
/// verified and converted instead of downloading.
pub fn fetch_weights(args: &[String]) -> Result<(), String> {
    let usage = "usage: cargo xtask fetch-weights (googlenet|inception_v3) [--from FILE]";
    let (name, from) = match args {
        [name] => (name, None),
        [name, flag, file] if flag == "--from" => (name, Some(PathBuf::from(file))),
        _ => return Err(usage.into()),
    };
    let checkpoint = Checkpoint::find(name)?;
    let dir = weights_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let pth = match from {
        Some(file) => file,
        None => {
            let target = dir.join(checkpoint.file_name());
            if !(target.exists() && verify(&target, checkpoint.hash_prefix()).is_ok()) {
                download(checkpoint.url, &target, name)?;
            }
            target
        }
    };
    verify(&pth, checkpoint.hash_prefix())?;
    let out = dir.join(checkpoint.file);
    run(cargo().args(["build", "--release", "--bin", "inception"]))?;
    run(Command::new(root().join("target/release/inception"))
        .args(["convert", "--model", checkpoint.model])
        .arg(&pth)
        .arg(&out))?;
    println!("{} is ready: `cargo xtask serve` shows it in the page's model picker", out.display());
    Ok(())
}

/// Checks that the file's SHA-256 starts with `prefix`, as torchvision's loader does.
pub fn verify(path: &Path, prefix: &str) -> Result<(), String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    let digest: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if digest.starts_with(prefix) {
        Ok(())
    } else {
        Err(format!(
            "{} is not the published checkpoint: its SHA-256 is {digest}, which should start with {prefix} \
             (a damaged or different file; delete it and fetch again)",
            path.display()
        ))
    }
}

/// Downloads `url` to `target` (through a `.part` file), with a progress bar on stderr.
pub fn download(url: &str, target: &Path, name: &str) -> Result<(), String> {
    let offline = |e: &dyn std::fmt::Display| {
        format!(
            "cannot download {url} ({e}). fetch-weights needs an internet connection; offline, download the file \
             on another machine and run `cargo xtask fetch-weights {name} --from FILE`"
        )
    };
    eprintln!("xtask: downloading {url}");
    let mut response = ureq::get(url).call().map_err(|e| offline(&e))?;
    let total: Option<u64> = response.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let mut reader = response.body_mut().with_config().limit(2 << 30).reader();
    let part = target.with_extension("pth.part");
    let mut file = std::fs::File::create(&part).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut received = 0u64;
    loop {
        let n = reader.read(&mut buffer).map_err(|e| offline(&e))?;
        if n == 0 {
            break;
        }
        file.write_all(&buffer[..n]).map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        received += n as u64;
        progress(received, total);
    }
    eprintln!();
    drop(file);
    std::fs::rename(&part, target).map_err(|e| format!("cannot rename {}: {e}", part.display()))
}

fn progress(received: u64, total: Option<u64>) {
    let mb = |b: u64| b as f64 / 1e6;
    match total {
        Some(total) if total > 0 => {
            let done = (40 * received / total).min(40) as usize;
            eprint!("\r  [{}{}] {:5.1} / {:.1} MB", "#".repeat(done), " ".repeat(40 - done), mb(received), mb(total));
        }
        _ => eprint!("\r  {:.1} MB", mb(received)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_urls_and_hashes_are_pinned() {
        let googlenet = Checkpoint::find("googlenet").unwrap();
        assert_eq!(googlenet.url, "https://download.pytorch.org/models/googlenet-1378be20.pth");
        assert_eq!(googlenet.hash_prefix(), "1378be20");
        assert_eq!(Checkpoint::find("inception_v3").unwrap().hash_prefix(), "0cc3c7bd");
        assert!(Checkpoint::find("resnet50").unwrap_err().contains("googlenet and inception_v3"));
    }

    #[test]
    fn verify_checks_the_sha256_prefix() {
        let path = std::env::temp_dir().join(format!("xtask-verify-{}", std::process::id()));
        std::fs::write(&path, b"abc").unwrap();
        // SHA-256("abc") = ba7816bf 8f01cfea ...
        assert!(verify(&path, "ba7816bf").is_ok());
        let e = verify(&path, "1378be20").unwrap_err();
        assert!(e.contains("is not the published checkpoint") && e.contains("ba7816bf8f01cfea"), "{e}");
        std::fs::remove_file(&path).unwrap();
    }

    /// Without a network (here: a port nobody listens on), the message says what to do.
    #[test]
    fn offline_the_download_fails_with_a_clear_message() {
        let target = std::env::temp_dir().join(format!("xtask-offline-{}.pth", std::process::id()));
        let e = download("http://127.0.0.1:9/googlenet-1378be20.pth", &target, "googlenet").unwrap_err();
        assert!(e.contains("needs an internet connection") && e.contains("--from FILE"), "{e}");
        assert!(!target.exists());
    }
}
