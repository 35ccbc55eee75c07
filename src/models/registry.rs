//! The models the project knows, as every part of it names them: the CLI (`--model`, the
//! default weights files), the wasm API, xtask (`dist`'s model list, `fetch-weights`) and,
//! through `weights/models.json` and the wasm API, the page. Plain data with no
//! dependencies, so that xtask includes this very file (`#[path]`) rather than a copy.

/// One model.
pub struct ModelInfo {
    /// What the CLI, the page (`?model=`) and the wasm API accept.
    pub name: &'static str,
    /// Other names accepted for it.
    pub aliases: &'static [&'static str],
    /// In words, for pages and messages.
    pub title: &'static str,
    /// Side of the square crop the network sees.
    pub input_size: u32,
    /// The file the CLI looks for in `$INCEPTION_WEIGHTS` and the site ships.
    pub weights_file: &'static str,
    /// Where published weights are downloaded from, if anywhere.
    pub download: Option<Download>,
}

/// A published checkpoint (torchvision's `IMAGENET1K_V1`), named
/// `<name>-<first 8 hex digits of its SHA-256>.pth` as torchvision does.
#[derive(Debug)]
pub struct Download {
    /// What `cargo xtask fetch-weights` takes.
    pub name: &'static str,
    pub url: &'static str,
}

impl Download {
    /// The file name at the end of the URL.
    pub fn file_name(&self) -> &'static str {
        self.url.rsplit('/').next().unwrap_or(self.url)
    }

    /// The SHA-256 prefix torchvision puts in the file name.
    pub fn hash_prefix(&self) -> &'static str {
        let stem = self.file_name().trim_end_matches(".pth");
        stem.rsplit('-').next().unwrap_or(stem)
    }
}

/// Every model, the default first.
pub const MODELS: [ModelInfo; 4] = [
    ModelInfo {
        name: "bvlc",
        aliases: &[],
        title: "GoogLeNet (BVLC, Caffe)",
        input_size: 224,
        weights_file: "bvlc_googlenet.safetensors",
        download: None,
    },
    ModelInfo {
        name: "torchvision",
        aliases: &["googlenet"],
        title: "GoogLeNet (torchvision)",
        input_size: 224,
        weights_file: "googlenet.safetensors",
        download: Some(Download { name: "googlenet", url: "https://download.pytorch.org/models/googlenet-1378be20.pth" }),
    },
    ModelInfo {
        name: "inception_v3",
        aliases: &[],
        title: "Inception v3 (torchvision)",
        input_size: 299,
        weights_file: "inception_v3.safetensors",
        download: Some(Download {
            name: "inception_v3",
            url: "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        }),
    },
    ModelInfo {
        name: "seed",
        aliases: &[],
        title: "GoogLeNet (the tutorial's network)",
        input_size: 224,
        weights_file: "seed_googlenet.safetensors",
        download: None,
    },
];

/// The model called `name` (or one of its aliases).
pub fn find(name: &str) -> Option<&'static ModelInfo> {
    MODELS.iter().find(|m| m.name == name || m.aliases.contains(&name))
}
