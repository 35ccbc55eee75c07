//! Just enough of the zip format to read what `torch.save` writes: the central directory
//! (with its ZIP64 records, which torch always writes) and uncompressed ("stored")
//! entries, which are returned as slices of the input, never copied.
//!
//! torch's writer (miniz) puts zero sizes in the local headers and the real ones in the
//! central directory (flag bit 3, data descriptors), and pads the local headers' extra
//! fields so that entry data is 64-byte aligned. So sizes come from the central directory,
//! and the data start from the local header's own name and extra lengths.
//! CRCs are not checked: `torch.load` does not check them either (torch can write files
//! without them, `torch.serialization.set_crc32_options`).

use super::PthError;
use std::collections::BTreeMap;

const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const LOCAL_SIG: u32 = 0x0403_4b50;

/// An archive's entries by name, data located but not yet checked (see [`Zip::entry`]).
pub struct Zip<'a> {
    bytes: &'a [u8],
    entries: BTreeMap<&'a str, Entry>,
}

#[derive(Clone, Copy)]
struct Entry {
    method: u16,
    flags: u16,
    compressed_size: u64,
    size: u64,
    local_header: u64,
}

/// Whether the bytes start like a zip file (a local file header).
pub fn is_zip(bytes: &[u8]) -> bool {
    bytes.len() >= 4 && read_u32(bytes, 0) == Some(LOCAL_SIG)
}

fn err<T>(msg: impl Into<String>) -> Result<T, PthError> {
    Err(PthError(msg.into()))
}

fn read_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn read_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

const DAMAGED: &str = "the zip archive is damaged or incomplete (was the download cut short?)";

impl<'a> Zip<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Zip<'a>, PthError> {
        let (cd_offset, cd_size, count) = end_of_central_directory(bytes)?;
        let cd = usize::try_from(cd_offset)
            .ok()
            .zip(usize::try_from(cd_size).ok())
            .and_then(|(start, size)| bytes.get(start..start.checked_add(size)?))
            .ok_or_else(|| PthError(DAMAGED.into()))?;

        let mut entries = BTreeMap::new();
        let mut at = 0usize;
        // `count` comes from the file: the loop is bounded by the directory's size instead
        // (an entry takes at least 46 bytes), so a lying count cannot make it spin.
        for _ in 0..count {
            let field = |off: usize| read_u16(cd, at + off);
            if read_u32(cd, at) != Some(CENTRAL_SIG) {
                return err(DAMAGED);
            }
            let (Some(flags), Some(method), Some(name_len), Some(extra_len), Some(comment_len)) =
                (field(8), field(10), field(28), field(30), field(32))
            else {
                return err(DAMAGED);
            };
            let (Some(csize), Some(size), Some(local)) = (read_u32(cd, at + 20), read_u32(cd, at + 24), read_u32(cd, at + 42))
            else {
                return err(DAMAGED);
            };
            let name_start = at + 46;
            let extra_start = name_start + name_len as usize;
            let next = extra_start + extra_len as usize + comment_len as usize;
            let (Some(name), Some(extra)) =
                (cd.get(name_start..extra_start), cd.get(extra_start..extra_start + extra_len as usize))
            else {
                return err(DAMAGED);
            };
            let mut entry = Entry { method, flags, compressed_size: csize.into(), size: size.into(), local_header: local.into() };
            zip64_extra(extra, &mut entry)?;
            // Names torch writes are ASCII; an entry whose name is not UTF-8 cannot be one
            // torch looks for, so it is skipped rather than refused.
            if let Ok(name) = std::str::from_utf8(name) {
                // The first of two same-named entries wins, as in miniz's lookup.
                entries.entry(name).or_insert(entry);
            }
            at = next;
        }
        Ok(Zip { bytes, entries })
    }

    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.entries.keys().copied()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The bytes of an entry, `None` when there is no such entry.
    pub fn entry(&self, name: &str) -> Option<Result<&'a [u8], PthError>> {
        let e = *self.entries.get(name)?;
        Some(self.data(name, e))
    }

    fn data(&self, name: &str, e: Entry) -> Result<&'a [u8], PthError> {
        if e.flags & 1 != 0 {
            return err(format!("zip entry `{name}` is encrypted"));
        }
        if e.method != 0 {
            let how = if e.method == 8 { "deflate".to_string() } else { format!("method {}", e.method) };
            return err(format!(
                "zip entry `{name}` is compressed ({how}); torch.save writes uncompressed entries, \
                 so the file was probably re-zipped: unzip it and save it again with torch.save"
            ));
        }
        if e.compressed_size != e.size {
            return err(format!("zip entry `{name}` is stored uncompressed but its two sizes differ; {DAMAGED}"));
        }
        let bytes = self.bytes;
        let range = (|| {
            let local = usize::try_from(e.local_header).ok()?;
            if read_u32(bytes, local)? != LOCAL_SIG {
                return None;
            }
            let name_len = read_u16(bytes, local + 26)? as usize;
            let extra_len = read_u16(bytes, local + 28)? as usize;
            let start = local.checked_add(30 + name_len + extra_len)?;
            let end = start.checked_add(usize::try_from(e.size).ok()?)?;
            bytes.get(start..end)
        })();
        range.ok_or_else(|| PthError(format!("zip entry `{name}` lies outside the file: {DAMAGED}")))
    }
}

/// Where the central directory is and how many entries it has: from the end of central
/// directory record, or from the ZIP64 one where the former's fields are saturated.
fn end_of_central_directory(bytes: &[u8]) -> Result<(u64, u64, u64), PthError> {
    // The record is 22 bytes plus a comment of up to 64 KiB; search backwards for it.
    let lowest = bytes.len().saturating_sub(22 + 0xFFFF);
    let eocd = (lowest..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| {
            read_u32(bytes, at) == Some(EOCD_SIG)
                && read_u16(bytes, at + 20).is_some_and(|comment| at + 22 + comment as usize <= bytes.len())
        })
        .ok_or_else(|| PthError(DAMAGED.into()))?;
    let field16 = |off| read_u16(bytes, eocd + off).unwrap_or(0);
    let field32 = |off| read_u32(bytes, eocd + off).unwrap_or(0);
    let (count, cd_size, cd_offset) = (field16(10), field32(12), field32(16));
    if count != 0xFFFF && cd_size != 0xFFFF_FFFF && cd_offset != 0xFFFF_FFFF {
        return Ok((cd_offset.into(), cd_size.into(), count.into()));
    }
    // ZIP64: a 20-byte locator just before the record points at the ZIP64 record.
    let zip64 = eocd
        .checked_sub(20)
        .filter(|&at| read_u32(bytes, at) == Some(ZIP64_LOCATOR_SIG))
        .and_then(|at| read_u64(bytes, at + 8))
        .and_then(|at| usize::try_from(at).ok())
        .filter(|&at| read_u32(bytes, at) == Some(ZIP64_EOCD_SIG))
        .ok_or_else(|| PthError(DAMAGED.into()))?;
    match (read_u64(bytes, zip64 + 32), read_u64(bytes, zip64 + 40), read_u64(bytes, zip64 + 48)) {
        (Some(count), Some(size), Some(offset)) => Ok((offset, size, count)),
        _ => err(DAMAGED),
    }
}

/// Reads the ZIP64 extended information extra field (id 1): it holds, in this order, the
/// sizes and local header offset whose 32-bit fields in the directory are saturated.
fn zip64_extra(mut extra: &[u8], e: &mut Entry) -> Result<(), PthError> {
    while extra.len() >= 4 {
        let id = read_u16(extra, 0).unwrap_or(0);
        let len = read_u16(extra, 2).unwrap_or(0) as usize;
        let Some(data) = extra.get(4..4 + len) else { return err(DAMAGED) };
        if id == 1 {
            let mut fields = data.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()));
            for value in [&mut e.size, &mut e.compressed_size, &mut e.local_header] {
                if *value == 0xFFFF_FFFF {
                    *value = fields.next().ok_or_else(|| PthError(DAMAGED.into()))?;
                }
            }
        }
        extra = &extra[4 + len..];
    }
    Ok(())
}
