//! `inception convert`: the project's own safetensors file from a checkpoint or safetensors,
//! with int8 compute calibrated on photos where `--calibrate` names them.

use super::images::{image_files, read_image};
use super::load::{read_file, read_labels};
use super::{Args, USAGE};
use inception::calibrate::{calibrate, Photo};
use inception::convert::{Calibration, Extras, Storage};
use inception::{Error, Model};

pub(super) fn run(args: &Args) -> Result<(), Error> {
    let [input, output] = &args.files[..] else {
        return Err(Error::Usage(format!("convert takes an input and an output file\n\n{USAGE}")));
    };
    let bytes = read_file(input, "weights file")?;
    let in_file = |e: inception::WeightsError| Error::Usage(format!("{}: {}", input.display(), Error::from(e)));
    let labels = read_labels(args)?;
    let storage = match (args.half, args.int8) {
        (true, true) => return Err(Error::Usage("convert takes --f16 or --int8, not both".into())),
        (true, false) => Storage::F16,
        (false, true) => Storage::Int8,
        (false, false) => Storage::F32,
    };
    let ranges = match &args.calibrate[..] {
        [] => None,
        paths => {
            let photos = image_files(paths)?
                .iter()
                .map(|path| read_image(path).map(|i| Photo { width: i.width(), height: i.height(), rgba: i.into_raw() }))
                .collect::<Result<Vec<_>, Error>>()?;
            let model = Model::load(&bytes, args.model).map_err(in_file)?;
            Some((calibrate(&model, &photos)?, photos.len()))
        }
    };
    let input_ranges = ranges.as_ref().map(|(ranges, photos)| Calibration { ranges, photos: *photos });
    let extras = Extras { labels: labels.as_deref(), input_ranges };
    let out = inception::convert::convert(&bytes, args.model, storage, extras).map_err(in_file)?;
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
    match &ranges {
        Some((ranges, photos)) => {
            println!("int8 compute: {} convolutions' input ranges calibrated on {photos} photos", ranges.len())
        }
        None if storage == Storage::Int8 => println!(
            "int8 compute: not calibrated (no --calibrate photos): the file stores int8 weights, and the CPU computes in float32"
        ),
        None => {}
    }
    Ok(())
}
