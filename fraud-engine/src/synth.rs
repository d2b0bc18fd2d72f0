//! A seeded generator of card transactions with realistic fraud patterns, for
//! the default model, examples, tests and benchmarks at any size.
//!
//! Fraud is drawn from a latent risk score: large amounts, night hours,
//! high-risk merchant categories, foreign and location-mismatched
//! transactions, untrusted devices and bursts of card activity all raise it,
//! with interactions (a foreign transaction at night from an untrusted device
//! is far riskier than each alone) and unobserved noise, so no model can be
//! perfect. About 1.3% of rows are fraud.
//!
//! The label noise is a knob ([`transactions_with_noise`], [`write_csv_with_noise`]):
//! a row is fraud when its latent risk plus `label_noise` times a random
//! term is positive (with the risk shifted so the fraud rate stays about
//! 1.3% at every level). The default, [`DEFAULT_LABEL_NOISE`] = 1, is the
//! generator's own noise; 0 makes the label a deterministic function of the
//! features (a clean, separable task); 2 doubles the noise. The features do
//! not depend on the knob: the same seed gives the same transactions at any
//! noise level, only their labels differ.

use std::io::Write;
use std::path::Path;

use crate::data::{Column, Dataset};
use crate::error::{Error, Result};
use crate::rng::Rng;
use crate::schema::transaction_schema;

/// Merchant categories with their share of transactions and their risk (logit shift).
pub const MERCHANT_CATEGORIES: [(&str, f64, f64); 8] = [
    ("Grocery", 0.24, -0.9),
    ("Restaurant", 0.16, -0.6),
    ("Gas", 0.12, -0.3),
    ("Clothing", 0.12, 0.0),
    ("Entertainment", 0.10, 0.2),
    ("Travel", 0.08, 0.7),
    ("Online", 0.10, 0.9),
    ("Electronics", 0.08, 1.2),
];

/// One generated transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// Amount in currency units.
    pub amount: f64,
    /// Hour of day, 0-23.
    pub transaction_hour: u8,
    /// One of [`MERCHANT_CATEGORIES`].
    pub merchant_category: &'static str,
    /// Card used abroad.
    pub foreign_transaction: bool,
    /// Device location differs from the cardholder's.
    pub location_mismatch: bool,
    /// Device trust, 0-100.
    pub device_trust_score: f64,
    /// Card transactions in the last 24 hours.
    pub velocity_last_24h: u32,
    /// Cardholder age in years.
    pub cardholder_age: u32,
    /// The label.
    pub is_fraud: bool,
}

/// The generator's own label noise: what [`generate`], [`table`],
/// [`transactions`] and [`write_csv`] use.
pub const DEFAULT_LABEL_NOISE: f64 = 1.0;

/// How labels are drawn from the latent risk: fraud when
/// `risk + shift + scale * noise > 0`. The shift keeps the fraud rate at the
/// default noise level's whatever the scale, so the knob changes how
/// predictable the labels are, not how many frauds there are.
#[derive(Debug, Clone, Copy)]
struct LabelNoise {
    scale: f64,
    shift: f64,
}

/// Rows drawn (from their own fixed stream) to find a noise level's shift.
const CALIBRATION_ROWS: usize = 20_000;

impl LabelNoise {
    const DEFAULT: LabelNoise = LabelNoise {
        scale: DEFAULT_LABEL_NOISE,
        shift: 0.0,
    };

    fn new(scale: f64) -> Result<Self> {
        if !(scale.is_finite() && scale >= 0.0) {
            return Err(Error::InvalidParams {
                name: "label_noise",
                reason: format!("must be a finite number >= 0, got {scale}"),
            });
        }
        if scale == DEFAULT_LABEL_NOISE {
            return Ok(LabelNoise::DEFAULT);
        }
        // The expected fraud rate of a fixed sample at this scale is
        // increasing in the shift: bisect for the default level's rate. The
        // sample depends on nothing but this constant stream, so a scale
        // always gets the same shift.
        let mut rng = Rng::new(0xCA1B, 0x5EED);
        let sample: Vec<(f64, f64)> = (0..CALIBRATION_ROWS)
            .map(|_| {
                let d = draw(&mut rng);
                (d.risk, d.latent)
            })
            .collect();
        let rate = |noise: LabelNoise| {
            sample
                .iter()
                .map(|&(risk, latent)| noise.probability(risk, latent))
                .sum::<f64>()
        };
        let target = rate(LabelNoise::DEFAULT);
        let (mut lo, mut hi) = (-30.0, 30.0);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if rate(LabelNoise { scale, shift: mid }) < target {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Ok(LabelNoise {
            scale,
            shift: 0.5 * (lo + hi),
        })
    }

    /// The probability of fraud given the risk and the latent draw (the
    /// logistic part of the noise is integrated out).
    fn probability(self, risk: f64, latent: f64) -> f64 {
        if self.scale > 0.0 {
            1.0 / (1.0 + (-((risk + self.shift) / self.scale + latent)).exp())
        } else {
            f64::from(u8::from(risk + self.shift > 0.0))
        }
    }

    /// Fraud when `risk + shift + scale * (latent + logistic) > 0`, drawn as
    /// `u < sigmoid((risk + shift) / scale + latent)`: at the default level
    /// this is bit for bit the generator's original expression.
    fn label(self, d: &Drawn) -> bool {
        if self.scale > 0.0 {
            let logit = (d.risk + self.shift) / self.scale + d.latent;
            d.u < 1.0 / (1.0 + (-logit).exp())
        } else {
            d.risk + self.shift > 0.0
        }
    }
}

/// One transaction's features with what its label is drawn from.
struct Drawn {
    tx: Transaction,
    /// The latent risk (a logit) the features explain.
    risk: f64,
    /// The unobserved part of the risk (0.9 times a standard normal).
    latent: f64,
    /// A uniform draw deciding the label.
    u: f64,
}

/// Draws one transaction; both random numbers of the label are drawn at
/// every noise level, so the stream, and every later row, stays the same.
fn draw(rng: &mut Rng) -> Drawn {
    let u = rng.next_f64();
    let mut cumulative = 0.0;
    let last = MERCHANT_CATEGORIES[MERCHANT_CATEGORIES.len() - 1];
    let (category, _, risk_shift) = MERCHANT_CATEGORIES
        .into_iter()
        .find(|&(_, share, _)| {
            cumulative += share;
            u < cumulative
        })
        .unwrap_or(last);
    // Activity peaks in the day; hours drawn from a day-heavy mixture.
    let hour = if rng.next_f64() < 0.85 {
        7 + rng.below(16)
    } else {
        rng.below(24)
    } as u8;
    let night = hour < 6;
    let amount = ((3.6 + 1.1 * rng.normal()).exp() * 100.0).round() / 100.0;
    let foreign = rng.next_f64() < 0.08;
    let mismatch = rng.next_f64() < if foreign { 0.35 } else { 0.05 };
    let trust = (72.0 + 18.0 * rng.normal()).clamp(0.0, 100.0).round();
    let velocity = poisson(rng, 2.5);
    let age = (18.0 + (45.0 + 16.0 * rng.normal()).abs()).min(95.0) as u32;

    let untrusted = trust < 40.0;
    let risk = -5.6
        + 0.55 * (amount / 40.0).ln().max(-1.0)
        + risk_shift
        + if night { 1.1 } else { 0.0 }
        + if foreign { 1.0 } else { 0.0 }
        + if mismatch { 1.3 } else { 0.0 }
        + 0.035 * (60.0 - trust).max(-20.0)
        + 0.28 * (f64::from(velocity) - 3.0).max(0.0)
        + if age > 75 { 0.6 } else { 0.0 }
        + if foreign && night && untrusted {
            2.0
        } else {
            0.0
        }
        + if mismatch && velocity > 5 { 1.2 } else { 0.0 };
    let latent = 0.9 * rng.normal();
    let u = rng.next_f64();
    Drawn {
        tx: Transaction {
            amount,
            transaction_hour: hour,
            merchant_category: category,
            foreign_transaction: foreign,
            location_mismatch: mismatch,
            device_trust_score: trust,
            velocity_last_24h: velocity,
            cardholder_age: age,
            is_fraud: false,
        },
        risk,
        latent,
        u,
    }
}

fn poisson(rng: &mut Rng, mean: f64) -> u32 {
    let limit = (-mean).exp();
    let mut k = 0;
    let mut p = rng.next_f64();
    while p > limit && k < 1000 {
        k += 1;
        p *= rng.next_f64();
    }
    k
}

/// `rows` transactions from `seed`; the same seed gives the same rows.
pub fn transactions(rows: usize, seed: u64) -> impl Iterator<Item = Transaction> {
    labelled(rows, seed, LabelNoise::DEFAULT)
}

/// `rows` transactions from `seed` with labels drawn at `label_noise` (0 =
/// a deterministic function of the features, 1 = [`DEFAULT_LABEL_NOISE`]);
/// the features are those of [`transactions`] with the same seed. An error
/// names `label_noise` unless it is a finite number >= 0.
pub fn transactions_with_noise(
    rows: usize,
    seed: u64,
    label_noise: f64,
) -> Result<impl Iterator<Item = Transaction>> {
    Ok(labelled(rows, seed, LabelNoise::new(label_noise)?))
}

fn labelled(rows: usize, seed: u64, noise: LabelNoise) -> impl Iterator<Item = Transaction> {
    let mut rng = Rng::new(seed, 0x5EED);
    (0..rows).map(move |_| {
        let drawn = draw(&mut rng);
        Transaction {
            is_fraud: noise.label(&drawn),
            ..drawn.tx
        }
    })
}

/// A labelled dataset with the default transaction schema.
pub fn generate(rows: usize, seed: u64) -> Dataset {
    dataset(rows, transactions(rows, seed))
}

/// [`generate`] with labels drawn at `label_noise` (see
/// [`transactions_with_noise`]).
pub fn generate_with_noise(rows: usize, seed: u64, label_noise: f64) -> Result<Dataset> {
    Ok(dataset(
        rows,
        transactions_with_noise(rows, seed, label_noise)?,
    ))
}

fn dataset(rows: usize, transactions: impl Iterator<Item = Transaction>) -> Dataset {
    let mut columns: Vec<Vec<f64>> = (0..7).map(|_| Vec::with_capacity(rows)).collect();
    let mut codes = Vec::with_capacity(rows);
    let mut labels = Vec::with_capacity(rows);
    for tx in transactions {
        columns[0].push(tx.amount);
        columns[1].push(f64::from(tx.transaction_hour));
        columns[2].push(f64::from(u8::from(tx.foreign_transaction)));
        columns[3].push(f64::from(u8::from(tx.location_mismatch)));
        columns[4].push(tx.device_trust_score);
        columns[5].push(f64::from(tx.velocity_last_24h));
        columns[6].push(f64::from(tx.cardholder_age));
        codes.push(
            MERCHANT_CATEGORIES
                .iter()
                .position(|c| c.0 == tx.merchant_category)
                .unwrap_or(0) as u32,
        );
        labels.push(u8::from(tx.is_fraud));
    }
    let category = Column::Categorical {
        codes,
        levels: MERCHANT_CATEGORIES.iter().map(|c| c.0.to_owned()).collect(),
    };
    // Schema order: amount, hour, merchant_category, then the other six.
    let mut columns: Vec<Column> = columns.into_iter().map(Column::Numeric).collect();
    columns.insert(2, category);
    // The columns are built to fit the schema, so this cannot fail.
    Dataset::new(transaction_schema(), columns, Some(labels))
        .unwrap_or_else(|e| unreachable!("{e}"))
}

/// The columns of [`table`] whose values are whole numbers: counts, the
/// hour, the flags and the label (the fields [`Transaction`] types as
/// integers or booleans). A [`crate::TableColumn::Numbers`] column holds
/// `f64`; front ends whose tables have integer types (pandas, Arrow) give
/// these columns one, as a CSV reader does for the file [`write_csv`] writes.
pub const INTEGER_COLUMNS: [&str; 6] = [
    "transaction_hour",
    "foreign_transaction",
    "location_mismatch",
    "velocity_last_24h",
    "cardholder_age",
    "is_fraud",
];

/// `rows` transactions as a table with the columns [`write_csv`] writes, in
/// the same order: `transaction_id`, the eight default features (the
/// category dictionary-encoded) and `is_fraud`.
pub fn table(rows: usize, seed: u64) -> crate::data::Table {
    use crate::data::{Table, TableColumn, Texts};
    let mut numbers: Vec<Vec<f64>> = (0..8).map(|_| Vec::with_capacity(rows)).collect();
    let mut ids = Texts::new();
    let mut codes = Vec::with_capacity(rows);
    for (i, tx) in transactions(rows, seed).enumerate() {
        ids.push(&format!("TX{:08}", i + 1));
        for (column, x) in numbers.iter_mut().zip([
            tx.amount,
            f64::from(tx.transaction_hour),
            f64::from(u8::from(tx.foreign_transaction)),
            f64::from(u8::from(tx.location_mismatch)),
            tx.device_trust_score,
            f64::from(tx.velocity_last_24h),
            f64::from(tx.cardholder_age),
            f64::from(u8::from(tx.is_fraud)),
        ]) {
            column.push(x);
        }
        codes.push(
            MERCHANT_CATEGORIES
                .iter()
                .position(|c| c.0 == tx.merchant_category)
                .unwrap_or(0) as u32,
        );
    }
    let mut numbers = numbers.into_iter().map(TableColumn::Numbers);
    let mut next = || numbers.next().unwrap_or(TableColumn::Numbers(Vec::new()));
    let columns = [
        ("transaction_id", TableColumn::Texts(ids)),
        ("amount", next()),
        ("transaction_hour", next()),
        (
            "merchant_category",
            TableColumn::Dictionary {
                codes,
                levels: MERCHANT_CATEGORIES.iter().map(|c| c.0.to_owned()).collect(),
            },
        ),
        ("foreign_transaction", next()),
        ("location_mismatch", next()),
        ("device_trust_score", next()),
        ("velocity_last_24h", next()),
        ("cardholder_age", next()),
        ("is_fraud", next()),
    ];
    // Every column has `rows` values and distinct names, so this cannot fail.
    Table::from_columns("generated", columns.map(|(n, c)| (n.to_owned(), c)))
        .unwrap_or_else(|e| unreachable!("{e}"))
}

/// Writes `rows` transactions as CSV with a `transaction_id` column first (as
/// exports have) and the `is_fraud` label last; atomically, like a model file.
pub fn write_csv(path: &Path, rows: usize, seed: u64) -> Result<()> {
    write_csv_with_noise(path, rows, seed, DEFAULT_LABEL_NOISE)
}

/// [`write_csv`] with labels drawn at `label_noise` (see
/// [`transactions_with_noise`]).
pub fn write_csv_with_noise(path: &Path, rows: usize, seed: u64, label_noise: f64) -> Result<()> {
    let mut out = Vec::with_capacity(rows * 64 + 128);
    let header = "transaction_id,amount,transaction_hour,merchant_category,foreign_transaction,location_mismatch,device_trust_score,velocity_last_24h,cardholder_age,is_fraud\n";
    out.extend_from_slice(header.as_bytes());
    for (i, tx) in transactions_with_noise(rows, seed, label_noise)?.enumerate() {
        writeln!(
            out,
            "TX{:08},{},{},{},{},{},{},{},{},{}",
            i + 1,
            tx.amount,
            tx.transaction_hour,
            tx.merchant_category,
            u8::from(tx.foreign_transaction),
            u8::from(tx.location_mismatch),
            tx.device_trust_score,
            tx.velocity_last_24h,
            tx.cardholder_age,
            u8::from(tx.is_fraud)
        )
        .map_err(|e| Error::io(path, e))?;
    }
    crate::format::write_atomically(path, &out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fraud_rate(txs: &[Transaction]) -> f64 {
        txs.iter().filter(|t| t.is_fraud).count() as f64 / txs.len() as f64
    }

    #[test]
    fn the_default_noise_is_the_plain_generator() {
        let plain: Vec<_> = transactions(2_000, 3).collect();
        let noisy: Vec<_> = transactions_with_noise(2_000, 3, DEFAULT_LABEL_NOISE)
            .unwrap()
            .collect();
        assert_eq!(plain, noisy);
    }

    #[test]
    fn noise_changes_labels_only_and_keeps_the_fraud_rate() {
        let plain: Vec<_> = transactions(40_000, 5).collect();
        for noise in [0.0, 0.3, 2.0] {
            let other: Vec<_> = transactions_with_noise(40_000, 5, noise).unwrap().collect();
            for (a, b) in plain.iter().zip(&other) {
                assert_eq!(
                    Transaction {
                        is_fraud: a.is_fraud,
                        ..b.clone()
                    },
                    *a
                );
            }
            let (rate, base) = (fraud_rate(&other), fraud_rate(&plain));
            assert!(
                (rate - base).abs() < 0.004,
                "noise {noise}: {rate} vs {base}"
            );
        }
    }

    #[test]
    fn without_noise_the_label_is_a_function_of_the_features() {
        // The unobserved draws no longer matter: only the risk, which the
        // features determine, decides the label.
        let clean = LabelNoise::new(0.0).unwrap();
        let mut rng = Rng::new(9, 0x5EED);
        for _ in 0..5_000 {
            let mut d = draw(&mut rng);
            let label = clean.label(&d);
            (d.u, d.latent) = (1.0 - d.u, -d.latent);
            assert_eq!(clean.label(&d), label);
        }
    }

    #[test]
    fn bad_noise_is_named() {
        for noise in [-0.1, f64::NAN, f64::INFINITY] {
            let err = transactions_with_noise(10, 1, noise).err().unwrap();
            assert!(matches!(
                err,
                Error::InvalidParams {
                    name: "label_noise",
                    ..
                }
            ));
        }
    }

    use crate::data::TableColumn;

    #[test]
    fn integer_columns_hold_whole_numbers() {
        let table = table(500, 3);
        for name in INTEGER_COLUMNS {
            let Some(TableColumn::Numbers(values)) = table.column(name) else {
                panic!("`{name}` is not a numeric column of the table");
            };
            assert!(values.iter().all(|x| x.fract() == 0.0), "{name}");
        }
        // The amount has cents: it is no integer column.
        let Some(TableColumn::Numbers(amounts)) = table.column("amount") else {
            panic!("no amount column");
        };
        assert!(amounts.iter().any(|x| x.fract() != 0.0));
        assert!(!INTEGER_COLUMNS.contains(&"amount"));
    }
}
