//! The decision layer: the threshold and risk bands that turn a probability
//! into a decision.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Coarse risk for people: LOW, MEDIUM or HIGH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RiskLevel {
    /// Below the medium band.
    Low,
    /// In the medium band.
    Medium,
    /// In the high band.
    High,
}

impl RiskLevel {
    /// `"LOW"`, `"MEDIUM"` or `"HIGH"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "LOW",
            RiskLevel::Medium => "MEDIUM",
            RiskLevel::High => "HIGH",
        }
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Probability bands: LOW below `medium`, MEDIUM from `medium`, HIGH from `high`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiskBands {
    /// Lowest probability rated MEDIUM.
    pub medium: f64,
    /// Lowest probability rated HIGH.
    pub high: f64,
}

impl RiskBands {
    /// The default bands for a decision threshold: HIGH from the threshold (so
    /// HIGH means "flagged"), MEDIUM from half of it.
    pub fn around(threshold: f64) -> Self {
        RiskBands {
            medium: threshold / 2.0,
            high: threshold,
        }
    }

    /// Checks `0 <= medium <= high <= 1`.
    pub fn validate(&self) -> Result<()> {
        if (0.0..=1.0).contains(&self.medium)
            && (0.0..=1.0).contains(&self.high)
            && self.medium <= self.high
        {
            Ok(())
        } else {
            Err(Error::InvalidParams {
                name: "risk_bands",
                reason: format!(
                    "need 0 <= medium ({}) <= high ({}) <= 1",
                    self.medium, self.high
                ),
            })
        }
    }

    /// The level of a probability.
    pub fn level(&self, probability: f64) -> RiskLevel {
        if probability >= self.high {
            RiskLevel::High
        } else if probability >= self.medium {
            RiskLevel::Medium
        } else {
            RiskLevel::Low
        }
    }
}

impl std::str::FromStr for RiskBands {
    type Err = Error;

    /// Parses `MEDIUM,HIGH`, e.g. `0.2,0.6`.
    fn from_str(text: &str) -> Result<Self> {
        let bad = || Error::InvalidParams {
            name: "risk_bands",
            reason: format!("`{text}` is not MEDIUM,HIGH (e.g. 0.2,0.6)"),
        };
        let (m, h) = text.split_once(',').ok_or_else(bad)?;
        let bands = RiskBands {
            medium: m.trim().parse().map_err(|_| bad())?,
            high: h.trim().parse().map_err(|_| bad())?,
        };
        bands.validate()?;
        Ok(bands)
    }
}

/// The decision layer: what turns a probability into a decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// `is_fraud` is `probability >= threshold`.
    pub threshold: f64,
    /// Risk level bands.
    pub risk_bands: RiskBands,
    /// How the threshold was chosen, for people reading the metadata.
    pub strategy: String,
}

impl Decision {
    /// Whether `probability` is flagged as fraud: at or above the threshold.
    /// The one place that rule is written; every front end asks here.
    pub fn flags(&self, probability: f64) -> bool {
        probability >= self.threshold
    }

    /// The decision layer training settles on: the threshold chosen from
    /// the out-of-bag rows, or 0.5 when there were none (`None`), and the
    /// bands `params` gives, else bands around the threshold.
    pub(crate) fn trained(out_of_bag_threshold: Option<f64>, params: &crate::TrainParams) -> Self {
        let threshold = out_of_bag_threshold.unwrap_or(0.5);
        Decision {
            threshold,
            risk_bands: params
                .risk_bands
                .unwrap_or_else(|| RiskBands::around(threshold)),
            strategy: match out_of_bag_threshold {
                Some(_) => params.threshold_strategy.to_string(),
                None => "default 0.5 (no out-of-bag rows)".into(),
            },
        }
    }

    /// Checks the threshold is a probability and the bands are ordered.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(Error::InvalidParams {
                name: "threshold",
                reason: format!("{} is not in [0, 1]", self.threshold),
            });
        }
        self.risk_bands.validate()
    }
}
