//! C = A x B + bias (ReLU optional) for convolutions: A the packed weights (M output
//! channels by K = in_c x kh x kw), B the input as K rows of N pixels (read as is for 1x1
//! convolutions, gathered on the fly otherwise), C rows of output channels in CHW.
//!
//! Blocking, as in BLIS: B is packed a block of KC rows by NC pixels at a time into
//! NR-wide panels (KC x NR values, contiguous, in L1 while a tile streams it), and A was
//! packed at load into MR-high panels; each task (a block of pixels and a group of output
//! channel panels) runs the micro-kernel over its tiles. Every output value is summed in
//! the same order whatever the task split, so results do not depend on the thread count.

use super::kernels::{MicroKernel, Tile};
use crate::parallel;
use std::cell::RefCell;
use std::ops::Range;

/// Rows of B packed at once: a KC x 16 panel is 16 KB, in L1 beside the A panel.
const KC: usize = 256;
/// Pixels (in panels) per task: 8 panels.
const PANELS_PER_BLOCK: usize = 8;

/// Weights packed into MR-high panels, k-major, rows past M zero; and the bias, padded.
pub struct PackedA {
    pub m: usize,
    pub k: usize,
    mr: usize,
    data: Vec<f32>,
    bias: Vec<f32>,
}

impl PackedA {
    /// `a` is row-major M x K (PyTorch's (out, in, kh, kw) flattened).
    pub fn pack(a: &[f32], bias: &[f32], m: usize, k: usize, kernel: &MicroKernel) -> PackedA {
        assert_eq!(a.len(), m * k);
        let mr = kernel.mr;
        let panels = m.div_ceil(mr);
        let mut data = vec![0.0; panels * mr * k];
        for row in 0..m {
            let (panel, r) = (row / mr, row % mr);
            for kk in 0..k {
                data[panel * mr * k + kk * mr + r] = a[row * k + kk];
            }
        }
        let mut padded = bias.to_vec();
        padded.resize(panels * mr, 0.0);
        PackedA { m, k, mr, data, bias: padded }
    }

    pub fn bytes(&self) -> u64 {
        4 * (self.data.len() + self.bias.len()) as u64
    }
}

/// The B side of a GEMM: writes rows `k0..k0 + kc` of a block of pixels as NR-wide panels
/// (panel s, pixels `start + s * nr..`, is `kc` runs of `nr` values from `out[s * kc * nr]`),
/// zeros past the block's last pixel. A whole block at a time: a gathered B works out
/// where each output row's run starts once per block, not per panel (conv1 in the browser).
pub trait PackB: Sync {
    fn pack(&self, k0: usize, kc: usize, pixels: Range<usize>, nr: usize, out: &mut [f32]);

    /// B's values and row stride where it is stored as K rows of N: whole panels are then
    /// read where they are, unpacked (only a last, partial panel is packed).
    fn stored(&self) -> Option<(&[f32], usize)> {
        None
    }
}

/// Most pixels a block has (PANELS_PER_BLOCK panels of at most 16).
pub const MAX_BLOCK: usize = PANELS_PER_BLOCK * 16;

/// Puts `row` (row `kk` of a block's B, one value per pixel) into its place in the panels.
pub fn scatter_row(row: &[f32], kk: usize, kc: usize, nr: usize, out: &mut [f32]) {
    for (s, chunk) in row.chunks(nr).enumerate() {
        let dst = &mut out[(s * kc + kk) * nr..][..nr];
        dst[..chunk.len()].copy_from_slice(chunk);
        dst[chunk.len()..].fill(0.0);
    }
}

/// B as stored: K rows of `pixels` values (a 1x1 convolution's input, a Winograd GEMM's).
pub struct Rows<'a> {
    pub data: &'a [f32],
    pub pixels: usize,
}

impl PackB for Rows<'_> {
    fn pack(&self, k0: usize, kc: usize, pixels: Range<usize>, nr: usize, out: &mut [f32]) {
        for kk in 0..kc {
            let row = (k0 + kk) * self.pixels;
            scatter_row(&self.data[row + pixels.start..row + pixels.end], kk, kc, nr, out);
        }
    }

    fn stored(&self) -> Option<(&[f32], usize)> {
        Some((self.data, self.pixels))
    }
}

/// `c` (row-major, rows `ldc` apart, M rows) = A x B + bias, ReLU if `relu`, over N pixels.
pub fn gemm(kernel: &MicroKernel, a: &PackedA, b: &impl PackB, n: usize, relu: bool, c: &mut [f32], ldc: usize) {
    gemm_batch(kernel, std::slice::from_ref(a), std::slice::from_ref(b), n, relu, c, ldc, 0);
}

/// Several GEMMs of one shape as one parallel loop: problem i multiplies `a[i]` by `b[i]`
/// into C from `c[i * c_stride]` (Winograd's 36, without a pool wake-up per GEMM).
#[allow(clippy::too_many_arguments, reason = "gemm's arguments and the batch's stride")]
pub fn gemm_batch<B: PackB>(
    kernel: &MicroKernel,
    a: &[PackedA],
    b: &[B],
    n: usize,
    relu: bool,
    c: &mut [f32],
    ldc: usize,
    c_stride: usize,
) {
    assert_eq!(a.len(), b.len());
    assert!(kernel.nr <= 16 && kernel.mr * kernel.nr <= 16 * 16, "blocks and edge tiles hold tiles of up to 16 pixels");
    let (m, k) = (a[0].m, a[0].k);
    assert!(a.iter().all(|a| a.mr == kernel.mr && (a.m, a.k) == (m, k)), "weights packed for another micro-kernel or shape");
    assert!(c.len() >= (a.len() - 1) * c_stride + (m - 1) * ldc + n, "C is too small");
    // Blocks of PANELS_PER_BLOCK panels; where B is the larger matrix (fewer channels than
    // pixels) smaller blocks, down to two per thread: splitting the channels instead would
    // repack B per group, splitting the pixels re-reads the smaller A (GoogLeNet's 5x5s on
    // 14x14: 0.26 -> 0.21 ms natively; its 7x7 layers, where A is larger, lost so).
    let pixel_panels = n.div_ceil(kernel.nr);
    let per_thread = (2 * parallel::count()).div_ceil(a.len());
    let block = if m < n { (pixel_panels / per_thread).clamp(1, PANELS_PER_BLOCK) } else { PANELS_PER_BLOCK } * kernel.nr;
    let blocks = n.div_ceil(block);
    let panels = m.div_ceil(kernel.mr);
    // Few pixel blocks (the 7x7 and 14x14 layers): split the output channels too.
    let groups = panels.min((2 * parallel::count()).div_ceil(blocks * a.len())).max(1);
    let panels_per_group = panels.div_ceil(groups);
    let c = SharedOut(c.as_mut_ptr());
    parallel::for_each(a.len() * blocks * groups, |task| {
        let (problem, task) = (task / (blocks * groups), task % (blocks * groups));
        let (block_index, group) = (task / groups, task % groups);
        let pixels = block_index * block..(block_index * block + block).min(n);
        let rows = group * panels_per_group..((group + 1) * panels_per_group).min(panels);
        // SAFETY: tasks write disjoint tiles of C (their problem, pixels and rows).
        let out = unsafe { c.offset(problem * c_stride) };
        unsafe { run_task(kernel, &a[problem], &b[problem], relu, &out, ldc, n, pixels, rows) };
    });
}

/// A pointer to an output that parallel tasks share (C here and in `int8`, int8's B);
/// each task writes only its own tiles.
pub(super) struct SharedOut<T>(pub(super) *mut T);
unsafe impl<T> Sync for SharedOut<T> {}

impl<T> SharedOut<T> {
    /// # Safety
    /// `offset` must stay inside the output.
    unsafe fn offset(&self, offset: usize) -> SharedOut<T> {
        SharedOut(self.0.add(offset))
    }

    /// # Safety
    /// `offset` must lie inside the output, and no two tasks may write one element.
    pub(super) unsafe fn at(&self, offset: usize) -> *mut T {
        self.0.add(offset)
    }
}

thread_local! {
    /// Each thread's packed B block, reused from call to call.
    static PACKED_B: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

#[allow(clippy::too_many_arguments, reason = "one task of `gemm`, which it only splits")]
unsafe fn run_task(
    kernel: &MicroKernel,
    a: &PackedA,
    b: &impl PackB,
    relu: bool,
    c: &SharedOut<f32>,
    ldc: usize,
    n: usize,
    pixels: Range<usize>,
    panels: Range<usize>,
) {
    let (mr, nr) = (kernel.mr, kernel.nr);
    let sub_panels = pixels.len().div_ceil(nr);
    // A B stored as rows is read in place, 1x1 convolutions' and Winograd's (packing it cost
    // about a sixth of a 1x1 layer here); its last, partial panel alone is packed.
    let stored = b.stored();
    let whole = if stored.is_some() { pixels.len() / nr } else { 0 };
    let stored_stride = stored.map_or(0, |(_, stride)| stride);
    PACKED_B.with_borrow_mut(|packed| {
        packed.resize(KC * nr * sub_panels, 0.0);
        for k0 in (0..a.k).step_by(KC) {
            let kc = KC.min(a.k - k0);
            if whole < sub_panels {
                let packed_pixels = pixels.start + whole * nr..pixels.end;
                b.pack(k0, kc, packed_pixels, nr, &mut packed[whole * kc * nr..sub_panels * kc * nr]);
            }
            for panel in panels.clone() {
                let row0 = panel * mr;
                let rows = mr.min(a.m - row0);
                for s in 0..sub_panels {
                    let col0 = pixels.start + s * nr;
                    let cols = nr.min(n - col0);
                    let tile = Tile {
                        k: kc,
                        a: a.data.as_ptr().add(panel * mr * a.k + k0 * mr),
                        b: match stored {
                            Some((data, _)) if s < whole => data.as_ptr().add(k0 * stored_stride + col0),
                            _ => packed.as_ptr().add(s * kc * nr),
                        },
                        ldb: if s < whole { stored_stride } else { nr },
                        c: c.at(row0 * ldc + col0),
                        ldc,
                        bias: a.bias.as_ptr().add(row0),
                        accumulate: k0 > 0,
                        relu: relu && k0 + kc == a.k,
                    };
                    if rows == mr && cols == nr {
                        kernel.run(&tile);
                    } else {
                        edge_tile(kernel, tile, rows, cols);
                    }
                }
            }
        }
    });
}

/// A tile that overhangs C: computed in a local buffer, of which the part inside is copied.
unsafe fn edge_tile(kernel: &MicroKernel, tile: Tile, rows: usize, cols: usize) {
    let mut local = [0.0f32; 16 * 16];
    let nr = kernel.nr;
    assert!(kernel.mr * nr <= local.len());
    let inside = |r: usize| std::slice::from_raw_parts_mut(tile.c.add(r * tile.ldc), cols);
    if tile.accumulate {
        for r in 0..rows {
            local[r * nr..r * nr + cols].copy_from_slice(inside(r));
        }
    }
    kernel.run(&Tile { c: local.as_mut_ptr(), ldc: nr, ..tile });
    for r in 0..rows {
        inside(r).copy_from_slice(&local[r * nr..r * nr + cols]);
    }
}
