//! Training parameters: what a caller gives, and which of them training
//! chooses from the data (see `auto.rs`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::metrics::ThresholdStrategy;
use crate::model::RiskBands;

/// A training parameter that is either chosen from the data by out-of-bag
/// comparison ([`Setting::Auto`]) or given ([`Setting::Fixed`]). A given
/// value is always used as given.
///
/// Written `"auto"` or the value itself in JSON (and read back from
/// either); parsed from `auto` or the value's own text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Setting<T> {
    /// Chosen from the data: see [`AutoChoice`](crate::train::AutoChoice).
    #[default]
    Auto,
    /// This value.
    Fixed(T),
}

impl<T: Copy> Setting<T> {
    /// The given value, or `None` for `Auto`.
    pub fn fixed(&self) -> Option<T> {
        match self {
            Setting::Auto => None,
            Setting::Fixed(v) => Some(*v),
        }
    }

    /// Whether training chooses the value.
    pub fn is_auto(&self) -> bool {
        matches!(self, Setting::Auto)
    }
}

impl<T> From<T> for Setting<T> {
    fn from(value: T) -> Self {
        Setting::Fixed(value)
    }
}

impl<T: std::fmt::Display> std::fmt::Display for Setting<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Auto => f.write_str("auto"),
            Setting::Fixed(v) => v.fmt(f),
        }
    }
}

/// A value a [`Setting`] can fix, read from text.
pub trait SettingValue: std::str::FromStr + Copy {
    /// What the value's text may be, in words (after "auto or").
    const TAKES: &'static str;

    /// Reads the value of parameter `name` from `text` (not `auto`).
    fn read(name: &'static str, text: &str) -> Result<Self> {
        text.parse().map_err(|_| Error::InvalidParams {
            name,
            reason: format!("`{text}` is not auto or {}", Self::TAKES),
        })
    }
}

impl SettingValue for usize {
    const TAKES: &'static str = "a whole number";
}

impl SettingValue for u32 {
    const TAKES: &'static str = "a whole number";
}

impl SettingValue for ClassWeight {
    const TAKES: &'static str = CLASS_WEIGHTS;

    fn read(name: &'static str, text: &str) -> Result<Self> {
        match text.parse::<ClassWeight>() {
            // Two weights that do not validate: say why.
            Err(e) if text.contains(':') => Err(e),
            Err(_) => Err(Error::InvalidParams {
                name,
                reason: format!("`{text}` is not auto or {}", Self::TAKES),
            }),
            weight => weight,
        }
    }
}

impl<T: SettingValue> Setting<T> {
    /// Reads parameter `name` from text: `auto` (any case) or the value's
    /// own text. The error names the parameter and what it takes; the
    /// value's range is checked by [`TrainParams::validate`].
    pub fn parse(name: &'static str, text: &str) -> Result<Self> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("auto") {
            return Ok(Setting::Auto);
        }
        T::read(name, text).map(Setting::Fixed)
    }
}

/// The word `auto` in self-describing formats.
struct AutoWord;

impl Serialize for AutoWord {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str("auto")
    }
}

impl<'de> Deserialize<'de> for AutoWord {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let word = String::deserialize(deserializer)?;
        if word.eq_ignore_ascii_case("auto") {
            Ok(AutoWord)
        } else {
            Err(serde::de::Error::custom("expected \"auto\""))
        }
    }
}

/// JSON and other self-describing formats: `"auto"` or the bare value.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Readable<T> {
    Auto(AutoWord),
    Fixed(T),
}

/// The model file (postcard, not self-describing): a plain enum.
#[derive(Serialize, Deserialize)]
enum Compact<T> {
    Auto,
    Fixed(T),
}

impl<T: Serialize + Copy> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            match *self {
                Setting::Auto => Readable::<T>::Auto(AutoWord),
                Setting::Fixed(v) => Readable::Fixed(v),
            }
            .serialize(serializer)
        } else {
            match *self {
                Setting::Auto => Compact::<T>::Auto,
                Setting::Fixed(v) => Compact::Fixed(v),
            }
            .serialize(serializer)
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Setting<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            Ok(match Readable::deserialize(deserializer)? {
                Readable::Auto(_) => Setting::Auto,
                Readable::Fixed(v) => Setting::Fixed(v),
            })
        } else {
            Ok(match Compact::deserialize(deserializer)? {
                Compact::Auto => Setting::Auto,
                Compact::Fixed(v) => Setting::Fixed(v),
            })
        }
    }
}

/// How classes are weighted in the split criterion and leaf values (on top
/// of any per-row weights, see [`Dataset::with_weights`](crate::Dataset::with_weights)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum ClassWeight {
    /// Every row counts once.
    None,
    /// Each class weighs `rows / (2 * rows of that class)` in the split
    /// criterion and in the leaf values, as scikit-learn's
    /// `class_weight="balanced"`: probabilities lean toward the rare class.
    Balanced,
    /// Balanced weights in the split criterion only: splits work as hard to
    /// isolate the rare class as under `Balanced`, but a leaf's value stays
    /// its plain fraud fraction, so probabilities keep their meaning.
    BalancedSplits,
    /// Given weights, as scikit-learn's `class_weight={0: .., 1: ..}`;
    /// written `legitimate:fraud`, such as `1:20`. Like sample weights, they
    /// also weigh the rows in the out-of-bag metrics and the threshold
    /// chosen from them.
    Weights {
        /// Weight of a legitimate row.
        legitimate: f64,
        /// Weight of a fraud.
        fraud: f64,
    },
}

impl ClassWeight {
    /// Checks that given weights are finite, zero or more, and not both zero.
    pub fn validate(&self) -> Result<()> {
        if let ClassWeight::Weights { legitimate, fraud } = *self {
            let fine = |w: f64| w.is_finite() && w >= 0.0;
            if !fine(legitimate) || !fine(fraud) || legitimate + fraud <= 0.0 {
                return Err(Error::InvalidParams {
                    name: "class_weight",
                    reason: format!(
                        "weights {legitimate} (legitimate) and {fraud} (fraud) must be finite, \
                         zero or more, and not both zero"
                    ),
                });
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for ClassWeight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClassWeight::None => f.write_str("none"),
            ClassWeight::Balanced => f.write_str("balanced"),
            ClassWeight::BalancedSplits => f.write_str("balanced-splits"),
            ClassWeight::Weights { legitimate, fraud } => write!(f, "{legitimate}:{fraud}"),
        }
    }
}

/// What `class_weight` takes, in words.
const CLASS_WEIGHTS: &str =
    "none, balanced, balanced-splits, or two weights legitimate:fraud such as 1:20";

impl std::str::FromStr for ClassWeight {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let text = text.trim().to_ascii_lowercase();
        let weights = text.split_once(':').and_then(|(legitimate, fraud)| {
            Some(ClassWeight::Weights {
                legitimate: legitimate.trim().parse().ok()?,
                fraud: fraud.trim().parse().ok()?,
            })
        });
        let weight = match text.as_str() {
            "none" => ClassWeight::None,
            "balanced" => ClassWeight::Balanced,
            "balanced-splits" | "balanced_splits" => ClassWeight::BalancedSplits,
            _ => weights.ok_or_else(|| Error::InvalidParams {
                name: "class_weight",
                reason: format!("`{text}` is not {CLASS_WEIGHTS}"),
            })?,
        };
        weight.validate()?;
        Ok(weight)
    }
}

/// Training parameters.
///
/// Tree size and class weighting default to [`Setting::Auto`]: training
/// compares a few settings by out-of-bag PR-AUC and keeps the best (see
/// `docs/TRAINING.md` for the candidates and the study behind them). Give a
/// value to fix one; fixing all three trains exactly as given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainParams {
    /// Number of trees.
    pub n_trees: usize,
    /// Deepest level a tree grows to (the root is level 0).
    pub max_depth: Setting<usize>,
    /// Fewest (bootstrap) samples a leaf may hold.
    pub min_samples_leaf: Setting<u32>,
    /// Features drawn as split candidates at each node; `None` = sqrt of the count.
    pub max_features: Option<usize>,
    /// Class weighting.
    pub class_weight: Setting<ClassWeight>,
    /// Draw a bootstrap sample per tree (also what makes out-of-bag metrics,
    /// and so the `Auto` choices, possible).
    pub bootstrap: bool,
    /// Histogram bins per feature, 2..=256.
    pub max_bins: usize,
    /// Seed: the same data, parameters and seed give the same model on any
    /// number of threads.
    pub seed: u64,
    /// How the decision threshold is chosen from the out-of-bag scores.
    pub threshold_strategy: ThresholdStrategy,
    /// Risk bands; `None` derives them from the threshold (see [`RiskBands::around`]).
    pub risk_bands: Option<RiskBands>,
}

impl Default for TrainParams {
    fn default() -> Self {
        TrainParams {
            n_trees: 100,
            max_depth: Setting::Auto,
            min_samples_leaf: Setting::Auto,
            max_features: None,
            class_weight: Setting::Auto,
            bootstrap: true,
            max_bins: 256,
            seed: 42,
            threshold_strategy: ThresholdStrategy::MaxF1,
            risk_bands: None,
        }
    }
}

impl TrainParams {
    /// Checks every parameter's domain; the error names the first one out
    /// of it.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, reason: &str| {
            Err(Error::InvalidParams {
                name,
                reason: reason.into(),
            })
        };
        if self.n_trees == 0 || self.n_trees > 10_000 {
            return bad("n_trees", "must be between 1 and 10000");
        }
        if let Some(depth) = self.max_depth.fixed() {
            if depth == 0 || depth > crate::forest::MAX_TREE_DEPTH {
                return bad("max_depth", "must be auto or between 1 and 64");
            }
        }
        if self.min_samples_leaf == Setting::Fixed(0) {
            return bad("min_samples_leaf", "must be auto or at least 1");
        }
        if self.max_features == Some(0) {
            return bad("max_features", "must be at least 1");
        }
        if !(2..=256).contains(&self.max_bins) {
            return bad("max_bins", "must be between 2 and 256");
        }
        if let Some(weight) = self.class_weight.fixed() {
            weight.validate()?;
        }
        if let Some(bands) = self.risk_bands {
            bands.validate()?;
        }
        Ok(())
    }

    /// Whether training chooses any setting from the data.
    pub fn has_auto(&self) -> bool {
        self.max_depth.is_auto() || self.min_samples_leaf.is_auto() || self.class_weight.is_auto()
    }

    /// These parameters with the tree settings fixed to `settings` (say, the
    /// ones an `auto` training chose, to train the same forest explicitly).
    pub fn with_settings(self, settings: TreeSettings) -> TrainParams {
        TrainParams {
            max_depth: Setting::Fixed(settings.max_depth),
            min_samples_leaf: Setting::Fixed(settings.min_samples_leaf),
            class_weight: Setting::Fixed(settings.class_weight),
            ..self
        }
    }
}

/// The settings one forest's trees are grown with: the parameters that
/// can be `auto`, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TreeSettings {
    /// Deepest level a tree grows to.
    pub max_depth: usize,
    /// Fewest (bootstrap) samples a leaf may hold.
    pub min_samples_leaf: u32,
    /// Class weighting.
    pub class_weight: ClassWeight,
}

impl std::fmt::Display for TreeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max_depth {}, min_samples_leaf {}, class_weight {}",
            self.max_depth, self.min_samples_leaf, self.class_weight
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_reads_and_writes_auto_or_its_value() {
        let leaf = |text| Setting::<u32>::parse("min_samples_leaf", text);
        assert_eq!(leaf("auto").unwrap(), Setting::Auto);
        assert_eq!(leaf(" AUTO ").unwrap(), Setting::Auto);
        assert_eq!(
            Setting::<usize>::parse("max_depth", "12").unwrap(),
            Setting::Fixed(12)
        );
        let err = leaf("-3").unwrap_err();
        assert!(matches!(
            err,
            Error::InvalidParams {
                name: "min_samples_leaf",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "invalid parameter `min_samples_leaf`: `-3` is not auto or a whole number"
        );
        let err = Setting::<usize>::parse("max_depth", "deep").unwrap_err();
        assert!(err.to_string().contains("max_depth"), "{err}");
        assert_eq!(Setting::<u32>::Auto.to_string(), "auto");
        assert_eq!(Setting::Fixed(5u32).to_string(), "5");
        let weight = |text| Setting::<ClassWeight>::parse("class_weight", text);
        assert_eq!(
            weight("balanced-splits").unwrap(),
            Setting::Fixed(ClassWeight::BalancedSplits)
        );
        assert_eq!(
            weight("1:20").unwrap(),
            Setting::Fixed(ClassWeight::Weights {
                legitimate: 1.0,
                fraud: 20.0
            })
        );
        let err = weight("sometimes").unwrap_err();
        assert!(
            err.to_string()
                .contains("`sometimes` is not auto or none, balanced, balanced-splits"),
            "{err}"
        );
    }

    #[test]
    fn params_round_trip_through_json_and_postcard() {
        let params = TrainParams {
            max_depth: Setting::Fixed(12),
            class_weight: Setting::Fixed(ClassWeight::BalancedSplits),
            ..TrainParams::default()
        };
        let json = serde_json::to_value(&params).unwrap();
        assert_eq!(json["max_depth"], 12);
        assert_eq!(json["min_samples_leaf"], "auto");
        assert_eq!(json["class_weight"], "BalancedSplits");
        let back: TrainParams = serde_json::from_value(json).unwrap();
        assert_eq!(back, params);
        let bytes = postcard::to_stdvec(&params).unwrap();
        let back: TrainParams = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, params);
        let bad = serde_json::json!("sometimes");
        assert!(serde_json::from_value::<Setting<u32>>(bad).is_err());
    }

    #[test]
    fn validate_checks_fixed_values_only() {
        assert!(TrainParams::default().validate().is_ok());
        for (params, name) in [
            (
                TrainParams {
                    max_depth: Setting::Fixed(0),
                    ..TrainParams::default()
                },
                "max_depth",
            ),
            (
                TrainParams {
                    max_depth: Setting::Fixed(65),
                    ..TrainParams::default()
                },
                "max_depth",
            ),
            (
                TrainParams {
                    min_samples_leaf: Setting::Fixed(0),
                    ..TrainParams::default()
                },
                "min_samples_leaf",
            ),
        ] {
            let err = params.validate().unwrap_err();
            assert!(matches!(err, Error::InvalidParams { name: n, .. } if n == name));
        }
    }
}
