//! The end of a forward pass: softmax and top-k on the GPU (and, when asked, the class
//! activation maps of the classes ranked), and the few bytes read back (the ranking, the
//! pass's timestamps, the logits and the maps when asked), through two staging
//! buffers used in turn so that a pass can be submitted while the previous one's result
//! is still being read (the page overlaps camera frames so).

use super::memory::Memory;
use crate::error::Error;
use crate::gpu::{map_read, Gpu};
use crate::gpu_objects;
use crate::graph::{Graph, Shape};
use crate::heatmap::ActivationMap;
use crate::ops::{cam, softmax_topk, Context, Dispatch};
use crate::plan::{Output, TOP_K};
use std::cell::Cell;

// Byte offsets of the parts of the staging buffer that one readback maps.
const STAGING_TIMESTAMPS: u64 = 256;
const STAGING_LOGITS: u64 = 512;

/// Which readback buffer a submitted pass writes to.
#[derive(Clone, Copy, Debug)]
pub struct Ticket {
    slot: usize,
    with_logits: bool,
    with_cams: bool,
}

/// The class activation maps' dispatch and where it writes.
struct Cams {
    dispatch: Dispatch,
    maps: gpu_objects::Buffer,
    shape: Shape,
}

/// Timestamps at the start and end of the forward pass.
struct Timer {
    queries: gpu_objects::QuerySet,
    resolve: gpu_objects::Buffer,
    /// nanoseconds per tick
    period: f32,
}

pub(super) struct Readback {
    pub topk: Dispatch,
    result: gpu_objects::Buffer,
    k: u32,
    classes: u32,
    staging: [gpu_objects::Buffer; 2],
    next: Cell<usize>,
    timer: Option<Timer>,
    cams: Option<Cams>,
}

impl Readback {
    /// `classifier_weights`: the linear classifier's matrix, for the activation maps of
    /// networks that have them (`Graph::cam_source`).
    pub fn new(gpu: &Gpu, ctx: &Context, graph: &Graph, memory: &Memory, classifier_weights: Option<&wgpu::Buffer>) -> Readback {
        let device = &ctx.device;
        let classes = graph.num_classes();
        let k = TOP_K.min(classes);
        let buffer = |label: &str, size, usage| {
            gpu_objects::buffer(device, &wgpu::BufferDescriptor { label: Some(label), size, usage, mapped_at_creation: false })
        };
        let result = buffer("top-k", softmax_topk::result_size(k), wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
        let topk = softmax_topk::dispatch(ctx, classes, k, memory.view(graph.output), &result);
        let cams = graph.cam_source().zip(classifier_weights).map(|(source, weights)| {
            let shape = graph.shapes[source.features];
            let maps =
                buffer("activation maps", cam::maps_size(k, shape), wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC);
            let dispatch = cam::dispatch(ctx, shape, k, memory.view(source.features), weights, &result, &maps);
            Cams { dispatch, maps, shape }
        });
        let cam_bytes = cams.as_ref().map_or(0, |c| c.maps.size());
        let staging = [0, 1].map(|i| {
            let usage = wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ;
            buffer(&format!("readback {i}"), STAGING_LOGITS + 4 * classes as u64 + cam_bytes, usage)
        });
        let timer = gpu.has_timestamps().then(|| Timer {
            queries: gpu_objects::query_set(
                device,
                &wgpu::QuerySetDescriptor { label: Some("forward timestamps"), ty: wgpu::QueryType::Timestamp, count: 2 },
            ),
            resolve: buffer("timestamps", 16, wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC),
            period: gpu.queue.get_timestamp_period(),
        });
        Readback { topk, result, k, classes, staging, next: Cell::new(0), timer, cams }
    }

    /// The activation maps' dispatch, for timing.
    pub fn cams_dispatch(&self) -> Option<&Dispatch> {
        self.cams.as_ref().map(|c| &c.dispatch)
    }

    /// Whether the network has class activation maps to compute.
    pub fn has_cams(&self) -> bool {
        self.cams.is_some()
    }

    /// Encodes the end of the pass: top-k, then the activation maps if `with_cams`.
    pub fn encode<'p>(&'p self, pass: &mut wgpu::ComputePass<'_>, previous: Option<&'p Dispatch>, with_cams: bool) {
        self.topk.encode_after(pass, previous);
        if let Some(cams) = self.cams.as_ref().filter(|_| with_cams) {
            cams.dispatch.encode(pass);
        }
    }

    /// Where the maps go in a staging buffer: after the logits.
    fn cams_at(&self) -> u64 {
        STAGING_LOGITS + 4 * self.classes as u64
    }

    /// Whether the adapter has timestamp queries, and their period in nanoseconds.
    pub fn timestamp_period(&self) -> Option<f32> {
        self.timer.as_ref().map(|t| t.period)
    }

    /// Where the forward pass writes its start and end times, if the adapter can.
    pub fn timestamp_writes(&self) -> Option<wgpu::ComputePassTimestampWrites<'_>> {
        self.timer.as_ref().map(|t| wgpu::ComputePassTimestampWrites {
            query_set: &t.queries,
            beginning_of_pass_write_index: Some(0),
            end_of_pass_write_index: Some(1),
        })
    }

    /// Copies the pass's results into the next staging buffer (`logits`: also the logits;
    /// `with_cams`: also the activation maps, which [`Readback::encode`] computed).
    pub fn copy(&self, encoder: &mut wgpu::CommandEncoder, logits: Option<&wgpu::Buffer>, with_cams: bool) -> Ticket {
        let slot = self.next.get();
        self.next.set(1 - slot);
        let staging = &self.staging[slot];
        encoder.copy_buffer_to_buffer(&self.result, 0, staging, 0, self.result.size());
        if let Some(t) = &self.timer {
            encoder.resolve_query_set(&t.queries, 0..2, &t.resolve, 0);
            encoder.copy_buffer_to_buffer(&t.resolve, 0, staging, STAGING_TIMESTAMPS, 16);
        }
        if let Some(logits) = logits {
            encoder.copy_buffer_to_buffer(logits, 0, staging, STAGING_LOGITS, 4 * self.classes as u64);
        }
        let cams = self.cams.as_ref().filter(|_| with_cams);
        if let Some(cams) = cams {
            encoder.copy_buffer_to_buffer(&cams.maps, 0, staging, self.cams_at(), cams.maps.size());
        }
        Ticket { slot, with_logits: logits.is_some(), with_cams: cams.is_some() }
    }

    /// Awaits and decodes what a pass copied with [`Readback::copy`].
    pub async fn read(&self, device: &wgpu::Device, ticket: Ticket) -> Result<Output, Error> {
        let bytes = map_read(device, &self.staging[ticket.slot]).await?;
        let top = softmax_topk::decode(&bytes, self.k);
        let logits = ticket.with_logits.then(|| {
            let start = STAGING_LOGITS as usize;
            bytemuck::pod_collect_to_vec::<u8, f32>(&bytes[start..start + 4 * self.classes as usize])
        });
        let gpu_ms = self.timer.as_ref().map(|t| {
            let at = STAGING_TIMESTAMPS as usize;
            let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes[at..at + 16]);
            ticks[1].wrapping_sub(ticks[0]) as f64 * t.period as f64 / 1e6
        });
        let cams = self.cams.as_ref().filter(|_| ticket.with_cams).map(|c| {
            let start = self.cams_at() as usize;
            let values: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[start..start + c.maps.size() as usize]);
            let grid = c.shape.pixels() as usize;
            let map = |values: &[f32]| ActivationMap { width: c.shape.w, height: c.shape.h, values: values.to_vec() };
            values.chunks_exact(grid).take(top.len()).map(map).collect()
        });
        Ok(Output { top, logits, gpu_ms, cams })
    }
}
