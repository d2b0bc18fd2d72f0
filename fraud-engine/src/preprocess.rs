//! The preprocessing pipeline: fitted once at training time, stored in the model,
//! and applied identically to every row scored, so training and serving can never
//! disagree about what a value means.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::data::{
    category_text, check_number, describe_range, is_missing_text, numeric_value, Column, Dataset,
    Value, MISSING_CODE,
};
use crate::error::{Error, Result};
use crate::schema::{FeatureKind, RangePolicy, Schema};

/// How one input feature becomes one number for the forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Encoder {
    /// Numbers pass through; a missing value becomes `fill` (the training median).
    Numeric {
        /// Replacement for a missing value.
        fill: f64,
        /// The smallest and largest value seen in training (`None` when the
        /// column had no value).
        range: Option<(f64, f64)>,
    },
    /// Flags become 0 or 1; a missing value becomes `fill` (the training mode).
    Flag {
        /// Replacement for a missing value.
        fill: f64,
    },
    /// Categories become codes ordered by their (smoothed) training fraud rate,
    /// so a split on the code is a split between low- and high-risk groups.
    /// `unknown` is the code of the unknown bucket: values never seen in training,
    /// and missing values, both ranked at the overall fraud rate.
    Categorical {
        /// The categories seen in training.
        levels: Vec<String>,
        /// `codes[i]` is the code of `levels[i]`.
        codes: Vec<u32>,
        /// The unknown bucket's code.
        unknown: u32,
    },
}

/// Pseudo-count pulling a rare category's fraud rate toward the overall rate.
const CATEGORY_SMOOTHING: f64 = 10.0;

/// Something that went right but is worth telling the caller about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// The feature concerned.
    pub field: String,
    /// What happened, for programs: `unknown_category` or
    /// `outside_training_range`.
    pub code: &'static str,
    /// What happened, for people.
    pub message: String,
}

/// Something about one encoded value worth a [`Warning`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Note {
    /// A category never seen in training, scored through the unknown bucket.
    UnknownCategory,
    /// A number outside the range seen in training.
    OutsideTrainingRange {
        /// The smallest value seen.
        low: f64,
        /// The largest value seen.
        high: f64,
    },
}

impl Note {
    /// The warning this note gives about `field`.
    pub(crate) fn warning(self, field: &str) -> Warning {
        let (code, message) = match self {
            Note::UnknownCategory => (
                "unknown_category",
                "category not seen in training; scored through the unknown bucket".to_owned(),
            ),
            Note::OutsideTrainingRange { low, high } => (
                "outside_training_range",
                format!(
                    "outside the range seen in training ({}); scored as the nearest value seen",
                    describe_range(Some(low), Some(high))
                ),
            ),
        };
        Warning {
            field: field.to_owned(),
            code,
            message,
        }
    }
}

/// Categorical features with at most this many levels look a category up
/// by a scan rather than a hash.
const SCANNED_LEVELS: usize = 16;

/// The code of the level whose text is `bytes`, found by a scan of a few
/// levels.
#[inline]
fn scanned_level(levels: &[String], codes: &[u32], bytes: &[u8]) -> Option<u32> {
    levels
        .iter()
        .position(|l| l.as_bytes() == bytes)
        .map(|i| codes[i])
}

/// The fitted per-feature encoders, in schema order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "Vec<Encoder>", into = "Vec<Encoder>")]
pub struct Pipeline {
    encoders: Vec<Encoder>,
    /// Per feature, category text -> code (empty for non-categorical features).
    lookup: Vec<HashMap<String, u32>>,
    /// Per feature, whether every level is written as [`Pipeline::encode`]
    /// reads a text: no space around it, and not a text that means a
    /// missing value. Then a text equal to a level is that level, with no
    /// trimming or missing check (levels fitted on data always are).
    plain_levels: Vec<bool>,
}

impl PartialEq for Pipeline {
    fn eq(&self, other: &Self) -> bool {
        self.encoders == other.encoders
    }
}

impl From<Pipeline> for Vec<Encoder> {
    fn from(p: Pipeline) -> Self {
        p.encoders
    }
}

impl TryFrom<Vec<Encoder>> for Pipeline {
    type Error = String;

    fn try_from(encoders: Vec<Encoder>) -> std::result::Result<Self, String> {
        let mut lookup = Vec::with_capacity(encoders.len());
        let mut plain_levels = Vec::with_capacity(encoders.len());
        for (i, encoder) in encoders.iter().enumerate() {
            plain_levels.push(match encoder {
                Encoder::Categorical { levels, .. } => {
                    levels.iter().all(|l| l.trim() == l && !is_missing_text(l))
                }
                _ => false,
            });
            let mut map = HashMap::new();
            match encoder {
                Encoder::Numeric { fill, .. } | Encoder::Flag { fill } if !fill.is_finite() => {
                    return Err(format!("encoder {i}: fill value is not finite"));
                }
                Encoder::Numeric {
                    range: Some((low, high)),
                    ..
                } if !(low.is_finite() && high.is_finite() && low <= high) => {
                    return Err(format!("encoder {i}: the training range is not ordered"));
                }
                Encoder::Categorical {
                    levels,
                    codes,
                    unknown,
                } => {
                    let n_codes = levels.len() + 1;
                    if codes.len() != levels.len() {
                        return Err(format!(
                            "encoder {i}: {} codes for {} levels",
                            codes.len(),
                            levels.len()
                        ));
                    }
                    let mut seen = vec![false; n_codes];
                    for &code in codes.iter().chain(std::iter::once(unknown)) {
                        match seen.get_mut(code as usize) {
                            Some(slot) if !*slot => *slot = true,
                            _ => {
                                return Err(format!(
                                    "encoder {i}: category codes are not a permutation"
                                ))
                            }
                        }
                    }
                    for (level, &code) in levels.iter().zip(codes) {
                        if map.insert(level.clone(), code).is_some() {
                            return Err(format!("encoder {i}: category `{level}` appears twice"));
                        }
                    }
                }
                _ => {}
            }
            lookup.push(map);
        }
        Ok(Pipeline {
            encoders,
            lookup,
            plain_levels,
        })
    }
}

impl Pipeline {
    /// Fits the encoders on a labelled dataset.
    pub(crate) fn fit(data: &Dataset) -> Result<Self> {
        let labels = data
            .labels()
            .ok_or_else(|| Error::schema("dataset", "training needs labels"))?;
        let positives = labels.iter().filter(|&&y| y == 1).count() as f64;
        let base_rate = positives / labels.len().max(1) as f64;
        let mut encoders = Vec::with_capacity(data.columns().len());
        for (feature, column) in data.schema().features.iter().zip(data.columns()) {
            let encoder = match (&feature.kind, column) {
                (FeatureKind::Flag, Column::Numeric(values)) => {
                    let ones = values.iter().filter(|&&x| x == 1.0).count();
                    let zeros = values.iter().filter(|&&x| x == 0.0).count();
                    Encoder::Flag {
                        fill: if ones > zeros { 1.0 } else { 0.0 },
                    }
                }
                (_, Column::Numeric(values)) => Encoder::Numeric {
                    fill: median(values),
                    range: values.iter().filter(|x| !x.is_nan()).fold(
                        None,
                        |range: Option<(f64, f64)>, &x| {
                            Some(range.map_or((x, x), |(lo, hi)| (lo.min(x), hi.max(x))))
                        },
                    ),
                },
                (_, Column::Categorical { codes, levels }) => {
                    fit_categories(&feature.name, codes, levels, labels, base_rate)?
                }
            };
            encoders.push(encoder);
        }
        Pipeline::try_from(encoders).map_err(|reason| Error::schema("pipeline", reason))
    }

    /// The encoders, in schema order.
    pub(crate) fn encoders(&self) -> &[Encoder] {
        &self.encoders
    }

    /// Checks that the pipeline fits `schema` (one encoder of the right kind per feature).
    pub(crate) fn check_against(&self, schema: &Schema) -> std::result::Result<(), String> {
        if self.encoders.len() != schema.features.len() {
            return Err(format!(
                "{} encoders for {} features",
                self.encoders.len(),
                schema.features.len()
            ));
        }
        for (feature, encoder) in schema.features.iter().zip(&self.encoders) {
            let fits = matches!(
                (&feature.kind, encoder),
                (FeatureKind::Numeric { .. }, Encoder::Numeric { .. })
                    | (FeatureKind::Flag, Encoder::Flag { .. })
                    | (FeatureKind::Categorical { .. }, Encoder::Categorical { .. })
            );
            if !fits {
                return Err(format!(
                    "the encoder of `{}` does not match its kind",
                    feature.name
                ));
            }
        }
        Ok(())
    }

    /// The code a category scores as: its own, or the unknown bucket's (then `true`).
    pub(crate) fn category_code(&self, feature: usize, text: &str) -> Option<(u32, bool)> {
        match &self.encoders[feature] {
            Encoder::Categorical {
                levels,
                codes,
                unknown,
            } => Some(match self.level_code(feature, levels, codes, text.trim()) {
                Some(code) => (code, false),
                None => (*unknown, true),
            }),
            _ => None,
        }
    }

    /// The code of the level `text` is exactly, if it is one.
    #[inline]
    fn level_code(
        &self,
        feature: usize,
        levels: &[String],
        codes: &[u32],
        text: &str,
    ) -> Option<u32> {
        // A few levels are found faster by a scan than by hashing (levels
        // are distinct, so both find the same one).
        if levels.len() <= SCANNED_LEVELS {
            scanned_level(levels, codes, text.as_bytes())
        } else {
            self.lookup[feature].get(text).copied()
        }
    }

    /// The levels and codes a text is looked up in as it is, without the
    /// steps of [`Pipeline::encode`] (trimming, the missing check), which
    /// would give a level's text the same code: for a feature that takes
    /// any category and whose levels are plain (see `plain_levels`).
    #[inline]
    fn plain_level_table(&self, schema: &Schema, index: usize) -> Option<(&[String], &[u32])> {
        match (&self.encoders[index], &schema.features[index].kind) {
            (
                Encoder::Categorical { levels, codes, .. },
                FeatureKind::Categorical { categories: None },
            ) if self.plain_levels[index] => Some((levels, codes)),
            _ => None,
        }
    }

    /// The number [`Pipeline::encode`] gives a text of feature `index`
    /// that is exactly one of its few levels, found by its bytes before
    /// they are checked as UTF-8 (a level's bytes are). `None` for any
    /// other text or feature, which then goes through [`Pipeline::encode`].
    #[inline]
    pub(crate) fn plain_level_code(
        &self,
        schema: &Schema,
        index: usize,
        bytes: &[u8],
    ) -> Option<f64> {
        let (levels, codes) = self.plain_level_table(schema, index)?;
        if levels.len() > SCANNED_LEVELS {
            return None;
        }
        scanned_level(levels, codes, bytes).map(f64::from)
    }

    /// Encodes one value of feature `index` (schema order), checking it
    /// against the feature's kind, declared limits, whether it is required,
    /// and the schema's policy for numbers outside the training range.
    /// Returns the number for the forest and, when there is one, a note for
    /// a warning.
    #[inline]
    pub(crate) fn encode(
        &self,
        schema: &Schema,
        index: usize,
        value: Value<'_>,
    ) -> Result<(f64, Option<Note>)> {
        // A number for a numeric or flag feature is checked as an encoded
        // row's is (for a category, a number names a level, not a code).
        if let (Value::Number(x), Encoder::Numeric { .. } | Encoder::Flag { .. }) =
            (value, &self.encoders[index])
        {
            if !x.is_nan() {
                return self.encode_number(schema, index, x);
            }
        }
        self.encode_other(schema, index, value)
    }

    /// [`Pipeline::encode`] for every value but a number of a numeric or
    /// flag feature: kept out of line, so that the common case costs the
    /// caller no call of its own.
    fn encode_other(
        &self,
        schema: &Schema,
        index: usize,
        value: Value<'_>,
    ) -> Result<(f64, Option<Note>)> {
        let feature = &schema.features[index];
        // A text that is one of the levels exactly, for a feature that
        // allows any category, is found without the steps below, which
        // would give it the same code (see `plain_levels`).
        if let (Value::Text(text), Some((levels, codes))) =
            (value, self.plain_level_table(schema, index))
        {
            if let Some(code) = self.level_code(index, levels, codes, text) {
                return Ok((f64::from(code), None));
            }
        }
        let bad = |reason: String| Error::input(&feature.name, reason);
        if value.is_missing() {
            return self.fill(schema, index, value).map(|x| (x, None));
        }
        match &self.encoders[index] {
            Encoder::Numeric { range, .. } => {
                let x = numeric_value(&feature.kind, value).map_err(bad)?;
                Ok((x, range_note(schema.out_of_range, x, *range).map_err(bad)?))
            }
            Encoder::Flag { .. } => Ok((numeric_value(&feature.kind, value).map_err(bad)?, None)),
            Encoder::Categorical { unknown, .. } => {
                let mut scratch = String::new();
                let text = category_text(&value, &mut scratch)
                    .map_err(bad)?
                    .ok_or_else(|| bad("missing value".into()))?;
                if let FeatureKind::Categorical {
                    categories: Some(allowed),
                } = &feature.kind
                {
                    if !allowed.iter().any(|c| c == text) {
                        return Err(bad(format!(
                            "'{text}' is not an allowed category ({})",
                            allowed.join(", ")
                        )));
                    }
                }
                let (code, is_unknown) =
                    self.category_code(index, text).unwrap_or((*unknown, true));
                Ok((f64::from(code), is_unknown.then_some(Note::UnknownCategory)))
            }
        }
    }

    /// What a missing value of feature `index` scores as: its fill (the
    /// training median, the mode, or the unknown bucket), or an error when
    /// the feature is required.
    fn fill(&self, schema: &Schema, index: usize, value: Value<'_>) -> Result<f64> {
        let feature = &schema.features[index];
        if feature.is_required() {
            let reason = match value {
                Value::Absent => "missing field",
                _ => "missing value: this field is required",
            };
            return Err(Error::input(&feature.name, reason));
        }
        Ok(match &self.encoders[index] {
            Encoder::Numeric { fill, .. } | Encoder::Flag { fill } => *fill,
            Encoder::Categorical { unknown, .. } => f64::from(*unknown),
        })
    }

    /// Whether a number in a table encodes as [`Pipeline::encode_number`]
    /// encodes it (numeric and flag features: a number is the value itself;
    /// a categorical feature reads a number as the text of a category).
    pub(crate) fn reads_numbers_as_values(&self, index: usize) -> bool {
        matches!(
            self.encoders[index],
            Encoder::Numeric { .. } | Encoder::Flag { .. }
        )
    }

    /// The numbers [`Pipeline::encode_number`] gives back unchanged and
    /// without a note for feature `index`: a loop over many values takes
    /// those as they are and calls it only for the rest (a missing, bad or
    /// noted value), which keeps checking a block of numbers cheap.
    pub(crate) fn plain_numbers(&self, schema: &Schema, index: usize) -> PlainNumbers {
        match (&self.encoders[index], &schema.features[index].kind) {
            (Encoder::Numeric { range, .. }, FeatureKind::Numeric { min, max }) => {
                let (mut low, mut high) = (min.unwrap_or(f64::MIN), max.unwrap_or(f64::MAX));
                // Outside the training range a value is noted or refused,
                // unless the policy accepts it silently.
                if let (Some((seen_low, seen_high)), false) =
                    (range, schema.out_of_range == RangePolicy::Accept)
                {
                    low = low.max(*seen_low);
                    high = high.min(*seen_high);
                }
                // Only finite numbers pass `check_number`.
                PlainNumbers::Between(low.max(f64::MIN), high.min(f64::MAX))
            }
            (Encoder::Flag { .. }, FeatureKind::Flag) => PlainNumbers::Flag,
            (
                Encoder::Categorical {
                    levels, unknown, ..
                },
                _,
            ) => PlainNumbers::Codes {
                last: levels.len() as f64,
                unknown: f64::from(*unknown),
            },
            _ => PlainNumbers::None,
        }
    }

    /// Checks an already-encoded value (a category given by its code, `NaN`
    /// for missing) as [`Pipeline::encode`] checks a value, and fills a
    /// missing one.
    pub(crate) fn encode_number(
        &self,
        schema: &Schema,
        index: usize,
        x: f64,
    ) -> Result<(f64, Option<Note>)> {
        let feature = &schema.features[index];
        let bad = |reason: String| Error::input(&feature.name, reason);
        if x.is_nan() {
            return self.fill(schema, index, Value::Missing).map(|x| (x, None));
        }
        match &self.encoders[index] {
            Encoder::Numeric { range, .. } => {
                let x = check_number(&feature.kind, x).map_err(bad)?;
                Ok((x, range_note(schema.out_of_range, x, *range).map_err(bad)?))
            }
            Encoder::Flag { .. } => Ok((check_number(&feature.kind, x).map_err(bad)?, None)),
            Encoder::Categorical {
                levels, unknown, ..
            } => {
                if x.fract() == 0.0 && x >= 0.0 && x <= levels.len() as f64 {
                    Ok((
                        x,
                        (x == f64::from(*unknown)).then_some(Note::UnknownCategory),
                    ))
                } else {
                    Err(bad(format!(
                        "{x} is not a category code (expected a whole number between 0 and {})",
                        levels.len()
                    )))
                }
            }
        }
    }

    /// The input value an encoded value stands for: the number itself, or the
    /// category's name (`"(unknown)"` for the unknown bucket).
    pub(crate) fn decode(&self, index: usize, x: f64) -> serde_json::Value {
        match &self.encoders[index] {
            Encoder::Categorical { levels, codes, .. } => {
                let name = codes
                    .iter()
                    .position(|&c| f64::from(c) == x)
                    .map_or("(unknown)", |i| levels[i].as_str());
                serde_json::Value::String(name.to_owned())
            }
            _ if x.fract() == 0.0 && x.abs() < 1e15 => serde_json::Value::from(x as i64),
            _ => serde_json::Value::from(x),
        }
    }

    /// Encodes every row of `data` into column-major feature values.
    pub(crate) fn transform_columns(&self, data: &Dataset) -> Vec<Vec<f64>> {
        (0..data.columns().len())
            .map(|i| self.transform_column(data, i))
            .collect()
    }

    /// Encodes feature `i` of every row of `data`.
    pub(crate) fn transform_column(&self, data: &Dataset, i: usize) -> Vec<f64> {
        let column = &data.columns()[i];
        match (column, &self.encoders[i]) {
            (Column::Numeric(values), Encoder::Numeric { fill, .. } | Encoder::Flag { fill }) => {
                values
                    .iter()
                    .map(|&x| if x.is_nan() { *fill } else { x })
                    .collect()
            }
            (Column::Categorical { codes, levels }, Encoder::Categorical { unknown, .. }) => {
                let index = &self.lookup[i];
                let level_codes: Vec<f64> = levels
                    .iter()
                    .map(|l| f64::from(index.get(l).copied().unwrap_or(*unknown)))
                    .collect();
                codes
                    .iter()
                    .map(|&c| {
                        if c == MISSING_CODE {
                            f64::from(*unknown)
                        } else {
                            level_codes[c as usize]
                        }
                    })
                    .collect()
            }
            // Dataset::new guarantees column kinds match the schema, and the
            // pipeline was checked against the same schema.
            _ => vec![f64::NAN; column.len()],
        }
    }
}

/// Which numbers a feature takes as they are (see
/// [`Pipeline::plain_numbers`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PlainNumbers {
    /// The numbers from the first to the second, both finite.
    Between(f64, f64),
    /// 0 and 1.
    Flag,
    /// The whole numbers from 0 to `last`, except `unknown` (which is noted).
    Codes {
        /// The highest code.
        last: f64,
        /// The unknown bucket's code.
        unknown: f64,
    },
    /// None: every value goes through [`Pipeline::encode_number`].
    None,
}

impl PlainNumbers {
    /// Whether `x` is taken as it is. `NaN` never is (it is missing).
    #[inline]
    pub(crate) fn holds(self, x: f64) -> bool {
        match self {
            PlainNumbers::Between(low, high) => low <= x && x <= high,
            PlainNumbers::Flag => x == 0.0 || x == 1.0,
            PlainNumbers::Codes { last, unknown } => {
                x >= 0.0 && x <= last && x.fract() == 0.0 && x != unknown
            }
            PlainNumbers::None => false,
        }
    }
}

/// Whether `x`, a valid number, lies outside the training `range`: a note
/// under [`RangePolicy::Warn`], an error under [`RangePolicy::Reject`].
#[inline]
fn range_note(
    policy: RangePolicy,
    x: f64,
    range: Option<(f64, f64)>,
) -> std::result::Result<Option<Note>, String> {
    let Some((low, high)) = range else {
        return Ok(None);
    };
    if (low..=high).contains(&x) {
        return Ok(None);
    }
    match policy {
        RangePolicy::Warn => Ok(Some(Note::OutsideTrainingRange { low, high })),
        RangePolicy::Accept => Ok(None),
        RangePolicy::Reject => Err(format!(
            "{x} is outside the range seen in training: must be {}",
            describe_range(Some(low), Some(high))
        )),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if present.is_empty() {
        return 0.0;
    }
    present.sort_by(f64::total_cmp);
    let mid = present.len() / 2;
    if present.len() % 2 == 1 {
        present[mid]
    } else {
        (present[mid - 1] + present[mid]) / 2.0
    }
}

fn fit_categories(
    name: &str,
    codes: &[u32],
    levels: &[String],
    labels: &[u8],
    base_rate: f64,
) -> Result<Encoder> {
    if levels.len() >= u32::MAX as usize - 1 {
        return Err(Error::input(name, "too many categories"));
    }
    // counts[levels.len()] is the unknown bucket (missing values in training).
    let mut counts = vec![(0.0f64, 0.0f64); levels.len() + 1];
    for (&code, &y) in codes.iter().zip(labels) {
        let slot = if code == MISSING_CODE {
            levels.len()
        } else {
            code as usize
        };
        counts[slot].0 += 1.0;
        counts[slot].1 += f64::from(y);
    }
    Ok(rank_categories(levels, &counts, base_rate))
}

/// Codes categories by their smoothed fraud rate. `counts[i]` is the rows
/// and frauds of `levels[i]`; `counts[levels.len()]` the unknown bucket's
/// (missing values). Ties are broken by name, so the codes depend on the
/// counts alone, never on the order the levels arrived in.
pub(crate) fn rank_categories(levels: &[String], counts: &[(f64, f64)], base_rate: f64) -> Encoder {
    let rate =
        |(n, pos): (f64, f64)| (pos + CATEGORY_SMOOTHING * base_rate) / (n + CATEGORY_SMOOTHING);
    let mut order: Vec<usize> = (0..=levels.len()).collect();
    // Ties broken by name (the unknown bucket sorts last) so the codes never
    // depend on the order rows arrived in.
    order.sort_by(|&a, &b| {
        rate(counts[a]).total_cmp(&rate(counts[b])).then_with(|| {
            match (levels.get(a), levels.get(b)) {
                (Some(x), Some(y)) => x.cmp(y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
        })
    });
    let mut code_of = vec![0u32; levels.len() + 1];
    for (code, &slot) in order.iter().enumerate() {
        code_of[slot] = code as u32;
    }
    Encoder::Categorical {
        levels: levels.to_vec(),
        codes: code_of[..levels.len()].to_vec(),
        unknown: code_of[levels.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Cell, ColumnRules, Table, TableColumn};
    use crate::schema::Feature;

    fn data() -> Dataset {
        let schema = Schema::new(
            vec![
                Feature::numeric("x"),
                Feature::flag("f"),
                Feature::categorical("c"),
            ],
            "y",
        )
        .expect("schema");
        let text = |t: &str| Cell::Text(t.into());
        let table = Table::from_columns(
            "test",
            [
                ("x", TableColumn::Numbers(vec![1.0, f64::NAN, 3.0, 10.0])),
                ("f", TableColumn::Numbers(vec![1.0, 1.0, f64::NAN, 0.0])),
                (
                    "c",
                    TableColumn::Cells(vec![
                        text("safe"),
                        text("risky"),
                        text("risky"),
                        Cell::Missing,
                    ]),
                ),
                (
                    "y",
                    TableColumn::Cells(["0", "1", "1", "0"].map(text).to_vec()),
                ),
            ]
            .map(|(n, c)| (n.to_owned(), c)),
        )
        .expect("table");
        let rules = ColumnRules {
            label: "y".into(),
            schema: Some(schema),
            ..ColumnRules::default()
        };
        Dataset::from_table(&table, &rules)
            .expect("dataset")
            .dataset
    }

    #[test]
    fn fills_and_orders_categories_by_risk() {
        let data = data();
        let pipeline = Pipeline::fit(&data).expect("fit");
        assert_eq!(
            pipeline.encoders()[0],
            Encoder::Numeric {
                fill: 3.0,
                range: Some((1.0, 10.0))
            }
        );
        assert_eq!(pipeline.encoders()[1], Encoder::Flag { fill: 1.0 });
        let (safe, _) = pipeline.category_code(2, "safe").expect("categorical");
        let (risky, _) = pipeline.category_code(2, "risky").expect("categorical");
        let (unknown, is_unknown) = pipeline
            .category_code(2, "never seen")
            .expect("categorical");
        assert!(
            safe < unknown && unknown < risky,
            "{safe} {unknown} {risky}"
        );
        assert!(is_unknown);
        let columns = pipeline.transform_columns(&data);
        assert_eq!(columns[0], [1.0, 3.0, 3.0, 10.0]);
        assert_eq!(columns[2][3], f64::from(unknown));
    }

    /// The values the plain-number fast path takes must be exactly those
    /// `encode_number` gives back unchanged (to the bit) without a note,
    /// under every range policy, with and without declared limits.
    #[test]
    fn plain_numbers_are_exactly_the_values_encoded_unchanged() {
        let data = data();
        let pipeline = Pipeline::fit(&data).expect("fit");
        let unknown = f64::from(pipeline.category_code(2, "never seen").expect("c").0);
        let mut values = vec![
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            -0.0,
            0.0,
            0.5,
            1.0,
            2.0,
            3.0,
            4.0,
            5.0,
            10.0,
            11.0,
            -1.0,
            unknown,
            1e300,
        ];
        for x in [0.0_f64, 1.0, 5.0, 10.0, 3.0] {
            values.push(x + x.abs().max(1.0) * f64::EPSILON);
            values.push(x - x.abs().max(1.0) * f64::EPSILON);
        }
        let mut seed = 7u64;
        for _ in 0..2_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            values.push(f64::from_bits(seed));
            values.push((seed >> 40) as f64 / 1e5 - 20.0);
        }
        for limits in [None, Some((Some(0.0), Some(5.0))), Some((Some(2.5), None))] {
            for policy in [RangePolicy::Warn, RangePolicy::Accept, RangePolicy::Reject] {
                let mut schema = data.schema().clone();
                schema.out_of_range = policy;
                if let Some((min, max)) = limits {
                    schema.features[0].kind = FeatureKind::Numeric { min, max };
                }
                for index in 0..3 {
                    let plain = pipeline.plain_numbers(&schema, index);
                    assert_ne!(plain, PlainNumbers::None);
                    for &x in &values {
                        let unchanged = matches!(
                            pipeline.encode_number(&schema, index, x),
                            Ok((y, None)) if y.to_bits() == x.to_bits()
                        );
                        assert_eq!(
                            plain.holds(x),
                            unchanged,
                            "feature {index}, {x:e}, {limits:?}, {policy:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn encode_checks_values() {
        let data = data();
        let pipeline = Pipeline::fit(&data).expect("fit");
        let schema = data.schema();
        assert_eq!(
            pipeline.encode(schema, 0, Value::Missing).expect("fills").0,
            3.0
        );
        assert!(pipeline.encode(schema, 1, Value::Number(2.0)).is_err());
        assert!(pipeline
            .encode(schema, 0, Value::Number(f64::INFINITY))
            .is_err());
        assert_eq!(
            pipeline
                .encode(schema, 2, Value::Text("new"))
                .expect("unknown")
                .1,
            Some(Note::UnknownCategory)
        );
        assert!(pipeline.encode_number(schema, 2, 7.0).is_err());
        assert!(pipeline.encode_number(schema, 2, 1.0).is_ok());
        // `true` is a flag's value, not a number.
        assert!(pipeline.encode(schema, 1, Value::Bool(true)).is_ok());
        let err = pipeline
            .encode(schema, 0, Value::Bool(true))
            .expect_err("not a number");
        assert_eq!(
            err.to_string(),
            "invalid value for `x`: expected a number, got true"
        );
    }

    #[test]
    fn required_and_training_range_rules() {
        let data = data();
        let pipeline = Pipeline::fit(&data).expect("fit");
        let mut schema = data.schema().clone();
        schema.features[0].required = Some(true);
        for missing in [Value::Missing, Value::Text(" NA "), Value::Number(f64::NAN)] {
            let err = pipeline.encode(&schema, 0, missing).expect_err("required");
            assert!(err.to_string().contains("this field is required"), "{err}");
        }
        let err = pipeline
            .encode(&schema, 0, Value::Absent)
            .expect_err("required");
        assert!(err.to_string().ends_with("missing field"), "{err}");
        assert!(pipeline.encode_number(&schema, 0, f64::NAN).is_err());
        // An optional feature fills an absent field like a missing one.
        schema.features[0].required = Some(false);
        assert_eq!(
            pipeline.encode(&schema, 0, Value::Absent).expect("fills").0,
            3.0
        );

        // Training saw 1 to 10: 11 scores with a note, or is refused.
        let (x, note) = pipeline
            .encode(&schema, 0, Value::Number(11.0))
            .expect("warns");
        assert_eq!(x, 11.0);
        assert_eq!(
            note.map(|n| n.warning("x").message),
            Some("outside the range seen in training (between 1 and 10); scored as the nearest value seen".into())
        );
        assert_eq!(
            pipeline
                .encode(&schema, 0, Value::Number(10.0))
                .expect("in range")
                .1,
            None
        );
        schema.out_of_range = RangePolicy::Accept;
        assert_eq!(
            pipeline
                .encode(&schema, 0, Value::Number(11.0))
                .expect("accepted")
                .1,
            None
        );
        schema.out_of_range = RangePolicy::Reject;
        let err = pipeline
            .encode(&schema, 0, Value::Number(-1.0))
            .expect_err("rejected");
        assert!(
            err.to_string().contains("must be between 1 and 10"),
            "{err}"
        );
        assert!(pipeline.encode_number(&schema, 0, 12.0).is_err());

        // A declared category list is a hard limit.
        schema.features[2].kind = FeatureKind::Categorical {
            categories: Some(vec!["safe".into(), "risky".into(), "new".into()]),
        };
        assert!(pipeline.encode(&schema, 2, Value::Text("other")).is_err());
        assert_eq!(
            pipeline
                .encode(&schema, 2, Value::Text("new"))
                .expect("allowed")
                .1,
            Some(Note::UnknownCategory)
        );
    }

    /// A text that is exactly a level takes a shorter path; the answer must
    /// be the general one, including for levels (from a model file) that
    /// are written with space or as a missing value.
    #[test]
    fn a_text_equal_to_a_level_encodes_by_the_general_rules() {
        let data = data();
        let schema = data.schema();
        let with_levels = |levels: &[&str]| {
            let mut encoders = Pipeline::fit(&data).expect("fit").encoders().to_vec();
            encoders[2] = Encoder::Categorical {
                levels: levels.iter().map(|l| (*l).to_owned()).collect(),
                codes: (0..levels.len() as u32).collect(),
                unknown: levels.len() as u32,
            };
            Pipeline::try_from(encoders).expect("pipeline")
        };
        let encode = |pipeline: &Pipeline, text| pipeline.encode(schema, 2, Value::Text(text));
        let plain = with_levels(&["Gas", "Food"]);
        assert_eq!(encode(&plain, "Food").expect("a level"), (1.0, None));
        assert_eq!(encode(&plain, " Food ").expect("trimmed"), (1.0, None));
        assert_eq!(
            encode(&plain, "Foo").expect("unknown"),
            (2.0, Some(Note::UnknownCategory))
        );
        let spaced = with_levels(&["Gas", " Food"]);
        assert_eq!(encode(&spaced, "Gas").expect("a level"), (0.0, None));
        // Trimmed to "Food", which is not a level.
        assert_eq!(
            encode(&spaced, " Food").expect("unknown"),
            (2.0, Some(Note::UnknownCategory))
        );
        // A missing value, whatever the levels say.
        let missing_text = with_levels(&["Gas", "NA"]);
        assert_eq!(
            encode(&missing_text, "NA").ok(),
            missing_text.encode(schema, 2, Value::Missing).ok(),
            "NA is read as missing"
        );
        // A level outside the schema's declared categories is refused.
        let mut declared = schema.clone();
        declared.features[2].kind = FeatureKind::Categorical {
            categories: Some(vec!["Gas".into()]),
        };
        assert!(plain.encode(&declared, 2, Value::Text("Food")).is_err());
    }

    #[test]
    fn rejects_non_permutation_codes() {
        let bad = vec![Encoder::Categorical {
            levels: vec!["a".into()],
            codes: vec![0],
            unknown: 0,
        }];
        assert!(Pipeline::try_from(bad).is_err());
    }
}
