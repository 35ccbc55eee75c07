//! Inception v3 ("Rethinking the Inception Architecture for Computer Vision", Szegedy et al.
//! 2015) exactly as `torchvision.models.inception_v3` computes it at inference, with
//! torchvision's tensor names. Every convolution is torchvision's `BasicConv2d`: no bias,
//! batch norm (eps 1e-3), ReLU. The blocks are named as in torchvision (InceptionA..E).

use crate::graph::{BatchNorm, Conv2dSpec, ConvParams, Graph, InputSpec, LinearParams, LinearSpec, PoolSpec, TensorId, Window};

/// torchvision's weights expect a 299x299 crop of the image resized to 342, normalised
/// with the ImageNet mean and std; `transform_input=True` (set for those weights) then turns
/// that into (x - 0.5) / 0.5 per channel, which is what the input spec computes directly.
fn input_spec() -> InputSpec {
    InputSpec { crop: 299, resize: 342, bgr: false, mul: [2.0; 3], add: [-1.0; 3] }
}

pub const CLASSIFIER: (&str, &str) = ("fc.weight", "fc.bias");

struct Builder {
    graph: Graph,
}

impl Builder {
    /// torchvision's BasicConv2d: convolution without bias, batch norm, ReLU.
    fn conv(&mut self, module: &str, x: TensorId, out_c: u32, kernel: (u32, u32), stride: u32, pad: (u32, u32)) -> TensorId {
        let spec = Conv2dSpec { out_c, window: Window { kernel, stride: (stride, stride), pad }, relu: true };
        let params = ConvParams {
            weight: format!("{module}.conv.weight"),
            bias: None,
            batch_norm: Some(BatchNorm { prefix: format!("{module}.bn"), eps: 1e-3 }),
        };
        self.graph.conv(module, x, spec, params)
    }

    /// A square convolution with "same" padding at stride 1.
    fn square(&mut self, module: &str, x: TensorId, out_c: u32, k: u32) -> TensorId {
        self.conv(module, x, out_c, (k, k), 1, (k / 2, k / 2))
    }

    /// The factorised 1x7 (`wide`) or 7x1 convolution, padded to keep the size.
    fn line(&mut self, module: &str, x: TensorId, out_c: u32, k: u32, wide: bool) -> TensorId {
        let (kernel, pad) = if wide { ((1, k), (0, k / 2)) } else { ((k, 1), (k / 2, 0)) };
        self.conv(module, x, out_c, kernel, 1, pad)
    }

    /// The stride-2 3x3 convolution without padding of the grid reductions.
    fn reduce(&mut self, module: &str, x: TensorId, out_c: u32) -> TensorId {
        self.conv(module, x, out_c, (3, 3), 2, (0, 0))
    }

    /// The branch pool of blocks A, C and E: `F.avg_pool2d(x, 3, stride=1, padding=1)`,
    /// whose divisor counts the padding (always 9), then a 1x1 convolution.
    fn pool_branch(&mut self, block: &str, x: TensorId, out_c: u32) -> TensorId {
        let pooled = self.graph.pool(&format!("{block}.avg_pool"), x, PoolSpec::average(3, 1, 1, false));
        self.square(&format!("{block}.branch_pool"), pooled, out_c, 1)
    }

    fn max_pool(&mut self, name: &str, x: TensorId) -> TensorId {
        self.graph.pool(name, x, PoolSpec::max(3, 2, 0, false))
    }

    fn block_a(&mut self, b: &str, x: TensorId, pool_features: u32) -> TensorId {
        let b1 = self.square(&format!("{b}.branch1x1"), x, 64, 1);
        let b5 = self.square(&format!("{b}.branch5x5_1"), x, 48, 1);
        let b3 = self.square(&format!("{b}.branch3x3dbl_1"), x, 64, 1);
        self.graph.siblings(&format!("{b}.reduce"), &[b5, b3]);
        let b5 = self.square(&format!("{b}.branch5x5_2"), b5, 64, 5);
        let b3 = self.square(&format!("{b}.branch3x3dbl_2"), b3, 96, 3);
        let b3 = self.square(&format!("{b}.branch3x3dbl_3"), b3, 96, 3);
        let bp = self.pool_branch(b, x, pool_features);
        self.graph.concat(b, &[b1, b5, b3, bp])
    }

    /// Grid reduction 35 -> 17.
    fn block_b(&mut self, b: &str, x: TensorId) -> TensorId {
        let b3 = self.reduce(&format!("{b}.branch3x3"), x, 384);
        let bd = self.square(&format!("{b}.branch3x3dbl_1"), x, 64, 1);
        let bd = self.square(&format!("{b}.branch3x3dbl_2"), bd, 96, 3);
        let bd = self.reduce(&format!("{b}.branch3x3dbl_3"), bd, 96);
        let bp = self.max_pool(&format!("{b}.max_pool"), x);
        self.graph.concat(b, &[b3, bd, bp])
    }

    /// 17x17 blocks with 7x7 convolutions factorised into 1x7 and 7x1.
    fn block_c(&mut self, b: &str, x: TensorId, c7: u32) -> TensorId {
        let b1 = self.square(&format!("{b}.branch1x1"), x, 192, 1);
        let b7 = self.square(&format!("{b}.branch7x7_1"), x, c7, 1);
        let bd = self.square(&format!("{b}.branch7x7dbl_1"), x, c7, 1);
        self.graph.siblings(&format!("{b}.reduce"), &[b7, bd]);
        let b7 = self.line(&format!("{b}.branch7x7_2"), b7, c7, 7, true);
        let b7 = self.line(&format!("{b}.branch7x7_3"), b7, 192, 7, false);
        let bd = self.line(&format!("{b}.branch7x7dbl_2"), bd, c7, 7, false);
        let bd = self.line(&format!("{b}.branch7x7dbl_3"), bd, c7, 7, true);
        let bd = self.line(&format!("{b}.branch7x7dbl_4"), bd, c7, 7, false);
        let bd = self.line(&format!("{b}.branch7x7dbl_5"), bd, 192, 7, true);
        let bp = self.pool_branch(b, x, 192);
        self.graph.concat(b, &[b1, b7, bd, bp])
    }

    /// Grid reduction 17 -> 8.
    fn block_d(&mut self, b: &str, x: TensorId) -> TensorId {
        let b3 = self.square(&format!("{b}.branch3x3_1"), x, 192, 1);
        let b7 = self.square(&format!("{b}.branch7x7x3_1"), x, 192, 1);
        self.graph.siblings(&format!("{b}.reduce"), &[b3, b7]);
        let b3 = self.reduce(&format!("{b}.branch3x3_2"), b3, 320);
        let b7 = self.line(&format!("{b}.branch7x7x3_2"), b7, 192, 7, true);
        let b7 = self.line(&format!("{b}.branch7x7x3_3"), b7, 192, 7, false);
        let b7 = self.reduce(&format!("{b}.branch7x7x3_4"), b7, 192);
        let bp = self.max_pool(&format!("{b}.max_pool"), x);
        self.graph.concat(b, &[b3, b7, bp])
    }

    /// 8x8 blocks whose 3x3 branches split into a 1x3 and a 3x1 side by side.
    fn block_e(&mut self, b: &str, x: TensorId) -> TensorId {
        let b1 = self.square(&format!("{b}.branch1x1"), x, 320, 1);
        let b3 = self.square(&format!("{b}.branch3x3_1"), x, 384, 1);
        let bd = self.square(&format!("{b}.branch3x3dbl_1"), x, 448, 1);
        self.graph.siblings(&format!("{b}.reduce"), &[b3, bd]);
        let b3 = self.split(b, "branch3x3_2", b3);
        let bd = self.square(&format!("{b}.branch3x3dbl_2"), bd, 384, 3);
        let bd = self.split(b, "branch3x3dbl_3", bd);
        let bp = self.pool_branch(b, x, 192);
        self.graph.concat(b, &[b1, b3, bd, bp])
    }

    /// `cat([conv1x3(x), conv3x1(x)])`: both read the same input; the concat costs nothing.
    fn split(&mut self, b: &str, name: &str, x: TensorId) -> TensorId {
        let wide = self.line(&format!("{b}.{name}a"), x, 384, 3, true);
        let tall = self.line(&format!("{b}.{name}b"), x, 384, 3, false);
        self.graph.concat(&format!("{b}.{name}"), &[wide, tall])
    }
}

pub fn build(num_classes: u32) -> Graph {
    let mut b = Builder { graph: Graph::new(input_spec()) };
    let x = b.graph.input;
    let x = b.reduce("Conv2d_1a_3x3", x, 32); // 299 -> 149
    let x = b.conv("Conv2d_2a_3x3", x, 32, (3, 3), 1, (0, 0)); // -> 147
    let x = b.square("Conv2d_2b_3x3", x, 64, 3);
    let x = b.max_pool("maxpool1", x); // -> 73
    let x = b.square("Conv2d_3b_1x1", x, 80, 1);
    let x = b.conv("Conv2d_4a_3x3", x, 192, (3, 3), 1, (0, 0)); // -> 71
    let x = b.max_pool("maxpool2", x); // -> 35
    let x = b.block_a("Mixed_5b", x, 32);
    let x = b.block_a("Mixed_5c", x, 64);
    let x = b.block_a("Mixed_5d", x, 64);
    let x = b.block_b("Mixed_6a", x); // -> 17
    let x = b.block_c("Mixed_6b", x, 128);
    let x = b.block_c("Mixed_6c", x, 160);
    let x = b.block_c("Mixed_6d", x, 160);
    let x = b.block_c("Mixed_6e", x, 192);
    // The auxiliary classifier (AuxLogits) only matters in training.
    let x = b.block_d("Mixed_7a", x); // -> 8
    let x = b.block_e("Mixed_7b", x);
    let x = b.block_e("Mixed_7c", x);
    let x = b.graph.global_average_pool("avgpool", x);
    // Dropout is the identity at inference.
    b.graph.linear(
        "fc",
        x,
        LinearSpec { out_features: num_classes, relu: false },
        LinearParams { weight: CLASSIFIER.0.into(), bias: CLASSIFIER.1.into() },
    );
    b.graph
}
