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

/// A labels file: one class per line, blank lines and surrounding spaces ignored.
pub fn parse(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// The class names to show for a model: `given` (a labels file) if any, else those stored
/// in the weights file, else [`for_classes`]. A list of the wrong length is an error.
pub fn choose(
    given: Option<Vec<String>>,
    embedded: Option<Vec<String>>,
    num_classes: u32,
) -> Result<Vec<String>, crate::error::WeightsError> {
    match given.or(embedded) {
        Some(list) if list.len() != num_classes as usize => {
            Err(crate::error::WeightsError::Labels { found: list.len(), classes: num_classes })
        }
        Some(list) => Ok(list),
        None => Ok(for_classes(num_classes)),
    }
}
