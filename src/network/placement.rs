//! Where tensors live: concatenations resolved into channel slices of shared roots, the
//! lifetime of each root (for the arena), and which sibling convolutions run as one.

use super::*;

/// Per tensor (number of its storage root, channel offset in the root), and the lifetime
/// of each root by number.
pub(super) type Placement = (Vec<(usize, u32)>, Vec<Lifetime>);

/// "inception_3a/3x3_reduce + 5x5_reduce": the names of the nodes a layer computes, the
/// block's prefix written once.
pub(super) fn label_of(graph: &Graph, group: &[usize]) -> String {
    let first = &graph.nodes[group[0]].name;
    let prefix = &first[..first.rfind(['/', '.']).map_or(0, |i| i + 1)];
    let rest = group[1..].iter().map(|&j| graph.nodes[j].name.strip_prefix(prefix).unwrap_or(&graph.nodes[j].name));
    std::iter::once(first.as_str()).chain(rest).collect::<Vec<_>>().join(" + ")
}

/// For each node, the nodes it computes: itself and the 1x1 convolutions (stride 1, no
/// padding, same ReLU) that follow it reading the same tensor and writing the next channels
/// of the same root, which become one GEMM (`Graph::siblings` arranges that); empty for a
/// node merged so into an earlier one.
pub(super) fn sibling_groups(graph: &Graph, placement: &[(usize, u32)]) -> Vec<Vec<usize>> {
    let pointwise = |i: usize| match &graph.nodes[i].op {
        Op::Conv2d { spec, .. } if spec.kernel == (1, 1) && spec.stride == (1, 1) && spec.pad == (0, 0) => Some(spec.relu),
        _ => None,
    };
    let mut groups: Vec<Vec<usize>> = (0..graph.nodes.len()).map(|i| vec![i]).collect();
    let mut leader_of: Vec<usize> = (0..graph.nodes.len()).collect();
    for j in 0..graph.nodes.len() {
        let Some(relu) = pointwise(j) else { continue };
        let node = &graph.nodes[j];
        // the latest group before j that it can extend
        let extends = (0..j).rev().map(|i| leader_of[i]).find(|&l| {
            let last = *groups[l].last().unwrap();
            let (root, offset) = placement[graph.nodes[last].output];
            pointwise(l) == Some(relu)
                && graph.nodes[l].inputs[0] == node.inputs[0]
                && placement[node.output] == (root, offset + graph.shapes[graph.nodes[last].output].c)
        });
        if let Some(l) = extends {
            if l != j {
                groups[l].push(j);
                groups[j].clear();
                leader_of[j] = l;
            }
        }
    }
    groups
}

/// Resolves concatenation into channel slices and computes the lifetime of every storage
/// root (a tensor that is not a slice of another). Returns, per tensor, (number of its
/// root, channel offset in the root), and the lifetime of each root by number.
pub(super) fn place(graph: &Graph) -> Result<Placement, Error> {
    let n = graph.shapes.len();
    let mut into: Vec<Option<(TensorId, u32)>> = vec![None; n];
    let producer: Vec<Option<&Op>> = {
        let mut p = vec![None; n];
        graph.nodes.iter().for_each(|node| p[node.output] = Some(&node.op));
        p
    };
    for node in graph.nodes.iter().filter(|n| matches!(n.op, Op::Concat)) {
        let mut offset = 0;
        for &t in &node.inputs {
            let writes_slices = matches!(producer[t], Some(Op::Conv2d { .. } | Op::Pool(_) | Op::Concat));
            if !writes_slices || into[t].is_some() {
                return Err(Error::Usage(format!(
                    "{}: each concatenated tensor must come from a convolution, pool or concat, and feed one concat",
                    node.name
                )));
            }
            into[t] = Some((node.output, offset));
            offset += graph.shapes[t].c;
        }
    }
    let placement: Vec<(TensorId, u32)> = (0..n)
        .map(|mut t| {
            let mut offset = 0;
            while let Some((outer, o)) = into[t] {
                offset += o;
                t = outer;
            }
            (t, offset)
        })
        .collect();
    // Step 0 is preprocessing, node i is step i + 1, top-k and the logits copy come last.
    let mut lifetimes: Vec<Lifetime> = vec![Lifetime { bytes: 0, first: usize::MAX, last: 0 }; n];
    let mut touch = |t: TensorId, step: usize| {
        let root = placement[t].0;
        let l = &mut lifetimes[root];
        l.bytes = 4 * graph.shapes[root].elements() as u64;
        l.first = l.first.min(step);
        l.last = l.last.max(step);
    };
    touch(graph.input, 0);
    for (i, node) in graph.nodes.iter().enumerate() {
        if !matches!(node.op, Op::Concat) {
            node.inputs.iter().for_each(|&t| touch(t, i + 1));
            touch(node.output, i + 1);
        }
    }
    touch(graph.output, graph.nodes.len() + 1);
    // Only roots take memory: number them, and point every tensor at its root's number.
    let roots: Vec<TensorId> = (0..n).filter(|&t| placement[t].0 == t && lifetimes[t].first != usize::MAX).collect();
    let mut number = vec![usize::MAX; n];
    roots.iter().enumerate().for_each(|(i, &r)| number[r] = i);
    let placement = placement.into_iter().map(|(root, offset)| (number[root], offset)).collect();
    Ok((placement, roots.iter().map(|&r| lifetimes[r]).collect()))
}
