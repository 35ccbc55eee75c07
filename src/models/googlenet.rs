//! GoogLeNet (Inception v1) in its three variants, from one builder. The differences
//! are data: layer names, normalisation, pool rounding, the third
//! branch's kernel, and the input.

use crate::graph::{
    BatchNorm, Conv2dSpec, ConvParams, Graph, InputSpec, LinearParams, LinearSpec, LrnSpec, PoolSpec, TensorId, Window,
};

/// (in_c, out_1x1, red_3x3, out_3x3, red_5x5, out_5x5, out_pool_proj) per block, with the
/// block's id; a max pool precedes 4a and 5a. The same numbers as the paper's table 1.
const BLOCKS: [(&str, [u32; 6]); 9] = [
    ("3a", [64, 96, 128, 16, 32, 32]),
    ("3b", [128, 128, 192, 32, 96, 64]),
    ("4a", [192, 96, 208, 16, 48, 64]),
    ("4b", [160, 112, 224, 24, 64, 64]),
    ("4c", [128, 128, 256, 24, 64, 64]),
    ("4d", [112, 144, 288, 32, 64, 64]),
    ("4e", [256, 160, 320, 32, 128, 128]),
    ("5a", [256, 160, 320, 32, 128, 128]),
    ("5b", [384, 192, 384, 48, 128, 128]),
];

/// Which of the three GoogLeNets to build (see [`super::Variant`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoogLeNet {
    Bvlc,
    Seed,
    Torchvision,
}

const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

fn input_spec(variant: GoogLeNet) -> InputSpec {
    let base = InputSpec { crop: 224, resize: 256, bgr: false, mul: [1.0; 3], add: [0.0; 3] };
    match variant {
        // Caffe: BGR in 0..255 minus the per-channel mean.
        GoogLeNet::Bvlc => InputSpec { bgr: true, mul: [255.0; 3], add: [-104.0, -117.0, -123.0], ..base },
        // ImageNet mean/std, then torchvision's transform_input, which together are
        // exactly (x - 0.5) / 0.5 per channel.
        GoogLeNet::Torchvision => InputSpec { mul: [2.0; 3], add: [-1.0; 3], ..base },
        GoogLeNet::Seed => {
            InputSpec { mul: IMAGENET_STD.map(|s| 1.0 / s), add: [0, 1, 2].map(|c| -IMAGENET_MEAN[c] / IMAGENET_STD[c]), ..base }
        }
    }
}

/// Where a convolution module's tensors are, given its name in the variant's files.
fn conv_params(variant: GoogLeNet, module: &str) -> ConvParams {
    match variant {
        GoogLeNet::Bvlc => {
            ConvParams { weight: format!("{module}.weight"), bias: Some(format!("{module}.bias")), batch_norm: None }
        }
        GoogLeNet::Seed => ConvParams {
            weight: format!("{module}.conv.weight"),
            bias: Some(format!("{module}.conv.bias")),
            batch_norm: Some(BatchNorm { prefix: format!("{module}.batchnorm"), eps: 1e-5 }),
        },
        GoogLeNet::Torchvision => ConvParams {
            weight: format!("{module}.conv.weight"),
            bias: None,
            batch_norm: Some(BatchNorm { prefix: format!("{module}.bn"), eps: 1e-3 }),
        },
    }
}

/// The classifier's (weight, bias) names.
pub fn classifier(variant: GoogLeNet) -> (&'static str, &'static str) {
    match variant {
        GoogLeNet::Bvlc => ("loss3/classifier.weight", "loss3/classifier.bias"),
        GoogLeNet::Seed => ("fc1.weight", "fc1.bias"),
        GoogLeNet::Torchvision => ("fc.weight", "fc.bias"),
    }
}

struct Builder {
    graph: Graph,
    variant: GoogLeNet,
}

impl Builder {
    /// A convolution followed by ReLU (every convolution of GoogLeNet has one).
    fn conv(&mut self, module: &str, x: TensorId, out_c: u32, kernel: u32, stride: u32, pad: u32) -> TensorId {
        let spec = Conv2dSpec { out_c, window: Window::square(kernel, stride, pad), relu: true };
        let params = conv_params(self.variant, module);
        self.graph.conv(module, x, spec, params)
    }

    /// The stride-2 max pools between stages: Caffe and torchvision round up, the tutorial
    /// pads by one and rounds down. torchvision's last one is 2x2.
    fn downsample(&mut self, name: &str, x: TensorId, last: bool) -> TensorId {
        let spec = match self.variant {
            GoogLeNet::Seed => PoolSpec::max(3, 2, 1, false),
            GoogLeNet::Torchvision if last => PoolSpec::max(2, 2, 0, true),
            GoogLeNet::Bvlc | GoogLeNet::Torchvision => PoolSpec::max(3, 2, 0, true),
        };
        self.graph.pool(name, x, spec)
    }

    fn lrn(&mut self, name: &str, x: TensorId) -> TensorId {
        self.graph.lrn(name, x, LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 })
    }

    fn inception(&mut self, id: &str, x: TensorId, [c1, r3, c3, r5, c5, pp]: [u32; 6]) -> TensorId {
        // Module names of the six convolutions, and the pool's name.
        let names: [String; 7] = match self.variant {
            GoogLeNet::Bvlc => {
                ["1x1", "3x3_reduce", "3x3", "5x5_reduce", "5x5", "pool_proj", "pool"].map(|n| format!("inception_{id}/{n}"))
            }
            GoogLeNet::Seed | GoogLeNet::Torchvision => {
                ["branch1", "branch2.0", "branch2.1", "branch3.0", "branch3.1", "branch4.1", "branch4.0"]
                    .map(|n| format!("inception{id}.{n}"))
            }
        };
        // torchvision keeps a 3x3 where the paper has 5x5, to match its weights.
        let k3 = if self.variant == GoogLeNet::Torchvision { 3 } else { 5 };
        let b1 = self.conv(&names[0], x, c1, 1, 1, 0);
        let b2 = self.conv(&names[1], x, r3, 1, 1, 0);
        let b3 = self.conv(&names[3], x, r5, 1, 1, 0);
        self.graph.siblings(&format!("{}+{}", names[1], names[3]), &[b2, b3]);
        let b2 = self.conv(&names[2], b2, c3, 3, 1, 1);
        let b3 = self.conv(&names[4], b3, c5, k3, 1, k3 / 2);
        let ceil = self.variant != GoogLeNet::Seed; // no effect at stride 1, kept faithful
        let b4 = self.graph.pool(&names[6], x, PoolSpec::max(3, 1, 1, ceil));
        let b4 = self.conv(&names[5], b4, pp, 1, 1, 0);
        let output = match self.variant {
            GoogLeNet::Bvlc => format!("inception_{id}/output"),
            _ => format!("inception{id}"),
        };
        self.graph.concat(&output, &[b1, b2, b3, b4])
    }
}

pub fn build(variant: GoogLeNet, num_classes: u32) -> Graph {
    let mut b = Builder { graph: Graph::new(input_spec(variant)), variant };
    let x = b.graph.input;
    let x = match variant {
        GoogLeNet::Bvlc => {
            let x = b.conv("conv1/7x7_s2", x, 64, 7, 2, 3);
            let x = b.downsample("pool1/3x3_s2", x, false);
            let x = b.lrn("pool1/norm1", x);
            let x = b.conv("conv2/3x3_reduce", x, 64, 1, 1, 0);
            let x = b.conv("conv2/3x3", x, 192, 3, 1, 1);
            let x = b.lrn("conv2/norm2", x);
            b.downsample("pool2/3x3_s2", x, false)
        }
        GoogLeNet::Seed => {
            let x = b.conv("conv1", x, 64, 7, 2, 3);
            let x = b.downsample("maxpool1", x, false);
            let x = b.conv("conv2", x, 192, 3, 1, 1);
            b.downsample("maxpool2", x, false)
        }
        GoogLeNet::Torchvision => {
            let x = b.conv("conv1", x, 64, 7, 2, 3);
            let x = b.downsample("maxpool1", x, false);
            let x = b.conv("conv2", x, 64, 1, 1, 0);
            let x = b.conv("conv3", x, 192, 3, 1, 1);
            b.downsample("maxpool2", x, false)
        }
    };
    let pool_names: [&str; 2] = match variant {
        GoogLeNet::Bvlc => ["pool3/3x3_s2", "pool4/3x3_s2"],
        _ => ["maxpool3", "maxpool4"],
    };
    let mut x = x;
    for (id, widths) in BLOCKS {
        if id == "4a" {
            x = b.downsample(pool_names[0], x, false);
        }
        if id == "5a" {
            x = b.downsample(pool_names[1], x, true);
        }
        x = b.inception(id, x, widths);
    }
    let pool_name = if variant == GoogLeNet::Bvlc { "pool5/7x7_s1" } else { "avgpool" };
    let x = b.graph.global_average_pool(pool_name, x);
    // Dropout is the identity at inference.
    let (weight, bias) = classifier(variant);
    let name = weight.trim_end_matches(".weight");
    b.graph.linear(
        name,
        x,
        LinearSpec { out_features: num_classes, relu: false },
        LinearParams { weight: weight.into(), bias: bias.into() },
    );
    b.graph
}
