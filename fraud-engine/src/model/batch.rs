//! Many rows: a table, encoded rows or a dataset, checked and encoded in one
//! pass, then scored or explained on the rayon pool in scope.

use rayon::prelude::*;

use crate::data::{Dataset, RejectionLog, Table, TableColumn, Value};
use crate::error::{Error, FieldProblem, Rejection, Result};
use crate::forest::Walk;
use crate::metrics::{self, Evaluation, ThresholdStrategy};
use crate::model::{Decision, EvaluationReport, Model, Prediction, RiskBands};
use crate::preprocess::{Note, PlainNumbers};

/// Many rows to score.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    /// Named columns: the model reads its features by name and ignores the
    /// other columns; a missing feature column is an error naming it.
    Table(&'a Table),
    /// Row-major [`crate::Encoded`] rows: `n_features` numbers per row in
    /// the model's feature order, categories as codes, `NaN` for missing.
    Encoded(&'a [f64]),
    /// A dataset read with this model's schema.
    Dataset(&'a Dataset),
}

/// Exact TreeSHAP explanations of many rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanations {
    /// The model's mean output over its training data.
    pub base_value: f64,
    /// Contributions, row-major: `n_features` per row, in feature order.
    pub contributions: Vec<f64>,
    /// Each row's probability; `base_value` plus the row's contributions
    /// equals it (to 1e-9).
    pub probabilities: Vec<f64>,
}

/// One row's outcome in [`Model::predict_each`]: its prediction, or each
/// bad field and why.
pub type RowOutcome = std::result::Result<Prediction, Vec<FieldProblem>>;

/// Rows per block when encoding or explaining in parallel.
const BLOCK: usize = 4096;

/// A note on one value: `(row, feature, note)`.
type RowNote = (usize, usize, Note);

/// One table column, ready to encode row by row as one feature.
struct ColumnEncoder<'t> {
    source: &'t TableColumn,
    /// Each dictionary level's encoding (`None` where it is rejected).
    levels: Vec<Option<(f64, Option<Note>)>>,
    /// For a numeric or flag feature, whose value a number is: the numbers
    /// taken as they are, so a numeric column skips building a `Value` per
    /// row. `None` for a categorical feature (a number names a category).
    numbers: Option<PlainNumbers>,
}

impl ColumnEncoder<'_> {
    /// The encoding of the value at `row` that the block loop does not take
    /// as it is (see [`TableEncoder::encode_block`]).
    fn encode(&self, model: &Model, i: usize, row: usize) -> Result<(f64, Option<Note>)> {
        if let TableColumn::Dictionary { codes, .. } = self.source {
            if let Some(known) = self.levels.get(codes[row] as usize).copied().flatten() {
                return Ok(known);
            }
        }
        model
            .pipeline
            .encode(&model.schema, i, self.source.value(row))
    }
}

/// A table's columns, ready to encode as the model's features block by block.
struct TableEncoder<'t> {
    model: &'t Model,
    /// One per feature, in the model's order.
    columns: Vec<ColumnEncoder<'t>>,
    n_rows: usize,
}

impl TableEncoder<'_> {
    /// Encodes the rows from `first` on into `out`, row-major (as many rows
    /// as it holds), keeping going past bad values: a bad value is left
    /// `NaN` and reported. Notes and rejections come in row order.
    fn encode_block(&self, first: usize, out: &mut [f64]) -> (Vec<RowNote>, Vec<Rejection>) {
        let model = self.model;
        let n = self.columns.len();
        let mut notes = Vec::new();
        let mut problems = Vec::new();
        for (i, column) in self.columns.iter().enumerate() {
            let slots = out.iter_mut().skip(i).step_by(n);
            let mut put =
                |row: usize, slot: &mut f64, encoded: Result<(f64, Option<Note>)>| match encoded {
                    Ok((x, note)) => {
                        *slot = x;
                        if let Some(note) = note {
                            notes.push((row, i, note));
                        }
                    }
                    Err(e) => {
                        *slot = f64::NAN;
                        problems.push(Rejection {
                            row: row as u64 + 1,
                            column: model.schema.features[i].name.clone(),
                            value: column.source.value(row).display(),
                            reason: e.reason(),
                        });
                    }
                };
            // The column's kind is matched once per block, not per value.
            match (column.source, column.numbers) {
                (TableColumn::Numbers(numbers), Some(plain)) => {
                    for ((row, slot), &x) in (first..).zip(slots).zip(&numbers[first..]) {
                        if plain.holds(x) {
                            *slot = x;
                        } else {
                            put(row, slot, model.pipeline.encode_number(&model.schema, i, x));
                        }
                    }
                }
                (TableColumn::Dictionary { codes, .. }, _) => {
                    for ((row, slot), &code) in (first..).zip(slots).zip(&codes[first..]) {
                        match column.levels.get(code as usize) {
                            Some(&Some((x, None))) => *slot = x,
                            _ => put(row, slot, column.encode(model, i, row)),
                        }
                    }
                }
                _ => {
                    for (row, slot) in (first..).zip(slots) {
                        put(row, slot, column.encode(model, i, row));
                    }
                }
            }
        }
        // Stable sorts: within a row, features keep their order.
        notes.sort_by_key(|&(row, _, _)| row);
        problems.sort_by_key(|p: &Rejection| p.row);
        (notes, problems)
    }
}

/// An error unless `out` has room for exactly `n_rows` values.
fn check_room(out: &[f64], n_rows: usize) -> Result<()> {
    if out.len() == n_rows {
        return Ok(());
    }
    Err(Error::input(
        "out",
        format!(
            "room for {} probabilities, but there are {n_rows} rows",
            out.len()
        ),
    ))
}

/// Encoded rows with the notes for warnings: `(row, feature, note)`, in
/// row order.
pub(crate) struct EncodedRows {
    pub values: Vec<f64>,
    pub notes: Vec<(usize, usize, Note)>,
    pub n_rows: usize,
}

impl Model {
    /// Checks and encodes many rows into row-major forest input. Every bad
    /// value is reported in one [`Error::InvalidData`], in row order, each
    /// with its row (counted from 1), column and reason.
    pub(crate) fn encode_many(&self, rows: Rows<'_>) -> Result<EncodedRows> {
        match rows {
            Rows::Table(table) => self.encode_table(table),
            Rows::Encoded(values) => self.encode_rows(values),
            Rows::Dataset(data) => self.encode_dataset(data),
        }
    }

    fn encode_table(&self, table: &Table) -> Result<EncodedRows> {
        let (encoded, problems) = self.encode_table_leniently(table)?;
        let mut log = RejectionLog::new();
        for problem in problems {
            log.push(problem);
        }
        log.into_result(table.source())?;
        Ok(encoded)
    }

    /// Encodes a table, keeping going past bad values: the encoded rows
    /// (a bad value left `NaN`) and every rejected value, in row order.
    ///
    /// Blocks of rows are encoded in parallel, each straight into its part
    /// of the row-major output: no column is copied twice.
    fn encode_table_leniently(&self, table: &Table) -> Result<(EncodedRows, Vec<Rejection>)> {
        let encoder = self.table_encoder(table)?;
        let n_rows = encoder.n_rows;
        let mut values = vec![0.0; n_rows * self.n_features()];
        // One block needs no thread pool (see `encode_rows`).
        let blocks: Vec<(Vec<RowNote>, Vec<Rejection>)> = if n_rows <= BLOCK {
            vec![encoder.encode_block(0, &mut values)]
        } else {
            values
                .par_chunks_mut(BLOCK * self.n_features())
                .enumerate()
                .map(|(b, v)| encoder.encode_block(b * BLOCK, v))
                .collect()
        };
        let mut notes = Vec::new();
        let mut problems = Vec::new();
        for (block_notes, block_problems) in blocks {
            notes.extend(block_notes);
            problems.extend(block_problems);
        }
        Ok((
            EncodedRows {
                values,
                notes,
                n_rows,
            },
            problems,
        ))
    }

    /// The probabilities of a table's rows (see
    /// [`Model::predict_proba_many`]): each block of rows is encoded into a
    /// buffer of its thread's and scored while it is in cache, rather than
    /// the whole table encoded into one row-major copy first.
    fn predict_table_proba(&self, table: &Table, out: &mut [f64]) -> Result<()> {
        let encoder = self.table_encoder(table)?;
        check_room(out, encoder.n_rows)?;
        let n = self.n_features();
        let score_block = |buffer: &mut Vec<f64>, first: usize, out: &mut [f64]| {
            buffer.clear();
            buffer.resize(out.len() * n, 0.0);
            let (_, problems) = encoder.encode_block(first, buffer);
            if problems.is_empty() {
                self.forest.predict_block(Walk::LeafMasks, buffer, out);
            }
            problems
        };
        // One block needs no thread pool (see `encode_rows`).
        let problems: Vec<Rejection> = if encoder.n_rows <= BLOCK {
            score_block(&mut Vec::new(), 0, out)
        } else {
            let blocks: Vec<Vec<Rejection>> = out
                .par_chunks_mut(BLOCK)
                .enumerate()
                .map_init(Vec::new, |buffer, (b, out)| {
                    score_block(buffer, b * BLOCK, out)
                })
                .collect();
            blocks.into_iter().flatten().collect()
        };
        let mut log = RejectionLog::new();
        for problem in problems {
            log.push(problem);
        }
        log.into_result(table.source())
    }

    /// A table's columns matched to the model's features, ready to encode.
    fn table_encoder<'t>(&'t self, table: &'t Table) -> Result<TableEncoder<'t>> {
        let positions = table.positions(self.schema.feature_names())?;
        let columns = positions
            .iter()
            .enumerate()
            .map(|(i, &position)| self.column_encoder(i, &table.columns()[position]))
            .collect();
        Ok(TableEncoder {
            model: self,
            columns,
            n_rows: table.n_rows(),
        })
    }

    /// How table column `column` encodes as feature `i`; a dictionary's
    /// levels are encoded here, once, not once per row (a level that fails
    /// is encoded again per row, to report each row).
    fn column_encoder<'t>(&self, i: usize, column: &'t TableColumn) -> ColumnEncoder<'t> {
        let levels = match column {
            TableColumn::Dictionary { levels, .. } => levels
                .iter()
                .map(|level| {
                    self.pipeline
                        .encode(&self.schema, i, Value::Text(level))
                        .ok()
                })
                .collect(),
            _ => Vec::new(),
        };
        ColumnEncoder {
            source: column,
            levels,
            numbers: self
                .pipeline
                .reads_numbers_as_values(i)
                .then(|| self.pipeline.plain_numbers(&self.schema, i)),
        }
    }

    /// Checks encoded rows and fills their missing (`NaN`) values, in
    /// parallel blocks; the first bad value in row order fails the call,
    /// named by feature and 0-based row index, whatever the thread count.
    fn encode_rows(&self, rows: &[f64]) -> Result<EncodedRows> {
        let n = self.n_features();
        if rows.len() % n != 0 {
            return Err(Error::input(
                "rows",
                format!("{} values do not make rows of {n} features", rows.len()),
            ));
        }
        let mut encoded = rows.to_vec();
        let plain: Vec<PlainNumbers> = (0..n)
            .map(|i| self.pipeline.plain_numbers(&self.schema, i))
            .collect();
        let check_block = |block: usize, values: &mut [f64]| -> Result<Vec<(usize, usize, Note)>> {
            let mut notes = Vec::new();
            for (r, row) in values.chunks_exact_mut(n).enumerate() {
                let row_index = block * BLOCK + r;
                for ((i, x), plain) in row.iter_mut().enumerate().zip(&plain) {
                    if plain.holds(*x) {
                        continue;
                    }
                    let (value, note) =
                        self.pipeline
                            .encode_number(&self.schema, i, *x)
                            .map_err(|e| match e {
                                Error::InvalidInput { field, reason } => {
                                    Error::input(field, format!("row index {row_index}: {reason}"))
                                }
                                other => other,
                            })?;
                    *x = value;
                    if let Some(note) = note {
                        notes.push((row_index, i, note));
                    }
                }
            }
            Ok(notes)
        };
        // One block needs no thread pool (and starting one for it would
        // leave its threads behind in a caller that scores a single batch).
        let notes = if encoded.len() <= BLOCK * n {
            check_block(0, &mut encoded)?
        } else {
            let checked: Vec<Result<Vec<(usize, usize, Note)>>> = encoded
                .par_chunks_mut(BLOCK * n)
                .enumerate()
                .map(|(b, v)| check_block(b, v))
                .collect();
            let mut notes = Vec::new();
            for block in checked {
                notes.extend(block?);
            }
            notes
        };
        Ok(EncodedRows {
            n_rows: encoded.len() / n,
            values: encoded,
            notes,
        })
    }

    fn encode_dataset(&self, data: &Dataset) -> Result<EncodedRows> {
        let names_match = data.schema().features.len() == self.schema.features.len()
            && data
                .schema()
                .features
                .iter()
                .zip(&self.schema.features)
                .all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if !names_match {
            return Err(Error::schema(
                "dataset",
                format!(
                    "columns do not match the model's features ({})",
                    self.feature_names().join(", ")
                ),
            ));
        }
        let columns = self.pipeline.transform_columns(data);
        let n = self.n_features();
        let mut values = vec![0.0; data.n_rows() * n];
        for (i, column) in columns.iter().enumerate() {
            for (r, &x) in column.iter().enumerate() {
                values[r * n + i] = x;
            }
        }
        Ok(EncodedRows {
            values,
            notes: Vec::new(),
            n_rows: data.n_rows(),
        })
    }

    /// Fraud probabilities of many rows, written to `out` (one per row), on
    /// the rayon pool in scope: exactly what [`Model::predict`] gives each
    /// row. An `out` of another length than the row count is an error, as
    /// is any bad value (all of them are listed for a table).
    pub fn predict_proba_many(&self, rows: Rows<'_>, out: &mut [f64]) -> Result<()> {
        if let Rows::Table(table) = rows {
            return self.predict_table_proba(table, out);
        }
        let encoded = self.encode_many(rows)?;
        check_room(out, encoded.n_rows)?;
        self.forest.predict_batch(&encoded.values, out)
    }

    /// Scores many rows (see [`Model::predict_proba_many`]): one prediction
    /// per row, with its warnings.
    pub fn predict_many(&self, rows: Rows<'_>) -> Result<Vec<Prediction>> {
        let encoded = self.encode_many(rows)?;
        let mut scores = vec![0.0; encoded.n_rows];
        self.forest.predict_batch(&encoded.values, &mut scores)?;
        let mut notes = encoded.notes.iter().peekable();
        Ok(scores
            .into_iter()
            .enumerate()
            .map(|(r, p)| {
                let mut warnings = Vec::new();
                while let Some(&(_, feature, note)) = notes.next_if(|n| n.0 == r) {
                    warnings.push(note.warning(&self.schema.features[feature].name));
                }
                self.decide(p, warnings)
            })
            .collect())
    }

    /// Scores every row of a table that can be scored, and names what is
    /// wrong with each one that cannot: one outcome per row, so that a tool
    /// scoring a file can write the good rows and report the bad ones. An
    /// error is for the table as a whole (a missing column).
    pub fn predict_each(&self, table: &Table) -> Result<Vec<RowOutcome>> {
        let (encoded, problems) = self.encode_table_leniently(table)?;
        let mut scores = vec![0.0; encoded.n_rows];
        self.forest.predict_batch(&encoded.values, &mut scores)?;
        let mut notes = encoded.notes.iter().peekable();
        let mut problems = problems.into_iter().peekable();
        Ok(scores
            .into_iter()
            .enumerate()
            .map(|(r, p)| {
                let row = r as u64 + 1;
                let mut bad = Vec::new();
                while let Some(problem) = problems.next_if(|p| p.row == row) {
                    bad.push(FieldProblem {
                        field: problem.column,
                        reason: problem.reason,
                    });
                }
                let mut warnings = Vec::new();
                while let Some(&(_, feature, note)) = notes.next_if(|n| n.0 == r) {
                    warnings.push(note.warning(&self.schema.features[feature].name));
                }
                if bad.is_empty() {
                    Ok(self.decide(p, warnings))
                } else {
                    Err(bad)
                }
            })
            .collect())
    }

    /// Explains many rows (see [`Model::explain`]) on the rayon pool in
    /// scope: the contributions of every row, row-major.
    pub fn explain_many(&self, rows: Rows<'_>) -> Result<Explanations> {
        let encoded = self.encode_many(rows)?;
        let n = self.n_features();
        let mut contributions = vec![0.0; encoded.values.len()];
        let mut probabilities = vec![0.0; encoded.n_rows];
        contributions
            .par_chunks_mut(n)
            .zip(encoded.values.par_chunks(n))
            .zip(probabilities.par_iter_mut())
            .with_min_len(16)
            .for_each(|((phi, row), p)| *p = self.shap_into(row, phi));
        Ok(Explanations {
            base_value: self.base_value,
            contributions,
            probabilities,
        })
    }

    /// Evaluates the model on a labelled dataset at its own threshold.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation> {
        let (scores, labels) = self.scored_labels(data, "evaluation")?;
        Ok(Evaluation::new(&scores, labels, self.decision.threshold))
    }

    /// Evaluates the model at its threshold, with curves, on many rows and
    /// their 0/1 labels given apart (a table and a label column, a matrix
    /// and a label vector): what `evaluate` reports in every front end. A
    /// label count other than the row count, or a label other than 0 or 1,
    /// is an [`Error::InvalidInput`] naming `labels`.
    pub fn evaluate_many(&self, rows: Rows<'_>, labels: &[u8]) -> Result<EvaluationReport> {
        let encoded = self.encode_many(rows)?;
        if labels.len() != encoded.n_rows {
            return Err(Error::input(
                "labels",
                format!("{} labels for {} rows", labels.len(), encoded.n_rows),
            ));
        }
        if let Some(r) = labels.iter().position(|&y| y > 1) {
            return Err(Error::input(
                "labels",
                format!("label {} at row index {r} is not 0 or 1", labels[r]),
            ));
        }
        let mut scores = vec![0.0; encoded.n_rows];
        self.forest.predict_batch(&encoded.values, &mut scores)?;
        Ok(EvaluationReport::new(
            &scores,
            labels,
            self.decision.threshold,
        ))
    }

    /// Re-chooses the decision layer on labelled data: the threshold by
    /// `strategy`, and the risk bands (`None`: derived from the new
    /// threshold, see [`RiskBands::around`]). The forest is untouched. Returns
    /// the new model and its evaluation at the new threshold. `source` names
    /// the data in the recorded strategy.
    pub fn tune(
        &self,
        data: &Dataset,
        strategy: ThresholdStrategy,
        risk_bands: Option<RiskBands>,
        source: &str,
    ) -> Result<(Model, Evaluation)> {
        let (scores, labels) = self.scored_labels(data, "tuning")?;
        let amounts = data.numeric_column(crate::train::AMOUNT_FEATURE);
        let threshold = metrics::select_threshold(&scores, labels, amounts, strategy)?;
        let decision = Decision {
            threshold,
            risk_bands: risk_bands.unwrap_or_else(|| RiskBands::around(threshold)),
            strategy: format!("{strategy} on {} ({} rows)", source, data.n_rows()),
        };
        let tuned = self.with_decision(decision)?;
        Ok((tuned, Evaluation::new(&scores, labels, threshold)))
    }

    /// The scores of a labelled dataset and its labels; `purpose` names what
    /// needs the labels in the error when there are none.
    pub(crate) fn scored_labels<'d>(
        &self,
        data: &'d Dataset,
        purpose: &str,
    ) -> Result<(Vec<f64>, &'d [u8])> {
        let labels = data.labels().ok_or_else(|| {
            Error::schema(
                "dataset",
                format!("{purpose} needs the label column `{}`", data.schema().label),
            )
        })?;
        let mut scores = vec![0.0; data.n_rows()];
        self.predict_proba_many(Rows::Dataset(data), &mut scores)?;
        Ok((scores, labels))
    }
}

#[cfg(test)]
mod tests {
    use crate::{synth, train, Error, Rows, TrainParams};

    #[test]
    fn evaluate_many_checks_labels_and_matches_evaluate() {
        let params = TrainParams {
            n_trees: 5,
            ..TrainParams::default()
        };
        let model = train(&synth::generate(2_000, 1), &params).expect("trains");
        let probe = synth::generate(300, 2);
        let labels = probe.labels().expect("labelled").to_vec();
        let report = model
            .evaluate_many(Rows::Table(&synth::table(300, 2)), &labels)
            .expect("evaluates");
        assert_eq!(
            report.evaluation,
            model.evaluate(&probe).expect("evaluates")
        );
        let short = model.evaluate_many(Rows::Dataset(&probe), &labels[..10]);
        assert!(matches!(
            short,
            Err(Error::InvalidInput { ref field, ref reason })
                if field == "labels" && reason == "10 labels for 300 rows"
        ));
        let mut two = labels.clone();
        two[7] = 2;
        let err = model
            .evaluate_many(Rows::Dataset(&probe), &two)
            .expect_err("a label of 2");
        assert!(err.to_string().contains("row index 7"), "{err}");
    }
}
