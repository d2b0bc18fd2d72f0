//! The CSV reader (`Table::read_csv`) and the column rules behind it on
//! hostile files: a typed error naming the line, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use fraud_engine::{ColumnRules, Dataset, Table};
use libfuzzer_sys::fuzz_target;

/// One file per fuzzing process, rewritten for each input (the reader takes
/// a path, as every front end gives it).
fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let shm = std::path::Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            shm.to_owned()
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("fraud-fuzz-csv-{}.csv", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    std::fs::write(path(), data).expect("write the fuzz input");
    let Ok(table) = Table::read_csv(path()) else {
        return;
    };
    for rules in [
        ColumnRules::default(),
        ColumnRules {
            require_label: false,
            ..ColumnRules::default()
        },
    ] {
        if let Ok(loaded) = Dataset::from_table(&table, &rules) {
            let _ = loaded;
        }
    }
    let _ = fraud_fuzz::model().predict_many(fraud_engine::Rows::Table(&table));
});
