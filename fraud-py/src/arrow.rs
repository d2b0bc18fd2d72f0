//! Arrow inputs: pyarrow tables, record batches, arrays and chunked arrays,
//! polars frames and series, and anything else with the Arrow PyCapsule
//! interface (`__arrow_c_stream__`, `__arrow_c_array__`), read through the
//! Arrow C data interface. Buffers are read in place (one copy, into the
//! engine's [`TableColumn`]); nothing is converted value by value in Python.
//!
//! Conversion only: numbers (integers, floats, booleans as 0/1, nulls as
//! `NaN`) become [`TableColumn::Numbers`], strings and dictionaries become
//! [`TableColumn::Dictionary`] (nulls as [`MISSING_CODE`]), exactly the
//! values numpy and pandas columns give, so every input scores alike.

#![allow(unsafe_code)] // The Arrow C data interface is raw pointers by definition.

use std::collections::HashMap;
use std::ffi::CStr;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, from_ffi_and_data_type, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::types::{
    Float16Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type,
    UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{make_array, Array, ArrayRef};
use arrow_schema::DataType;
use fraud_engine::data::MISSING_CODE;
use fraud_engine::TableColumn;
use pyo3::exceptions::PyTypeError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyTuple};
use rayon::prelude::*;

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";

/// An Arrow object read whole: its type and its chunks.
pub struct Chunks {
    /// The type of every chunk (a struct of the columns for a table).
    pub data_type: DataType,
    /// The data, in order.
    pub arrays: Vec<ArrayRef>,
}

/// Whether `obj` exports Arrow data through the PyCapsule interface.
pub fn exports_arrow(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = obj.py();
    Ok(obj.hasattr(intern!(py, "__arrow_c_stream__"))?
        || obj.hasattr(intern!(py, "__arrow_c_array__"))?)
}

fn arrow_error(what: impl std::fmt::Display) -> PyErr {
    PyTypeError::new_err(format!("could not read the Arrow data: {what}"))
}

/// Reads every chunk of an Arrow object (a stream when it offers one, else
/// one array).
pub fn read(obj: &Bound<'_, PyAny>) -> PyResult<Chunks> {
    let py = obj.py();
    if obj.hasattr(intern!(py, "__arrow_c_stream__"))? {
        let capsule = obj.call_method0(intern!(py, "__arrow_c_stream__"))?;
        let capsule = capsule.cast::<PyCapsule>()?;
        let pointer = capsule.pointer_checked(Some(STREAM))?;
        // SAFETY: a capsule named "arrow_array_stream" holds an initialised
        // ArrowArrayStream (the PyCapsule interface's contract), aligned and
        // alive while `capsule` is. `from_raw` moves it out and marks the
        // capsule's copy released, so the capsule's destructor frees nothing
        // twice; the moved stream is released when dropped.
        let stream = unsafe { FFI_ArrowArrayStream::from_raw(pointer.cast().as_ptr()) };
        return read_stream(stream);
    }
    let pair = obj.call_method0(intern!(py, "__arrow_c_array__"))?;
    let pair = pair.cast::<PyTuple>()?;
    let schema_capsule = pair.get_item(0)?;
    let array_capsule = pair.get_item(1)?;
    let schema_pointer = schema_capsule
        .cast::<PyCapsule>()?
        .pointer_checked(Some(SCHEMA))?;
    let array_pointer = array_capsule
        .cast::<PyCapsule>()?
        .pointer_checked(Some(ARRAY))?;
    // SAFETY: the capsules named "arrow_schema" and "arrow_array" hold an
    // initialised ArrowSchema and ArrowArray (the PyCapsule interface's
    // contract), alive while the capsules are; `from_raw` moves each out and
    // marks the capsule's copy released, so each is released once, by us.
    let (schema, array) = unsafe {
        (
            FFI_ArrowSchema::from_raw(schema_pointer.cast().as_ptr()),
            FFI_ArrowArray::from_raw(array_pointer.cast().as_ptr()),
        )
    };
    let data_type = DataType::try_from(&schema).map_err(arrow_error)?;
    // SAFETY: `array` was exported with `schema`, as the interface requires.
    let data = unsafe { from_ffi(array, &schema) }.map_err(arrow_error)?;
    // Checked before any value is read: offsets, dictionary keys, UTF-8.
    data.validate_full().map_err(arrow_error)?;
    Ok(Chunks {
        data_type,
        arrays: vec![make_array(data)],
    })
}

fn read_stream(mut stream: FFI_ArrowArrayStream) -> PyResult<Chunks> {
    let (Some(get_schema), Some(get_next)) = (stream.get_schema, stream.get_next) else {
        return Err(arrow_error("the stream was already consumed"));
    };
    let mut schema = FFI_ArrowSchema::empty();
    // SAFETY: `stream` is a live stream (its release callback is set) and
    // `schema` a released one for the producer to fill, as the interface asks.
    let status = unsafe { get_schema(&mut stream, &mut schema) };
    if status != 0 {
        return Err(arrow_error(last_error(&mut stream, status)));
    }
    let data_type = DataType::try_from(&schema).map_err(arrow_error)?;
    let mut arrays = Vec::new();
    loop {
        let mut array = FFI_ArrowArray::empty();
        // SAFETY: as for `get_schema`; `array` is released until filled.
        let status = unsafe { get_next(&mut stream, &mut array) };
        if status != 0 {
            return Err(arrow_error(last_error(&mut stream, status)));
        }
        if array.is_released() {
            break;
        }
        // SAFETY: every array of a stream has the stream's schema.
        let data =
            unsafe { from_ffi_and_data_type(array, data_type.clone()) }.map_err(arrow_error)?;
        data.validate_full().map_err(arrow_error)?;
        arrays.push(make_array(data));
    }
    Ok(Chunks { data_type, arrays })
}

/// The producer's message for a failed call, or its status.
fn last_error(stream: &mut FFI_ArrowArrayStream, status: i32) -> String {
    let Some(get_last_error) = stream.get_last_error else {
        return format!("error {status}");
    };
    // SAFETY: the stream is live; the message, when there is one, is a
    // NUL-terminated string valid until the next call on the stream.
    let message = unsafe { get_last_error(stream) };
    if message.is_null() {
        return format!("error {status}");
    }
    // SAFETY: non-null, NUL-terminated, and read before any other call.
    unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned()
}

/// The columns of a table's chunks (a struct per record batch): `(name,
/// chunks)`, only those `keep` accepts.
pub fn columns(
    chunks: &Chunks,
    keep: impl Fn(&str) -> bool,
) -> PyResult<Vec<(String, DataType, Vec<ArrayRef>)>> {
    let DataType::Struct(fields) = &chunks.data_type else {
        return Err(PyTypeError::new_err(format!(
            "expected a table of named columns, got Arrow data of type {}",
            chunks.data_type
        )));
    };
    let mut columns = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if !keep(field.name()) {
            continue;
        }
        let parts = chunks
            .arrays
            .iter()
            .map(|batch| batch.as_struct().column(i).clone())
            .collect();
        columns.push((field.name().clone(), field.data_type().clone(), parts));
    }
    Ok(columns)
}

/// One column's chunks as an engine column; `Err` names a type no feature
/// reads.
pub fn column(data_type: &DataType, chunks: &[ArrayRef]) -> Result<TableColumn, String> {
    let rows = chunks.iter().map(|c| c.len()).sum();
    let mut numbers = Vec::with_capacity(rows);
    macro_rules! numbers {
        ($t:ty) => {{
            for chunk in chunks {
                let array = chunk.as_primitive::<$t>();
                let values = array.values();
                match array.nulls() {
                    None => numbers.extend(values.iter().map(|&x| x as f64)),
                    Some(nulls) => {
                        numbers.extend(values.iter().zip(nulls.iter()).map(|(&x, valid)| {
                            if valid {
                                x as f64
                            } else {
                                f64::NAN
                            }
                        }))
                    }
                }
            }
            Ok(TableColumn::Numbers(numbers))
        }};
    }
    match data_type {
        DataType::Null => Ok(TableColumn::Numbers(vec![f64::NAN; rows])),
        DataType::Boolean => {
            for chunk in chunks {
                numbers.extend(
                    chunk
                        .as_boolean()
                        .iter()
                        .map(|b| b.map_or(f64::NAN, |b| f64::from(u8::from(b)))),
                );
            }
            Ok(TableColumn::Numbers(numbers))
        }
        DataType::Int8 => numbers!(Int8Type),
        DataType::Int16 => numbers!(Int16Type),
        DataType::Int32 => numbers!(Int32Type),
        DataType::Int64 => numbers!(Int64Type),
        DataType::UInt8 => numbers!(UInt8Type),
        DataType::UInt16 => numbers!(UInt16Type),
        DataType::UInt32 => numbers!(UInt32Type),
        DataType::UInt64 => numbers!(UInt64Type),
        DataType::Float16 => {
            for chunk in chunks {
                numbers.extend(
                    chunk
                        .as_primitive::<Float16Type>()
                        .iter()
                        .map(|x| x.map_or(f64::NAN, f64::from)),
                );
            }
            Ok(TableColumn::Numbers(numbers))
        }
        DataType::Float32 => numbers!(Float32Type),
        DataType::Float64 => numbers!(Float64Type),
        text if is_text(text) => text_column(chunks).ok_or_else(|| unread(data_type)),
        DataType::Dictionary(_, values) if is_text(values) => {
            let mut dictionary = Dictionary::default();
            for chunk in chunks {
                let Some(encoded) = chunk.as_any_dictionary_opt() else {
                    return Err(unread(data_type));
                };
                // Each chunk has its own levels: mapped to the column's once.
                let levels: Vec<u32> = strings(encoded.values().as_ref())
                    .ok_or_else(|| unread(data_type))?
                    .map(|level| dictionary.code(level))
                    .collect();
                let keys = encoded.keys();
                let codes = encoded.normalized_keys();
                dictionary
                    .codes
                    .extend(codes.iter().enumerate().map(|(row, &key)| {
                        if keys.is_null(row) {
                            MISSING_CODE
                        } else {
                            levels.get(key).copied().unwrap_or(MISSING_CODE)
                        }
                    }));
            }
            Ok(dictionary.into_column())
        }
        other => Err(unread(other)),
    }
}

/// Whether [`column`] reads `data_type` as text (into a dictionary).
pub fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    )
}

fn unread(data_type: &DataType) -> String {
    format!(
        "values of Arrow type {data_type} are not read; convert them to numbers or text, or drop the column"
    )
}

/// The values of a string array, `None` for a null; `None` for another type.
fn strings(array: &dyn Array) -> Option<Box<dyn Iterator<Item = Option<&str>> + '_>> {
    match array.data_type() {
        DataType::Utf8 => Some(Box::new(array.as_string::<i32>().iter())),
        DataType::LargeUtf8 => Some(Box::new(array.as_string::<i64>().iter())),
        DataType::Utf8View => Some(Box::new(array.as_string_view().iter())),
        _ => None,
    }
}

/// Rows of text that one thread dictionary-encodes at least: fewer are not
/// worth a thread's start (a row takes about 20 ns).
const TEXT_ROWS_PER_TASK: usize = 32_768;

/// A text column's chunks dictionary-encoded, in pieces side by side; `None`
/// if a chunk is not text. The levels come in the order the rows first show
/// them, as one pass over the rows would give.
///
/// Text is the costliest column to read: about 20 ns a value, where a
/// number takes a copy.
fn text_column(chunks: &[ArrayRef]) -> Option<TableColumn> {
    let rows: usize = chunks.iter().map(|c| c.len()).sum();
    let tasks = rows
        .div_ceil(TEXT_ROWS_PER_TASK)
        .clamp(1, rayon::current_num_threads());
    let rows_per_task = rows.div_ceil(tasks).max(1);
    let pieces: Vec<ArrayRef> = chunks
        .iter()
        .flat_map(|chunk| {
            (0..chunk.len())
                .step_by(rows_per_task)
                .map(|start| chunk.slice(start, rows_per_task.min(chunk.len() - start)))
        })
        .collect();
    let encoded: Vec<Option<Dictionary>> = pieces
        .par_iter()
        .map(|piece| {
            let mut dictionary = Dictionary::default();
            dictionary.codes.reserve(piece.len());
            dictionary.extend(strings(piece.as_ref())?);
            Some(dictionary)
        })
        .collect();
    let mut whole = Dictionary::default();
    whole.codes.reserve(rows);
    for piece in encoded {
        whole.append(piece?);
    }
    Some(whole.into_column())
}

/// Levels up to which [`Dictionary::code`] looks a value up by comparing.
const FEW_LEVELS: usize = 16;

/// Text values dictionary-encoded as they are read: each distinct text once.
#[derive(Default)]
struct Dictionary {
    codes: Vec<u32>,
    levels: Vec<String>,
    index: HashMap<String, u32>,
}

impl Dictionary {
    /// The code of a value (`MISSING_CODE` for a null), added when new.
    fn code(&mut self, value: Option<&str>) -> u32 {
        let Some(text) = value else {
            return MISSING_CODE;
        };
        // A column of a few categories (the usual case) finds its value
        // sooner by comparing than by hashing it.
        let known = if self.levels.len() <= FEW_LEVELS {
            self.levels
                .iter()
                .position(|level| level == text)
                .map(|i| i as u32)
        } else {
            self.index.get(text).copied()
        };
        if let Some(code) = known {
            return code;
        }
        let code = self.levels.len() as u32;
        self.levels.push(text.to_owned());
        self.index.insert(text.to_owned(), code);
        code
    }

    /// Adds the rows another dictionary encoded after this one's.
    fn append(&mut self, other: Dictionary) {
        let recoded: Vec<u32> = other
            .levels
            .iter()
            .map(|level| self.code(Some(level)))
            .collect();
        self.codes.extend(other.codes.iter().map(|&code| {
            if code == MISSING_CODE {
                MISSING_CODE
            } else {
                recoded[code as usize]
            }
        }));
    }

    fn extend<'a>(&mut self, values: impl Iterator<Item = Option<&'a str>>) {
        for value in values {
            let code = self.code(value);
            self.codes.push(code);
        }
    }

    fn into_column(self) -> TableColumn {
        TableColumn::Dictionary {
            codes: self.codes,
            levels: self.levels,
        }
    }
}
