//! What the page's explorer reads: a block's output read back in the middle of the network
//! (`read_activation`, the pass run only up to that block) is the tensor a whole pass
//! computes, on the GPU and on the CPU backend; and the blocks it lists are the graph's.

mod common;

use common::{assert_all_close, gpu, synthetic_model};
use inception::architecture::{parts, Part};
use inception::network::Options;
use inception::{synthetic, CpuNetwork, CpuOptions, Network, Variant};

#[test]
fn block_outputs_read_mid_pass_are_those_of_a_whole_pass() {
    for (variant, names) in [
        (Variant::Bvlc, ["inception_3a", "inception_4a", "inception_5b"]),
        (Variant::InceptionV3, ["Mixed_5b", "Mixed_6b", "Mixed_7c"]),
    ] {
        let model = synthetic_model(variant);
        let graph = &model.graph;
        let side = graph.input_spec.crop + 13; // resized and cropped, as photos are
        let image = synthetic::image(side, side);
        // every tensor kept after a pass
        let mut whole = Network::with_options(gpu(), &model, Options { reuse_memory: false, ..Options::default() }).unwrap();
        pollster::block_on(whole.classify(&image, side, side, false)).unwrap();
        let mut net = Network::new(gpu(), &model).unwrap();
        net.set_image(&image, side, side).unwrap();
        let mut cpu = CpuNetwork::new(&model, CpuOptions::default()).unwrap();
        cpu.set_image(&image, side, side).unwrap();
        for name in names {
            let block = parts(graph)
                .into_iter()
                .find_map(|p| match p {
                    Part::Block(b) if b.name == name => Some(b),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{variant:?} has no block {name}"));
            let tensor = graph.nodes[block.concat].output;
            let want = pollster::block_on(whole.read_tensor(gpu(), &graph.nodes[block.concat].name)).unwrap();
            let got = pollster::block_on(net.read_activation(tensor)).unwrap();
            // the same kernels on the same input: the same numbers
            assert_eq!(got, want, "{name} on the GPU");
            let max = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let on_cpu = cpu.read_activation(tensor).unwrap();
            assert_all_close(&format!("{name} on the CPU"), &on_cpu, &want, 1e-4 * max, 1e-4);
            println!("{variant:?} {name}: {} values, largest {max:.3}; CPU backend vs GPU within 1e-4 x largest", want.len());
        }
        let input = graph.input;
        let error = pollster::block_on(net.read_activation(input)).unwrap_err().to_string();
        assert!(error.contains("no layer computes"), "{error}");
    }
}
