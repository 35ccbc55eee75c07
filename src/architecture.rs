//! The network as the page's explorer shows it, worked out from the graph itself (not from
//! a model's names): the layers outside any block (the stem, the pools between blocks, the
//! head), and the Inception blocks, each a concatenation of branches that all start from
//! the block's input. Per layer its operation, output shape, parameters and multiply-adds;
//! `strongest_channels` and `feature_map_rgba` show a branch's output as small images.

use crate::error::Error;
use crate::graph::{Graph, Op, Shape, TensorId};

/// A part of the network in execution order.
#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Layer(usize),
    Block(Block),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The node names' common stem ("inception_4a", "Mixed_6b").
    pub name: String,
    /// The concatenation that ends it; its output is the block's.
    pub concat: usize,
    pub input: TensorId,
    pub branches: Vec<Branch>,
    /// Every node of the block in order, with those that belong to no single branch.
    pub nodes: Vec<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// Its nodes in order (a branch may fork and join again, as Inception v3's 3x3 branches do).
    pub nodes: Vec<usize>,
    /// The concatenation's input it produces.
    pub output: TensorId,
    /// Its channels in the block's output: `first..first + shape.c`.
    pub first_channel: u32,
}

/// The parts of `graph` in order: every node is in exactly one.
pub fn parts(graph: &Graph) -> Vec<Part> {
    let producer = producers(graph);
    let readers = |t: TensorId| graph.nodes.iter().filter(move |n| n.inputs.contains(&t));
    // a block ends in a concatenation that something reads (sibling convolutions' is not
    // read) other than another concatenation (a branch that forks and joins)
    let ends_block = |i: usize| {
        matches!(graph.nodes[i].op, Op::Concat)
            && readers(graph.nodes[i].output).next().is_some()
            && readers(graph.nodes[i].output).all(|n| !matches!(n.op, Op::Concat))
    };
    let mut parts = Vec::new();
    let mut next = 0; // the first node not yet in a part
    for end in (0..graph.nodes.len()).filter(|&i| ends_block(i)) {
        let block = block(graph, &producer, end);
        let start = block.nodes[0];
        parts.extend((next..start).map(Part::Layer));
        next = end + 1;
        parts.push(Part::Block(block));
    }
    parts.extend((next..graph.nodes.len()).map(Part::Layer));
    parts
}

/// For each tensor, the node that produces it (None for the input).
fn producers(graph: &Graph) -> Vec<Option<usize>> {
    let mut producer = vec![None; graph.shapes.len()];
    for (i, node) in graph.nodes.iter().enumerate() {
        producer[node.output] = Some(i);
    }
    producer
}

/// The nodes `tensor` is computed from after `input`, in order.
fn ancestors(graph: &Graph, producer: &[Option<usize>], tensor: TensorId, input: TensorId) -> Vec<usize> {
    let mut nodes = Vec::new();
    let mut todo = vec![tensor];
    while let Some(t) = todo.pop() {
        let Some(p) = producer[t].filter(|_| t != input) else { continue };
        if !nodes.contains(&p) {
            nodes.push(p);
            todo.extend(&graph.nodes[p].inputs);
        }
    }
    nodes.sort_unstable();
    nodes
}

fn block(graph: &Graph, producer: &[Option<usize>], concat: usize) -> Block {
    let inputs = &graph.nodes[concat].inputs;
    // the block's input: the latest tensor on the first branch's way back that every branch
    // is computed from
    let reaches = |from: TensorId, t: TensorId| {
        from == t || ancestors(graph, producer, from, usize::MAX).iter().any(|&n| graph.nodes[n].inputs.contains(&t))
    };
    let mut input = inputs[0];
    while let Some(p) = producer[input] {
        input = graph.nodes[p].inputs[0];
        if inputs.iter().all(|&b| reaches(b, input)) {
            break;
        }
    }
    let mut first_channel = 0;
    let branches: Vec<Branch> = inputs
        .iter()
        .map(|&output| {
            let branch = Branch { nodes: ancestors(graph, producer, output, input), output, first_channel };
            first_channel += graph.shapes[output].c;
            branch
        })
        .collect();
    let start = branches.iter().map(|b| b.nodes[0]).min().unwrap_or(concat);
    Block { name: common_stem(graph, start..=concat), concat, input, branches, nodes: (start..=concat).collect() }
}

/// The longest common prefix of the nodes' names, up to a separator ("inception_4a/1x1",
/// "inception_4a/output" -> "inception_4a"; "Mixed_6b.branch1x1", "Mixed_6b" -> "Mixed_6b").
fn common_stem(graph: &Graph, nodes: std::ops::RangeInclusive<usize>) -> String {
    let names: Vec<&str> = nodes.map(|i| graph.nodes[i].name.as_str()).collect();
    let first = names[0];
    let mut len = names.iter().map(|n| first.bytes().zip(n.bytes()).take_while(|(a, b)| a == b).count()).min().unwrap_or(0);
    // back to a whole name part, unless a name ends exactly there
    if !names.iter().any(|n| n.len() == len) {
        len = first[..len].rfind(['/', '.']).unwrap_or(len);
    }
    first[..len].trim_end_matches(['/', '.', '_']).to_string()
}

/// What a node computes, in a few words: "conv 3x3", "conv 1x7 /2", "max pool 3x3 /2".
pub fn describe(op: &Op) -> String {
    let window = |w: &crate::graph::Window| {
        let stride = if w.stride == (1, 1) { String::new() } else { format!(" /{}", w.stride.0) };
        format!("{}x{}{stride}", w.kernel.0, w.kernel.1)
    };
    match op {
        Op::Conv2d { spec, .. } => format!("conv {}", window(&spec.window)),
        Op::Pool(spec) => {
            let mode = format!("{:?}", spec.mode).to_lowercase();
            format!("{mode} pool {}", window(&spec.window))
        }
        Op::Lrn(spec) => format!("local response norm {}", spec.size),
        Op::Linear { .. } => "linear".into(),
        Op::Concat => "concat".into(),
    }
}

/// A node's learned parameters as PyTorch counts them (`sum(p.numel() for p in
/// module.parameters())`): weights, biases and batch-norm scales and shifts, not the
/// running statistics.
pub fn parameters(graph: &Graph, node: usize) -> u64 {
    let node = &graph.nodes[node];
    let input = graph.shapes[node.inputs[0]];
    match &node.op {
        Op::Conv2d { spec, params } => {
            let (kh, kw) = spec.window.kernel;
            let out = spec.out_c as u64;
            let bias = params.bias.is_some() as u64 + 2 * params.batch_norm.is_some() as u64;
            out * input.c as u64 * (kh * kw) as u64 + bias * out
        }
        Op::Linear { spec, .. } => spec.out_features as u64 * (input.elements() as u64 + 1),
        Op::Pool(_) | Op::Lrn(_) | Op::Concat => 0,
    }
}

/// The `count` channels of `first..first + channels` of a (C, H, W) tensor with the most
/// energy (sum of squares), strongest first: the feature maps worth showing.
pub fn strongest_channels(values: &[f32], shape: Shape, first: u32, channels: u32, count: usize) -> Vec<u32> {
    let pixels = shape.pixels() as usize;
    let energy = |c: u32| values[c as usize * pixels..][..pixels].iter().map(|v| v * v).sum::<f32>();
    let mut ranked: Vec<(u32, f32)> = (first..first + channels).map(|c| (c, energy(c))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    ranked.into_iter().take(count).map(|(c, _)| c).collect()
}

/// One channel of a (C, H, W) tensor as RGBA pixels, min-max normalised: dark where the
/// feature is absent, bright where it is strong ("inferno"-like ramp through red and yellow).
pub fn feature_map_rgba(values: &[f32], shape: Shape, channel: u32) -> Vec<u8> {
    let pixels = shape.pixels() as usize;
    let map = crate::heatmap::ActivationMap {
        width: shape.w,
        height: shape.h,
        values: values[channel as usize * pixels..][..pixels].to_vec(),
    };
    let ramp = |v: f32| {
        let v = v.clamp(0.0, 1.0);
        let channel = |from: f32, to: f32| (255.0 * ((v - from) / (to - from)).clamp(0.0, 1.0)).round() as u8;
        [channel(0.0, 0.55), channel(0.35, 0.9), channel(0.75, 1.0), 255]
    };
    map.normalized().values.iter().flat_map(|&v| ramp(v)).collect()
}

/// For each channel range `(first, channels)` of a (C, H, W) tensor (a block's branches),
/// its `count` strongest channels (`strongest_channels`) as W x H tiles side by side, each
/// `feature_map_rgba`; the ranges one under another: RGBA of `count * W` x `ranges * H`.
pub fn feature_map_atlas(values: &[f32], shape: Shape, ranges: &[(u32, u32)], count: u32) -> Result<Vec<u8>, Error> {
    let fits = ranges.iter().all(|&(first, channels)| channels > 0 && first + channels <= shape.c);
    if values.len() != shape.elements() || !fits || count == 0 {
        let what = format!("{} values, channel ranges {ranges:?} and {count} maps for a {shape:?} tensor", values.len());
        return Err(Error::Usage(what));
    }
    let (h, tile_row) = (shape.h as usize, 4 * shape.w as usize);
    let row_bytes = count as usize * tile_row;
    let mut atlas = vec![0u8; row_bytes * h * ranges.len()];
    for (row, &(first, channels)) in ranges.iter().enumerate() {
        for (column, channel) in strongest_channels(values, shape, first, channels, count as usize).into_iter().enumerate() {
            for (y, line) in feature_map_rgba(values, shape, channel).chunks(tile_row).enumerate() {
                let at = (row * h + y) * row_bytes + column * tile_row;
                atlas[at..at + tile_row].copy_from_slice(line);
            }
        }
    }
    Ok(atlas)
}

/// The parts as JSON for the page: `{"input": [c, h, w], "parts": [...]}`, each part a
/// `{"kind": "layer", ...layer}` or a `{"kind": "block", "name", "tensor", "shape", "params",
/// "multiplyAdds", "nodes", "branches": [{"firstChannel", "shape", "params", "multiplyAdds",
/// "layers": [layer...]}]}`, a layer being `{"node", "name", "op", "shape", "params",
/// "multiplyAdds"}` (shapes [c, h, w]; `tensor`: the block output's, for `activation`).
pub fn to_json(graph: &Graph) -> serde_json::Value {
    use serde_json::json;
    let shape = |t: TensorId| json!([graph.shapes[t].c, graph.shapes[t].h, graph.shapes[t].w]);
    let layer = |i: usize| {
        let node = &graph.nodes[i];
        json!({
            "node": i, "name": node.name, "op": describe(&node.op), "shape": shape(node.output),
            "params": parameters(graph, i), "multiplyAdds": graph.node_multiply_adds(node),
        })
    };
    let sum = |nodes: &[usize], f: &dyn Fn(usize) -> u64| nodes.iter().map(|&i| f(i)).sum::<u64>();
    let params = |i| parameters(graph, i);
    let macs = |i: usize| graph.node_multiply_adds(&graph.nodes[i]);
    let parts: Vec<_> = parts(graph)
        .into_iter()
        .map(|part| match part {
            Part::Layer(i) => {
                let mut l = layer(i);
                l["kind"] = "layer".into();
                l
            }
            Part::Block(b) => {
                let branches: Vec<_> = b
                    .branches
                    .iter()
                    .map(|br| {
                        // a branch's own layers; the concatenations inside it cost nothing
                        let layers: Vec<_> =
                            br.nodes.iter().filter(|&&i| !matches!(graph.nodes[i].op, Op::Concat)).map(|&i| layer(i)).collect();
                        json!({
                            "firstChannel": br.first_channel, "shape": shape(br.output), "layers": layers,
                            "params": sum(&br.nodes, &params), "multiplyAdds": sum(&br.nodes, &macs),
                        })
                    })
                    .collect();
                let output = graph.nodes[b.concat].output;
                json!({
                    "kind": "block", "name": b.name, "tensor": output, "shape": shape(output), "nodes": b.nodes,
                    "params": sum(&b.nodes, &params), "multiplyAdds": sum(&b.nodes, &macs), "branches": branches,
                })
            }
        })
        .collect();
    json!({ "input": shape(graph.input), "parts": parts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Variant;

    fn blocks(graph: &Graph) -> Vec<Block> {
        parts(graph).into_iter().filter_map(|p| if let Part::Block(b) = p { Some(b) } else { None }).collect()
    }

    #[test]
    fn googlenet_has_nine_blocks_of_four_branches_and_every_node_once() {
        for variant in [Variant::Bvlc, Variant::Torchvision, Variant::Seed] {
            let graph = variant.graph(1000);
            let blocks = blocks(&graph);
            let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
            assert_eq!(names.len(), 9, "{variant:?}: {names:?}");
            assert!(blocks.iter().all(|b| b.branches.len() == 4), "{variant:?}");
            let mut seen: Vec<usize> = parts(&graph)
                .iter()
                .flat_map(|p| match p {
                    Part::Layer(i) => vec![*i],
                    Part::Block(b) => b.nodes.clone(),
                })
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..graph.nodes.len()).collect::<Vec<_>>(), "{variant:?}: a node in no part or in two");
        }
        let names: Vec<String> = blocks(&Variant::Bvlc.graph(1000)).into_iter().map(|b| b.name).collect();
        assert_eq!(names[2], "inception_4a");
        let names: Vec<String> = blocks(&Variant::Torchvision.graph(1000)).into_iter().map(|b| b.name).collect();
        assert_eq!(names[8], "inception5b");
    }

    /// inception_4a as the GoogLeNet paper's table 1 gives it: #1x1 192, #3x3 reduce 96,
    /// #3x3 208, #5x5 reduce 16, #5x5 48, pool proj 64 on a 480x14x14 input.
    #[test]
    fn inception_4a_is_the_papers() {
        let graph = Variant::Bvlc.graph(1000);
        let b = blocks(&graph).into_iter().find(|b| b.name == "inception_4a").unwrap();
        let channels: Vec<u32> = b.branches.iter().map(|br| graph.shapes[br.output].c).collect();
        assert_eq!(channels, [192, 208, 48, 64]);
        assert_eq!(graph.shapes[b.input], Shape::new(480, 14, 14));
        let macs: u64 = b.nodes.iter().map(|&i| graph.node_multiply_adds(&graph.nodes[i])).sum();
        let by_hand = 196 * (480 * 192 + 480 * 96 + 96 * 208 * 9 + 480 * 16 + 16 * 48 * 25 + 480 * 64);
        assert_eq!(macs, by_hand); // 73.6 M, the paper's "73M"
        let names: Vec<&str> = b.branches[1].nodes.iter().map(|&i| graph.nodes[i].name.as_str()).collect();
        assert_eq!(names, ["inception_4a/3x3_reduce", "inception_4a/3x3"]);
    }

    #[test]
    fn inception_v3_has_eleven_blocks_and_mixed_7b_branches_fork() {
        let graph = Variant::InceptionV3.graph(1000);
        let blocks = blocks(&graph);
        let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a",
                "Mixed_7b", "Mixed_7c"
            ]
        );
        let widths = |b: &Block| b.branches.iter().map(|br| graph.shapes[br.output].c).collect::<Vec<_>>();
        assert_eq!(widths(&blocks[4]), [192, 192, 192, 192]); // Mixed_6b
        assert_eq!(widths(&blocks[3]), [384, 96, 288]); // Mixed_6a: two convolutions and a pool
        assert_eq!(widths(&blocks[9]), [320, 768, 768, 192]); // Mixed_7b: 1x3 and 3x1 side by side
        assert_eq!(blocks[9].branches[1].nodes.len(), 4); // branch3x3_1, _2a, _2b, their concat
    }

    #[test]
    fn parameters_count_as_pytorch_does() {
        // torchvision's conv1: a 7x7 convolution 3 -> 64 without bias, and its batch norm
        let graph = Variant::Torchvision.graph(1000);
        assert_eq!(parameters(&graph, 0), 64 * 3 * 49 + 2 * 64);
        // BVLC's, with a bias
        assert_eq!(parameters(&Variant::Bvlc.graph(1000), 0), 64 * 3 * 49 + 64);
        let total: u64 = (0..graph.nodes.len()).map(|i| parameters(&graph, i)).sum();
        assert_eq!(total, 6_624_904); // torchvision.models.googlenet(aux_logits=False)
    }

    #[test]
    fn strongest_channels_rank_by_energy_within_the_range() {
        let shape = Shape::new(4, 1, 2);
        let values = [1.0, 1.0, 0.0, 3.0, -5.0, 0.0, 2.0, 2.0];
        assert_eq!(strongest_channels(&values, shape, 0, 4, 2), [2, 1]);
        assert_eq!(strongest_channels(&values, shape, 1, 3, 3), [2, 1, 3]);
        let rgba = feature_map_rgba(&values, shape, 1);
        assert_eq!((rgba.len(), rgba[0], rgba[4]), (8, 0, 255));
        // two ranges, two maps each: rows of two 2x1 tiles (16 bytes); the second row starts
        // with channel 2, the strongest of channels 2 and 3
        let atlas = feature_map_atlas(&values, shape, &[(0, 2), (2, 2)], 2).unwrap();
        assert_eq!(atlas.len(), 2 * 16);
        assert_eq!(&atlas[..8], &feature_map_rgba(&values, shape, 1)[..]);
        assert_eq!(&atlas[16..24], &feature_map_rgba(&values, shape, 2)[..]);
        assert!(feature_map_atlas(&values, shape, &[(3, 2)], 1).is_err(), "a range past the channels");
    }
}
