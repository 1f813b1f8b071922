//! Reading an input file as text: size limit, binary detection, encodings.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Files larger than this are reported, not read.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Why a file could not be read as text. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub line: u32,
    pub message: String,
}

fn whole_file(message: String) -> ReadError {
    ReadError { line: 1, message }
}

fn line_of(bytes: &[u8], offset: usize) -> u32 {
    let newlines = memchr::memchr_iter(b'\n', &bytes[..offset.min(bytes.len())]).count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

/// Reads a file as UTF-8 text. A UTF-8 byte-order mark is dropped; UTF-16 with
/// a byte-order mark is decoded; anything else that is not UTF-8 is an error.
///
/// Only regular files are read: the type is checked before the file is
/// opened, since opening a FIFO blocks and a device may never end.
pub fn read_text(path: &Path, max_size: u64) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(whole_file(format!(
            "not a regular file ({}); not read",
            describe_type(&meta)
        )));
    }
    let file = File::open(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
    read_open(file, max_size)
}

/// Reads a path the user named that is not a regular file (a pipe from
/// `<(…)`, `/dev/stdin`), up to the size limit.
pub fn read_stream(path: &Path, max_size: u64) -> Result<String, ReadError> {
    let file = File::open(path).map_err(|e| whole_file(format!("cannot read: {e}")))?;
    read_open(file, max_size)
}

#[cfg(not(unix))]
fn describe_type(meta: &std::fs::Metadata) -> &'static str {
    if meta.is_dir() {
        "a folder"
    } else {
        "not a file"
    }
}

#[cfg(unix)]
fn describe_type(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

fn read_open(file: File, max_size: u64) -> Result<String, ReadError> {
    let size = file
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len());
    if size > max_size {
        return Err(whole_file(format!(
            "file is too large to scan ({:.1} MiB; the limit is {:.1} MiB, set with --max-file-size)",
            size as f64 / 1048576.0,
            max_size as f64 / 1048576.0
        )));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // Read one byte past the limit, in case the file grew since `metadata`.
    file.take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| whole_file(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max_size {
        return Err(whole_file(format!(
            "file is too large to scan (over {max_size} bytes)"
        )));
    }
    decode(bytes)
}

pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(&bytes) {
        if encoding != encoding_rs::UTF_8 {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
            if had_errors {
                return Err(whole_file(format!("invalid {} text", encoding.name())));
            }
            return Ok(text.into_owned());
        }
        return String::from_utf8(bytes[bom_len..].to_vec())
            .map_err(|e| utf8_error(&bytes[bom_len..], e.utf8_error()));
    }
    if let Some(nul) = memchr::memchr(0, &bytes) {
        return Err(ReadError {
            line: line_of(&bytes, nul),
            message: "binary file (it contains NUL bytes); not scanned".into(),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let err = e.utf8_error();
        utf8_error(e.as_bytes(), err)
    })
}

fn utf8_error(bytes: &[u8], err: std::str::Utf8Error) -> ReadError {
    ReadError {
        line: line_of(bytes, err.valid_up_to()),
        message: format!(
            "not valid UTF-8 (unknown encoding; byte {} is not UTF-8); convert the file to UTF-8",
            err.valid_up_to() + 1
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf16_with_bom() {
        let mut bytes = vec![0xFF, 0xFE];
        for u in "{\"a\": 1}".encode_utf16() {
            bytes.extend(u.to_le_bytes());
        }
        assert_eq!(decode(bytes).ok().as_deref(), Some("{\"a\": 1}"));
    }

    #[test]
    fn rejects_binary_and_latin1_with_a_line() {
        let bin = decode(b"{\n\n\0\0".to_vec()).err();
        assert_eq!(bin.map(|e| e.line), Some(3));
        let latin1 = decode(b"a\nb\n\xe9t\xe9\n".to_vec()).err();
        assert!(latin1.is_some_and(|e| e.line == 3 && e.message.contains("UTF-8")));
    }

    #[test]
    fn strips_utf8_bom() {
        assert_eq!(
            decode(b"\xEF\xBB\xBF[]".to_vec()).ok().as_deref(),
            Some("[]")
        );
    }
}
