//! `inception synthetic`: a golden file's deterministic weights, for tests.

use super::{Args, USAGE};
use inception::Error;

pub(super) fn run(args: &Args) -> Result<(), Error> {
    let [golden, output] = &args.files[..] else {
        return Err(Error::Usage(format!("synthetic takes a golden file and an output file\n\n{USAGE}")));
    };
    let checkpoint = output.extension().is_some_and(|e| e == "pth");
    let bytes = inception::synthetic::golden_weights(golden, checkpoint).map_err(Error::Usage)?;
    std::fs::write(output, bytes).map_err(|e| Error::Usage(format!("cannot write {}: {e}", output.display())))
}
