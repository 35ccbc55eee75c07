//! Tensor shapes and the host views of tensors that every layer shares.

/// A CHW tensor shape (batch 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    pub c: u32,
    pub h: u32,
    pub w: u32,
}

impl Shape {
    pub const fn new(c: u32, h: u32, w: u32) -> Shape {
        Shape { c, h, w }
    }
    pub fn pixels(&self) -> u32 {
        self.h * self.w
    }
    pub fn elements(&self) -> usize {
        (self.c * self.h * self.w) as usize
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}x{}x{}", self.c, self.h, self.w)
    }
}

/// A tensor's values on the host (the CPU twins' counterpart of the GPU ops' `View`) and the first channel of the slice read.
#[derive(Clone, Copy)]
pub struct Tensor<'a> {
    pub data: &'a [f32],
    pub c_offset: u32,
}

/// The slice a CPU twin writes: from channel `c_offset` of `data`.
pub struct TensorMut<'a> {
    pub data: &'a mut [f32],
    pub c_offset: u32,
}

impl<'a> Tensor<'a> {
    /// A whole tensor.
    pub fn whole(data: &'a [f32]) -> Tensor<'a> {
        Tensor { data, c_offset: 0 }
    }
}

impl<'a> TensorMut<'a> {
    pub fn whole(data: &'a mut [f32]) -> TensorMut<'a> {
        TensorMut { data, c_offset: 0 }
    }
}
