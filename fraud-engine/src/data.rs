//! Columnar datasets and CSV ingestion.
//!
//! Training data arrives as CSV exports or in-memory columns. Both go through
//! the same [`ColumnBuilder`], so a value is accepted or rejected for the same
//! reason whatever its source, and every rejection names its row and column.

use std::collections::HashMap;
use std::path::Path;

use crate::error::{Error, Rejection, Result};
use crate::schema::{is_id_column, Feature, FeatureKind, Schema};

/// One input value before it is checked against its feature's kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// A number (also accepted for flags, as 0 or 1, and for categories).
    Number(f64),
    /// Text (parsed as a number or flag where the feature needs one).
    Text(&'a str),
    /// An absent value (empty cell, JSON `null`): imputed by the model's pipeline.
    Missing,
    /// A value of a type no feature accepts (a JSON array or object, say),
    /// named by its type; always rejected.
    Unsupported(&'static str),
}

/// Category code marking a missing categorical value in a [`Column::Categorical`].
pub const MISSING_CODE: u32 = u32::MAX;

/// One column of a [`Dataset`].
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers or 0/1 flags; `NaN` marks a missing value.
    Numeric(Vec<f64>),
    /// Dictionary-encoded text: `codes[row]` indexes `levels`, or is [`MISSING_CODE`].
    Categorical {
        /// One code per row.
        codes: Vec<u32>,
        /// The distinct values, in order of first appearance.
        levels: Vec<String>,
    },
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical { codes, .. } => codes.len(),
        }
    }

    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row` as a [`Value`].
    pub fn value(&self, row: usize) -> Value<'_> {
        match self {
            Column::Numeric(v) if v[row].is_nan() => Value::Missing,
            Column::Numeric(v) => Value::Number(v[row]),
            Column::Categorical { codes, levels } => match codes[row] {
                MISSING_CODE => Value::Missing,
                code => Value::Text(&levels[code as usize]),
            },
        }
    }
}

/// A validated, columnar table: one [`Column`] per schema feature, and the
/// labels when the source had them.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    schema: Schema,
    columns: Vec<Column>,
    labels: Option<Vec<u8>>,
    rows: usize,
}

impl Dataset {
    /// A dataset from columns in schema order; all columns (and the labels, if
    /// any) must have the same length and fit their feature's kind.
    pub fn new(schema: Schema, columns: Vec<Column>, labels: Option<Vec<u8>>) -> Result<Self> {
        schema.validate()?;
        let bad = |reason: String| Error::Schema {
            source_name: "dataset".into(),
            reason,
        };
        if columns.len() != schema.features.len() {
            return Err(bad(format!(
                "{} columns for {} features",
                columns.len(),
                schema.features.len()
            )));
        }
        let rows = labels.as_ref().map_or_else(|| columns[0].len(), Vec::len);
        for (feature, column) in schema.features.iter().zip(&columns) {
            if column.len() != rows {
                return Err(bad(format!(
                    "column `{}` has {} rows, expected {rows}",
                    feature.name,
                    column.len()
                )));
            }
            let fits = matches!(
                (&feature.kind, column),
                (FeatureKind::Categorical, Column::Categorical { .. })
                    | (
                        FeatureKind::Numeric { .. } | FeatureKind::Flag,
                        Column::Numeric(_)
                    )
            );
            if !fits {
                return Err(bad(format!(
                    "column `{}` does not match its feature kind",
                    feature.name
                )));
            }
            if let Column::Categorical { codes, levels } = column {
                if codes
                    .iter()
                    .any(|&c| c != MISSING_CODE && c as usize >= levels.len())
                {
                    return Err(bad(format!(
                        "column `{}` has a code outside its levels",
                        feature.name
                    )));
                }
            }
        }
        if labels.as_ref().is_some_and(|l| l.iter().any(|&y| y > 1)) {
            return Err(bad("labels must be 0 or 1".into()));
        }
        Ok(Dataset {
            schema,
            columns,
            labels,
            rows,
        })
    }

    /// The schema the columns follow.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Columns in schema order.
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    /// The 0/1 labels, when the source had a label column.
    pub fn labels(&self) -> Option<&[u8]> {
        self.labels.as_deref()
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.rows
    }

    /// The values of one row, in schema order, written into `out`.
    pub fn row_values<'a>(&'a self, row: usize, out: &mut Vec<Value<'a>>) {
        out.clear();
        out.extend(self.columns.iter().map(|c| c.value(row)));
    }
}

/// Texts read as a missing value (compared without case).
const MISSING_TEXTS: [&str; 6] = ["", "na", "n/a", "nan", "null", "none"];

/// Whether `text` stands for a missing value.
pub fn is_missing_text(text: &str) -> bool {
    let t = text.trim();
    MISSING_TEXTS.iter().any(|m| t.eq_ignore_ascii_case(m))
}

/// Reads a yes/no value: 0/1, true/false or yes/no in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    let t = text.trim();
    const TRUE: [&str; 4] = ["1", "true", "yes", "1.0"];
    const FALSE: [&str; 4] = ["0", "false", "no", "0.0"];
    if TRUE.iter().any(|s| t.eq_ignore_ascii_case(s)) {
        Some(true)
    } else if FALSE.iter().any(|s| t.eq_ignore_ascii_case(s)) {
        Some(false)
    } else {
        None
    }
}

/// Checks a numeric value against a feature, returning the value to store or why not.
pub(crate) fn check_number(kind: &FeatureKind, x: f64) -> std::result::Result<f64, String> {
    if !x.is_finite() {
        return Err(format!("{x} is not a finite number"));
    }
    match *kind {
        FeatureKind::Flag if x == 0.0 || x == 1.0 => Ok(x),
        FeatureKind::Flag => Err(format!("{x} is not a flag (expected 0 or 1)")),
        FeatureKind::Numeric { min, max } => {
            if min.is_some_and(|lo| x < lo) || max.is_some_and(|hi| x > hi) {
                Err(format!(
                    "{x} is outside the valid range {}..={}",
                    min.map_or("".into(), |v| v.to_string()),
                    max.map_or("".into(), |v| v.to_string())
                ))
            } else {
                Ok(x)
            }
        }
        FeatureKind::Categorical => Ok(x),
    }
}

/// Reads `value` as the number a numeric or flag feature stores (`NaN` = missing).
pub(crate) fn numeric_value(
    kind: &FeatureKind,
    value: Value<'_>,
) -> std::result::Result<f64, String> {
    match value {
        Value::Missing => Ok(f64::NAN),
        Value::Unsupported(type_name) => Err(format!("expected a number, got {type_name}")),
        Value::Number(x) => check_number(kind, x),
        Value::Text(t) if is_missing_text(t) => Ok(f64::NAN),
        Value::Text(t) => {
            if matches!(kind, FeatureKind::Flag) {
                return parse_bool(t)
                    .map(|b| f64::from(u8::from(b)))
                    .ok_or_else(|| {
                        format!("'{t}' is not a flag (expected 0/1, true/false or yes/no)")
                    });
            }
            let x: f64 = t
                .trim()
                .parse()
                .map_err(|_| format!("'{t}' is not a number"))?;
            check_number(kind, x)
        }
    }
}

/// Writes a number the way a category level is spelled (`3`, not `3.0`).
pub(crate) fn number_as_level(x: f64, buf: &mut String) {
    use std::fmt::Write;
    buf.clear();
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let _ = write!(buf, "{}", x as i64);
    } else {
        let _ = write!(buf, "{x}");
    }
}

/// Accumulates one column from values, recording rejections.
struct ColumnBuilder<'s> {
    feature: &'s Feature,
    column: Column,
    index: HashMap<String, u32>,
    scratch: String,
}

impl<'s> ColumnBuilder<'s> {
    fn new(feature: &'s Feature) -> Self {
        let column = match feature.kind {
            FeatureKind::Categorical => Column::Categorical {
                codes: Vec::new(),
                levels: Vec::new(),
            },
            _ => Column::Numeric(Vec::new()),
        };
        ColumnBuilder {
            feature,
            column,
            index: HashMap::new(),
            scratch: String::new(),
        }
    }

    /// Appends `value`; on rejection appends a missing value and returns the reason.
    fn push(&mut self, value: Value<'_>) -> std::result::Result<(), String> {
        match &mut self.column {
            Column::Numeric(values) => match numeric_value(&self.feature.kind, value) {
                Ok(x) => {
                    values.push(x);
                    Ok(())
                }
                Err(reason) => {
                    values.push(f64::NAN);
                    Err(reason)
                }
            },
            Column::Categorical { codes, levels } => {
                let text = match value {
                    Value::Unsupported(type_name) => {
                        codes.push(MISSING_CODE);
                        return Err(format!("expected text, got {type_name}"));
                    }
                    Value::Missing => None,
                    Value::Text(t) if is_missing_text(t) => None,
                    Value::Text(t) => Some(t.trim()),
                    Value::Number(x) if !x.is_finite() => {
                        codes.push(MISSING_CODE);
                        return Err(format!("{x} is not a valid category"));
                    }
                    Value::Number(x) => {
                        number_as_level(x, &mut self.scratch);
                        Some(self.scratch.as_str())
                    }
                };
                let code = match text {
                    None => MISSING_CODE,
                    Some(t) => match self.index.get(t) {
                        Some(&code) => code,
                        None => {
                            let code = levels.len() as u32;
                            levels.push(t.to_owned());
                            self.index.insert(t.to_owned(), code);
                            code
                        }
                    },
                };
                codes.push(code);
                Ok(())
            }
        }
    }
}

/// Collects rejections, keeping the first [`Error::MAX_REJECTIONS`] in detail.
#[derive(Default)]
struct Rejections {
    kept: Vec<Rejection>,
    total: usize,
}

impl Rejections {
    fn add(&mut self, row: u64, column: &str, reason: String) {
        self.total += 1;
        if self.kept.len() < Error::MAX_REJECTIONS {
            self.kept.push(Rejection {
                row,
                column: column.to_owned(),
                reason,
            });
        }
    }

    fn into_result(self, source_name: &str) -> Result<()> {
        if self.total == 0 {
            Ok(())
        } else {
            Err(Error::InvalidData {
                source_name: source_name.into(),
                rejections: self.kept,
                total: self.total,
            })
        }
    }
}

/// Reads a label: 0/1, true/false (any case) or yes/no.
pub fn parse_label(value: Value<'_>) -> std::result::Result<u8, String> {
    match value {
        Value::Number(x) if x == 0.0 || x == 1.0 => Ok(x as u8),
        Value::Number(x) => Err(format!("label {x} is not 0 or 1")),
        Value::Text(t) if is_missing_text(t) => Err("the label is missing".into()),
        Value::Text(t) => parse_bool(t)
            .map(u8::from)
            .ok_or_else(|| format!("label '{t}' is not 0/1, true/false or yes/no")),
        Value::Missing => Err("the label is missing".into()),
        Value::Unsupported(type_name) => Err(format!("expected a 0/1 label, got {type_name}")),
    }
}

/// Builds a dataset from row-major values: `rows[r][c]` is feature `c` of row `r`
/// in schema order. `source_name` appears in error messages.
pub fn dataset_from_rows<'a, R>(
    schema: Schema,
    rows: R,
    labels: Option<Vec<Value<'a>>>,
    source_name: &str,
) -> Result<Dataset>
where
    R: IntoIterator,
    R::Item: AsRef<[Value<'a>]>,
{
    schema.validate()?;
    let mut builders: Vec<ColumnBuilder<'_>> =
        schema.features.iter().map(ColumnBuilder::new).collect();
    let mut rejections = Rejections::default();
    for (r, row) in rows.into_iter().enumerate() {
        let row = row.as_ref();
        if row.len() != builders.len() {
            return Err(Error::Schema {
                source_name: source_name.into(),
                reason: format!(
                    "row {} has {} values, expected {}",
                    r + 1,
                    row.len(),
                    builders.len()
                ),
            });
        }
        for (builder, &value) in builders.iter_mut().zip(row) {
            if let Err(reason) = builder.push(value) {
                rejections.add(r as u64 + 1, &builder.feature.name, reason);
            }
        }
    }
    let labels = labels.map(|values| collect_labels(&schema.label, values, &mut rejections));
    rejections.into_result(source_name)?;
    let columns = builders.into_iter().map(|b| b.column).collect();
    Dataset::new(schema, columns, labels)
}

fn collect_labels(label: &str, values: Vec<Value<'_>>, rejections: &mut Rejections) -> Vec<u8> {
    values
        .into_iter()
        .enumerate()
        .map(|(r, v)| {
            parse_label(v).unwrap_or_else(|reason| {
                rejections.add(r as u64 + 1, label, reason);
                0
            })
        })
        .collect()
}

/// How to read a CSV file into a [`Dataset`].
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// Name of the label column.
    pub label: String,
    /// Whether a missing label column is an error (training, evaluation) or
    /// allowed (scoring).
    pub require_label: bool,
    /// Columns to leave out of the features.
    pub drop: Vec<String>,
    /// Id-named columns to keep as features anyway.
    pub keep: Vec<String>,
    /// The schema to read with; `None` infers one from the data.
    pub schema: Option<Schema>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            label: crate::schema::DEFAULT_LABEL.into(),
            require_label: true,
            drop: Vec::new(),
            keep: Vec::new(),
            schema: None,
        }
    }
}

/// A dataset read from CSV, with the notices worth telling the user (columns
/// left out and why).
#[derive(Debug, Clone)]
pub struct LoadedCsv {
    /// The data.
    pub dataset: Dataset,
    /// Human-readable notices, one per line.
    pub notices: Vec<String>,
}

/// Reads a CSV file with a header row.
///
/// With `options.schema` the named columns are read with those kinds (other
/// columns are ignored); without it, columns named `id` or `*_id` and those in
/// `options.drop` are left out and the kind of every other column is inferred:
/// a flag if every value is 0/1, true/false or yes/no, numeric if every value
/// parses as a number, categorical otherwise.
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<LoadedCsv> {
    let source = path.display().to_string();
    let open = || {
        // Values are trimmed where they are parsed; trimming whole records in
        // the reader would copy every record once more.
        csv::ReaderBuilder::new()
            .from_path(path)
            .map_err(|e| csv_error(&source, e))
    };
    let mut reader = open()?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&source, e))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let schema_error = |reason: String| Error::Schema {
        source_name: source.clone(),
        reason,
    };
    for (i, name) in headers.iter().enumerate() {
        if headers[..i].contains(name) {
            return Err(schema_error(format!(
                "column `{name}` appears twice in the header"
            )));
        }
    }
    let position = |name: &str| headers.iter().position(|h| h == name);
    let label_index = position(&options.label);
    if options.require_label && label_index.is_none() {
        return Err(schema_error(format!(
            "no label column `{}` (columns: {}); name it with --label",
            options.label,
            headers.join(", ")
        )));
    }
    for name in options.drop.iter().chain(&options.keep) {
        if position(name).is_none() {
            return Err(Error::InvalidParams {
                name: if options.drop.contains(name) {
                    "drop"
                } else {
                    "keep"
                },
                reason: format!("`{name}` is not a column of {source}"),
            });
        }
    }

    let mut notices = Vec::new();
    let (schema, indices) = match &options.schema {
        Some(schema) => {
            let mut indices = Vec::with_capacity(schema.features.len());
            for feature in &schema.features {
                let index = position(&feature.name).ok_or_else(|| {
                    schema_error(format!(
                        "missing column `{}` that the model needs",
                        feature.name
                    ))
                })?;
                indices.push(index);
            }
            let mut schema = schema.clone();
            schema.label = options.label.clone();
            (schema, indices)
        }
        None => {
            let mut candidates = Vec::new();
            for (i, name) in headers.iter().enumerate() {
                if Some(i) == label_index || options.drop.contains(name) {
                    continue;
                }
                if is_id_column(name) && !options.keep.contains(name) {
                    notices.push(format!(
                        "left out id column `{name}`: an id learned as a feature leaks (--keep {name} keeps it)"
                    ));
                    continue;
                }
                candidates.push(i);
            }
            let features = infer_kinds(&mut reader, &headers, &candidates, &source)?;
            reader = open()?;
            (Schema::new(features, options.label.clone())?, candidates)
        }
    };

    let mut builders: Vec<ColumnBuilder<'_>> =
        schema.features.iter().map(ColumnBuilder::new).collect();
    let mut labels = Vec::new();
    let mut rejections = Rejections::default();
    let mut record = csv::StringRecord::new();
    let mut row = 0u64;
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(&source, e))?
    {
        row += 1;
        for (builder, &index) in builders.iter_mut().zip(&indices) {
            let text = record.get(index).unwrap_or("");
            if let Err(reason) = builder.push(Value::Text(text)) {
                rejections.add(row, &builder.feature.name, reason);
            }
        }
        if let Some(index) = label_index {
            match parse_label(Value::Text(record.get(index).unwrap_or(""))) {
                Ok(y) => labels.push(y),
                Err(reason) => {
                    labels.push(0);
                    rejections.add(row, &options.label, reason);
                }
            }
        }
    }
    rejections.into_result(&source)?;
    if row == 0 {
        return Err(schema_error("no data rows".into()));
    }
    let columns = builders.into_iter().map(|b| b.column).collect();
    let labels = label_index.map(|_| labels);
    let dataset = Dataset::new(schema, columns, labels).map_err(|e| match e {
        Error::Schema { reason, .. } => schema_error(reason),
        other => other,
    })?;
    Ok(LoadedCsv { dataset, notices })
}

fn infer_kinds<R: std::io::Read>(
    reader: &mut csv::Reader<R>,
    headers: &[String],
    candidates: &[usize],
    source: &str,
) -> Result<Vec<Feature>> {
    let mut all_flag = vec![true; candidates.len()];
    let mut all_numeric = vec![true; candidates.len()];
    let mut any_value = vec![false; candidates.len()];
    let mut record = csv::StringRecord::new();
    while reader
        .read_record(&mut record)
        .map_err(|e| csv_error(source, e))?
    {
        for (k, &index) in candidates.iter().enumerate() {
            let text = record.get(index).unwrap_or("");
            if is_missing_text(text) {
                continue;
            }
            any_value[k] = true;
            if all_flag[k] && parse_bool(text).is_none() {
                all_flag[k] = false;
            }
            if all_numeric[k] && !text.trim().parse::<f64>().is_ok_and(f64::is_finite) {
                all_numeric[k] = false;
            }
        }
    }
    candidates
        .iter()
        .enumerate()
        .map(|(k, &index)| {
            let name = &headers[index];
            if !any_value[k] {
                Err(Error::Schema {
                    source_name: source.into(),
                    reason: format!(
                        "column `{name}` has no values; leave it out with --drop {name}"
                    ),
                })
            } else if all_flag[k] {
                Ok(Feature::flag(name))
            } else if all_numeric[k] {
                Ok(Feature::numeric(name))
            } else {
                Ok(Feature::categorical(name))
            }
        })
        .collect()
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
    Error::Schema {
        source_name: source.into(),
        reason: match line {
            Some(line) => format!("line {line}: {reason}"),
            None => reason,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("fraud-data-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("data.csv");
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .expect("write");
        path
    }

    #[test]
    fn infers_kinds_drops_ids_and_reads_true_false_labels() {
        let path = write_temp(
            "infer",
            "id,amount,kind,flag,customer_id,is_fraud\n1,10.5,a,TRUE,7,FALSE\n2,,b,false,8,TRUE\n3,3,a,yes,9,no\n",
        );
        let loaded = read_csv(&path, &CsvOptions::default()).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "kind", "flag"]);
        assert_eq!(loaded.notices.len(), 2);
        assert!(loaded.notices[0].contains("`id`"));
        assert_eq!(loaded.dataset.labels(), Some(&[0u8, 1, 0][..]));
        assert_eq!(loaded.dataset.schema().features[2].kind, FeatureKind::Flag);
        assert!(matches!(
            loaded.dataset.columns()[0].value(1),
            Value::Missing
        ));

        let keep = CsvOptions {
            keep: vec!["customer_id".into()],
            drop: vec!["kind".into()],
            ..Default::default()
        };
        let loaded = read_csv(&path, &keep).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "flag", "customer_id"]);
    }

    #[test]
    fn rejections_name_row_column_and_reason() {
        let path = write_temp(
            "reject",
            "amount,transaction_hour,is_fraud\n5,3,0\nabc,2,1\n7,25,maybe\n",
        );
        let schema = Schema::new(
            vec![
                Feature::numeric("amount"),
                Feature::ranged("transaction_hour", 0.0, 23.0),
            ],
            "is_fraud",
        )
        .expect("schema");
        let options = CsvOptions {
            schema: Some(schema),
            ..Default::default()
        };
        let err = read_csv(&path, &options).expect_err("rejects");
        let Error::InvalidData {
            rejections, total, ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(*total, 3);
        assert_eq!(
            rejections[0],
            Rejection {
                row: 2,
                column: "amount".into(),
                reason: "'abc' is not a number".into()
            }
        );
        assert_eq!(rejections[1].row, 3);
        assert_eq!(rejections[1].column, "transaction_hour");
        assert!(rejections[2].reason.contains("maybe"));
        assert!(err.to_string().contains("row 2, column `amount`"), "{err}");
    }

    #[test]
    fn missing_label_and_ragged_rows_are_errors() {
        let path = write_temp("nolabel", "a,b\n1,2\n");
        let err = read_csv(&path, &CsvOptions::default()).expect_err("no label");
        assert!(
            err.to_string().contains("no label column `is_fraud`"),
            "{err}"
        );
        let path = write_temp("ragged", "a,is_fraud\n1,0\n1,0,3\n");
        let err = read_csv(&path, &CsvOptions::default()).expect_err("ragged");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn spaces_around_values_and_names_are_ignored() {
        let path = write_temp(
            "spaces",
            " amount , kind ,is_fraud\n 1.5 , a , 0\n2, b,TRUE \n",
        );
        let loaded = read_csv(&path, &CsvOptions::default()).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "kind"]);
        assert_eq!(loaded.dataset.columns()[0], Column::Numeric(vec![1.5, 2.0]));
        assert_eq!(loaded.dataset.columns()[1].value(1), Value::Text("b"));
        assert_eq!(loaded.dataset.labels(), Some(&[0u8, 1][..]));
    }

    #[test]
    fn labels_accept_common_spellings() {
        for (text, y) in [
            ("0", 0),
            ("1", 1),
            ("TRUE", 1),
            ("false", 0),
            ("Yes", 1),
            ("no", 0),
        ] {
            assert_eq!(parse_label(Value::Text(text)), Ok(y));
        }
        assert!(parse_label(Value::Text("2")).is_err());
        assert!(parse_label(Value::Missing).is_err());
    }
}
