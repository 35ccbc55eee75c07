//! The native program as users run it.

mod common;

use std::process::Command;

fn inception(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_inception")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn shared(path: &str) -> String {
    common::shared().join(path).display().to_string()
}

#[test]
fn classify_prints_pug_first_and_json_with_logits() {
    if common::real_weights("classify_prints_pug_first_and_json_with_logits", "bvlc_googlenet.safetensors").is_none() {
        return;
    }
    let (ok, stdout, stderr) = inception(&["classify", "--model", "bvlc", &shared("images/pug.jpg")]);
    assert!(ok, "{stderr}");
    let first = stdout.lines().nth(1).unwrap();
    assert!(first.ends_with(" pug (254)"), "{stdout}");

    let (ok, stdout, stderr) = inception(&["classify", "--json", &shared("images/tiger_cat.224.png"), &shared("images/pug.jpg")]);
    assert!(ok, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc.as_array().unwrap().len(), 2);
    assert_eq!(doc[0]["top5"][0]["label"], "tiger cat");
    assert_eq!(doc[0]["top5"][0]["class"], 282);
    assert_eq!(doc[0]["logits"].as_array().unwrap().len(), 1000);
    assert_eq!(doc[1]["top5"][0]["label"], "pug");
}

#[test]
fn clear_errors_for_bad_input() {
    let dir = std::env::temp_dir().join(format!("inception-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not an image").unwrap();
    let text = text.display().to_string();

    let (ok, _, stderr) = inception(&["classify", "--weights", &text, &text]);
    assert!(!ok && stderr.contains("weights file error") && stderr.contains("notes.txt"), "{stderr}");
    let (ok, _, stderr) = inception(&["classify", "--weights", "/nonexistent/w.safetensors", &text]);
    assert!(!ok && stderr.contains("cannot read weights file /nonexistent/w.safetensors"), "{stderr}");
    let (ok, _, stderr) = inception(&["classify", "--model", "inception_v9", &text]);
    assert!(!ok && stderr.contains("unknown model `inception_v9`"), "{stderr}");

    // a non-image with valid weights (synthetic, so that no real weights are needed)
    let tensors: Vec<_> = inception::Variant::Bvlc.graph(1000).parameters().into_iter().map(|(n, s)| (n, s, "float32".to_owned())).collect();
    let weights = dir.join("synthetic.safetensors");
    std::fs::write(&weights, inception::synthetic::safetensors_file(&tensors)).unwrap();
    let (ok, _, stderr) = inception(&["classify", "--weights", &weights.display().to_string(), &text]);
    assert!(!ok && stderr.contains("notes.txt is not an image"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
