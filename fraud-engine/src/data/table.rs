//! [`Table`]: the one owned, columnar input every front end builds from its
//! own data (CSV rows, a DataFrame, numpy or Arrow columns, a dict of
//! columns, a list of records, C arrays). The engine then makes every data
//! decision from it: kinds, labels, rejections, encoding.

use crate::data::Value;
use crate::error::{Error, Result};

/// Category code marking a missing value in a [`TableColumn::Dictionary`]
/// (and in a dataset's categorical column).
pub const MISSING_CODE: u32 = u32::MAX;

/// One owned value of a [`TableColumn::Cells`] column.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// A number.
    Number(f64),
    /// A boolean: a flag's value (it is not a number).
    Bool(bool),
    /// Text.
    Text(String),
    /// An empty value (`None`, `null`, `NaN`).
    Missing,
    /// The record had no such field at all.
    Absent,
    /// A value of a type no feature reads, named by its type.
    Unsupported(&'static str),
}

impl Cell {
    /// The value as the engine reads it.
    pub fn as_value(&self) -> Value<'_> {
        match self {
            Cell::Number(x) if x.is_nan() => Value::Missing,
            Cell::Number(x) => Value::Number(*x),
            Cell::Bool(b) => Value::Bool(*b),
            Cell::Text(t) => Value::Text(t),
            Cell::Missing => Value::Missing,
            Cell::Absent => Value::Absent,
            Cell::Unsupported(what) => Value::Unsupported(what),
        }
    }
}

/// Text values stored end to end in one buffer: a CSV column of a million
/// rows costs two allocations, not a million.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Texts {
    buffer: String,
    ends: Ends,
}

/// Where each value ends in [`Texts`]'s buffer. Four bytes per value while
/// the buffer is under 4 GiB, as every CSV column short of that is: the
/// offsets of a table read from a file otherwise take more memory than its
/// text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ends {
    Narrow(Vec<u32>),
    Wide(Vec<usize>),
}

impl Default for Ends {
    fn default() -> Self {
        Ends::Narrow(Vec::new())
    }
}

impl Ends {
    fn push(&mut self, end: usize) {
        match self {
            Ends::Narrow(ends) => match u32::try_from(end) {
                Ok(end) => ends.push(end),
                Err(_) => {
                    let mut wide: Vec<usize> = ends.iter().map(|&e| e as usize).collect();
                    wide.push(end);
                    *self = Ends::Wide(wide);
                }
            },
            Ends::Wide(ends) => ends.push(end),
        }
    }

    fn len(&self) -> usize {
        match self {
            Ends::Narrow(ends) => ends.len(),
            Ends::Wide(ends) => ends.len(),
        }
    }

    fn get(&self, row: usize) -> Option<usize> {
        match self {
            Ends::Narrow(ends) => ends.get(row).map(|&e| e as usize),
            Ends::Wide(ends) => ends.get(row).copied(),
        }
    }
}

impl Texts {
    /// An empty column.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one value.
    pub fn push(&mut self, text: &str) {
        self.buffer.push_str(text);
        self.ends.push(self.buffer.len());
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row`, or `None` past the end.
    pub fn get(&self, row: usize) -> Option<&str> {
        let end = self.ends.get(row)?;
        let start = match row {
            0 => 0,
            _ => self.ends.get(row - 1)?,
        };
        self.buffer.get(start..end)
    }

    /// Every value, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        (0..self.len()).filter_map(|r| self.get(r))
    }
}

impl<S: AsRef<str>> FromIterator<S> for Texts {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut texts = Texts::new();
        for s in iter {
            texts.push(s.as_ref());
        }
        texts
    }
}

/// One column of a [`Table`], in whichever form its source has it.
#[derive(Debug, Clone, PartialEq)]
pub enum TableColumn {
    /// Numbers (numeric or boolean arrays, C doubles); `NaN` is missing.
    Numbers(Vec<f64>),
    /// Text as read (a CSV column, a string array), untrimmed; texts such as
    /// `""` or `NA` are read as missing (see [`crate::data::is_missing_text`]).
    Texts(Texts),
    /// Dictionary-encoded text (pandas categoricals, Arrow dictionaries):
    /// `codes[row]` indexes `levels`, or is [`MISSING_CODE`].
    Dictionary {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct values.
        levels: Vec<String>,
    },
    /// Values of mixed types, one by one (JSON values, Python objects).
    Cells(Vec<Cell>),
}

impl TableColumn {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            TableColumn::Numbers(v) => v.len(),
            TableColumn::Texts(t) => t.len(),
            TableColumn::Dictionary { codes, .. } => codes.len(),
            TableColumn::Cells(c) => c.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row`; [`Value::Absent`] past the end or for a code
    /// outside the levels (neither can come from a checked [`Table`]).
    pub fn value(&self, row: usize) -> Value<'_> {
        match self {
            TableColumn::Numbers(v) => match v.get(row) {
                Some(x) if x.is_nan() => Value::Missing,
                Some(&x) => Value::Number(x),
                None => Value::Absent,
            },
            TableColumn::Texts(t) => t.get(row).map_or(Value::Absent, Value::Text),
            TableColumn::Dictionary { codes, levels } => match codes.get(row) {
                Some(&MISSING_CODE) => Value::Missing,
                Some(&code) => levels
                    .get(code as usize)
                    .map_or(Value::Absent, |l| Value::Text(l)),
                None => Value::Absent,
            },
            TableColumn::Cells(c) => c.get(row).map_or(Value::Absent, Cell::as_value),
        }
    }
}

/// Named columns of equal length, with a name for the source that error
/// messages use ("tx.csv", "DataFrame", "request").
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    source: String,
    names: Vec<String>,
    columns: Vec<TableColumn>,
    n_rows: usize,
}

impl Table {
    /// A table without columns, to which [`Table::push`] adds them.
    pub fn new(source: impl Into<String>) -> Self {
        Table {
            source: source.into(),
            names: Vec::new(),
            columns: Vec::new(),
            n_rows: 0,
        }
    }

    /// A table from named columns, checked like [`Table::push`] checks each.
    pub fn from_columns(
        source: impl Into<String>,
        columns: impl IntoIterator<Item = (String, TableColumn)>,
    ) -> Result<Self> {
        let mut table = Table::new(source);
        for (name, column) in columns {
            table.push(name, column)?;
        }
        Ok(table)
    }

    /// Adds a column. Its name (surrounding spaces trimmed) must be new,
    /// its length that of the columns before it, and a dictionary column's
    /// codes must index its levels. An empty name is allowed (a CSV written
    /// with its row index has one); such a column is never a feature.
    pub fn push(&mut self, name: impl Into<String>, column: TableColumn) -> Result<()> {
        let name = name.into().trim().to_owned();
        if self.names.contains(&name) {
            return Err(Error::schema(
                &self.source,
                format!("column `{name}` appears twice"),
            ));
        }
        if !self.columns.is_empty() && column.len() != self.n_rows {
            return Err(Error::schema(
                &self.source,
                format!(
                    "column `{name}` has {} values, `{}` has {}",
                    column.len(),
                    self.names[0],
                    self.n_rows
                ),
            ));
        }
        if let TableColumn::Dictionary { codes, levels } = &column {
            if codes
                .iter()
                .any(|&c| c != MISSING_CODE && c as usize >= levels.len())
            {
                return Err(Error::schema(
                    &self.source,
                    format!("column `{name}` has a code outside its categories"),
                ));
            }
        }
        self.n_rows = column.len();
        self.names.push(name);
        self.columns.push(column);
        Ok(())
    }

    /// What the table was read from, for messages.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Column names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Columns, parallel to [`Table::names`].
    pub fn columns(&self) -> &[TableColumn] {
        &self.columns
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&TableColumn> {
        self.position(name).map(|i| &self.columns[i])
    }

    /// The position of the column called `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The positions of the named columns, in the order asked; every name
    /// that is not a column is listed in one [`Error::Schema`].
    pub fn positions<'n>(
        &self,
        wanted: impl IntoIterator<Item = &'n str> + Clone,
    ) -> Result<Vec<usize>> {
        let mut found = Vec::new();
        let mut missing = Vec::new();
        for name in wanted.clone() {
            match self.position(name) {
                Some(i) => found.push(i),
                None => missing.push(name),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let all: Vec<&str> = wanted.into_iter().collect();
        Err(Error::schema(
            &self.source,
            format!(
                "missing column{} `{}` that the model needs (it reads {})",
                if missing.len() > 1 { "s" } else { "" },
                missing.join("`, `"),
                all.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_read_back_as_written() {
        let texts: Texts = ["", "Online", "", "caf\u{e9}"].into_iter().collect();
        assert_eq!(texts.len(), 4);
        assert_eq!(
            texts.iter().collect::<Vec<_>>(),
            ["", "Online", "", "caf\u{e9}"]
        );
        assert_eq!(texts.get(4), None);
    }

    #[test]
    fn offsets_widen_past_four_gibibytes() {
        // Offsets, not text: a column of 4 GiB is too large for a test.
        let past = u32::MAX as usize + 7;
        let mut ends = Ends::default();
        ends.push(3);
        ends.push(past);
        ends.push(past + 1);
        assert!(matches!(ends, Ends::Wide(_)));
        assert_eq!(
            (0..4).map(|row| ends.get(row)).collect::<Vec<_>>(),
            [Some(3), Some(past), Some(past + 1), None]
        );
    }

    #[test]
    fn columns_must_agree() {
        let mut t = Table::new("test");
        t.push(" a ", TableColumn::Numbers(vec![1.0, f64::NAN]))
            .expect("first column");
        assert_eq!(t.names(), ["a"]);
        assert_eq!(t.columns()[0].value(1), Value::Missing);
        let short = t.push("b", TableColumn::Texts(["x"].into_iter().collect()));
        assert!(short
            .expect_err("length")
            .to_string()
            .contains("has 1 values"));
        let twice = t.push("a", TableColumn::Numbers(vec![0.0, 0.0]));
        assert!(twice
            .expect_err("dup")
            .to_string()
            .contains("appears twice"));
        let bad_code = t.push(
            "c",
            TableColumn::Dictionary {
                codes: vec![0, 3],
                levels: vec!["x".into()],
            },
        );
        assert!(bad_code.is_err());
        let err = t.positions(["a", "zz", "yy"]).expect_err("missing");
        assert!(
            err.to_string().contains("missing columns `zz`, `yy`"),
            "{err}"
        );
    }

    #[test]
    fn texts_store_values_end_to_end() {
        let texts: Texts = ["", "ab", " c "].into_iter().collect();
        assert_eq!(texts.iter().collect::<Vec<_>>(), ["", "ab", " c "]);
        assert_eq!(texts.get(3), None);
    }
}
