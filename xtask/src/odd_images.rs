//! `cargo xtask odd-images [--out DIR]`: the files a person might drop on the page, made
//! from two photos of ../shared/images (`PHOTOS`): over the texture limit in each direction, 50
//! megapixels, the eight EXIF orientations (stored turned, tagged to be shown upright),
//! CMYK, grayscale, 16-bit PNG, PNG with alpha, progressive JPEG, animated GIF, WebP; and
//! a truncated JPEG, an empty file, a text file named .jpg. `corpus.json` lists each file
//! with what it must give: the class of the photo it was made from (`"photo"`), or an error of a kind
//! (`"error": "truncated" | "empty" | "not-an-image"`). The browser tests classify each
//! natively and in the page and compare (browser `odd_images`).

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use std::path::Path;

/// What a file of the corpus must give.
enum Expect {
    /// the class of this photo (a file of ../shared/images), upright
    Class(&'static str),
    /// a refusal of this kind
    Error(&'static str),
}

/// The photos the corpus is made of: the pug, and for the EXIF orientations the tiger cat,
/// which turned sideways is another class (a lynx), so a viewer that ignores the tag fails.
pub const PHOTOS: [&str; 2] = ["pug.jpg", "tiger_cat.jpg"];

/// Writes the corpus into `out` from the photos in `images`; returns the number of files.
pub fn write(images: &Path, out: &Path) -> Result<usize, String> {
    let open = |name: &str| image::open(images.join(name)).map(|i| i.to_rgb8()).map_err(|e| format!("{name}: {e}"));
    let (upright, cat) = (open(PHOTOS[0])?, open(PHOTOS[1])?);
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut listed = Vec::new();
    let mut put = |name: &str, bytes: Vec<u8>, expect: Expect| -> Result<(), String> {
        std::fs::write(out.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
        let entry = match expect {
            Expect::Class(photo) => serde_json::json!({ "file": name, "photo": photo }),
            Expect::Error(kind) => serde_json::json!({ "file": name, "error": kind }),
        };
        listed.push(entry);
        Ok(())
    };
    let jpeg = |img: &DynamicImage| encode(img, ImageFormat::Jpeg);
    // over the largest texture limit (16384) in each direction: the photo in the middle of gray
    put("wider_than_16384.jpg", jpeg(&on_gray(&upright, 17000, upright.height()).into())?, Expect::Class(PHOTOS[0]))?;
    put("taller_than_16384.jpg", jpeg(&on_gray(&upright, upright.width(), 17000).into())?, Expect::Class(PHOTOS[0]))?;
    let scale = (50e6 / (upright.width() * upright.height()) as f64).sqrt();
    let (w, h) = ((upright.width() as f64 * scale) as u32, (upright.height() as f64 * scale) as u32);
    let big = image::imageops::resize(&upright, w, h, image::imageops::FilterType::Triangle);
    put("50_megapixels.jpg", jpeg(&big.into())?, Expect::Class(PHOTOS[0]))?;
    for orientation in 1..=8u16 {
        let stored = stored_for_orientation(&cat, orientation);
        let bytes = with_exif_orientation(jpeg(&stored)?, orientation);
        put(&format!("exif_orientation_{orientation}.jpg"), bytes, Expect::Class(PHOTOS[1]))?;
    }
    put("cmyk.jpg", cmyk_jpeg(&upright)?, Expect::Class(PHOTOS[0]))?;
    put("grayscale.jpg", jpeg(&DynamicImage::ImageRgb8(upright.clone()).grayscale())?, Expect::Class(PHOTOS[0]))?;
    put(
        "16_bit.png",
        encode(&DynamicImage::ImageRgb8(upright.clone()).to_rgb16().into(), ImageFormat::Png)?,
        Expect::Class(PHOTOS[0]),
    )?;
    put("alpha.png", encode(&translucent_border(&upright).into(), ImageFormat::Png)?, Expect::Class(PHOTOS[0]))?;
    put("progressive.jpg", progressive_jpeg(&upright)?, Expect::Class(PHOTOS[0]))?;
    put("animated.gif", animated_gif(&upright)?, Expect::Class(PHOTOS[0]))?;
    put("lossless.webp", encode(&upright.clone().into(), ImageFormat::WebP)?, Expect::Class(PHOTOS[0]))?;
    let whole = jpeg(&upright.clone().into())?;
    put("truncated.jpg", whole[..whole.len() / 2].to_vec(), Expect::Error("truncated"))?;
    put("empty.jpg", Vec::new(), Expect::Error("empty"))?;
    put("not_an_image.jpg", b"This is a text file with a .jpg name.\n".to_vec(), Expect::Error("not-an-image"))?;
    let count = listed.len();
    let json = serde_json::to_string_pretty(&serde_json::Value::from(listed)).unwrap();
    std::fs::write(out.join("corpus.json"), json).map_err(|e| e.to_string())?;
    Ok(count)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, String> {
    let mut bytes = std::io::Cursor::new(Vec::new());
    img.write_to(&mut bytes, format).map_err(|e| format!("encoding {format:?}: {e}"))?;
    Ok(bytes.into_inner())
}

/// `photo` centred on a mid-gray picture of `width` x `height`.
fn on_gray(photo: &RgbImage, width: u32, height: u32) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([128, 128, 128]));
    let (x, y) = ((width - photo.width()) / 2, (height - photo.height()) / 2);
    image::imageops::overlay(&mut canvas, photo, x.into(), y.into());
    canvas
}

/// The pixels a camera stores for a picture shown upright under EXIF `orientation`: the
/// inverse of the turn the viewer applies (orientations 6 and 8 are each other's inverse,
/// the others their own).
fn stored_for_orientation(upright: &RgbImage, orientation: u16) -> DynamicImage {
    use image::metadata::Orientation;
    let img = DynamicImage::ImageRgb8(upright.clone());
    let inverse = match orientation {
        6 => 8,
        8 => 6,
        n => n,
    };
    let mut stored = img;
    stored.apply_orientation(Orientation::from_exif(inverse as u8).expect("1 to 8"));
    stored
}

/// `jpeg` with an EXIF segment holding only the orientation tag, right after its SOI marker.
fn with_exif_orientation(jpeg: Vec<u8>, orientation: u16) -> Vec<u8> {
    let mut tiff = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes()); // the first IFD right after this header
    tiff.extend(1u16.to_le_bytes()); // one entry
    tiff.extend(0x0112u16.to_le_bytes()); // Orientation
    tiff.extend(3u16.to_le_bytes()); // SHORT
    tiff.extend(1u32.to_le_bytes()); // one value
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]); // the value field's padding
    tiff.extend(0u32.to_le_bytes()); // no next IFD
    let mut segment = vec![0xFF, 0xE1];
    segment.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    segment.extend(b"Exif\0\0");
    segment.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment);
    out.extend(&jpeg[2..]);
    out
}

/// A CMYK JPEG of the photo (what print workflows save), black taken out as far as it goes.
fn cmyk_jpeg(rgb: &RgbImage) -> Result<Vec<u8>, String> {
    let mut cmyk = Vec::with_capacity(rgb.len() / 3 * 4);
    for Rgb([r, g, b]) in rgb.pixels() {
        let k = 255 - r.max(g).max(b);
        let ink = |c: u8| if k == 255 { 0 } else { ((255 - c - k) as u32 * 255 / (255 - k) as u32) as u8 };
        cmyk.extend([ink(*r), ink(*g), ink(*b), k]);
    }
    let mut out = Vec::new();
    let encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder
        .encode(&cmyk, rgb.width() as u16, rgb.height() as u16, jpeg_encoder::ColorType::Cmyk)
        .map_err(|e| format!("CMYK JPEG: {e}"))?;
    Ok(out)
}

fn progressive_jpeg(rgb: &RgbImage) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 90);
    encoder.set_progressive(true);
    encoder
        .encode(rgb.as_raw(), rgb.width() as u16, rgb.height() as u16, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| format!("progressive JPEG: {e}"))?;
    Ok(out)
}

/// The photo opaque in its middle, its outer fifth on each side at alpha 160.
fn translucent_border(rgb: &RgbImage) -> RgbaImage {
    let (w, h) = rgb.dimensions();
    RgbaImage::from_fn(w, h, |x, y| {
        let Rgb([r, g, b]) = *rgb.get_pixel(x, y);
        let inside = x > w / 5 && x < w - w / 5 && y > h / 5 && y < h - h / 5;
        Rgba([r, g, b, if inside { 255 } else { 160 }])
    })
}

/// Two frames: the photo (shown first, and what is classified), then plain gray.
fn animated_gif(rgb: &RgbImage) -> Result<Vec<u8>, String> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let photo = DynamicImage::ImageRgb8(rgb.clone()).to_rgba8();
    let gray = RgbaImage::from_pixel(rgb.width(), rgb.height(), Rgba([128, 128, 128, 255]));
    let mut out = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
        encoder.set_repeat(Repeat::Infinite).map_err(|e| e.to_string())?;
        let delay = image::Delay::from_numer_denom_ms(500, 1);
        let frames = [photo, gray].map(|f| image::Frame::from_parts(f, 0, 0, delay));
        encoder.encode_frames(frames).map_err(|e| format!("GIF: {e}"))?;
    }
    Ok(out)
}
