//! Image files for the subcommands: which files the arguments name, and decoding them as
//! browsers do.

use inception::Error;
use std::path::{Path, PathBuf};

/// Decodes an image file upright, as browsers show it (EXIF orientation applied), and
/// refuses a JPEG that ends before its last scan does (the decoder would fill the
/// missing part with gray and say nothing; browsers refuse such a file).
pub(super) fn read_image(path: &Path) -> Result<image::RgbaImage, Error> {
    use image::ImageDecoder;
    let bytes = std::fs::read(path).map_err(|e| Error::Image(format!("cannot open {}: {e}", path.display())))?;
    if bytes.is_empty() {
        return Err(Error::Image(format!("{} is empty (0 bytes)", path.display())));
    }
    let not_an_image =
        |e: image::ImageError| Error::Image(format!("{} is not an image this program can decode ({e})", path.display()));
    let reader = image::ImageReader::new(std::io::Cursor::new(&bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(format!("cannot read {}: {e}", path.display())))?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_is_complete(&bytes) {
        return Err(Error::Image(format!("{} is a truncated JPEG file: it ends before its end-of-image marker", path.display())));
    }
    let mut decoder = reader.into_decoder().map_err(not_an_image)?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = image::DynamicImage::from_decoder(decoder).map_err(not_an_image)?;
    img.apply_orientation(orientation);
    Ok(img.to_rgba8())
}

/// Whether a JPEG's last scan (after its last start-of-scan marker, FF DA) is followed by
/// the end-of-image marker (FF D9). Neither can occur inside entropy-coded data (an FF
/// there is followed by 00), so a file cut short in its last scan has no FF D9 after it.
/// The page's twin: `jpegIsComplete` in www/images.js.
pub(super) fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    last_scan.is_some_and(|start| bytes[start..].windows(2).any(|w| w == [0xFF, 0xD9]))
}

/// The image files named by the arguments: files as given, a folder's images (sorted),
/// and a pattern's matches (`*` and `?` in the file name, sorted).
pub(super) fn image_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "jfif", "tif", "tiff"];
    let mut files = Vec::new();
    for arg in args {
        let name = arg.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let listed = if arg.is_dir() {
            list(arg, |f: &Path| {
                f.extension().is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_string_lossy().to_lowercase().as_str()))
            })?
        } else if !arg.exists() && name.contains(['*', '?']) {
            let dir = arg.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let found = list(dir, |f: &Path| f.file_name().is_some_and(|n| matches(&name, &n.to_string_lossy())))?;
            if found.is_empty() {
                return Err(Error::Usage(format!("no file matches {}", arg.display())));
            }
            found
        } else {
            vec![arg.clone()]
        };
        files.extend(listed);
    }
    Ok(files)
}

/// The files of `dir` that `keep`, sorted.
pub(super) fn list(dir: &Path, keep: impl Fn(&Path) -> bool) -> Result<Vec<PathBuf>, Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::Usage(format!("cannot list {}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file() && keep(p)).collect();
    files.sort();
    Ok(files)
}

/// Whether `name` matches `pattern` (`*`: any run of characters, `?`: one).
pub(super) fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    fn go(p: &[char], n: &[char]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], n) || (!n.is_empty() && go(p, &n[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &n[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(&p, &n)
}
