//! `predict` and `explain`: every row of a CSV scored (or explained) by the
//! engine, written back with every input column and the result columns.

use std::io::Write;
use std::path::Path;

use fraud_engine::model::SCORED_COLUMNS;
use fraud_engine::{Model, Rows, Table, TableColumn};

use super::{CliError, ExplainArgs, PredictArgs};

/// Writes every column of `table` as read, then `extra` (one row of text per
/// table row, under `extra_headers`), to `out_path` atomically.
fn write_with_columns(
    table: &Table,
    extra_headers: &[String],
    extra: impl Fn(usize) -> Vec<String>,
    out_path: &Path,
) -> Result<(), CliError> {
    let csv_error = |e: csv::Error| CliError::Output(std::io::Error::other(e));
    let mut writer = csv::Writer::from_writer(Vec::new());
    let headers = table.names().iter().map(String::as_str);
    writer
        .write_record(headers.chain(extra_headers.iter().map(String::as_str)))
        .map_err(csv_error)?;
    let mut record = csv::StringRecord::new();
    for row in 0..table.n_rows() {
        record.clear();
        for column in table.columns() {
            match column {
                TableColumn::Texts(texts) => record.push_field(texts.get(row).unwrap_or("")),
                // A CSV table has only text columns.
                other => record.push_field(&other.value(row).display()),
            }
        }
        for field in extra(row) {
            record.push_field(&field);
        }
        writer.write_record(&record).map_err(csv_error)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| CliError::Output(e.into_error()))?;
    fraud_engine::format::write_atomically(out_path, &bytes)?;
    Ok(())
}

/// `predict`: every input column plus fraud_probability, predicted_is_fraud
/// and risk_level ([`fraud_engine::model::SCORED_COLUMNS`]). A row that cannot be scored keeps its place with empty
/// results and, in an `error` column (only written when some row needs it),
/// each bad field and why; the run then ends with an error naming how many.
pub fn predict(args: PredictArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let table = Table::read_csv(&args.data)?;
    let outcomes = model.predict_each(&table)?;
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    let mut headers: Vec<String> = SCORED_COLUMNS.map(String::from).to_vec();
    if failed > 0 {
        headers.push("error".into());
    }
    write_with_columns(
        &table,
        &headers,
        |row| match &outcomes[row] {
            Ok(p) => {
                let mut fields = vec![
                    p.fraud_probability.to_string(),
                    u8::from(p.is_fraud).to_string(),
                    p.risk_level.to_string(),
                ];
                if failed > 0 {
                    fields.push(String::new());
                }
                fields
            }
            Err(problems) => {
                let described: Vec<String> = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.field, p.reason))
                    .collect();
                vec![
                    String::new(),
                    String::new(),
                    String::new(),
                    described.join("; "),
                ]
            }
        },
        &args.out,
    )?;
    if failed > 0 {
        let first = outcomes
            .iter()
            .position(Result::is_err)
            .and_then(|row| Some((row, outcomes[row].as_ref().err()?.first()?)))
            .map(|(row, p)| {
                format!(
                    " (the first: row {}, column `{}`: {})",
                    row + 1,
                    p.field,
                    p.reason
                )
            })
            .unwrap_or_default();
        return Err(CliError::Incomplete(format!(
            "{failed} of {} rows could not be scored{first}; see the error column of {}",
            table.n_rows(),
            args.out.display()
        )));
    }
    writeln!(
        out,
        "scored {} rows into {}",
        table.n_rows(),
        args.out.display()
    )?;
    Ok(())
}

/// `explain`: every input column plus fraud_probability, base_value and one
/// contribution_<feature> column per feature.
pub fn explain(args: ExplainArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let model = Model::load(&args.model)?;
    let table = Table::read_csv(&args.data)?;
    let explained = model.explain_many(Rows::Table(&table))?;
    let mut headers = vec!["fraud_probability".to_owned(), "base_value".to_owned()];
    headers.extend(
        model
            .feature_names()
            .iter()
            .map(|f| format!("contribution_{f}")),
    );
    let n = model.n_features();
    write_with_columns(
        &table,
        &headers,
        |row| {
            let mut fields = vec![
                explained.probabilities[row].to_string(),
                explained.base_value.to_string(),
            ];
            fields.extend(
                explained.contributions[row * n..(row + 1) * n]
                    .iter()
                    .map(f64::to_string),
            );
            fields
        },
        &args.out,
    )?;
    writeln!(
        out,
        "explained {} rows into {}",
        table.n_rows(),
        args.out.display()
    )?;
    Ok(())
}
