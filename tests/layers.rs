//! The crate's layers, and the rule that keeps them: a module uses only what lies below it.
//! Every top-level module of `src/` has a place in [`LAYERS`]; a module may name
//! (`crate::x`) the modules of lower layers, and, in its own layer, those before it in its
//! own column. The two backends are columns of one layer: neither names the other.
//! A new module goes into the table where its imports put it (see docs/architecture.md).

use std::collections::BTreeSet;
use std::path::Path;

/// From the ground up. Each layer holds columns side by side; a column lists its modules
/// lower first.
const LAYERS: &[(&str, &[&[&str]])] = &[
    ("ground: the graph description and what everything shares", &[&["error", "clock", "parallel", "heatmap", "graph"]]),
    ("weights: files to tensors to a graph's parameters", &[&["tensors", "pth", "weights", "labels"]]),
    ("models: builders, the registry, conversion", &[&["models", "convert", "architecture"]]),
    ("plan: what every backend executes", &[&["plan"]]),
    ("backends, side by side", &[&["gpu_objects", "gpu", "ops", "network"], &["cpu"]]),
    ("engine: choosing a backend, results, references", &[&["backend", "calibrate", "prediction", "reference", "synthetic"]]),
    ("front ends", &[&["wasm"]]),
];

/// (layer, column, position in the column) of a module.
fn place(module: &str) -> Option<(usize, usize, usize)> {
    LAYERS.iter().enumerate().find_map(|(layer, (_, columns))| {
        columns
            .iter()
            .enumerate()
            .find_map(|(column, modules)| modules.iter().position(|m| *m == module).map(|position| (layer, column, position)))
    })
}

/// Why `from` may not name `to`, if it may not.
fn violation(from: &str, to: &str) -> Option<String> {
    let (Some(a), Some(b)) = (place(from), place(to)) else {
        return Some(format!("`{from}` or `{to}` has no place in LAYERS"));
    };
    let allowed = b.0 < a.0 || (b.0 == a.0 && b.1 == a.1 && b.2 < a.2);
    (!allowed).then(|| {
        let (layer, _) = LAYERS[a.0];
        format!("`{from}` ({layer}) uses `{to}` ({}), which does not lie below it", LAYERS[b.0].0)
    })
}

/// The module a file of `src/` belongs to (`src/cpu/gemm.rs`: `cpu`).
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::x` a file names outside comments.
fn named_modules(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap();
        for (i, _) in code.match_indices("crate::") {
            let before = code[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                continue; // `$crate::` in macros names the crate's own exports
            }
            let rest = &code[i + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        // lib.rs declares the modules; main.rs and cli/ are the command-line program, a
        // crate of its own on top of the library (they name it `inception::`).
        if ["lib", "main", "cli"].contains(&module.as_str()) {
            continue;
        }
        if place(&module).is_none() {
            problems.push(format!("{}: module `{module}` has no place in LAYERS", file.display()));
        }
        for named in named_modules(&std::fs::read_to_string(file).unwrap()) {
            if named != module {
                if let Some(why) = violation(&module, &named) {
                    problems.push(format!("{}: {why}", file.display()));
                }
            }
        }
    }
    assert!(problems.is_empty(), "imports against the layers:\n{}", problems.join("\n"));
}

#[test]
fn the_rule_refuses_what_it_should() {
    assert!(violation("graph", "models").is_some(), "the ground names a model");
    assert!(violation("cpu", "network").is_some(), "the CPU backend names the GPU scheduler");
    assert!(violation("ops", "cpu").is_some(), "the GPU ops name the CPU backend");
    assert!(violation("ops", "network").is_some(), "ops name the scheduler above them");
    assert!(violation("new_module", "graph").is_some(), "a module with no place");
    assert!(violation("network", "ops").is_none());
    assert!(violation("cpu", "plan").is_none());
    assert!(violation("wasm", "backend").is_none());
    assert_eq!(named_modules("use crate::graph::{Shape}; // crate::cpu\n$crate::ops::Field"), BTreeSet::from(["graph".into()]));
}
