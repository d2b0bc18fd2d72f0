//! The one log of rejected values that every reader and scorer fills: CSV
//! files, tables from any front end, labels, batches of rows.

use crate::data::Value;
use crate::error::{Error, Rejection, Result};

/// Collects rejected values, keeping the first [`Error::MAX_REJECTIONS`] in
/// detail and counting them all, and turns them into one
/// [`Error::InvalidData`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RejectionLog {
    kept: Vec<Rejection>,
    total: usize,
}

impl RejectionLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `value` in `column` of data row `row` (counted from 1)
    /// was rejected for `reason`.
    pub fn add(&mut self, row: u64, column: &str, value: Value<'_>, reason: String) {
        self.total += 1;
        if self.kept.len() < Error::MAX_REJECTIONS {
            self.kept.push(Rejection {
                row,
                column: column.to_owned(),
                value: value.display(),
                reason,
            });
        }
    }

    /// Adds every rejection of another log, in order.
    pub fn extend(&mut self, other: RejectionLog) {
        self.total += other.total;
        let room = Error::MAX_REJECTIONS.saturating_sub(self.kept.len());
        self.kept.extend(other.kept.into_iter().take(room));
    }

    /// Records a rejection already made.
    pub fn push(&mut self, rejection: Rejection) {
        self.total += 1;
        if self.kept.len() < Error::MAX_REJECTIONS {
            self.kept.push(rejection);
        }
    }

    /// How many values were rejected.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether nothing was rejected.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The rejections kept in detail, in the order they were added.
    pub fn rejections(&self) -> &[Rejection] {
        &self.kept
    }

    /// `Ok` when nothing was rejected, else the [`Error::InvalidData`] of
    /// `source_name` listing the rejections.
    pub fn into_result(self, source_name: &str) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_hundred_and_counts_all() {
        let mut log = RejectionLog::new();
        for row in 1..=150 {
            log.add(
                row,
                "amount",
                Value::Text("x"),
                "'x' is not a number".into(),
            );
        }
        assert_eq!(log.total(), 150);
        assert_eq!(log.rejections().len(), Error::MAX_REJECTIONS);
        let Err(Error::InvalidData {
            rejections, total, ..
        }) = log.into_result("t.csv")
        else {
            panic!("expected InvalidData")
        };
        assert_eq!((rejections[0].row, total), (1, 150));
        assert_eq!(rejections[0].value, "x");
    }
}
