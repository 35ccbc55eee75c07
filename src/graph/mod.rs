//! A small graph description: what a network computes, in execution order, and where each
//! layer's parameters are found in a weights file. Models are built by plain Rust functions
//! (see `models`), and the scheduler turns a graph into GPU dispatches.

mod shape;
mod spec;
mod window;

pub use shape::{Shape, Tensor, TensorMut};
pub use spec::{Conv2dSpec, Geometry, InputSpec, LinearSpec, LrnSpec, PoolMode, PoolSpec};
pub use window::Window;

/// Index of a tensor in [`Graph::shapes`].
pub type TensorId = usize;

#[derive(Clone, Debug)]
pub enum Op {
    Conv2d {
        spec: Conv2dSpec,
        params: ConvParams,
    },
    Pool(PoolSpec),
    Lrn(LrnSpec),
    /// Flattens its input (C x H x W) into a vector.
    Linear {
        spec: LinearSpec,
        params: LinearParams,
    },
    /// Concatenation on channels. It costs nothing: the scheduler makes each input's
    /// producer write straight into its channel slice of the output.
    Concat,
}

impl Op {
    /// Whether its output may be a channel slice of a concatenation's tensor.
    pub fn writes_channel_slices(&self) -> bool {
        matches!(self, Op::Conv2d { .. } | Op::Pool(_) | Op::Concat)
    }
}

/// Names of a convolution's tensors in a weights file.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvParams {
    /// (out_c, in_c, kh, kw), PyTorch layout
    pub weight: String,
    pub bias: Option<String>,
    pub batch_norm: Option<BatchNorm>,
}

/// A batch norm after a convolution, folded into it at load:
/// `{prefix}.weight`, `.bias`, `.running_mean`, `.running_var`, each of out_c values.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub prefix: String,
    pub eps: f32,
}

impl BatchNorm {
    pub fn tensor(&self, field: &str) -> String {
        format!("{}.{field}", self.prefix)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LinearParams {
    /// (out_features, in_features), PyTorch layout
    pub weight: String,
    pub bias: String,
}

#[derive(Clone, Debug)]
pub struct Node {
    /// A readable layer name, used in logs, errors and per-layer timings.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

impl Node {
    /// The name of its weight tensor in a weights file (convolutions and linear layers).
    pub fn weight_name(&self) -> Option<&str> {
        match &self.op {
            Op::Conv2d { params, .. } => Some(&params.weight),
            Op::Linear { params, .. } => Some(&params.weight),
            Op::Pool(_) | Op::Lrn(_) | Op::Concat => None,
        }
    }
}

/// The tensors a class activation map is computed from (see [`Graph::cam_source`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CamSource {
    /// The last feature maps, before global average pooling.
    pub features: TensorId,
    /// The node of the linear classifier after the pooling.
    pub classifier: usize,
}

#[derive(Clone, Debug)]
pub struct Graph {
    pub input_spec: InputSpec,
    pub nodes: Vec<Node>,
    pub shapes: Vec<Shape>,
    pub input: TensorId,
    /// The logits.
    pub output: TensorId,
}

impl Graph {
    pub fn new(input_spec: InputSpec) -> Graph {
        Graph { input_spec, nodes: Vec::new(), shapes: vec![input_spec.output_shape()], input: 0, output: 0 }
    }

    fn push(&mut self, name: String, op: Op, inputs: Vec<TensorId>, shape: Shape) -> TensorId {
        let output = self.shapes.len();
        self.shapes.push(shape);
        self.nodes.push(Node { name, op, inputs, output });
        self.output = output;
        output
    }

    pub fn conv(&mut self, name: &str, x: TensorId, spec: Conv2dSpec, params: ConvParams) -> TensorId {
        let shape = spec.output_shape(self.shapes[x]);
        self.push(name.into(), Op::Conv2d { spec, params }, vec![x], shape)
    }

    pub fn pool(&mut self, name: &str, x: TensorId, spec: PoolSpec) -> TensorId {
        let shape = spec.output_shape(self.shapes[x]);
        self.push(name.into(), Op::Pool(spec), vec![x], shape)
    }

    pub fn global_average_pool(&mut self, name: &str, x: TensorId) -> TensorId {
        self.pool(name, x, PoolSpec::global_average(self.shapes[x]))
    }

    pub fn lrn(&mut self, name: &str, x: TensorId, spec: LrnSpec) -> TensorId {
        let shape = self.shapes[x];
        self.push(name.into(), Op::Lrn(spec), vec![x], shape)
    }

    pub fn linear(&mut self, name: &str, x: TensorId, spec: LinearSpec, params: LinearParams) -> TensorId {
        self.push(name.into(), Op::Linear { spec, params }, vec![x], Shape::new(spec.out_features, 1, 1))
    }

    pub fn concat(&mut self, name: &str, xs: &[TensorId]) -> TensorId {
        let first = self.shapes[xs[0]];
        assert!(
            xs.iter().all(|&x| (self.shapes[x].h, self.shapes[x].w) == (first.h, first.w)),
            "{name}: concatenated tensors differ in height or width"
        );
        let c = xs.iter().map(|&x| self.shapes[x].c).sum();
        self.push(name.into(), Op::Concat, xs.to_vec(), Shape::new(c, first.h, first.w))
    }

    /// Places the outputs of convolutions that read the same input side by side in one
    /// tensor (a concatenation nothing else reads): the scheduler then runs 1x1 siblings
    /// as one GEMM. Inception's reduce convolutions, which feed different branches.
    pub fn siblings(&mut self, name: &str, convs: &[TensorId]) -> TensorId {
        self.concat(name, convs)
    }

    /// Where class activation maps come from, if the network ends as GoogLeNet and
    /// Inception v3 do: feature maps, global average pooling, one linear layer (the logits).
    pub fn cam_source(&self) -> Option<CamSource> {
        let producer = |t: TensorId| self.nodes.iter().position(|n| n.output == t);
        let classifier = producer(self.output)?;
        let Op::Linear { .. } = self.nodes[classifier].op else { return None };
        let pool = &self.nodes[producer(self.nodes[classifier].inputs[0])?];
        let features = pool.inputs[0];
        let global = PoolSpec::global_average(self.shapes[features]);
        matches!(&pool.op, Op::Pool(spec) if *spec == global).then_some(CamSource { features, classifier })
    }

    pub fn num_classes(&self) -> u32 {
        self.shapes[self.output].c
    }

    /// The names of the convolution and linear weights (not biases or batch-norm tensors):
    /// the tensors int8 files store quantized.
    pub fn weight_tensors(&self) -> std::collections::HashSet<String> {
        self.nodes.iter().filter_map(|n| n.weight_name()).map(String::from).collect()
    }

    /// Every parameter tensor the graph reads, with its expected shape, in layer order.
    pub fn parameters(&self) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        for node in &self.nodes {
            let input = self.shapes[node.inputs[0]];
            match &node.op {
                Op::Conv2d { spec, params } => {
                    let o = spec.out_c as usize;
                    let (kh, kw) = (spec.window.kernel.0 as usize, spec.window.kernel.1 as usize);
                    out.push((params.weight.clone(), vec![o, input.c as usize, kh, kw]));
                    if let Some(bias) = &params.bias {
                        out.push((bias.clone(), vec![o]));
                    }
                    if let Some(bn) = &params.batch_norm {
                        for field in ["weight", "bias", "running_mean", "running_var"] {
                            out.push((bn.tensor(field), vec![o]));
                        }
                    }
                }
                Op::Linear { spec, params } => {
                    out.push((params.weight.clone(), vec![spec.out_features as usize, input.elements()]));
                    out.push((params.bias.clone(), vec![spec.out_features as usize]));
                }
                Op::Pool(_) | Op::Lrn(_) | Op::Concat => {}
            }
        }
        out
    }

    /// Multiply-adds of one forward pass (convolutions and linear layers).
    pub fn multiply_adds(&self) -> u64 {
        self.nodes.iter().map(|n| self.node_multiply_adds(n)).sum()
    }

    pub fn node_multiply_adds(&self, node: &Node) -> u64 {
        let input = self.shapes[node.inputs[0]];
        let output = self.shapes[node.output];
        match &node.op {
            Op::Conv2d { spec, .. } => output.elements() as u64 * (input.c * spec.window.positions()) as u64,
            Op::Linear { .. } => output.elements() as u64 * input.elements() as u64,
            _ => 0,
        }
    }
}
