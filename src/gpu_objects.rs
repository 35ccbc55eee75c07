//! The GPU objects the engine holds, counted: every buffer, texture, bind group and query
//! set is made here and counted until it is dropped, so a long session can show that
//! nothing grows (`inception bench`, the page's soak mode). Clippy's `disallowed-methods`
//! (clippy.toml) keeps wgpu's own constructors out of the rest of the crate.
#![allow(clippy::disallowed_methods, reason = "the one place that makes GPU objects")]

use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many of each kind are alive, in this process (on the web: this wasm instance).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LiveObjects {
    pub buffers: usize,
    pub textures: usize,
    pub bind_groups: usize,
    pub query_sets: usize,
}

static LIVE: [AtomicUsize; 4] = [const { AtomicUsize::new(0) }; 4];

/// The objects alive now.
pub fn live() -> LiveObjects {
    let [buffers, textures, bind_groups, query_sets] = LIVE.each_ref().map(|n| n.load(Ordering::Relaxed));
    LiveObjects { buffers, textures, bind_groups, query_sets }
}

/// A wgpu object kind and its counter in [`LIVE`].
pub trait Kind {
    const INDEX: usize;
}
impl Kind for wgpu::Buffer {
    const INDEX: usize = 0;
}
impl Kind for wgpu::Texture {
    const INDEX: usize = 1;
}
impl Kind for wgpu::BindGroup {
    const INDEX: usize = 2;
}
impl Kind for wgpu::QuerySet {
    const INDEX: usize = 3;
}

/// A wgpu object, counted while it lives; used as the object itself (`Deref`). Not `Clone`:
/// one count per object made (wgpu's clones share the object).
#[derive(Debug)]
pub struct Counted<T: Kind>(T);

pub type Buffer = Counted<wgpu::Buffer>;
pub type Texture = Counted<wgpu::Texture>;
pub type BindGroup = Counted<wgpu::BindGroup>;
pub type QuerySet = Counted<wgpu::QuerySet>;

impl<T: Kind> Counted<T> {
    fn new(object: T) -> Counted<T> {
        LIVE[T::INDEX].fetch_add(1, Ordering::Relaxed);
        Counted(object)
    }
}

impl<T: Kind> Drop for Counted<T> {
    fn drop(&mut self) {
        LIVE[T::INDEX].fetch_sub(1, Ordering::Relaxed);
    }
}

impl<T: Kind> Deref for Counted<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

pub fn buffer(device: &wgpu::Device, descriptor: &wgpu::BufferDescriptor) -> Buffer {
    Counted::new(device.create_buffer(descriptor))
}

pub fn buffer_init(device: &wgpu::Device, descriptor: &wgpu::util::BufferInitDescriptor) -> Buffer {
    use wgpu::util::DeviceExt;
    Counted::new(device.create_buffer_init(descriptor))
}

pub fn texture(device: &wgpu::Device, descriptor: &wgpu::TextureDescriptor) -> Texture {
    Counted::new(device.create_texture(descriptor))
}

pub fn bind_group(device: &wgpu::Device, descriptor: &wgpu::BindGroupDescriptor) -> BindGroup {
    Counted::new(device.create_bind_group(descriptor))
}

pub fn query_set(device: &wgpu::Device, descriptor: &wgpu::QuerySetDescriptor) -> QuerySet {
    Counted::new(device.create_query_set(descriptor))
}
