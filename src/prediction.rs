//! What a classification gives, in one shape for every caller: the CLI's `--json`, the
//! wasm API's `run`, and so the page.

use crate::heatmap::ActivationMap;
use crate::plan::Output;

/// One ranked class.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub probability: f32,
    /// Where in the picture the class was seen, when the pass computed it.
    pub cam: Option<ActivationMap>,
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
        let mut cams = output.cams.map(Vec::into_iter);
        let top = output
            .top
            .iter()
            .map(|&(index, probability)| Prediction {
                index,
                label: labels[index].clone(),
                probability,
                cam: cams.as_mut().and_then(Iterator::next),
            })
            .collect();
        Classification { top, logits: output.logits, gpu_ms: output.gpu_ms }
    }

    /// Each class's activation map resized over the network's `size` x `size` input crop
    /// and normalised to 0..1 (what `classify --cam` prints).
    pub fn cams_over_crop(&mut self, size: u32) {
        for p in &mut self.top {
            p.cam = p.cam.as_ref().map(|m| m.over_crop(size));
        }
    }

    /// `{"top": [{"index", "label", "probability"}...], "gpuMs": number | null}`, with
    /// `"logits": [...]` when the pass read them back, and in each entry `"cam": {"width",
    /// "height", "values"}` (row-major) when it computed activation maps.
    pub fn to_json(&self) -> serde_json::Value {
        let entry = |p: &Prediction| {
            let mut json = serde_json::json!({"index": p.index, "label": p.label, "probability": p.probability});
            if let Some(cam) = &p.cam {
                json["cam"] = serde_json::json!({"width": cam.width, "height": cam.height, "values": cam.values});
            }
            json
        };
        let top: Vec<_> = self.top.iter().map(entry).collect();
        let mut json = serde_json::json!({"top": top, "gpuMs": self.gpu_ms});
        if let Some(logits) = &self.logits {
            json["logits"] = serde_json::json!(logits);
        }
        json
    }
}
