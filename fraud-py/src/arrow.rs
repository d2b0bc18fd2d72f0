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
use arrow_data::ArrayData;
use arrow_schema::{DataType, Field, Fields};
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
    Ok(Chunks {
        data_type,
        arrays: vec![checked(data)?],
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
        arrays.push(checked(data)?);
    }
    Ok(Chunks { data_type, arrays })
}

/// Imported data, checked in full before any value is read (offsets,
/// views, dictionary keys), as an array. Text columns are checked and kept
/// as the bytes they are (see [`text_as_bytes`]), and their UTF-8 is
/// checked as [`text_column`] reads them, once per distinct value.
fn checked(data: ArrayData) -> PyResult<ArrayRef> {
    let data = text_as_bytes(data);
    data.validate_full().map_err(arrow_error)?;
    Ok(make_array(data))
}

/// The binary type laid out as a text type is.
fn bytes_type(data_type: &DataType) -> Option<DataType> {
    match data_type {
        DataType::Utf8 => Some(DataType::Binary),
        DataType::LargeUtf8 => Some(DataType::LargeBinary),
        DataType::Utf8View => Some(DataType::BinaryView),
        _ => None,
    }
}

/// `data` with a text array, or each text column of a table (a struct),
/// retyped as the binary array of the same layout, before it is checked.
/// Arrow's check of text runs the UTF-8 check on every value: on a column
/// of short texts in views (polars' strings) that was most of reading it,
/// while a column holds a few distinct texts. The columns' types as the
/// producer gave them stay in the [`Chunks`], so that a binary column is
/// still refused and a text one read as text.
fn text_as_bytes(data: ArrayData) -> ArrayData {
    let retyped = match data.data_type() {
        DataType::Struct(fields) => {
            let children: Vec<ArrayData> = data
                .child_data()
                .iter()
                .cloned()
                .map(text_as_bytes)
                .collect();
            let fields: Fields = fields
                .iter()
                .zip(&children)
                .map(|(field, child)| Field::clone(field).with_data_type(child.data_type().clone()))
                .collect();
            data.into_builder()
                .data_type(DataType::Struct(fields))
                .child_data(children)
        }
        text => match bytes_type(text) {
            Some(bytes) => data.into_builder().data_type(bytes),
            None => return data,
        },
    };
    // SAFETY: only the type changes, to one with the same buffers and
    // layout (text and binary differ by the UTF-8 rule alone), and the
    // result is checked in full by `checked` before anything reads it.
    unsafe { retyped.build_unchecked() }
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
        text if is_text(text) => text_column(chunks, data_type),
        DataType::Dictionary(_, values) if is_text(values) => {
            let mut dictionary = Dictionary::default();
            for chunk in chunks {
                let Some(encoded) = chunk.as_any_dictionary_opt() else {
                    return Err(unread(data_type));
                };
                // Each chunk has its own levels: mapped to the column's once.
                let levels: Vec<u32> = texts(encoded.values().as_ref())
                    .ok_or_else(|| unread(data_type))?
                    .map(|level| dictionary.code(level))
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("a level of its dictionary is not UTF-8 text ({e})"))?;
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

/// The values of a text array (or of the binary array [`checked`] made of
/// one), as bytes, `None` for a null; `None` for another type.
fn texts(array: &dyn Array) -> Option<Box<dyn Iterator<Item = Option<&[u8]>> + '_>> {
    match array.data_type() {
        DataType::Utf8 => Some(Box::new(
            array
                .as_string::<i32>()
                .iter()
                .map(|t| t.map(str::as_bytes)),
        )),
        DataType::LargeUtf8 => Some(Box::new(
            array
                .as_string::<i64>()
                .iter()
                .map(|t| t.map(str::as_bytes)),
        )),
        DataType::Utf8View => Some(Box::new(
            array.as_string_view().iter().map(|t| t.map(str::as_bytes)),
        )),
        DataType::Binary => Some(Box::new(array.as_binary::<i32>().iter())),
        DataType::LargeBinary => Some(Box::new(array.as_binary::<i64>().iter())),
        DataType::BinaryView => Some(Box::new(array.as_binary_view().iter())),
        _ => None,
    }
}

/// Rows of text that one thread dictionary-encodes at least: fewer are not
/// worth a thread's start (a row takes about 20 ns).
const TEXT_ROWS_PER_TASK: usize = 32_768;

/// A text column's chunks dictionary-encoded, in pieces side by side. The
/// levels come in the order the rows first show them, as one pass over the
/// rows would give. `Err` names the first row whose value is not UTF-8, or
/// says the chunks (of `data_type`) are not text.
///
/// Text is the costliest column to read: about 20 ns a value, where a
/// number takes a copy.
fn text_column(chunks: &[ArrayRef], data_type: &DataType) -> Result<TableColumn, String> {
    let rows: usize = chunks.iter().map(|c| c.len()).sum();
    let tasks = rows
        .div_ceil(TEXT_ROWS_PER_TASK)
        .clamp(1, rayon::current_num_threads());
    let rows_per_task = rows.div_ceil(tasks).max(1);
    // Each piece with the column's row its first value is.
    let mut pieces: Vec<(usize, ArrayRef)> = Vec::new();
    let mut first_row = 0;
    for chunk in chunks {
        for start in (0..chunk.len()).step_by(rows_per_task) {
            let len = rows_per_task.min(chunk.len() - start);
            pieces.push((first_row + start, chunk.slice(start, len)));
        }
        first_row += chunk.len();
    }
    let encoded: Vec<Result<Dictionary, String>> = pieces
        .par_iter()
        .map(|(first_row, piece)| {
            let mut dictionary = Dictionary::default();
            dictionary.codes.reserve(piece.len());
            let values = texts(piece.as_ref()).ok_or_else(|| unread(data_type))?;
            dictionary.extend(values, *first_row)?;
            Ok(dictionary)
        })
        .collect();
    let mut whole = Dictionary::default();
    whole.codes.reserve(rows);
    for piece in encoded {
        whole.append(piece?);
    }
    Ok(whole.into_column())
}

/// Levels up to which [`Dictionary::code`] looks a value up by comparing.
const FEW_LEVELS: usize = 16;

/// Text values dictionary-encoded as they are read: each distinct text once.
#[derive(Default)]
struct Dictionary {
    codes: Vec<u32>,
    levels: Vec<String>,
    index: HashMap<Vec<u8>, u32>,
}

impl Dictionary {
    /// The code of a value given as its bytes (`MISSING_CODE` for a null),
    /// added when new. Bytes equal to a known level are that level's UTF-8,
    /// so only a value not seen before is checked: `Err` when it is not
    /// UTF-8.
    fn code(&mut self, value: Option<&[u8]>) -> Result<u32, std::str::Utf8Error> {
        let Some(bytes) = value else {
            return Ok(MISSING_CODE);
        };
        match self.known(bytes) {
            Some(code) => Ok(code),
            None => Ok(self.add(std::str::from_utf8(bytes)?)),
        }
    }

    /// The code of a level known to be text.
    fn level_code(&mut self, text: &str) -> u32 {
        self.known(text.as_bytes())
            .unwrap_or_else(|| self.add(text))
    }

    fn known(&self, bytes: &[u8]) -> Option<u32> {
        // A column of a few categories (the usual case) finds its value
        // sooner by comparing than by hashing it.
        if self.levels.len() <= FEW_LEVELS {
            self.levels
                .iter()
                .position(|level| level.as_bytes() == bytes)
                .map(|i| i as u32)
        } else {
            self.index.get(bytes).copied()
        }
    }

    fn add(&mut self, text: &str) -> u32 {
        let code = self.levels.len() as u32;
        self.levels.push(text.to_owned());
        self.index.insert(text.as_bytes().to_vec(), code);
        code
    }

    /// Adds the rows another dictionary encoded after this one's.
    fn append(&mut self, other: Dictionary) {
        let recoded: Vec<u32> = other
            .levels
            .iter()
            .map(|level| self.level_code(level))
            .collect();
        self.codes.extend(other.codes.iter().map(|&code| {
            if code == MISSING_CODE {
                MISSING_CODE
            } else {
                recoded[code as usize]
            }
        }));
    }

    /// Encodes `values`, the first of which is row `first_row` (from 0) of
    /// the column; `Err` names the first that is not UTF-8 (from 1).
    fn extend<'a>(
        &mut self,
        values: impl Iterator<Item = Option<&'a [u8]>>,
        first_row: usize,
    ) -> Result<(), String> {
        for (i, value) in values.enumerate() {
            let code = self
                .code(value)
                .map_err(|e| format!("row {} is not UTF-8 text ({e})", first_row + i + 1))?;
            self.codes.push(code);
        }
        Ok(())
    }

    fn into_column(self) -> TableColumn {
        TableColumn::Dictionary {
            codes: self.codes,
            levels: self.levels,
        }
    }
}
