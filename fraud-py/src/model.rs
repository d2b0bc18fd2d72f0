//! `fraud_engine.Model`: a frozen wrapper around a shared engine model.
//! Inputs become engine inputs (see [`crate::arrays`]); outputs are the
//! engine's serde shapes, the same every front end returns (`predict`'s dict
//! is built field by field from the engine's struct, without serde).

use std::sync::Arc;

use fraud_engine::data::read_labels;
use fraud_engine::model::TreeArrays;
use fraud_engine::{Decision, Model, Prediction, PredictionOutput, RiskBands, RiskLevel, Rows};
use numpy::{PyArray1, PyArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString};
use pythonize::pythonize;

use crate::arrays::{self, KnownTexts, Shape};
use crate::errors::{detach, invalid_input, to_pyerr, EngineError};

/// A trained fraud model. Scoring takes no lock and releases the GIL for
/// batches, so one Model can serve many threads at once.
#[pyclass(frozen, module = "fraud_engine", name = "Model")]
pub struct PyModel {
    inner: Arc<Model>,
    /// Feature names, for reading tables by name.
    names: Vec<String>,
    /// The same names as Python strings, made once so reading a dict makes none.
    keys: Vec<Py<PyString>>,
    /// The categories of every categorical feature, read from a dict
    /// without a copy.
    known: KnownTexts,
    /// The model version and the risk levels (LOW, MEDIUM, HIGH, in
    /// [`RiskLevel`]'s order) as Python strings, made once: `predict` builds
    /// its dict without creating a string.
    version: (String, Py<PyString>),
    risk_levels: [Py<PyString>; 3],
    /// [`OUTPUT_KEYS`] as Python strings.
    output_keys: [Py<PyString>; 6],
    /// The same keys in order, each to None: copied for each prediction,
    /// which sizes the new dict once (filled key by key from empty, it
    /// would grow its table at the sixth key).
    output_template: Py<PyDict>,
}

/// The keys of `predict`'s dict, in order: [`PredictionOutput`]'s fields
/// without the explanation's.
const OUTPUT_KEYS: [&str; 6] = [
    "is_fraud",
    "fraud_probability",
    "risk_level",
    "model_version",
    "threshold",
    "warnings",
];

impl PyModel {
    /// Wraps an engine model.
    pub fn new(py: Python<'_>, model: Model) -> PyResult<Self> {
        let names: Vec<String> = model.feature_names().into_iter().map(Into::into).collect();
        let keys = names
            .iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect();
        let categories = names
            .iter()
            .filter_map(|n| model.category_codes(n).ok())
            .flat_map(|codes| codes.categories.iter().cloned())
            .collect();
        let known = KnownTexts::new(py, categories)?;
        let version = (
            model.version().to_owned(),
            PyString::intern(py, model.version()).unbind(),
        );
        let risk_levels = [RiskLevel::Low, RiskLevel::Medium, RiskLevel::High]
            .map(|level| PyString::intern(py, level.as_str()).unbind());
        let output_keys = OUTPUT_KEYS.map(|key| PyString::intern(py, key).unbind());
        let output_template = PyDict::new(py);
        for key in &output_keys {
            output_template.set_item(key, py.None())?;
        }
        Ok(PyModel {
            inner: Arc::new(model),
            names,
            keys,
            known,
            version,
            risk_levels,
            output_keys,
            output_template: output_template.unbind(),
        })
    }

    /// Runs `work` on the rows of any `X` and their count, with the GIL
    /// released: a table (only the model's feature columns are read) or a
    /// 2-D array of encoded rows.
    fn with_rows<T: Send>(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        work: impl Fn(Rows<'_>, usize) -> fraud_engine::Result<T> + Send + Sync,
    ) -> PyResult<T> {
        match Shape::of(x)? {
            Shape::Matrix => arrays::with_matrix(py, x, &self.names, |values| {
                let n_rows = values.len() / self.names.len().max(1);
                detach(py, || work(Rows::Encoded(values), n_rows))
            }),
            shape => {
                let table = arrays::table(py, x, shape, Some(&self.names))?;
                detach(py, || work(Rows::Table(&table), table.n_rows()))
            }
        }
    }

    /// One transaction (a dict or any mapping) as the engine reads it.
    fn record<'m>(
        &'m self,
        py: Python<'_>,
        transaction: &Bound<'_, PyAny>,
        method: &str,
    ) -> PyResult<arrays::Record<'m>> {
        arrays::record(
            py,
            transaction,
            &self.inner.schema().features,
            &self.keys,
            &self.known,
            method,
        )
    }

    /// The engine's output for one prediction as a dict: what `pythonize`
    /// makes of it, built without the serde round trip (whose fresh key
    /// strings, each hashed, were a fifth of a `predict` call). Every field
    /// of [`PredictionOutput`] is named here, so a new one cannot be
    /// forgotten; outputs with an explanation go through `pythonize`.
    fn output<'py>(&self, py: Python<'py>, prediction: &Prediction) -> PyResult<Bound<'py, PyAny>> {
        let output = self.inner.output(prediction);
        let PredictionOutput {
            is_fraud,
            fraud_probability,
            risk_level,
            model_version,
            threshold,
            warnings,
            reasons: None,
            contributions: None,
            base_value: None,
        } = output
        else {
            return Ok(pythonize(py, &output)?);
        };
        let version = match &self.version {
            (text, made) if text == model_version => made.bind(py).clone(),
            _ => PyString::new(py, model_version),
        };
        let risk_level = match risk_level {
            RiskLevel::Low => &self.risk_levels[0],
            RiskLevel::Medium => &self.risk_levels[1],
            RiskLevel::High => &self.risk_levels[2],
        };
        let warnings = if warnings.is_empty() {
            PyList::empty(py).into_any()
        } else {
            pythonize(py, warnings)?
        };
        let dict = self.output_template.bind(py).copy()?;
        let [k_is_fraud, k_probability, k_level, k_version, k_threshold, k_warnings] =
            &self.output_keys;
        dict.set_item(k_is_fraud, is_fraud)?;
        dict.set_item(k_probability, fraud_probability)?;
        dict.set_item(k_level, risk_level.bind(py))?;
        dict.set_item(k_version, version)?;
        dict.set_item(k_threshold, threshold)?;
        dict.set_item(k_warnings, warnings)?;
        Ok(dict.into_any())
    }
}

/// A fresh array, read-only: `trees()` hands out copies, and a writable one
/// would suggest that writing to it changes the model.
fn readonly<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = PyArray1::from_vec(py, values);
    array.call_method1(intern!(py, "setflags"), (false,))?;
    Ok(array.into_any())
}

#[pymethods]
impl PyModel {
    /// Scores one transaction given as a dict (or any mapping) of field
    /// values. Returns the body `POST /api/predict` returns: `is_fraud` (0 or
    /// 1), `fraud_probability`, `risk_level` ("LOW", "MEDIUM" or "HIGH"),
    /// `model_version`, `threshold` and `warnings` (a list, empty unless,
    /// say, a category was never seen in training).
    ///
    /// Raises InvalidInputError naming every missing or invalid field.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        transaction: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let record = self.record(py, transaction, "predict")?;
        let prediction = self.inner.predict(&record).map_err(EngineError)?;
        self.output(py, &prediction)
    }

    /// Scores and explains one transaction (a dict, as `predict` takes).
    /// Returns `predict`'s keys plus `reasons` (up to three features that
    /// raised the risk, largest first, each with `feature`, `value`,
    /// `contribution` and `text`), `contributions` (each feature's exact
    /// TreeSHAP value in probability units, by feature name in model order)
    /// and `base_value` (the model's mean output over its training data);
    /// `base_value` plus the contributions is `fraud_probability` to 1e-9.
    ///
    /// Raises as `predict` does for bad input.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        transaction: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let record = self.record(py, transaction, "explain")?;
        let model = &self.inner;
        // Tens of microseconds for a large forest (and the first call
        // prepares the trees' paths): worth letting other threads run.
        let explained = detach(py, || model.explain(&record))?;
        Ok(pythonize(py, &model.explained_output(&explained))?)
    }

    /// Exact TreeSHAP values for many rows (any `X` that `predict_proba`
    /// takes), as a float64 array of shape (rows, features), columns in
    /// `feature_names` order: what `shap.TreeExplainer(model,
    /// feature_perturbation="tree_path_dependent").shap_values(X)` gives for
    /// a single-output model. Values are in probability units, and
    /// `expected_value + values[i].sum() == predict_proba(X)[i]` to 1e-9.
    /// The GIL is released and rows are explained on all cores.
    fn shap_values<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = &self.inner;
        let explained = self.with_rows(py, x, |rows, _| model.explain_many(rows))?;
        let shape = [explained.probabilities.len(), model.n_features()];
        Ok(PyArray1::from_vec(py, explained.contributions)
            .reshape(shape)?
            .into_any())
    }

    /// The explanations' base value: the model's mean output over its
    /// training data, as shap's `TreeExplainer.expected_value`.
    #[getter]
    fn expected_value(&self) -> f64 {
        self.inner.base_value()
    }

    /// The forest's trees as read-only numpy arrays in scikit-learn's
    /// `tree_` layout, one dict per tree, one entry per node, root first:
    /// `children_left` and `children_right` (int64, -1 at leaves), `feature`
    /// (int64 index into `feature_names`, -2 at leaves), `threshold`
    /// (float64, -2 at leaves; a row goes left when `x <= threshold`;
    /// categories compare by code), `value` (float64 fraud fraction of the
    /// training rows at the node; the forest's probability is the mean of
    /// the leaves reached) and `cover` (float64 weighted training rows).
    fn trees<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for tree in self.inner.tree_arrays() {
            // Destructured whole, so a new field cannot be forgotten here.
            let TreeArrays {
                children_left,
                children_right,
                feature,
                threshold,
                value,
                cover,
            } = tree;
            let dict = PyDict::new(py);
            dict.set_item(intern!(py, "children_left"), readonly(py, children_left)?)?;
            dict.set_item(intern!(py, "children_right"), readonly(py, children_right)?)?;
            dict.set_item(intern!(py, "feature"), readonly(py, feature)?)?;
            dict.set_item(intern!(py, "threshold"), readonly(py, threshold)?)?;
            dict.set_item(intern!(py, "value"), readonly(py, value)?)?;
            dict.set_item(intern!(py, "cover"), readonly(py, cover)?)?;
            list.append(dict)?;
        }
        Ok(list)
    }

    /// Fraud probabilities, one per row, as a 1-D float64 array.
    ///
    /// `X` is a DataFrame (pandas or polars; columns by name, extra columns
    /// ignored), a pyarrow Table or RecordBatch (or anything with
    /// `__arrow_c_stream__`), a list of dicts, a dict of columns (numpy
    /// arrays, Series, Arrow arrays or lists), or a 2-D numeric array whose columns
    /// are `feature_names` in order, with categorical features given as codes
    /// (`category_codes`) and NaN for a missing value. The GIL is released
    /// while rows are scored.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = &self.inner;
        let scores = self.with_rows(py, x, |rows, n_rows| {
            let mut out = vec![0.0; n_rows];
            model.predict_proba_many(rows, &mut out)?;
            Ok(out)
        })?;
        Ok(PyArray1::from_vec(py, scores))
    }

    /// Scores many rows (any `X` that `predict_proba` takes). For a pandas
    /// or polars DataFrame, or a pyarrow Table or RecordBatch, returns a frame
    /// of the same library with the columns `fraud_probability`, `is_fraud`
    /// and `risk_level` (a pandas frame keeps X's index; pyarrow input gives
    /// a Table); otherwise a list of the dicts `predict` returns, one per row.
    fn predict_many<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = &self.inner;
        let predictions = self.with_rows(py, x, |rows, _| model.predict_many(rows))?;
        let module = x.get_type().module()?.to_cow()?.into_owned();
        let library = ["pandas", "polars", "pyarrow"]
            .into_iter()
            .find(|l| module.split('.').next() == Some(*l));
        let Some(library) = library.filter(|_| Shape::of(x).is_ok_and(|s| s != Shape::Matrix))
        else {
            let list = PyList::empty(py);
            for p in &predictions {
                list.append(self.output(py, p)?)?;
            }
            return Ok(list.into_any());
        };
        let columns = PyDict::new(py);
        let probabilities = predictions.iter().map(|p| p.fraud_probability).collect();
        let flags = predictions.iter().map(|p| u8::from(p.is_fraud)).collect();
        let levels = predictions.iter().map(|p| p.risk_level.as_str());
        columns.set_item(
            "fraud_probability",
            PyArray1::<f64>::from_vec(py, probabilities),
        )?;
        columns.set_item("is_fraud", PyArray1::<u8>::from_vec(py, flags))?;
        columns.set_item("risk_level", PyList::new(py, levels)?)?;
        let module = py.import(library)?;
        match library {
            "pandas" => {
                let kwargs = PyDict::new(py);
                kwargs.set_item("index", x.getattr(intern!(py, "index"))?)?;
                module
                    .getattr(intern!(py, "DataFrame"))?
                    .call((columns,), Some(&kwargs))
            }
            "polars" => module.getattr(intern!(py, "DataFrame"))?.call1((columns,)),
            _ => module.getattr(intern!(py, "table"))?.call1((columns,)),
        }
    }

    /// Evaluates the model on labelled rows at its threshold. `y` holds the
    /// 0/1 labels (or true/false, yes/no); without it they are read from X's
    /// label column. Returns ROC-AUC, PR-AUC, precision, recall, F1, the
    /// confusion counts, log loss and Brier score, plus `roc_curve` (`fpr`,
    /// `tpr`, `thresholds`) and `pr_curve` (`recall`, `precision`,
    /// `thresholds`) of at most 200 points each.
    #[pyo3(signature = (x, y=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        y: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = &self.inner;
        let label = &model.schema().label;
        let column = match (y, Shape::of(x)?) {
            (Some(y), _) => arrays::column(py, y, "y")?,
            (None, Shape::Matrix) => {
                return Err(invalid_input(
                    py,
                    "y",
                    format!("an array X has no label column `{label}`: pass y"),
                ))
            }
            (None, shape) => {
                let table = arrays::table(py, x, shape, Some(std::slice::from_ref(label)))?;
                match table.columns().first() {
                    Some(column) => column.clone(),
                    None => {
                        return Err(to_pyerr(
                            py,
                            fraud_engine::Error::Schema {
                                source_name: table.source().into(),
                                reason: format!("no label column `{label}`; pass the labels as y"),
                                hint: None,
                            },
                        ))
                    }
                }
            }
        };
        let report = self.with_rows(py, x, |rows, _| {
            model.evaluate_many(rows, &read_labels(&column, label, "labels")?)
        })?;
        Ok(pythonize(py, &report)?)
    }

    /// How far `X` moved from the training data, as `fraud-server drift
    /// --json` reports it: `rows`, then for every feature (`features`, in
    /// schema order) and for the score (`score`) the population stability
    /// index `psi`, its `band` (below 0.1 `stable`, 0.1 to 0.25 `moderate`,
    /// above 0.25 `significant`) and the `top_moving_bins` (training share
    /// `expected`, share in X `actual`). `X` is a table with named columns
    /// (a DataFrame, a pyarrow Table, a dict of columns or a list of dicts);
    /// every row is scored for the score's drift. The GIL is released
    /// meanwhile.
    fn drift<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let table = arrays::table(py, x, Shape::of(x)?, Some(&self.names))?;
        let model = &self.inner;
        let report = detach(py, || model.drift(&table))?;
        Ok(pythonize(py, &report)?)
    }

    /// The codes of a categorical feature's categories, for encoded 2-D
    /// arrays. A value not in the dict (never seen in training) scores
    /// through the unknown bucket, whose code is `unknown_code(feature)`;
    /// NaN in an array also means missing.
    fn category_codes<'py>(&self, py: Python<'py>, feature: &str) -> PyResult<Bound<'py, PyDict>> {
        let found = self.inner.category_codes(feature).map_err(EngineError)?;
        let dict = PyDict::new(py);
        for (category, code) in found.categories.iter().zip(found.codes) {
            dict.set_item(category, code)?;
        }
        Ok(dict)
    }

    /// The code of a categorical feature's unknown bucket (unseen and
    /// missing categories).
    fn unknown_code(&self, feature: &str) -> PyResult<u32> {
        Ok(self
            .inner
            .category_codes(feature)
            .map_err(EngineError)?
            .unknown)
    }

    /// A copy of this model with another decision threshold; the risk bands
    /// are `(medium, high)` probabilities, by default half the threshold and
    /// the threshold (HIGH means flagged).
    #[pyo3(signature = (threshold, risk_bands=None))]
    fn with_threshold(
        &self,
        py: Python<'_>,
        threshold: f64,
        risk_bands: Option<(f64, f64)>,
    ) -> PyResult<PyModel> {
        let decision = Decision {
            threshold,
            risk_bands: risk_bands.map_or_else(
                || RiskBands::around(threshold),
                |(medium, high)| RiskBands { medium, high },
            ),
            strategy: format!("set by hand to {threshold}"),
        };
        let model = self.inner.with_decision(decision).map_err(EngineError)?;
        PyModel::new(py, model)
    }

    /// Writes the model file (atomically: a reader never sees half a file).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let model = &self.inner;
        detach(py, || model.save(&path))
    }

    /// The model file's bytes (what `save` writes; `fraud_engine.from_bytes` reads them).
    fn to_bytes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.inner.to_bytes().map_err(EngineError)?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Feature names in model order (the column order of encoded arrays).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The decision threshold: `is_fraud` is `fraud_probability >= threshold`.
    #[getter]
    fn threshold(&self) -> f64 {
        self.inner.threshold()
    }

    /// `(medium, high)`: the lowest probabilities rated MEDIUM and HIGH.
    #[getter]
    fn risk_bands(&self) -> (f64, f64) {
        let b = self.inner.decision().risk_bands;
        (b.medium, b.high)
    }

    /// The label column the model was trained on.
    #[getter]
    fn label(&self) -> String {
        self.inner.schema().label.clone()
    }

    /// Everything the model says about itself, as `GET /api/model` and
    /// `fraud-server inspect --json` give it: `model_version`, versions,
    /// `created`, tree and node counts, training rows and frauds, `schema`
    /// (`features`, each with its kind, categories, importances and training
    /// statistics, and `label`), the decision layer (`threshold`,
    /// `threshold_strategy`, `risk_bands`), `base_value`, `params`, and the
    /// out-of-bag `oob_metrics`, `roc_curve` and `pr_curve`.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.inner.summary())?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Model(model_version='{}', features={}, trees={}, threshold={})",
            self.inner.version(),
            self.names.len(),
            self.inner.n_trees(),
            self.inner.threshold()
        )
    }

    /// The model card Jupyter shows: what the model is, its schema, its
    /// out-of-bag metrics and its decision layer (written by
    /// `fraud_engine._display` from `metadata`).
    fn _repr_html_<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import(intern!(py, "fraud_engine._display"))?
            .call_method1(intern!(py, "model_card"), (self.metadata(py)?,))
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyModel>()
            .is_ok_and(|o| *o.get().inner == *self.inner)
    }

    /// Pickles as the model file's bytes, read back through the checked
    /// loader: no Python object graph is stored.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let loader = py
            .import(intern!(py, "fraud_engine._native"))?
            .getattr(intern!(py, "from_bytes"))?;
        Ok((loader, (self.to_bytes(py)?,)))
    }
}
