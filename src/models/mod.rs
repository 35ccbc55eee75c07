//! The networks the engine runs, each built from the graph description by plain functions.

pub mod googlenet;
pub mod inception_v3;
mod model;
pub mod registry;

pub use model::Model;

use crate::error::Error;
use crate::graph::Graph;
use crate::tensors::Tensors;
use googlenet::GoogLeNet;
use registry::ModelInfo;

/// A network the engine knows how to build. The name is what the CLI and the page accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The paper's GoogLeNet as trained by BVLC in Caffe (LRN, conv biases, true 5x5).
    Bvlc,
    /// The tutorial's GoogLeNet (../shared/seed): conv + bias + BatchNorm + ReLU blocks.
    Seed,
    /// torchvision.models.googlenet (BN eps 1e-3, 3x3 third branch, transform_input).
    Torchvision,
    /// torchvision.models.inception_v3 (299x299 input, transform_input, aux head ignored).
    InceptionV3,
}

impl Variant {
    pub const ALL: [Variant; 4] = [Variant::Bvlc, Variant::Seed, Variant::Torchvision, Variant::InceptionV3];

    /// What the project knows of it: names, title, input size, files (the registry).
    pub fn info(self) -> &'static ModelInfo {
        let name = match self {
            Variant::Bvlc => "bvlc",
            Variant::Seed => "seed",
            Variant::Torchvision => "torchvision",
            Variant::InceptionV3 => "inception_v3",
        };
        registry::find(name).expect("every variant is in the registry")
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// What the network is, in words, for pages and messages.
    pub fn title(self) -> &'static str {
        self.info().title
    }

    pub fn from_name(name: &str) -> Result<Variant, Error> {
        let info = registry::find(name);
        Variant::ALL.into_iter().find(|v| info.is_some_and(|i| std::ptr::eq(v.info(), i))).ok_or_else(|| {
            let names: Vec<_> = registry::MODELS.iter().map(|m| m.name).collect();
            Error::Usage(format!("unknown model `{name}`; the models are: {}", names.join(", ")))
        })
    }

    /// The graph for `num_classes` outputs.
    pub fn graph(self, num_classes: u32) -> Graph {
        match self.googlenet() {
            Some(flavour) => googlenet::build(flavour, num_classes),
            None => inception_v3::build(num_classes),
        }
    }

    /// The classifier's weight tensor, whose first dimension is the class count.
    pub fn classifier_weight(self) -> &'static str {
        match self.googlenet() {
            Some(flavour) => googlenet::classifier(flavour).0,
            None => inception_v3::CLASSIFIER.0,
        }
    }

    fn googlenet(self) -> Option<GoogLeNet> {
        match self {
            Variant::Bvlc => Some(GoogLeNet::Bvlc),
            Variant::Seed => Some(GoogLeNet::Seed),
            Variant::Torchvision => Some(GoogLeNet::Torchvision),
            Variant::InceptionV3 => None,
        }
    }

    /// The variant whose weights these are, if any (by its signature tensor).
    pub fn detect(tensors: &Tensors) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| tensors.contains(v.signature_tensor()))
    }

    /// A tensor only this variant's weight files have, to recognise a file made for
    /// another variant.
    pub fn signature_tensor(self) -> &'static str {
        match self {
            Variant::Bvlc => "conv1/7x7_s2.weight",
            Variant::Seed => "conv1.batchnorm.running_var",
            Variant::Torchvision => "conv1.bn.running_var",
            Variant::InceptionV3 => "Conv2d_1a_3x3.bn.running_var",
        }
    }

    /// Tensors a weights file may hold that inference does not use (auxiliary heads,
    /// batch-norm counters): accepted and ignored.
    pub fn is_ignored(self, tensor: &str) -> bool {
        let prefixes: &[&str] = match self {
            Variant::Bvlc => &["loss1/", "loss2/"],
            Variant::Seed | Variant::Torchvision => &["aux1.", "aux2."],
            Variant::InceptionV3 => &["AuxLogits."],
        };
        tensor.ends_with(".num_batches_tracked") || prefixes.iter().any(|p| tensor.starts_with(p))
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_matches_the_graphs() {
        for variant in Variant::ALL {
            assert_eq!(variant.info().input_size, variant.graph(1000).input_spec.crop, "{variant}");
            assert_eq!(Variant::from_name(variant.name()).unwrap(), variant);
        }
        assert_eq!(Variant::from_name("googlenet").unwrap(), Variant::Torchvision);
        assert_eq!(registry::MODELS.len(), Variant::ALL.len());
    }
}
