//! What each layer type computes, independent of any backend: the descriptors the graph
//! holds and every backend executes.

use super::{Shape, Window};

/// The geometry of a convolution layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dSpec {
    pub out_c: u32,
    pub window: Window,
    pub relu: bool,
}

impl Conv2dSpec {
    pub fn output_shape(&self, input: Shape) -> Shape {
        let (h, w) = self.window.output_size(input, false);
        Shape::new(self.out_c, h, w)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearSpec {
    pub out_features: u32,
    pub relu: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnSpec {
    pub size: u32,
    pub alpha: f32,
    pub beta: f32,
    pub k: f32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    /// Positions outside the input are ignored.
    Max,
    /// Average with padding counted in the divisor (PyTorch's `count_include_pad=True`).
    Average,
}

/// The geometry of a pooling layer, with PyTorch's and Caffe's output-size rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSpec {
    pub mode: PoolMode,
    pub window: Window,
    /// Round the output size up (ceil mode) instead of down.
    pub ceil: bool,
}

impl PoolSpec {
    pub fn max(kernel: u32, stride: u32, pad: u32, ceil: bool) -> PoolSpec {
        PoolSpec { mode: PoolMode::Max, window: Window::square(kernel, stride, pad), ceil }
    }
    pub fn average(kernel: u32, stride: u32, pad: u32, ceil: bool) -> PoolSpec {
        PoolSpec { mode: PoolMode::Average, ..PoolSpec::max(kernel, stride, pad, ceil) }
    }
    /// Average over the whole plane: one value per channel.
    pub fn global_average(input: Shape) -> PoolSpec {
        let window = Window { kernel: (input.h, input.w), stride: (1, 1), pad: (0, 0) };
        PoolSpec { mode: PoolMode::Average, window, ceil: false }
    }

    pub fn output_shape(&self, input: Shape) -> Shape {
        let (h, w) = self.window.output_size(input, self.ceil);
        Shape::new(input.c, h, w)
    }
}

/// What a model expects as input.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputSpec {
    /// Side of the square crop the network sees (224 for GoogLeNet).
    pub crop: u32,
    /// The shorter image side is resized to this before the centre crop (256 for 224).
    pub resize: u32,
    /// Feed channels as B, G, R instead of R, G, B.
    pub bgr: bool,
    /// Per network input channel (after reordering): value = pixel (0..1) * mul + add.
    pub mul: [f32; 3],
    pub add: [f32; 3],
}

impl InputSpec {
    pub fn output_shape(&self) -> Shape {
        Shape::new(3, self.crop, self.crop)
    }

    /// Resize and crop for an image of `width` x `height` (`Geometry::centre_crop`).
    pub fn geometry(&self, width: u32, height: u32) -> Geometry {
        Geometry::centre_crop(self.crop, self.resize, width, height)
    }
}

/// Where the crop lies: output pixel (x, y) samples the resized image at
/// (x + crop_x, y + crop_y), and a resized pixel spans `scale` source pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Geometry {
    pub crop_x: u32,
    pub crop_y: u32,
    pub scale_x: f32,
    pub scale_y: f32,
}

impl Geometry {
    /// torchvision's `Resize(resize)` + `CenterCrop(crop)` of an image of `width` x
    /// `height`; an image whose shorter side already equals `crop` is only cropped.
    pub fn centre_crop(crop: u32, resize: u32, width: u32, height: u32) -> Geometry {
        let short = width.min(height);
        let (rw, rh) = if short == crop {
            (width, height)
        } else if width <= height {
            (resize, (resize as u64 * height as u64 / width as u64) as u32)
        } else {
            ((resize as u64 * width as u64 / height as u64) as u32, resize)
        };
        let offset = |resized: u32| ((resized as f64 - crop as f64) / 2.0).round_ties_even().max(0.0) as u32;
        Geometry { crop_x: offset(rw), crop_y: offset(rh), scale_x: width as f32 / rw as f32, scale_y: height as f32 / rh as f32 }
    }

    /// The part of the source image a `crop` x `crop` input shows: [x, y, width, height]
    /// in source pixels (what the page outlines and the activation maps lie over).
    pub fn source_rect(&self, crop: u32) -> [f32; 4] {
        let (x, y) = (self.crop_x as f32 * self.scale_x, self.crop_y as f32 * self.scale_y);
        [x, y, crop as f32 * self.scale_x, crop as f32 * self.scale_y]
    }
}
