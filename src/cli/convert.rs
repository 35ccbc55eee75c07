//! `inception convert`: the project's own safetensors file from a checkpoint or safetensors.

use super::load::{read_file, read_labels};
use super::{Args, USAGE};
use inception::convert::Storage;
use inception::Error;

pub(super) fn run(args: &Args) -> Result<(), Error> {
    let [input, output] = &args.files[..] else {
        return Err(Error::Usage(format!("convert takes an input and an output file\n\n{USAGE}")));
    };
    let bytes = read_file(input, "weights file")?;
    let labels = read_labels(args)?;
    let storage = match (args.half, args.int8) {
        (true, true) => return Err(Error::Usage("convert takes --f16 or --int8, not both".into())),
        (true, false) => Storage::F16,
        (false, true) => Storage::Int8,
        (false, false) => Storage::F32,
    };
    let out = inception::convert::convert(&bytes, args.model, storage, labels.as_deref())
        .map_err(|e| Error::Usage(format!("{}: {}", input.display(), Error::from(e))))?;
    std::fs::write(output, &out.bytes).map_err(|e| Error::Usage(format!("cannot write {}: {e}", output.display())))?;
    println!(
        "{}: {} ({} classes), {} tensors, {:.1} MB ({})",
        output.display(),
        out.variant.title(),
        out.num_classes,
        out.tensors,
        out.bytes.len() as f64 / 1e6,
        storage.name()
    );
    Ok(())
}
