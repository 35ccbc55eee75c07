//! The activation buffers of a network on the GPU: one per slot of the plan's placement.

use crate::error::Error;
use crate::gpu_objects;
use crate::graph::{Graph, TensorId};
use crate::ops::View;
use crate::plan::{Place, Placement};

/// The activation buffers of a network on the GPU and the place of every tensor of its graph.
pub(super) struct Memory {
    pub places: Vec<Place>,
    pub buffers: Vec<gpu_objects::Buffer>,
    pub bytes: u64,
}

impl Memory {
    /// Plans the buffers (see [`Placement::plan`]) and creates them.
    pub fn plan(device: &wgpu::Device, graph: &Graph, reuse: bool) -> Result<Memory, Error> {
        let placement = Placement::plan(graph, reuse)?;
        let max_binding = device.limits().max_storage_buffer_binding_size;
        if let Some(&big) = placement.slot_bytes.iter().max().filter(|&&b| b > max_binding) {
            return Err(Error::Gpu(format!(
                "an activation needs a {big}-byte buffer; this adapter binds at most {max_binding} bytes"
            )));
        }
        let buffers = placement.slot_bytes.iter().enumerate().map(|(i, &size)| {
            gpu_objects::buffer(
                device,
                &wgpu::BufferDescriptor {
                    label: Some(&format!("activations {i}")),
                    size,
                    // (COPY_DST: an image resized on the CPU is written into the input's buffer)
                    usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                },
            )
        });
        let bytes = placement.bytes();
        Ok(Memory { buffers: buffers.collect(), places: placement.places, bytes })
    }

    pub fn view(&self, tensor: TensorId) -> View<'_> {
        let place = self.places[tensor];
        View { buffer: &self.buffers[place.slot], c_offset: place.channel_offset }
    }
}
