//! The engine's one error type.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One value a data source rejected, with where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejection {
    /// 1-based data row (the header is not counted).
    pub row: u64,
    /// The column's name.
    pub column: String,
    /// The value as given ("" when it was missing).
    pub value: String,
    /// Why the value was rejected, quoting it.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "row {}, column `{}`: {}",
            self.row, self.column, self.reason
        )
    }
}

/// One bad field of a record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldProblem {
    /// The field's name.
    pub field: String,
    /// What was wrong with it.
    pub reason: String,
}

/// A remedy the user can apply, carried as data so that each front end can
/// word it in its own syntax (a command-line flag, a Python keyword, a
/// sentence). Its `Display` is the plain-words version.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "hint", rename_all = "snake_case")]
pub enum Hint {
    /// Leave this column out of the features.
    LeaveOut {
        /// The column.
        column: String,
    },
    /// Keep this id-named column as a feature after all.
    KeepColumn {
        /// The column.
        column: String,
    },
    /// Name the label column, which is not the default one.
    NameLabel,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hint::LeaveOut { column } => write!(f, "leave the column `{column}` out"),
            Hint::KeepColumn { column } => write!(f, "keep the column `{column}` to use it"),
            Hint::NameLabel => f.write_str("name the label column"),
        }
    }
}

/// Everything that can go wrong in the engine. Every variant names what was wrong
/// (a field, a row and column, a byte offset) so callers can show it as-is.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given for scoring or training is unusable.
    #[error("invalid value for `{field}`: {reason}")]
    InvalidInput {
        /// The feature or field name.
        field: String,
        /// What was wrong with it.
        reason: String,
    },
    /// A record given for scoring had bad fields; all of them are listed.
    #[error("{}", format_fields(problems))]
    InvalidFields {
        /// Each bad field and why, in schema order.
        problems: Vec<FieldProblem>,
    },
    /// A tabular source had rejected values. `rejections` holds the first
    /// [`Error::MAX_REJECTIONS`]; `total` counts them all.
    #[error("{}", format_rejections(source_name, rejections, *total))]
    InvalidData {
        /// The file name, or a description of the in-memory source.
        source_name: String,
        /// The first rejected values, in row order.
        rejections: Vec<Rejection>,
        /// How many values were rejected in all.
        total: usize,
    },
    /// The data does not fit the expected schema (missing column, bad header, ...).
    #[error("{source_name}: {reason}")]
    Schema {
        /// The file name, or a description of the source.
        source_name: String,
        /// What did not fit.
        reason: String,
        /// What the user can do about it, when there is one thing to do.
        hint: Option<Hint>,
    },
    /// A training or scoring parameter is out of its domain.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParams {
        /// The parameter's name.
        name: &'static str,
        /// Why the value is not allowed.
        reason: String,
    },
    /// A model file or byte string is damaged or hostile.
    #[error("corrupt model at byte {offset}: {reason}")]
    CorruptModel {
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What was wrong.
        reason: String,
    },
    /// The model file was written by a format version this build cannot read.
    #[error("unsupported model format version {found} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A model scores the training rows stored with it differently from when
    /// it was made (a damaged file, or a build that scores differently): it
    /// must not serve.
    #[error(
        "the model scores its golden set differently on this build: row {row} gives {got}, \
         the model file says {expected}"
    )]
    GoldenSetMismatch {
        /// The golden row, counted from 0.
        row: usize,
        /// The probability recorded when the model was made.
        expected: f64,
        /// The probability this build gives.
        got: f64,
    },
    /// A value could not be serialized (a model file, a JSON document).
    #[error("cannot write the {what}: {reason}")]
    Serialization {
        /// What was being written.
        what: &'static str,
        /// The serializer's reason.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// How many rejections an [`Error::InvalidData`] keeps in detail.
    pub const MAX_REJECTIONS: usize = 100;

    /// A [`Error::Schema`] without a hint.
    pub(crate) fn schema(source_name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Schema {
            source_name: source_name.into(),
            reason: reason.into(),
            hint: None,
        }
    }

    /// The reason alone, without the field or source it concerns (which
    /// callers that report by field already show).
    pub fn reason(&self) -> String {
        match self {
            Error::InvalidInput { reason, .. } | Error::Schema { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }

    /// The remedy this error carries, if any.
    pub fn hint(&self) -> Option<&Hint> {
        match self {
            Error::Schema { hint, .. } => hint.as_ref(),
            _ => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
        Error::CorruptModel {
            offset,
            reason: reason.into(),
        }
    }
}

fn format_rejections(source: &str, rejections: &[Rejection], total: usize) -> String {
    let Some(first) = rejections.first() else {
        return format!("{source}: rejected values");
    };
    if total > 1 {
        format!("{source}: {first} (and {} more rejected values)", total - 1)
    } else {
        format!("{source}: {first}")
    }
}

fn format_fields(problems: &[FieldProblem]) -> String {
    let parts: Vec<String> = problems
        .iter()
        .map(|p| format!("`{}`: {}", p.field, p.reason))
        .collect();
    format!("invalid fields: {}", parts.join("; "))
}
