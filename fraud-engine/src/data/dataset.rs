//! [`Dataset`]: validated columns in schema order, ready to train or evaluate
//! on, built from a [`Table`] by the column rules.

use std::collections::HashMap;
use std::path::Path;

use crate::data::infer::{infer_schema, ColumnRules, Notice};
use crate::data::value::{category_text, numeric_value};
use crate::data::{parse_label, RejectionLog, Table, Value, MISSING_CODE};
use crate::error::{Error, Result};
use crate::schema::{Feature, FeatureKind, Schema};

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

    /// How many rows have no value.
    pub fn missing_count(&self) -> usize {
        match self {
            Column::Numeric(v) => v.iter().filter(|x| x.is_nan()).count(),
            Column::Categorical { codes, .. } => {
                codes.iter().filter(|&&c| c == MISSING_CODE).count()
            }
        }
    }

    /// The value at `row` as a [`Value`] ([`Value::Absent`] past the end).
    pub fn value(&self, row: usize) -> Value<'_> {
        match self {
            Column::Numeric(v) => match v.get(row) {
                Some(x) if x.is_nan() => Value::Missing,
                Some(&x) => Value::Number(x),
                None => Value::Absent,
            },
            Column::Categorical { codes, levels } => match codes.get(row) {
                Some(&MISSING_CODE) => Value::Missing,
                Some(&code) => levels
                    .get(code as usize)
                    .map_or(Value::Absent, |l| Value::Text(l)),
                None => Value::Absent,
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
    weights: Option<Vec<f64>>,
    rows: usize,
}

/// A dataset read from a table, with the notices worth telling the user
/// (columns left out and why).
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The data.
    pub dataset: Dataset,
    /// Columns left out and why, in table order.
    pub notices: Vec<Notice>,
}

impl Dataset {
    /// A dataset from columns in schema order; all columns (and the labels, if
    /// any) must have the same length and fit their feature's kind.
    pub fn new(schema: Schema, columns: Vec<Column>, labels: Option<Vec<u8>>) -> Result<Self> {
        schema.validate()?;
        let bad = |reason: String| Error::schema("dataset", reason);
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
                (FeatureKind::Categorical { .. }, Column::Categorical { .. })
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
            weights: None,
            rows,
        })
    }

    /// The same rows with a weight each, as scikit-learn's `sample_weight`:
    /// training counts a row of weight 2 as two in the split criterion, the
    /// leaf values and the out-of-bag metrics (`min_samples_leaf` still
    /// counts rows). Every weight must be a finite number, zero or more, and
    /// at least one above zero.
    pub fn with_weights(mut self, weights: Vec<f64>) -> Result<Self> {
        if weights.len() != self.rows {
            return Err(Error::input(
                "sample_weight",
                format!(
                    "{} weights for {} rows; give one weight per row",
                    weights.len(),
                    self.rows
                ),
            ));
        }
        if let Some((row, bad)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(Error::input(
                "sample_weight",
                format!(
                    "the weight of row {} is {bad}; weights must be finite numbers, zero or more",
                    row + 1
                ),
            ));
        }
        if !weights.iter().any(|&w| w > 0.0) {
            return Err(Error::input(
                "sample_weight",
                "every weight is zero; at least one row must weigh more than zero",
            ));
        }
        self.weights = Some(weights);
        Ok(self)
    }

    /// The rows' weights, when given (see [`Dataset::with_weights`]).
    pub fn weights(&self) -> Option<&[f64]> {
        self.weights.as_deref()
    }

    /// Reads a table by the column rules (see [`infer_schema`]): every value
    /// is checked against its feature's kind and every label parsed; all
    /// rejected values are reported together, each with its row (counted
    /// from 1), column, value and reason.
    pub fn from_table(table: &Table, rules: &ColumnRules) -> Result<Loaded> {
        let inferred = infer_schema(table, rules)?;
        let mut log = RejectionLog::new();
        let columns = inferred
            .schema
            .features
            .iter()
            .zip(&inferred.positions)
            .map(|(feature, &position)| {
                let source = &table.columns()[position];
                let mut builder = ColumnBuilder::new(feature, source.len());
                for row in 0..source.len() {
                    let value = source.value(row);
                    if let Err(reason) = builder.push(value) {
                        log.add(row as u64 + 1, &feature.name, value, reason);
                    }
                }
                builder.column
            })
            .collect();
        let labels = inferred.label_position.map(|position| {
            let column = &table.columns()[position];
            (0..table.n_rows())
                .map(|row| {
                    let value = column.value(row);
                    parse_label(value).unwrap_or_else(|reason| {
                        log.add(row as u64 + 1, &rules.label, value, reason);
                        0
                    })
                })
                .collect()
        });
        log.into_result(table.source())?;
        if table.n_rows() == 0 {
            return Err(Error::schema(table.source(), "no data rows"));
        }
        let dataset = Dataset::new(inferred.schema, columns, labels).map_err(|e| match e {
            Error::Schema { reason, hint, .. } => Error::Schema {
                source_name: table.source().into(),
                reason,
                hint,
            },
            other => other,
        })?;
        Ok(Loaded {
            dataset,
            notices: inferred.notices,
        })
    }

    /// The rows before `row` and the rows from `row` on, as two datasets
    /// with the same schema (a categorical column keeps all its levels in
    /// both).
    pub(crate) fn split_at(&self, row: usize) -> Result<(Dataset, Dataset)> {
        let row = row.min(self.rows);
        let part = |range: std::ops::Range<usize>| {
            let columns = self
                .columns
                .iter()
                .map(|column| match column {
                    Column::Numeric(values) => Column::Numeric(values[range.clone()].to_vec()),
                    Column::Categorical { codes, levels } => Column::Categorical {
                        codes: codes[range.clone()].to_vec(),
                        levels: levels.clone(),
                    },
                })
                .collect();
            let labels = self.labels.as_ref().map(|l| l[range].to_vec());
            Dataset::new(self.schema.clone(), columns, labels)
        };
        Ok((part(0..row)?, part(row..self.rows)?))
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

    /// The raw values of a numeric feature, by name (`None` for another kind
    /// or an unknown name).
    pub fn numeric_column(&self, name: &str) -> Option<&[f64]> {
        match self.columns.get(self.schema.index_of(name)?)? {
            Column::Numeric(values) => Some(values),
            Column::Categorical { .. } => None,
        }
    }
}

/// Reads a CSV file with a header row into a dataset by the column rules:
/// [`Table::read_csv`] then [`Dataset::from_table`].
pub fn read_csv(path: &Path, rules: &ColumnRules) -> Result<Loaded> {
    Dataset::from_table(&Table::read_csv(path)?, rules)
}

/// Reads a column of labels: each 0/1, true/false or yes/no, every bad one
/// reported with its row. `name` is the column's name in the report.
pub fn read_labels(column: &crate::data::TableColumn, name: &str, source: &str) -> Result<Vec<u8>> {
    let mut log = RejectionLog::new();
    let labels = (0..column.len())
        .map(|row| {
            let value = column.value(row);
            parse_label(value).unwrap_or_else(|reason| {
                log.add(row as u64 + 1, name, value, reason);
                0
            })
        })
        .collect();
    log.into_result(source)?;
    Ok(labels)
}

/// Reads the row weights in column `name` of a table (scikit-learn's
/// `sample_weight` kept as a column; see [`Dataset::with_weights`]): each a
/// number, zero or more; every bad one reported with its row.
pub fn read_weights(table: &Table, name: &str) -> Result<Vec<f64>> {
    let Some(column) = table.column(name) else {
        return Err(Error::schema(
            table.source(),
            format!(
                "no weight column `{name}` (columns: {})",
                table.names().join(", ")
            ),
        ));
    };
    let mut log = RejectionLog::new();
    let weights = (0..column.len())
        .map(|row| {
            let value = column.value(row);
            let weight = match value {
                Value::Number(x) => Some(x),
                Value::Text(t) => crate::data::value::parse_number(t),
                _ => None,
            };
            match weight {
                Some(w) if w.is_finite() && w >= 0.0 => w,
                _ => {
                    log.add(
                        row as u64 + 1,
                        name,
                        value,
                        "a weight must be a number, zero or more".into(),
                    );
                    0.0
                }
            }
        })
        .collect();
    log.into_result(table.source())?;
    Ok(weights)
}

/// Accumulates one column from values.
struct ColumnBuilder<'s> {
    feature: &'s Feature,
    column: Column,
    index: HashMap<String, u32>,
    scratch: String,
}

impl<'s> ColumnBuilder<'s> {
    fn new(feature: &'s Feature, rows: usize) -> Self {
        let column = match feature.kind {
            FeatureKind::Categorical { .. } => Column::Categorical {
                codes: Vec::with_capacity(rows),
                levels: Vec::new(),
            },
            _ => Column::Numeric(Vec::with_capacity(rows)),
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
        if self.feature.is_required() && value.is_missing() {
            match &mut self.column {
                Column::Numeric(values) => values.push(f64::NAN),
                Column::Categorical { codes, .. } => codes.push(MISSING_CODE),
            }
            return Err("missing value: the schema requires this column".into());
        }
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
                let text = match category_text(&value, &mut self.scratch) {
                    Ok(text) => text,
                    Err(reason) => {
                        codes.push(MISSING_CODE);
                        return Err(reason);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Rejection;
    use crate::schema::DEFAULT_LABEL;
    use std::io::Write;

    struct TempCsv(std::path::PathBuf);

    impl TempCsv {
        fn new(name: &str, text: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("fraud-data-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("data.csv");
            std::fs::File::create(&path)
                .and_then(|mut f| f.write_all(text.as_bytes()))
                .expect("write");
            TempCsv(path)
        }
    }

    impl Drop for TempCsv {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn infers_kinds_drops_ids_and_reads_true_false_labels() {
        let csv = TempCsv::new(
            "infer",
            "id,amount,kind,flag,customer_id,is_fraud\n1,10.5,a,TRUE,7,FALSE\n2,,b,false,8,TRUE\n3,3,a,yes,9,no\n",
        );
        let loaded = read_csv(&csv.0, &ColumnRules::default()).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "kind", "flag"]);
        assert_eq!(loaded.notices.len(), 2);
        assert!(loaded.notices[0].message.contains("`id`"));
        assert_eq!(loaded.dataset.labels(), Some(&[0u8, 1, 0][..]));
        assert_eq!(loaded.dataset.schema().features[2].kind, FeatureKind::Flag);
        assert!(matches!(
            loaded.dataset.columns()[0].value(1),
            Value::Missing
        ));

        let keep = ColumnRules {
            keep: vec!["customer_id".into()],
            drop: vec!["kind".into()],
            ..Default::default()
        };
        let loaded = read_csv(&csv.0, &keep).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "flag", "customer_id"]);
    }

    #[test]
    fn rejections_name_row_column_and_reason() {
        let csv = TempCsv::new(
            "reject",
            "amount,transaction_hour,is_fraud\n5,3,0\nabc,2,1\n7,25,maybe\n",
        );
        let schema = Schema::new(
            vec![
                Feature::numeric("amount"),
                Feature::ranged("transaction_hour", 0.0, 23.0),
            ],
            DEFAULT_LABEL,
        )
        .expect("schema");
        let rules = ColumnRules {
            schema: Some(schema),
            ..Default::default()
        };
        let err = read_csv(&csv.0, &rules).expect_err("rejects");
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
                value: "abc".into(),
                reason: "'abc' is not a number".into()
            }
        );
        assert_eq!(rejections[1].row, 3);
        assert_eq!(rejections[1].column, "transaction_hour");
        assert!(rejections[1].reason.contains("between 0 and 23"));
        assert!(rejections[2].reason.contains("maybe"));
        assert!(err.to_string().contains("row 2, column `amount`"), "{err}");
    }

    #[test]
    fn a_missing_required_value_is_rejected_by_row_and_column() {
        let csv = TempCsv::new("required", "amount,kind,is_fraud\n5,a,0\n,,1\n");
        let mut amount = Feature::numeric("amount");
        amount.required = Some(true);
        let mut kind = Feature::categorical("kind");
        kind.required = Some(true);
        let rules = ColumnRules {
            schema: Some(Schema::new(vec![amount, kind], DEFAULT_LABEL).expect("schema")),
            ..Default::default()
        };
        let err = read_csv(&csv.0, &rules).expect_err("rejects");
        let Error::InvalidData { rejections, .. } = &err else {
            panic!("{err}")
        };
        let named: Vec<(u64, &str)> = rejections
            .iter()
            .map(|r| (r.row, r.column.as_str()))
            .collect();
        assert_eq!(named, [(2, "amount"), (2, "kind")]);
        assert!(rejections[0].reason.contains("requires"), "{err}");
    }

    #[test]
    fn missing_label_and_ragged_rows_are_errors() {
        let csv = TempCsv::new("nolabel", "a,b\n1,2\n");
        let err = read_csv(&csv.0, &ColumnRules::default()).expect_err("no label");
        assert!(
            err.to_string().contains("no label column `is_fraud`"),
            "{err}"
        );
        let csv = TempCsv::new("ragged", "a,is_fraud\n1,0\n1,0,3\n");
        let err = read_csv(&csv.0, &ColumnRules::default()).expect_err("ragged");
        assert!(err.to_string().contains("line 3"), "{err}");
    }

    #[test]
    fn spaces_around_values_and_names_are_ignored() {
        let csv = TempCsv::new(
            "spaces",
            " amount , kind ,is_fraud\n 1.5 , a , 0\n2, b,TRUE \n",
        );
        let loaded = read_csv(&csv.0, &ColumnRules::default()).expect("reads");
        let names: Vec<&str> = loaded.dataset.schema().feature_names().collect();
        assert_eq!(names, ["amount", "kind"]);
        assert_eq!(loaded.dataset.columns()[0], Column::Numeric(vec![1.5, 2.0]));
        assert_eq!(loaded.dataset.columns()[1].value(1), Value::Text("b"));
        assert_eq!(loaded.dataset.labels(), Some(&[0u8, 1][..]));
    }
}
