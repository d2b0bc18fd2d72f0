//! The model file: a fixed 32-byte header, then a postcard payload.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "FRAUDENG"
//!      8     4  format version, u32 little-endian (FORMAT_VERSION)
//!     12     4  flags, u32 little-endian (0; reserved)
//!     16     8  payload length in bytes, u64 little-endian
//!     24     4  CRC-32 (IEEE) of the payload, u32 little-endian
//!     28     4  reserved, zero
//!     32     -  payload: the model, serialized with postcard
//! ```
//!
//! The original design named bincode; bincode is unmaintained (RUSTSEC-2025-0141)
//! and its 3.0 release does not compile, so the payload uses postcard, a
//! maintained, documented, compact serde format (see `docs/MODEL_FORMAT.md`).
//! The loader trusts nothing: lengths are checked before anything is read into
//! memory, the checksum before anything is decoded, and the decoded model
//! before it is used.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::forest::Tree;
use crate::model::{Decision, Metadata, Model};
use crate::preprocess::Pipeline;
use crate::schema::Schema;

/// Version of the model file layout; bumped whenever the payload changes shape.
pub const FORMAT_VERSION: u32 = 2;
/// The file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"FRAUDENG";
/// Header size in bytes.
pub const HEADER_LEN: usize = 32;
/// Largest payload the loader accepts (1 GiB); larger claims are rejected
/// before any allocation.
pub const MAX_PAYLOAD_LEN: u64 = 1 << 30;

#[derive(Serialize)]
struct PayloadRef<'a> {
    schema: &'a Schema,
    pipeline: &'a Pipeline,
    trees: &'a [Tree],
    decision: &'a Decision,
    metadata: &'a Metadata,
}

#[derive(Deserialize)]
struct Payload {
    schema: Schema,
    pipeline: Pipeline,
    trees: Vec<Tree>,
    decision: Decision,
    metadata: Metadata,
}

/// The content-derived version of a model: the first 16 hex digits of the
/// SHA-256 of its payload as written (with `metadata.model_id` empty).
pub(crate) fn content_id(
    schema: &Schema,
    pipeline: &Pipeline,
    trees: &[Tree],
    decision: &Decision,
    metadata: &Metadata,
) -> Result<String> {
    use sha2::Digest;
    let payload = PayloadRef {
        schema,
        pipeline,
        trees,
        decision,
        metadata,
    };
    let body = postcard::to_stdvec(&payload).map_err(|e| Error::Serialization {
        what: "model",
        reason: e.to_string(),
    })?;
    let digest = sha2::Sha256::digest(&body);
    Ok(digest[..8].iter().map(|b| format!("{b:02x}")).collect())
}

impl Model {
    /// The model file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let payload = PayloadRef {
            schema: &self.schema,
            pipeline: &self.pipeline,
            trees: &self.trees,
            decision: &self.decision,
            metadata: &self.metadata,
        };
        let body = postcard::to_stdvec(&payload).map_err(|e| Error::Serialization {
            what: "model",
            reason: e.to_string(),
        })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.extend_from_slice(&MAGIC);
        bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&body);
        Ok(bytes)
    }

    /// Reads a model from the bytes of a model file, checking everything.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model> {
        let payload_len = check_header(bytes, bytes.len() as u64)?;
        let body = &bytes[HEADER_LEN..];
        if body.len() as u64 != payload_len {
            return Err(Error::corrupt(
                16,
                format!(
                    "header says {payload_len} payload bytes, found {}",
                    body.len()
                ),
            ));
        }
        let stored = u32::from_le_bytes(field(bytes, 24));
        let actual = crc32fast::hash(body);
        if stored != actual {
            return Err(Error::corrupt(
                24,
                format!("checksum mismatch (stored {stored:08x}, computed {actual:08x})"),
            ));
        }
        let (payload, rest): (Payload, &[u8]) = postcard::take_from_bytes(body).map_err(|e| {
            Error::corrupt(HEADER_LEN as u64, format!("payload does not decode: {e}"))
        })?;
        if !rest.is_empty() {
            let offset = (bytes.len() - rest.len()) as u64;
            return Err(Error::corrupt(
                offset,
                format!("{} unexpected bytes after the payload", rest.len()),
            ));
        }
        let Payload {
            schema,
            pipeline,
            trees,
            decision,
            metadata,
        } = payload;
        Model::assemble(schema, pipeline, trees, decision, metadata).map_err(|e| match e {
            Error::CorruptModel { reason, .. } => Error::corrupt(HEADER_LEN as u64, reason),
            Error::Schema { reason, .. } => {
                Error::corrupt(HEADER_LEN as u64, format!("schema: {reason}"))
            }
            Error::InvalidParams { name, reason } => {
                Error::corrupt(HEADER_LEN as u64, format!("{name}: {reason}"))
            }
            other => other,
        })
    }

    /// Loads a model file.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        let io = |e| Error::io(path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut header = [0u8; HEADER_LEN];
        let header_len = read_up_to(&mut file, &mut header).map_err(io)?;
        check_header(&header[..header_len], len)?;
        // The length is bounded by check_header before this allocation.
        let mut bytes = Vec::with_capacity(len as usize);
        bytes.extend_from_slice(&header);
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(io)?;
        Model::from_bytes(&bytes)
    }

    /// Saves the model atomically: a temporary file beside `path`, flushed to
    /// disk, then renamed over it, so a reader never sees half a model.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomically(path.as_ref(), &self.to_bytes()?)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match std::io::Read::read(file, &mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn field<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[offset..offset + N]);
    out
}

/// Checks the header of a file `total_len` bytes long; returns the payload length.
fn check_header(bytes: &[u8], total_len: u64) -> Result<u64> {
    if bytes.len() < HEADER_LEN {
        if !bytes.starts_with(&MAGIC[..bytes.len().min(8)]) {
            return Err(Error::corrupt(
                0,
                "not a fraud-engine model file (bad magic bytes)",
            ));
        }
        return Err(Error::corrupt(
            bytes.len() as u64,
            format!("file ends inside the {HEADER_LEN}-byte header"),
        ));
    }
    if bytes[..8] != MAGIC {
        return Err(Error::corrupt(
            0,
            "not a fraud-engine model file (bad magic bytes)",
        ));
    }
    let version = u32::from_le_bytes(field(bytes, 8));
    if version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if u32::from_le_bytes(field(bytes, 12)) != 0 {
        return Err(Error::corrupt(12, "unknown flags set"));
    }
    if u32::from_le_bytes(field(bytes, 28)) != 0 {
        return Err(Error::corrupt(28, "reserved bytes are not zero"));
    }
    let payload_len = u64::from_le_bytes(field(bytes, 16));
    if payload_len > MAX_PAYLOAD_LEN {
        return Err(Error::corrupt(
            16,
            format!("payload length {payload_len} exceeds the {MAX_PAYLOAD_LEN}-byte limit"),
        ));
    }
    if payload_len != total_len - HEADER_LEN as u64 {
        return Err(Error::corrupt(
            16,
            format!(
                "header says {payload_len} payload bytes, the file has {}",
                total_len - HEADER_LEN as u64
            ),
        ));
    }
    Ok(payload_len)
}
