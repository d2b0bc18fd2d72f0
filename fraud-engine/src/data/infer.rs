//! Column rules and schema inference: which columns of a table are the label,
//! which are left out (ids, the unnamed, those asked), and what kind each
//! remaining column is. Every front end's training goes through here.

use crate::data::value::parse_number;
use crate::data::{is_missing_text, parse_bool, Cell, Table, TableColumn, Value};
use crate::error::{Error, Hint, Result};
use crate::schema::{is_id_column, Feature, RangePolicy, Schema, DEFAULT_LABEL};

/// How a table's columns become a dataset: the label column, the columns to
/// leave out or keep, and optionally a schema to read them with.
#[derive(Debug, Clone)]
pub struct ColumnRules {
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
    /// What scoring does with a number outside the training range, over
    /// the schema's own setting (the default: warn).
    pub out_of_range: Option<RangePolicy>,
}

impl Default for ColumnRules {
    fn default() -> Self {
        ColumnRules {
            label: DEFAULT_LABEL.into(),
            require_label: true,
            drop: Vec::new(),
            keep: Vec::new(),
            schema: None,
            out_of_range: None,
        }
    }
}

/// Something worth telling the user about how the data was read (a column
/// left out and why), with what they can do about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notice {
    /// The column concerned.
    pub column: String,
    /// What happened, in words.
    pub message: String,
    /// What the user can do to change it.
    pub hint: Option<Hint>,
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a column's values have shown so far: whether any is present, and
/// whether every present one was a flag (0/1, true/false, yes/no) and a
/// number. "yes" is a flag and not a number, so both are tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Evidence {
    any: bool,
    all_flag: bool,
    all_numeric: bool,
}

/// The kind a column's values suggest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No value is present.
    Nothing,
    /// Every present value is a flag.
    Flag,
    /// Every present value is a number (and not all are flags).
    Numeric,
    /// Anything else.
    Categorical,
}

impl Evidence {
    const NONE: Evidence = Evidence {
        any: false,
        all_flag: true,
        all_numeric: true,
    };

    fn see(self, flag: bool, numeric: bool) -> Self {
        Evidence {
            any: true,
            all_flag: self.all_flag && flag,
            all_numeric: self.all_numeric && numeric,
        }
    }

    fn see_value(self, value: Value<'_>) -> Self {
        match value {
            Value::Missing | Value::Absent => self,
            Value::Text(t) if is_missing_text(t) => self,
            Value::Number(x) => self.see(x == 0.0 || x == 1.0, true),
            Value::Bool(_) => self.see(true, false),
            Value::Text(t) => self.see(parse_bool(t).is_some(), parse_number(t).is_some()),
            // Left for the dataset builder to reject, naming its row.
            Value::Unsupported(_) => self.see(false, true),
        }
    }

    fn kind(self) -> Kind {
        match self {
            Evidence { any: false, .. } => Kind::Nothing,
            Evidence { all_flag: true, .. } => Kind::Flag,
            Evidence {
                all_numeric: true, ..
            } => Kind::Numeric,
            _ => Kind::Categorical,
        }
    }
}

/// The kind of one column, from all of its values: a flag if every present
/// value is 0/1 (or true/false, yes/no), numeric if every present value is
/// a number, categorical otherwise; `None` when no value is present.
fn infer_kind(column: &TableColumn) -> Kind {
    let evidence = match column {
        TableColumn::Numbers(values) => values
            .iter()
            .filter(|x| !x.is_nan())
            .fold(Evidence::NONE, |e, &x| e.see(x == 0.0 || x == 1.0, true)),
        TableColumn::Dictionary { codes, levels } => {
            // Only the levels some row uses count.
            let mut used = vec![false; levels.len()];
            for &c in codes {
                if let Some(u) = used.get_mut(c as usize) {
                    *u = true;
                }
            }
            levels
                .iter()
                .zip(used)
                .filter(|(_, u)| *u)
                .fold(Evidence::NONE, |e, (l, _)| e.see_value(Value::Text(l)))
        }
        TableColumn::Texts(texts) => texts
            .iter()
            .fold(Evidence::NONE, |e, t| e.see_value(Value::Text(t))),
        TableColumn::Cells(cells) => cells
            .iter()
            .map(Cell::as_value)
            .fold(Evidence::NONE, Evidence::see_value),
    };
    evidence.kind()
}

/// What [`infer_schema`] found: the schema, the table position of each of
/// its features and of the label, and what to tell the user.
#[derive(Debug, Clone)]
pub struct Inferred {
    /// The features, in table order, and the label's name.
    pub schema: Schema,
    /// Position in the table of each feature's column.
    pub positions: Vec<usize>,
    /// Position of the label column, when the table has one.
    pub label_position: Option<usize>,
    /// Columns left out and why.
    pub notices: Vec<Notice>,
}

/// Applies the column rules to a table: finds the label column, checks that
/// every column named in `drop` and `keep` exists, and, with a schema in the
/// rules, finds its features by name (other columns are ignored); without
/// one, leaves out the label, the columns in `drop`, unnamed columns and
/// id-named columns (`id`, `*_id`, unless in `keep`), and infers the kind of
/// every other column.
pub fn infer_schema(table: &Table, rules: &ColumnRules) -> Result<Inferred> {
    let source = table.source();
    let label_position = table.position(&rules.label);
    if rules.require_label && label_position.is_none() {
        return Err(Error::Schema {
            source_name: source.into(),
            reason: format!(
                "no label column `{}` (columns: {})",
                rules.label,
                table.names().join(", ")
            ),
            hint: Some(Hint::NameLabel),
        });
    }
    for (param, names) in [("drop", &rules.drop), ("keep", &rules.keep)] {
        if let Some(name) = names.iter().find(|n| table.position(n).is_none()) {
            return Err(Error::InvalidParams {
                name: param,
                reason: format!("`{name}` is not a column of {source}"),
            });
        }
    }
    if let Some(schema) = &rules.schema {
        let positions = table.positions(schema.feature_names())?;
        let mut schema = schema.clone();
        schema.label = rules.label.clone();
        if let Some(policy) = rules.out_of_range {
            schema.out_of_range = policy;
        }
        return Ok(Inferred {
            schema,
            positions,
            label_position,
            notices: Vec::new(),
        });
    }
    let mut notices = Vec::new();
    let mut features = Vec::new();
    let mut positions = Vec::new();
    for (i, (name, column)) in table.names().iter().zip(table.columns()).enumerate() {
        if Some(i) == label_position || rules.drop.contains(name) {
            continue;
        }
        if name.is_empty() {
            notices.push(Notice {
                column: String::new(),
                message: format!(
                    "left out unnamed column {} (a row index?): a feature needs a name",
                    i + 1
                ),
                hint: None,
            });
            continue;
        }
        if is_id_column(name) && !rules.keep.contains(name) {
            notices.push(Notice {
                column: name.clone(),
                message: format!("left out id column `{name}`: an id learned as a feature leaks"),
                hint: Some(Hint::KeepColumn {
                    column: name.clone(),
                }),
            });
            continue;
        }
        let feature = match infer_kind(column) {
            Kind::Nothing => {
                return Err(Error::Schema {
                    source_name: source.into(),
                    reason: format!("column `{name}` has no values"),
                    hint: Some(Hint::LeaveOut {
                        column: name.clone(),
                    }),
                })
            }
            Kind::Flag => Feature::flag(name),
            Kind::Numeric => Feature::numeric(name),
            Kind::Categorical => Feature::categorical(name),
        };
        features.push(feature);
        positions.push(i);
    }
    if features.is_empty() {
        return Err(Error::schema(
            source,
            format!(
                "no feature columns left (columns: {})",
                table.names().join(", ")
            ),
        ));
    }
    let mut schema = Schema::new(features, rules.label.clone())?;
    if let Some(policy) = rules.out_of_range {
        schema.out_of_range = policy;
    }
    Ok(Inferred {
        schema,
        positions,
        label_position,
        notices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Texts;

    fn texts(values: &[&str]) -> TableColumn {
        TableColumn::Texts(values.iter().collect::<Texts>())
    }

    #[test]
    fn kinds_are_inferred_the_same_from_every_column_form() {
        let flag = [0.0, 1.0, f64::NAN];
        assert_eq!(infer_kind(&TableColumn::Numbers(flag.to_vec())), Kind::Flag);
        assert_eq!(infer_kind(&texts(&["yes", "NO", ""])), Kind::Flag);
        assert_eq!(infer_kind(&texts(&["1", "2.5", "NA"])), Kind::Numeric);
        assert_eq!(infer_kind(&texts(&["1", "x"])), Kind::Categorical);
        assert_eq!(infer_kind(&texts(&["inf"])), Kind::Categorical);
        assert_eq!(infer_kind(&texts(&["yes", "2.5"])), Kind::Categorical);
        assert_eq!(infer_kind(&texts(&["", "null"])), Kind::Nothing);
        let cells = TableColumn::Cells(vec![
            Cell::Number(3.0),
            Cell::Text("4".into()),
            Cell::Missing,
        ]);
        assert_eq!(infer_kind(&cells), Kind::Numeric);
        let dict = TableColumn::Dictionary {
            codes: vec![1, 1],
            levels: vec!["grocery".into(), "1".into()],
        };
        assert_eq!(infer_kind(&dict), Kind::Flag);
    }

    #[test]
    fn rules_leave_out_label_ids_and_dropped_columns() {
        let table = Table::from_columns(
            "t",
            [
                ("id".to_owned(), texts(&["1", "2"])),
                ("".to_owned(), texts(&["0", "1"])),
                ("amount".to_owned(), texts(&["1.5", "2"])),
                ("note".to_owned(), texts(&["a", "b"])),
                ("is_fraud".to_owned(), texts(&["0", "1"])),
            ],
        )
        .expect("table");
        let rules = ColumnRules {
            drop: vec!["note".into()],
            ..ColumnRules::default()
        };
        let inferred = infer_schema(&table, &rules).expect("infers");
        assert_eq!(
            inferred.schema.feature_names().collect::<Vec<_>>(),
            ["amount"]
        );
        assert_eq!(inferred.positions, [2]);
        assert_eq!(inferred.label_position, Some(4));
        assert_eq!(inferred.notices.len(), 2);
        assert_eq!(
            inferred.notices[0].hint,
            Some(Hint::KeepColumn {
                column: "id".into()
            })
        );
        let no_label = ColumnRules {
            label: "y".into(),
            ..ColumnRules::default()
        };
        let err = infer_schema(&table, &no_label).expect_err("no label");
        assert_eq!(err.hint(), Some(&Hint::NameLabel));
        assert!(!err.to_string().contains("--"), "{err}");
    }
}
