//! The engine's count of live GPU objects (`gpu_objects::live`), in a test binary of its own:
//! the count is per process, and other tests' networks would be in it.

mod common;

use common::{gpu, synthetic_model};
use inception::gpu_objects::{live, LiveObjects};
use inception::{synthetic, Network, Variant};

/// A network's objects are counted as made, stay the same over many passes and a new
/// image size, with activation maps on and off, and are all gone when it is dropped.
#[test]
fn a_network_holds_a_fixed_set_of_gpu_objects_and_frees_them_all() {
    assert_eq!(live(), LiveObjects::default(), "nothing made before a network");
    let model = synthetic_model(Variant::Bvlc);
    let mut net = Network::new(gpu(), &model).unwrap();
    net.set_image(&synthetic::image(224, 224), 224, 224).unwrap();
    let loaded = live();
    assert_eq!(loaded.textures, 1, "one input texture");
    // (the activation maps' dispatch is recorded with the others and run when asked)
    assert_eq!(loaded.bind_groups, net.stats.dispatches + 1, "one bind group per dispatch");
    // weights and biases of 57 convolutions and the classifier, a uniform per dispatch,
    // the activation buffers, readback
    assert!(loaded.buffers > 2 * 58 + net.stats.dispatches, "{loaded:?}");

    for i in 0..20 {
        let side = if i % 2 == 0 { 224 } else { 300 };
        net.set_cams(i % 4 < 2).unwrap();
        pollster::block_on(net.classify(&synthetic::image(side, side), side, side, i % 3 == 0)).unwrap();
        assert_eq!(live(), loaded, "after pass {i} ({side}x{side})");
    }
    drop(net);
    assert_eq!(live(), LiveObjects::default(), "all freed with the network");
}
