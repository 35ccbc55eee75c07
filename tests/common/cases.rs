//! The layer shapes both the shader tests (tests/ops.rs) and the CPU backend's kernel
//! tests (tests/cpu.rs) run: one list, so both backends meet the same edges.

use inception::graph::{Conv2dSpec, PoolSpec, Shape, Window};

pub fn conv(out_c: u32, kernel: (u32, u32), stride: u32, pad: (u32, u32), relu: bool) -> Conv2dSpec {
    Conv2dSpec { out_c, window: Window { kernel, stride: (stride, stride), pad }, relu }
}

/// Convolutions: 1x1 with tails, on planes of a multiple of 4 pixels (the shader's vec4
/// path), strided, padded, asymmetric and larger than the image.
pub fn conv_cases() -> Vec<(Shape, Conv2dSpec)> {
    vec![
        // 1x1 (the pointwise fast path), with pixel and channel counts that leave tails
        (Shape::new(13, 9, 7), conv(21, (1, 1), 1, (0, 0), true)),
        (Shape::new(32, 7, 7), conv(48, (1, 1), 1, (0, 0), false)),
        // 1x1 over planes of a multiple of 4 pixels: inputs read as vec4s (CONTIGUOUS)
        (Shape::new(13, 4, 5), conv(21, (1, 1), 1, (0, 0), true)),
        (Shape::new(32, 8, 8), conv(40, (1, 1), 1, (0, 0), false)),
        // 1x1 but strided or padded: the general path
        (Shape::new(6, 9, 9), conv(5, (1, 1), 2, (0, 0), true)),
        (Shape::new(5, 11, 10), conv(16, (3, 3), 1, (1, 1), true)),
        (Shape::new(3, 23, 19), conv(10, (7, 7), 2, (3, 3), true)),
        (Shape::new(4, 15, 15), conv(7, (3, 3), 2, (0, 0), false)),
        (Shape::new(6, 9, 12), conv(8, (1, 7), 1, (0, 3), true)),
        (Shape::new(6, 12, 9), conv(9, (7, 1), 1, (3, 0), false)),
        (Shape::new(3, 2, 3), conv(33, (5, 5), 1, (2, 2), true)),
    ]
}

/// Pools: ceil mode with partial windows, padding (ignored by max, counted by average),
/// global averages, windows wider than 3 and strides of 3, 1 and 2 wide windows.
pub fn pool_cases() -> Vec<(PoolSpec, Shape)> {
    vec![
        // ceil mode, partial last windows
        (PoolSpec::max(3, 2, 0, true), Shape::new(3, 14, 13)),
        (PoolSpec::max(2, 2, 0, true), Shape::new(2, 7, 7)),
        // padded, floor (the tutorial's pools)
        (PoolSpec::max(3, 2, 1, false), Shape::new(4, 11, 12)),
        // padding counted in the divisor, including windows clipped by ceil mode
        (PoolSpec::average(3, 1, 1, false), Shape::new(3, 9, 9)),
        (PoolSpec::average(3, 2, 1, true), Shape::new(2, 8, 8)),
        (PoolSpec::global_average(Shape::new(5, 7, 7)), Shape::new(5, 7, 7)),
        (PoolSpec::global_average(Shape::new(3, 5, 6)), Shape::new(3, 5, 6)),
        // a window wider than 3 or a stride of 3: the general entry point
        (PoolSpec::max(4, 3, 1, true), Shape::new(2, 10, 11)),
        (PoolSpec::average(3, 3, 0, false), Shape::new(2, 9, 10)),
        // 1 and 2 wide windows in the row kernel, rows of 1 to 3 groups of 4
        (PoolSpec::max(1, 2, 0, false), Shape::new(2, 5, 9)),
        (PoolSpec::average(2, 1, 0, false), Shape::new(2, 4, 3)),
    ]
}
