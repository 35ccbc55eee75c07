//! Class names.

const IMAGENET: &str = include_str!("labels/imagenet.txt");

/// The 1000 ImageNet classes in model output order (from torchvision; see
/// tools/imagenet_labels.py).
pub fn imagenet() -> Vec<String> {
    IMAGENET.lines().map(str::to_owned).collect()
}

/// Names for `num_classes` outputs: ImageNet's for 1000, else "class 0", "class 1", ...
/// (a custom model can bring its own list).
pub fn for_classes(num_classes: u32) -> Vec<String> {
    if num_classes == 1000 {
        imagenet()
    } else {
        (0..num_classes).map(|i| format!("class {i}")).collect()
    }
}
