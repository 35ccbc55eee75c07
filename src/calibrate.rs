//! Calibrating int8 compute: the range of every convolution's input over a set of photos
//! and their mirror images, from float32 passes on the CPU. `convert` stores the ranges
//! next to the weights (`tensors::input_range_name`); the CPU backend quantizes each
//! layer's input with its range (`cpu::int8`).

use crate::cpu::{CpuNetwork, CpuOptions};
use crate::error::Error;
use crate::models::Model;
use std::collections::BTreeMap;

/// Each convolution's input range, by the name of its weight tensor.
pub type InputRanges = BTreeMap<String, (f32, f32)>;

/// An RGBA8 photo: its pixels, width and height.
pub struct Photo {
    pub rgba: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl Photo {
    /// The photo mirrored left to right.
    pub fn mirrored(&self) -> Photo {
        let row = 4 * self.width as usize;
        let rgba =
            self.rgba.chunks_exact(row).flat_map(|r| r.chunks_exact(4).rev().flatten().copied().collect::<Vec<u8>>()).collect();
        Photo { rgba, width: self.width, height: self.height }
    }
}

/// How much wider than the photos' own a stored range is. A photo not calibrated on goes
/// past a few photos' largest values, and clipping there costs more than the coarser
/// steps: BVLC, each of the four shared photos against ranges from the other three, logits
/// within 1.6%, 7.4% (tiger cat, its top probability 0.45 falling to 0.35), 1.4% and 1.9%
/// of their range at 1x; 2.5%, 2.0%, 2.1%, 1.2% at 1.5x (tiger cat 0.44); 2.5%, 1.6%,
/// 1.7%, 3.2% at 2x; up to 7.3% at 3x.
pub const HEADROOM: f32 = 1.5;

/// The input ranges of `model`'s convolutions over `photos` and their mirror images: the
/// least and largest value each input took, times [`HEADROOM`].
pub fn calibrate(model: &Model, photos: &[Photo]) -> Result<InputRanges, Error> {
    if photos.is_empty() {
        return Err(Error::Usage("calibrating int8 compute needs at least one photo".into()));
    }
    let mut network = CpuNetwork::new(model, CpuOptions::default())?;
    let mut ranges = InputRanges::new();
    for photo in photos {
        for view in [None, Some(photo.mirrored())] {
            let view = view.as_ref().unwrap_or(photo);
            network.set_image(&view.rgba, view.width, view.height)?;
            for (name, min, max) in network.input_ranges()? {
                let range = ranges.entry(name).or_insert((min, max));
                *range = (range.0.min(min), range.1.max(max));
            }
        }
    }
    Ok(ranges.into_iter().map(|(name, (min, max))| (name, (min * HEADROOM, max * HEADROOM))).collect())
}
