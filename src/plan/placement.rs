//! Where tensors live: concatenations resolved into channel slices of shared roots, the
//! lifetime of each root, the slots (one per arena slot: a GPU buffer or a CPU vector),
//! and which sibling convolutions run as one.

use super::arena::{Arena, Lifetime};
use crate::error::Error;
use crate::graph::{Graph, Op, TensorId};

/// Where a tensor lives: its buffer (`slot`; before the arena, the number of its storage
/// root) and the first channel of its slice there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub slot: usize,
    pub channel_offset: u32,
}

/// Where every tensor of a graph lives, whatever the backend: its place, and the bytes of
/// each slot (a GPU buffer, or a CPU vector).
pub struct Placement {
    pub places: Vec<Place>,
    pub slot_bytes: Vec<u64>,
}

impl Placement {
    /// Plans the slots, shared between tensors whose lifetimes do not overlap when `reuse`
    /// is on.
    pub fn plan(graph: &Graph, reuse: bool) -> Result<Placement, Error> {
        let (roots, lifetimes) = place(graph)?;
        let arena = match reuse {
            true => Arena::plan(&lifetimes),
            false => Arena { slot_bytes: lifetimes.iter().map(|l| l.bytes).collect(), slot_of: (0..lifetimes.len()).collect() },
        };
        let places = roots.iter().map(|p| Place { slot: arena.slot_of[p.slot], ..*p }).collect();
        Ok(Placement { places, slot_bytes: arena.slot_bytes })
    }

    pub fn bytes(&self) -> u64 {
        self.slot_bytes.iter().sum()
    }
}

/// "inception_3a/3x3_reduce + 5x5_reduce": the names of the nodes a layer computes, the
/// block's prefix written once.
pub fn label_of(graph: &Graph, group: &[usize]) -> String {
    let first = &graph.nodes[group[0]].name;
    let prefix = &first[..first.rfind(['/', '.']).map_or(0, |i| i + 1)];
    let rest = group[1..].iter().map(|&j| graph.nodes[j].name.strip_prefix(prefix).unwrap_or(&graph.nodes[j].name));
    std::iter::once(first.as_str()).chain(rest).collect::<Vec<_>>().join(" + ")
}

/// For each node, the nodes it computes: itself and the 1x1 convolutions (stride 1, no
/// padding, same ReLU) that follow it reading the same tensor and writing the next channels
/// of the same buffer, which become one GEMM (`Graph::siblings` arranges that); empty for a
/// node merged so into an earlier one.
pub fn sibling_groups(graph: &Graph, places: &[Place]) -> Vec<Vec<usize>> {
    let pointwise = |i: usize| match &graph.nodes[i].op {
        Op::Conv2d { spec, .. } if spec.window.is_pointwise() => Some(spec.relu),
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
            let end = places[graph.nodes[last].output];
            let next = Place { channel_offset: end.channel_offset + graph.shapes[graph.nodes[last].output].c, ..end };
            pointwise(l) == Some(relu) && graph.nodes[l].inputs[0] == node.inputs[0] && places[node.output] == next
        });
        if let Some(l) = extends.filter(|&l| l != j) {
            groups[l].push(j);
            groups[j].clear();
            leader_of[j] = l;
        }
    }
    groups
}

/// Resolves concatenation into channel slices and computes the lifetime of every storage
/// root (a tensor that is not a slice of another). Returns, per tensor, its place with the
/// number of its root as `slot`, and the lifetime of each root by number.
fn place(graph: &Graph) -> Result<(Vec<Place>, Vec<Lifetime>), Error> {
    let places = slices_of_concats(graph)?;
    // Step 0 is preprocessing, node i is step i + 1, top-k, activation maps and the logits
    // copy come last.
    let n = graph.shapes.len();
    let mut lifetimes: Vec<Lifetime> = vec![Lifetime { bytes: 0, first: usize::MAX, last: 0 }; n];
    let mut touch = |t: TensorId, step: usize| {
        let root = places[t].slot;
        let l = &mut lifetimes[root];
        l.bytes = 4 * graph.shapes[root].elements() as u64;
        l.first = l.first.min(step);
        l.last = l.last.max(step);
    };
    touch(graph.input, 0);
    for (i, node) in graph.nodes.iter().enumerate().filter(|(_, n)| !matches!(n.op, Op::Concat)) {
        node.inputs.iter().for_each(|&t| touch(t, i + 1));
        touch(node.output, i + 1);
    }
    touch(graph.output, graph.nodes.len() + 1);
    // class activation maps read the last feature maps after the logits
    if let Some(cam) = graph.cam_source() {
        touch(cam.features, graph.nodes.len() + 1);
    }
    // Only roots take memory: number them, and point every tensor at its root's number.
    let roots: Vec<TensorId> = (0..n).filter(|&t| places[t].slot == t && lifetimes[t].first != usize::MAX).collect();
    let mut number = vec![usize::MAX; n];
    roots.iter().enumerate().for_each(|(i, &r)| number[r] = i);
    let places = places.into_iter().map(|p| Place { slot: number[p.slot], ..p }).collect();
    Ok((places, roots.iter().map(|&r| lifetimes[r]).collect()))
}

/// Per tensor, the tensor it is a channel slice of (itself if none) and where in it.
fn slices_of_concats(graph: &Graph) -> Result<Vec<Place>, Error> {
    let n = graph.shapes.len();
    let mut into: Vec<Option<Place>> = vec![None; n];
    let mut producer: Vec<Option<&Op>> = vec![None; n];
    graph.nodes.iter().for_each(|node| producer[node.output] = Some(&node.op));
    for node in graph.nodes.iter().filter(|n| matches!(n.op, Op::Concat)) {
        let mut offset = 0;
        for &t in &node.inputs {
            let writes_slices = producer[t].is_some_and(Op::writes_channel_slices);
            if !writes_slices || into[t].is_some() {
                return Err(Error::Usage(format!(
                    "{}: each concatenated tensor must come from a convolution, pool or concat, and feed one concat",
                    node.name
                )));
            }
            into[t] = Some(Place { slot: node.output, channel_offset: offset });
            offset += graph.shapes[t].c;
        }
    }
    let root_of = |mut t: TensorId| {
        let mut channel_offset = 0;
        while let Some(outer) = into[t] {
            channel_offset += outer.channel_offset;
            t = outer.slot;
        }
        Place { slot: t, channel_offset }
    };
    Ok((0..n).map(root_of).collect())
}
