//! Forests trained apart and merged: encodings fitted once, parts that
//! reproduce, merges that refuse parts that disagree.

use fraud_engine::merge::{merge, split_trees, DataSummary, Encoding, Part};
use fraud_engine::metrics::roc_auc;
use fraud_engine::{
    synth, Cell, ColumnRules, Dataset, Error, Model, Rows, Table, TableColumn, TrainParams,
    Trainer, Value,
};

fn params(n_trees: usize) -> TrainParams {
    TrainParams {
        n_trees,
        seed: 5,
        ..TrainParams::default()
    }
}

fn encoding_of(tables: &[Table]) -> Encoding {
    let summaries: Vec<DataSummary> = tables
        .iter()
        .map(|t| {
            let data = Dataset::from_table(t, &ColumnRules::default())
                .expect("reads")
                .dataset;
            let summary = DataSummary::of(&data).expect("summary");
            // Summaries travel as bytes, checked on arrival.
            DataSummary::from_bytes(&summary.to_bytes().expect("bytes")).expect("reads back")
        })
        .collect();
    let encoding = Encoding::fit(&DataSummary::combine(&summaries).expect("combine")).expect("fit");
    Encoding::from_bytes(&encoding.to_bytes().expect("bytes")).expect("reads back")
}

fn parts(tables: &[Table], encoding: &Encoding, n_trees: usize) -> Vec<Part> {
    let trainer = Trainer::new(params(n_trees))
        .and_then(|t| t.threads(2))
        .expect("trainer");
    tables
        .iter()
        .zip(split_trees(n_trees, tables.len()))
        .map(|(table, trees)| {
            let data = encoding.dataset(table).expect("reads with the encoding");
            let part = trainer.train_part(&data, encoding, trees).expect("part");
            Part::from_bytes(&part.to_bytes().expect("bytes")).expect("reads back")
        })
        .collect()
}

/// Rows `rows` of a table, as a partition would hold them.
fn slice(table: &Table, rows: std::ops::Range<usize>) -> Table {
    let columns = table
        .names()
        .iter()
        .zip(table.columns())
        .map(|(name, column)| {
            let cells = rows
                .clone()
                .map(|r| match column.value(r) {
                    Value::Number(x) => Cell::Number(x),
                    Value::Text(t) => Cell::Text(t.into()),
                    _ => Cell::Missing,
                })
                .collect();
            (name.clone(), TableColumn::Cells(cells))
        });
    Table::from_columns("partition", columns).expect("table")
}

fn auc(model: &Model, holdout: &Table) -> f64 {
    let data = Dataset::from_table(holdout, &ColumnRules::default())
        .expect("holdout")
        .dataset;
    let mut scores = vec![0.0; data.n_rows()];
    model
        .predict_proba_many(Rows::Table(holdout), &mut scores)
        .expect("scores");
    roc_auc(&scores, data.labels().expect("labels")).expect("both classes")
}

#[test]
fn merged_forest_ranks_as_well_as_one_trained_in_one_piece() {
    let whole = synth::table(18_000, 100);
    let tables: Vec<Table> = (0..3)
        .map(|k| slice(&whole, k * 6_000..(k + 1) * 6_000))
        .collect();
    let encoding = encoding_of(&tables);
    let merged = merge(&parts(&tables, &encoding, 60)).expect("merge");
    assert_eq!(merged.n_trees(), 60);
    assert_eq!(merged.metadata().training_rows, 18_000);
    let records = &merged.metadata().parts;
    assert_eq!(records.len(), 3);
    assert_eq!(
        records
            .iter()
            .map(|r| (r.first_tree, r.n_trees))
            .collect::<Vec<_>>(),
        [(0, 20), (20, 20), (40, 20)]
    );
    assert_eq!(
        records.iter().map(|r| r.oob_rows).sum::<u64>(),
        merged.metadata().oob.as_ref().expect("oob").rows
    );
    assert_eq!(merged.summary().parts, *records);

    // The same rows, trained in one piece.
    let data = Dataset::from_table(&whole, &ColumnRules::default())
        .expect("whole")
        .dataset;
    let single = Trainer::new(params(60))
        .and_then(|t| t.train(&data))
        .expect("single");
    let holdout = synth::table(20_000, 999);
    let (merged_auc, single_auc) = (auc(&merged, &holdout), auc(&single, &holdout));
    assert!(
        (merged_auc - single_auc).abs() < 0.03,
        "merged {merged_auc} vs single {single_auc}"
    );
    // The pooled out-of-bag estimate is close to the truth on new rows.
    let oob_auc = merged
        .metadata()
        .oob
        .as_ref()
        .and_then(|e| e.roc_auc)
        .expect("oob auc");
    assert!(
        (oob_auc - merged_auc).abs() < 0.03,
        "oob {oob_auc} vs holdout {merged_auc}"
    );
    // The threshold is the strategy's pick from the pooled predictions.
    assert_eq!(merged.decision().strategy, "max-f1");
    assert!(merged.threshold() > 0.0 && merged.threshold() < 1.0);
    // A merged model is a model like any other.
    let reloaded = Model::from_bytes(&merged.to_bytes().expect("bytes")).expect("loads");
    assert_eq!(reloaded, merged);
}

#[test]
fn one_partition_gives_the_trees_of_training_in_one_piece() {
    let table = synth::table(4_000, 31);
    let encoding = encoding_of(std::slice::from_ref(&table));
    let merged = merge(&parts(std::slice::from_ref(&table), &encoding, 12)).expect("merge");
    let data = Dataset::from_table(&table, &ColumnRules::default())
        .expect("reads")
        .dataset;
    let single = Trainer::new(params(12))
        .and_then(|t| t.train(&data))
        .expect("single");
    assert_eq!(merged.tree_arrays(), single.tree_arrays());
    assert_eq!(merged.threshold(), single.threshold());
    assert_eq!(merged.metadata().oob, single.metadata().oob);
}

/// Row weights and given class weights count in the out-of-bag metrics
/// and the threshold of training in one piece; a merged forest counts them
/// the same way.
#[test]
fn one_weighted_partition_gives_the_metrics_and_threshold_of_training_in_one_piece() {
    let table = synth::table(4_000, 33);
    let encoding = encoding_of(std::slice::from_ref(&table));
    let weighted = TrainParams {
        class_weight: fraud_engine::ClassWeight::Weights {
            legitimate: 1.0,
            fraud: 12.0,
        }
        .into(),
        ..params(12)
    };
    let data = encoding.dataset(&table).expect("reads with the encoding");
    // Uneven row weights: every third row counts three times.
    let weights: Vec<f64> = (0..data.n_rows())
        .map(|r| if r % 3 == 0 { 3.0 } else { 1.0 })
        .collect();
    let data = data.with_weights(weights).expect("weights");
    let trainer = Trainer::new(weighted.clone())
        .and_then(|t| t.threads(2))
        .expect("trainer");
    let part = trainer.train_part(&data, &encoding, 0..12).expect("part");
    let part = Part::from_bytes(&part.to_bytes().expect("bytes")).expect("reads back");
    let merged = merge(&[part]).expect("merge");
    let single = Trainer::new(weighted)
        .and_then(|t| t.threads(2))
        .and_then(|t| t.train(&data))
        .expect("single");
    assert_eq!(merged.tree_arrays(), single.tree_arrays());
    assert_eq!(merged.threshold(), single.threshold());
    assert_eq!(merged.metadata().oob, single.metadata().oob);
    assert_eq!(merged.metadata().pr_curve, single.metadata().pr_curve);
    assert_eq!(merged.metadata().roc_curve, single.metadata().roc_curve);
}

#[test]
fn same_seed_and_partitioning_give_the_same_model_in_any_order() {
    let tables: Vec<Table> = (0..2).map(|s| synth::table(3_000, 7 + s)).collect();
    let encoding = encoding_of(&tables);
    let first = merge(&parts(&tables, &encoding, 10)).expect("merge");
    let mut again = parts(&tables, &encoding, 10);
    again.reverse();
    let second = merge(&again).expect("merge");
    assert_eq!(first.tree_arrays(), second.tree_arrays());
    assert_eq!(first.threshold(), second.threshold());
    assert_eq!(first.metadata().oob, second.metadata().oob);
    assert_eq!(first.metadata().parts, second.metadata().parts);
}

#[test]
fn parts_that_disagree_are_refused_naming_the_difference() {
    let tables: Vec<Table> = (0..2).map(|s| synth::table(3_000, 20 + s)).collect();
    let encoding = encoding_of(&tables);
    let mut parts_a = parts(&tables, &encoding, 10);

    // An encoding fitted on other data codes the categories differently.
    let other = encoding_of(&[synth::table(500, 77)]);
    let foreign = Trainer::new(params(10))
        .and_then(|t| t.train_part(&other.dataset(&tables[1])?, &other, 5..10))
        .expect("part");
    let err = merge(&[parts_a[0].clone(), foreign]).expect_err("different encodings");
    assert!(matches!(err, Error::Schema { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("part 2") && text.contains("one encoding"),
        "{text}"
    );

    // The same part twice.
    let err = merge(&[parts_a[0].clone(), parts_a[0].clone()]).expect_err("twice");
    assert!(err.to_string().contains("tree 0"), "{err}");

    // Parts trained with other parameters.
    let deeper = Trainer::new(TrainParams {
        max_depth: 4.into(),
        ..params(10)
    })
    .expect("trainer")
    .train_part(
        &encoding.dataset(&tables[1]).expect("reads"),
        &encoding,
        5..10,
    )
    .expect("part");
    let err = merge(&[parts_a.remove(0), deeper]).expect_err("other params");
    assert!(
        matches!(
            err,
            Error::InvalidParams {
                name: "max_depth",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(merge(&[]).is_err());
}

#[test]
fn summaries_that_disagree_on_a_kind_are_refused() {
    let column = |name: &str, cells: Vec<Cell>| (name.to_owned(), TableColumn::Cells(cells));
    let labels = || ["0", "1", "0"].map(|t| Cell::Text(t.into())).to_vec();
    let numbers = Table::from_columns(
        "a",
        [
            column("x", [1.0, 2.0, 3.0].map(Cell::Number).to_vec()),
            column("is_fraud", labels()),
        ],
    )
    .expect("table");
    let texts = Table::from_columns(
        "b",
        [
            column("x", ["a", "b", "c"].map(|t| Cell::Text(t.into())).to_vec()),
            column("is_fraud", labels()),
        ],
    )
    .expect("table");
    let flags = Table::from_columns(
        "c",
        [
            column("x", [0.0, 1.0, 1.0].map(Cell::Number).to_vec()),
            column("is_fraud", labels()),
        ],
    )
    .expect("table");
    let summary = |t: &Table| {
        DataSummary::of(
            &Dataset::from_table(t, &ColumnRules::default())
                .expect("reads")
                .dataset,
        )
        .expect("summary")
    };
    let err = DataSummary::combine(&[summary(&numbers), summary(&texts)]).expect_err("kinds");
    let text = err.to_string();
    assert!(
        text.contains("partition 2") && text.contains("`x`"),
        "{text}"
    );
    // A flag in one partition and a number in another is a number.
    let joined = DataSummary::combine(&[summary(&flags), summary(&numbers)]).expect("joins");
    assert_eq!(joined.schema().features[0].kind.name(), "numeric");
    assert_eq!(joined.rows(), 6);
    let encoding = Encoding::fit(&joined).expect("fits");
    assert_eq!(encoding.schema().features[0].required, Some(true));
}

#[test]
fn damaged_part_bytes_are_errors() {
    let tables = [synth::table(2_000, 3)];
    let encoding = encoding_of(&tables);
    let part = parts(&tables, &encoding, 4).remove(0);
    let bytes = part.to_bytes().expect("bytes");
    for cut in [0, 5, 12, 100, bytes.len() - 1] {
        assert!(Part::from_bytes(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    assert!(Encoding::from_bytes(&bytes).is_err());
    // A whole model is not a part.
    let model_bytes = part.model().to_bytes().expect("model bytes");
    assert!(Part::from_bytes(&model_bytes).is_err());
}

#[test]
fn each_part_resolves_auto_on_its_rows_and_the_merge_records_it() {
    let whole = synth::table(12_000, 31);
    let tables: Vec<Table> = (0..2)
        .map(|k| slice(&whole, k * 6_000..(k + 1) * 6_000))
        .collect();
    let encoding = encoding_of(&tables);
    let parts = parts(&tables, &encoding, 16);
    let merged = merge(&parts).expect("merge");
    let records = &merged.metadata().parts;
    // Each part chose on its own rows, among its own first trees.
    for (part, record) in parts.iter().zip(records) {
        let own = part.model().metadata().auto.as_ref().expect("part chose");
        assert_eq!(record.auto, Some(own.chosen));
        assert_eq!(own.trees_per_candidate, 8);
    }
    let auto = merged.metadata().auto.as_ref().expect("merged choice");
    let most = records
        .iter()
        .filter(|r| r.auto == Some(auto.chosen))
        .map(|r| r.n_trees)
        .sum::<u64>();
    assert!(most >= 8, "{auto:?} {records:?}");
    assert!(auto.reason.contains("own rows"), "{}", auto.reason);
    assert_eq!(merged.summary().auto.as_ref(), Some(auto));
    // The parameters stay as given: auto.
    assert!(merged.metadata().params.max_depth.is_auto());

    // Every value given: nothing chosen anywhere.
    let fixed = TrainParams {
        max_depth: 6.into(),
        min_samples_leaf: 10.into(),
        class_weight: fraud_engine::ClassWeight::None.into(),
        ..params(8)
    };
    let trainer = Trainer::new(fixed).expect("trainer");
    let parts: Vec<Part> = tables
        .iter()
        .zip(split_trees(8, 2))
        .map(|(t, trees)| {
            trainer
                .train_part(&encoding.dataset(t).expect("reads"), &encoding, trees)
                .expect("part")
        })
        .collect();
    let merged = merge(&parts).expect("merge");
    assert_eq!(merged.metadata().auto, None);
    assert!(merged.metadata().parts.iter().all(|r| r.auto.is_none()));
}
