//! Tabular data, from any front end to a [`Dataset`].
//!
//! Every front end builds a [`Table`] from its own input (a CSV file through
//! [`Table::read_csv`], DataFrame or numpy columns, a dict, C arrays) and the
//! engine makes every decision from there: the column rules and kind
//! inference ([`infer_schema`]), reading and checking each value
//! ([`Dataset::from_table`]), and reporting every rejected value in one
//! [`RejectionLog`], so a value is accepted or rejected for the same reason
//! whatever its source.

mod csv;
mod dataset;
mod infer;
mod rejections;
mod table;
mod value;

pub use dataset::{read_csv, read_labels, read_weights, Column, Dataset, Loaded};
pub use infer::{infer_schema, ColumnRules, Inferred, Notice};
pub use rejections::RejectionLog;
pub use table::{Cell, Table, TableColumn, Texts, MISSING_CODE};
pub use value::{is_missing_text, parse_bool, parse_label, Value};

pub(crate) use value::{
    category_text, check_number, describe_range, number_as_level, numeric_value, parse_number,
};
