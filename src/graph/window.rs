//! The geometry convolutions and pools share: a kernel window, its stride and padding.

use super::Shape;

/// A sliding window over a plane, (height, width) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub kernel: (u32, u32),
    pub stride: (u32, u32),
    pub pad: (u32, u32),
}

impl Window {
    /// A square window.
    pub const fn square(kernel: u32, stride: u32, pad: u32) -> Window {
        Window { kernel: (kernel, kernel), stride: (stride, stride), pad: (pad, pad) }
    }

    /// Output height and width over `input`, rounding down (`ceil`: up, with PyTorch's
    /// rule, which matches Caffe's: the last window must still start inside the input or
    /// its left padding).
    pub fn output_size(&self, input: Shape, ceil: bool) -> (u32, u32) {
        let len = |n: u32, k: u32, s: u32, pad: u32| {
            let span = n + 2 * pad - k;
            let mut out = if ceil { span.div_ceil(s) + 1 } else { span / s + 1 };
            if ceil && (out - 1) * s >= n + pad {
                out -= 1;
            }
            out
        };
        (len(input.h, self.kernel.0, self.stride.0, self.pad.0), len(input.w, self.kernel.1, self.stride.1, self.pad.1))
    }

    /// Kernel positions: kernel height times width.
    pub fn positions(&self) -> u32 {
        self.kernel.0 * self.kernel.1
    }

    /// A 1x1 window with stride 1 and no padding: output pixel m reads input pixel m.
    pub fn is_pointwise(&self) -> bool {
        *self == Window::square(1, 1, 0)
    }
}
