//! What a classification gives, in one shape for every caller: the CLI's `--json`, the
//! wasm API's `run`, and so the page.

use crate::network::Output;

/// One ranked class.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
}

/// The top classes of one image, most probable first, and what else the pass measured.
#[derive(Clone, Debug)]
pub struct Classification {
    pub top: Vec<Prediction>,
    pub logits: Option<Vec<f32>>,
    /// GPU time of the pass, where the adapter has timestamp queries.
    pub gpu_ms: Option<f64>,
}

impl Classification {
    /// Names the classes of a pass's output with `labels`.
    pub fn new(output: Output, labels: &[String]) -> Classification {
        let top = output
            .top
            .iter()
            .map(|&(index, probability)| Prediction { index, label: labels[index].clone(), probability })
            .collect();
        Classification { top, logits: output.logits, gpu_ms: output.gpu_ms }
    }

    /// `{"top": [{"index", "label", "probability"}...], "gpuMs": number | null}`, with
    /// `"logits": [...]` when the pass read them back.
    pub fn to_json(&self) -> serde_json::Value {
        let top: Vec<_> = self
            .top
            .iter()
            .map(|p| serde_json::json!({"index": p.index, "label": p.label, "probability": p.probability}))
            .collect();
        let mut json = serde_json::json!({"top": top, "gpuMs": self.gpu_ms});
        if let Some(logits) = &self.logits {
            json["logits"] = serde_json::json!(logits);
        }
        json
    }
}
