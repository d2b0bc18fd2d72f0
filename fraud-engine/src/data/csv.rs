//! The one CSV reader: a file with a header row becomes a [`Table`] of text
//! columns, every column and value kept as written, so that tools which
//! score a file can write every input column back out.

use std::path::Path;

use crate::data::{Table, TableColumn, Texts};
use crate::error::{Error, Result};

impl Table {
    /// Reads a CSV file with a header row. Every column is kept, as text;
    /// header names are trimmed, values are kept as written (readers of the
    /// table trim them where they parse them). A duplicate or empty header
    /// name, a row with a different number of fields, or bytes that are not
    /// UTF-8 is an error naming the line.
    pub fn read_csv(path: &Path) -> Result<Table> {
        let source = path.display().to_string();
        let mut reader = csv::ReaderBuilder::new()
            .from_path(path)
            .map_err(|e| csv_error(&source, e))?;
        let headers: Vec<String> = reader
            .headers()
            .map_err(|e| csv_error(&source, e))?
            .iter()
            .map(|h| h.trim().to_owned())
            .collect();
        for (i, name) in headers.iter().enumerate() {
            if headers[..i].contains(name) {
                return Err(Error::schema(
                    &source,
                    format!("column `{name}` appears twice in the header"),
                ));
            }
        }
        let mut columns: Vec<Texts> = headers.iter().map(|_| Texts::new()).collect();
        let mut record = csv::StringRecord::new();
        while reader
            .read_record(&mut record)
            .map_err(|e| csv_error(&source, e))?
        {
            // The reader refuses records whose length differs from the header's.
            for (column, text) in columns.iter_mut().zip(record.iter()) {
                column.push(text);
            }
        }
        Table::from_columns(
            source,
            headers
                .into_iter()
                .zip(columns)
                .map(|(name, texts)| (name, TableColumn::Texts(texts))),
        )
    }
}

fn csv_error(source: &str, error: csv::Error) -> Error {
    let line = error.position().map(|p| p.line());
    let reason = match error.into_kind() {
        csv::ErrorKind::Io(io) => return Error::io(source, io),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("{len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("invalid UTF-8 ({err})"),
        other => format!("{other:?}"),
    };
    Error::schema(
        source,
        match line {
            Some(line) => format!("line {line}: {reason}"),
            None => reason,
        },
    )
}
