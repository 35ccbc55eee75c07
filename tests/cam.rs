//! Class activation maps with the real BVLC weights ($INCEPTION_WEIGHTS): both backends
//! against the formula computed independently (the f64 CPU twin over the feature maps and
//! classifier weights, read back from a pass that keeps every tensor), and on composite
//! pictures, each object's class seen most in its own quadrant.

mod common;

use common::{diff, gpu, real_weights, shared};
use inception::backend::{Backend, Engine};
use inception::graph::Tensor;
use inception::heatmap::ActivationMap;
use inception::network::Options;
use inception::ops::cam;
use inception::{CpuOptions, Model, Network, Variant};

const WEIGHTS: &str = "bvlc_googlenet.safetensors";
const CROPS: [&str; 4] = ["pug.224.png", "tiger_cat.224.png", "tusker.224.png", "volcano.224.png"];

/// A map may differ from the formula by this share of its range (max - min): measured
/// (printed by the test) at most 2e-7 on the GPU, whose feature maps are the formula's,
/// and 1.6e-6 on the CPU backend, whose convolutions round differently (its logits agree
/// with the reference to about 1e-5 of their range).
const TOLERANCE_OF_RANGE: f32 = 1e-5;

fn model(test: &str) -> Option<Model> {
    let bytes = real_weights(test, WEIGHTS)?;
    Some(Model::from_safetensors(Variant::Bvlc, &bytes).expect("the real weights load"))
}

fn with_cams(model: &Model, backend: Backend) -> Engine {
    let mut engine = Engine::new(backend, Some(gpu()), model, Options::default(), CpuOptions::default()).unwrap();
    engine.set_cams(true).unwrap();
    engine
}

fn image(name: &str) -> image::RgbaImage {
    image::open(shared().join("images").join(name)).unwrap().to_rgba8()
}

/// The formula on its own: the last feature maps of a pass that keeps every tensor
/// (no activation memory shared), times the classifier rows, summed in f64.
fn formula(model: &Model, img: &image::RgbaImage, classes: &[usize]) -> Vec<Vec<f32>> {
    let mut net = Network::with_options(gpu(), model, Options { reuse_memory: false, ..Options::default() }).unwrap();
    pollster::block_on(net.classify(img.as_raw(), img.width(), img.height(), false)).unwrap();
    let graph = &model.graph;
    let source = graph.cam_source().expect("GoogLeNet has activation maps");
    let name = &graph.nodes.iter().find(|n| n.output == source.features).unwrap().name;
    let features = pollster::block_on(net.read_tensor(gpu(), name)).unwrap();
    let weights = &model.params[source.classifier].as_ref().unwrap().weight;
    cam::cpu(graph.shapes[source.features], Tensor::whole(&features), weights, classes)
}

#[test]
fn activation_maps_match_the_formula_on_both_backends() {
    let Some(model) = model("activation_maps_match_the_formula_on_both_backends") else { return };
    for backend in [Backend::Gpu, Backend::Cpu] {
        let mut engine = with_cams(&model, backend);
        for name in CROPS {
            let img = image(name);
            let out = pollster::block_on(engine.classify(img.as_raw(), img.width(), img.height(), false)).unwrap();
            let classes: Vec<usize> = out.top.iter().map(|&(c, _)| c).collect();
            let want = formula(&model, &img, &classes);
            let got = out.cams.expect("maps were asked for");
            assert_eq!(got.len(), 5);
            for (rank, (got, want)) in got.iter().zip(&want).enumerate() {
                assert_eq!((got.width, got.height), (7, 7));
                let range = want.iter().copied().fold(f32::MIN, f32::max) - want.iter().copied().fold(f32::MAX, f32::min);
                let d = diff(&got.values, want);
                println!(
                    "{}: {name} rank {rank}: max abs {:.2e} of range {range:.2} ({:.1e})",
                    backend.name(),
                    d.max_abs,
                    d.max_abs / range
                );
                assert!(
                    d.max_abs <= TOLERANCE_OF_RANGE * range,
                    "{}: {name}, rank {rank}: maps differ by {} (range {range})",
                    backend.name(),
                    d.max_abs
                );
            }
        }
    }
}

/// A 448 x 448 gray picture with two reference crops in opposite quadrants (the network
/// resizes it to 256 and crops the centre 224, so each quadrant of the crop shows most of
/// one object).
fn composite(first: &str, second: &str, diagonal: bool) -> image::RgbaImage {
    let mut canvas = image::RgbaImage::from_pixel(448, 448, image::Rgba([128, 128, 128, 255]));
    let (a, b) = if diagonal { ((0, 0), (224, 224)) } else { ((224, 0), (0, 224)) };
    image::imageops::overlay(&mut canvas, &image(first), a.0, a.1);
    image::imageops::overlay(&mut canvas, &image(second), b.0, b.1);
    canvas
}

/// Which quadrant of the crop (0 top left, 1 top right, 2 bottom left, 3 bottom right) a
/// map over it peaks in.
fn quadrant(map: &ActivationMap) -> u32 {
    let (x, y) = map.peak();
    (x >= map.width / 2) as u32 + 2 * (y >= map.height / 2) as u32
}

#[test]
fn each_object_is_seen_in_its_own_quadrant() {
    let Some(model) = model("each_object_is_seen_in_its_own_quadrant") else { return };
    let mut alone = with_cams(&model, Backend::Cpu);
    // each object's own top-5, on its crop alone
    let mut own = std::collections::HashMap::new();
    for name in CROPS {
        let img = image(name);
        let out = pollster::block_on(alone.classify(img.as_raw(), img.width(), img.height(), false)).unwrap();
        own.insert(name, out.top.iter().map(|&(c, _)| c).collect::<Vec<_>>());
    }
    // (the volcano is left out: beside an animal, none of its classes stays in the top-5)
    let pairs = [
        ("tiger_cat.224.png", "pug.224.png", true),
        ("pug.224.png", "tusker.224.png", false),
        ("tusker.224.png", "tiger_cat.224.png", true),
        ("pug.224.png", "tiger_cat.224.png", false),
    ];
    for backend in [Backend::Gpu, Backend::Cpu] {
        let mut engine = with_cams(&model, backend);
        for (first, second, diagonal) in pairs {
            let img = composite(first, second, diagonal);
            let out = pollster::block_on(engine.classify(img.as_raw(), img.width(), img.height(), false)).unwrap();
            let cams = out.cams.unwrap();
            let quadrants = if diagonal { [0, 3] } else { [1, 2] };
            for (object, want) in [first, second].into_iter().zip(quadrants) {
                // the highest-ranked class of the composite that the object alone also ranks
                let rank = out.top.iter().position(|(c, _)| own[object].contains(c)).unwrap_or_else(|| {
                    panic!(
                        "{}: none of the composite's top-5 {:?} is among {object}'s {:?}",
                        backend.name(),
                        out.top,
                        own[object]
                    )
                });
                let map = cams[rank].over_crop(224);
                println!(
                    "{}: {first} + {second}: class {} of {object} peaks at {:?}",
                    backend.name(),
                    out.top[rank].0,
                    map.peak()
                );
                assert_eq!(
                    quadrant(&map),
                    want,
                    "{}: {object}'s class {} in {first} + {second}",
                    backend.name(),
                    out.top[rank].0
                );
            }
        }
    }
}
