//! `fraud_engine.Model`: a frozen wrapper around a shared engine model.

use std::sync::Arc;

use fraud_engine::data::parse_label;
use fraud_engine::forest::NO_CHILD;
use fraud_engine::preprocess::Encoder;
use fraud_engine::{
    Decision, Error, Feature, FeatureKind, Fields, Model, Prediction, Rejection, RiskBands, Value,
};
use numpy::{
    PyArray1, PyArray2, PyArrayDescrMethods, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyError, PyTypeError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyMapping, PyString, PyTuple};
use rayon::prelude::*;

use crate::arrays::{self, cell, column_data, read_table, table_kind, Cell, ColumnData, TableKind};
use crate::errors::{invalid_input, EngineError, EngineResult};
use crate::json::to_python;

/// A trained fraud model. Scoring takes no lock and releases the GIL for
/// batches, so one Model can serve many threads at once.
#[pyclass(frozen, module = "fraud_engine", name = "Model")]
pub struct PyModel {
    inner: Arc<Model>,
    /// Feature names as Python strings, made once so a prediction builds none.
    keys: Vec<Py<PyString>>,
    model_version: Py<PyString>,
}

/// The fields of one transaction copied out of a Python mapping, in schema
/// order (`None` where the mapping had no such key).
struct Record<'a> {
    features: &'a [Feature],
    cells: &'a [Option<Cell>],
}

impl Fields for Record<'_> {
    fn field(&self, name: &str) -> Option<Value<'_>> {
        let i = self.features.iter().position(|f| f.name == name)?;
        self.cells[i].as_ref().map(Cell::as_value)
    }
}

impl PyModel {
    /// Wraps an engine model.
    pub fn new(py: Python<'_>, model: Model) -> Self {
        let keys = model
            .feature_names()
            .into_iter()
            .map(|n| PyString::intern(py, n).unbind())
            .collect();
        let model_version = PyString::new(py, &model.metadata().model_id).unbind();
        PyModel {
            inner: Arc::new(model),
            keys,
            model_version,
        }
    }

    /// The engine model.
    pub fn model(&self) -> &Arc<Model> {
        &self.inner
    }

    fn prediction_dict<'py>(
        &self,
        py: Python<'py>,
        p: &Prediction,
    ) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item(intern!(py, "is_fraud"), u8::from(p.is_fraud))?;
        dict.set_item(intern!(py, "fraud_probability"), p.fraud_probability)?;
        dict.set_item(intern!(py, "risk_level"), risk_str(py, p))?;
        dict.set_item(intern!(py, "model_version"), self.model_version.bind(py))?;
        dict.set_item(intern!(py, "threshold"), self.inner.threshold())?;
        if !p.warnings.is_empty() {
            let warnings = PyList::empty(py);
            for w in &p.warnings {
                let item = PyDict::new(py);
                item.set_item("field", &w.field)?;
                item.set_item("message", &w.message)?;
                warnings.append(item)?;
            }
            dict.set_item(intern!(py, "warnings"), warnings)?;
        }
        Ok(dict)
    }

    /// The fields of one transaction (a dict or any mapping), in schema
    /// order; `method` names the caller in the error for anything else.
    fn record_cells(
        &self,
        py: Python<'_>,
        transaction: &Bound<'_, PyAny>,
        method: &str,
    ) -> PyResult<Vec<Option<Cell>>> {
        let mut cells: Vec<Option<Cell>> = Vec::with_capacity(self.keys.len());
        if let Ok(dict) = transaction.cast::<PyDict>() {
            for key in &self.keys {
                cells.push(dict.get_item(key.bind(py))?.map(|v| cell(&v)));
            }
        } else if transaction.cast::<PyMapping>().is_ok()
            || (transaction.hasattr(intern!(py, "keys"))?
                && transaction.hasattr(intern!(py, "__getitem__"))?)
        {
            for key in &self.keys {
                match transaction.get_item(key.bind(py)) {
                    Ok(v) => cells.push(Some(cell(&v))),
                    Err(e) if e.is_instance_of::<PyKeyError>(py) => cells.push(None),
                    Err(e) => return Err(e),
                }
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "{method}() takes one transaction as a dict of field values, not {}; \
                 use predict_proba() or predict_many() for many rows",
                transaction.get_type().name()?
            )));
        }
        Ok(cells)
    }

    /// Fraud probabilities for any supported `X`.
    fn scores(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
        match table_kind(x)? {
            Some(kind) => {
                let names = self.feature_names_owned();
                let table = read_table(py, x, kind, Some(&names))?;
                let model = &self.inner;
                let scores = py.detach(|| -> EngineResult<Vec<f64>> {
                    let rows = encode_columns(model, &table.columns, table.n_rows, table.source)?;
                    let mut out = vec![0.0; table.n_rows];
                    model.forest().predict_batch(&rows, &mut out);
                    Ok(out)
                })?;
                Ok(scores)
            }
            None => self.matrix_scores(py, x),
        }
    }

    /// The 2-D float array path: rows in feature order, categories as codes.
    fn matrix_scores(&self, py: Python<'_>, x: &Bound<'_, PyAny>) -> PyResult<Vec<f64>> {
        let model = &self.inner;
        self.with_matrix(py, x, |rows, n_rows| {
            let mut out = vec![0.0; n_rows];
            model.predict_proba_encoded_batch(rows, &mut out)?;
            Ok(out)
        })
    }

    /// Checks that `x` is a 2-D numeric array (or a list of rows) with one
    /// column per feature, and runs `work` on its rows (row-major float64)
    /// and row count with the GIL released.
    fn with_matrix<T: Send>(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        work: impl Fn(&[f64], usize) -> EngineResult<T> + Send + Sync,
    ) -> PyResult<T> {
        let n_features = self.inner.schema().features.len();
        let array = match x.cast::<PyUntypedArray>() {
            Ok(a) => a.clone(),
            Err(_) if x.is_instance_of::<PyList>() || x.is_instance_of::<PyTuple>() => {
                let numpy = py.import(intern!(py, "numpy"))?;
                let converted = numpy.call_method1("asarray", (x, "float64")).map_err(|e| {
                    invalid_input(
                        py,
                        "X",
                        format!("a list that is not rows of dicts must be a 2-D array of numbers ({e})"),
                    )
                })?;
                converted.cast_into::<PyUntypedArray>()?
            }
            Err(_) => {
                return Err(PyTypeError::new_err(format!(
                    "X must be a pandas DataFrame, a list of dicts, a dict of columns or a 2-D numpy array, not {}",
                    x.get_type().name()?
                )))
            }
        };
        let shape = array.shape();
        if shape.len() != 2 {
            return Err(invalid_input(
                py,
                "X",
                format!(
                    "expected a 2-D array (rows by {n_features} features), got shape {}; \
                     pass one transaction as X.reshape(1, -1) or as a dict to predict()",
                    arrays::shape_text(shape)
                ),
            ));
        }
        if shape[1] != n_features {
            return Err(invalid_input(
                py,
                "X",
                format!(
                    "the array has {} columns; the model reads {n_features} features in this order: {}",
                    shape[1],
                    self.inner.feature_names().join(", ")
                ),
            ));
        }
        let kind = array.dtype().kind();
        if !matches!(kind, b'f' | b'i' | b'u' | b'b') {
            return Err(invalid_input(
                py,
                "X",
                format!(
                    "a 2-D array must hold numbers (dtype {} given); categories go in as codes \
                     (Model.category_codes), or pass a DataFrame",
                    array.dtype()
                ),
            ));
        }
        let floats = if array.dtype().is_equiv_to(&numpy::dtype::<f64>(py)) {
            array.clone().into_any()
        } else {
            array.call_method1("astype", ("float64",))?
        };
        let floats = floats.cast::<numpy::PyArray2<f64>>()?.try_readonly()?;
        let n_rows = shape[0];
        let score = |rows: &[f64]| work(rows, n_rows);
        // A C-ordered array is read in place; anything else (Fortran order,
        // strided views) is copied to row-major order first.
        let out = if floats.is_c_contiguous() {
            match floats.as_slice() {
                Ok(rows) => py.detach(|| score(rows))?,
                Err(_) => {
                    let rows: Vec<f64> = floats.as_array().iter().copied().collect();
                    py.detach(|| score(&rows))?
                }
            }
        } else {
            let rows: Vec<f64> = floats.as_array().iter().copied().collect();
            py.detach(|| score(&rows))?
        };
        Ok(out)
    }

    fn feature_names_owned(&self) -> Vec<String> {
        self.inner
            .feature_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// The labels for `evaluate`: from `y`, or from `X`'s label column.
    fn labels(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        y: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Vec<u8>> {
        let label = &self.inner.schema().label;
        let column = match y {
            Some(y) => column_data(py, y, "y")?,
            None => match table_kind(x)? {
                Some(kind @ (TableKind::DataFrame | TableKind::Columns | TableKind::Records)) => {
                    let table = read_table(py, x, kind, Some(std::slice::from_ref(label)))?;
                    table
                        .columns
                        .into_iter()
                        .next()
                        .unwrap_or(ColumnData::Cells(Vec::new()))
                }
                None => {
                    return Err(invalid_input(
                        py,
                        "y",
                        format!("an array X has no label column `{label}`: pass y"),
                    ))
                }
            },
        };
        let mut labels = Vec::with_capacity(column.len());
        let mut rejections = Vec::new();
        let mut total = 0;
        for r in 0..column.len() {
            match parse_label(column.value(r)) {
                Ok(v) => labels.push(v),
                Err(reason) => {
                    total += 1;
                    labels.push(0);
                    if rejections.len() < Error::MAX_REJECTIONS {
                        rejections.push(Rejection {
                            row: r as u64 + 1,
                            column: label.clone(),
                            reason,
                        });
                    }
                }
            }
        }
        if total > 0 {
            return Err(EngineError(Error::InvalidData {
                source_name: "labels".into(),
                rejections,
                total,
            })
            .into());
        }
        Ok(labels)
    }
}

/// Marks a fresh array read-only: `trees()` hands out copies, and a
/// writable one would suggest that writing to it changes the model.
fn readonly<'py, T: numpy::Element>(
    array: Bound<'py, PyArray1<T>>,
) -> PyResult<Bound<'py, PyArray1<T>>> {
    array.call_method1(intern!(array.py(), "setflags"), (false,))?;
    Ok(array)
}

fn risk_str<'py>(py: Python<'py>, p: &Prediction) -> &'py Bound<'py, PyString> {
    match p.risk_level {
        fraud_engine::RiskLevel::Low => intern!(py, "LOW"),
        fraud_engine::RiskLevel::Medium => intern!(py, "MEDIUM"),
        fraud_engine::RiskLevel::High => intern!(py, "HIGH"),
    }
}

/// Encodes columns (in the model's feature order) into row-major forest input
/// through the model's own pipeline, so every value is checked and read
/// exactly as `Model::predict` reads it. Every bad value is reported with its
/// row (counted from 1) and column.
fn encode_columns(
    model: &Model,
    columns: &[ColumnData],
    n_rows: usize,
    source: &str,
) -> fraud_engine::Result<Vec<f64>> {
    let schema = model.schema();
    let pipeline = model.pipeline();
    let n = schema.features.len();
    let mut rows = vec![0.0; n_rows * n];
    let mut rejections = Vec::new();
    let mut total = 0usize;
    for (r, row) in rows.chunks_exact_mut(n).enumerate() {
        for (i, (slot, column)) in row.iter_mut().zip(columns).enumerate() {
            match pipeline.encode(schema, i, column.value(r)) {
                Ok((x, _)) => *slot = x,
                Err(Error::InvalidInput { field, reason }) => {
                    total += 1;
                    if rejections.len() < Error::MAX_REJECTIONS {
                        rejections.push(Rejection {
                            row: r as u64 + 1,
                            column: field,
                            reason,
                        });
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }
    if total > 0 {
        return Err(Error::InvalidData {
            source_name: source.into(),
            rejections,
            total,
        });
    }
    Ok(rows)
}

/// TreeSHAP contributions of every encoded row (row-major, as
/// `encode_columns` and `Model::encode_rows` make them): a row-major matrix
/// of the same shape, one explanation per row on the rayon pool.
fn explain_rows(model: &Model, rows: &[f64]) -> fraud_engine::Result<Vec<f64>> {
    let n = model.schema().features.len();
    let mut out = vec![0.0; rows.len()];
    out.par_chunks_mut(n)
        .zip(rows.par_chunks(n))
        .with_min_len(16)
        .try_for_each(|(phi, row)| {
            model.shap_values_encoded(row, phi)?;
            Ok(())
        })?;
    Ok(out)
}

/// A tree's child links as `int64` with -1 for "none" (a leaf).
fn links(children: &[u32]) -> Vec<i64> {
    children
        .iter()
        .map(|&c| if c == NO_CHILD { -1 } else { i64::from(c) })
        .collect()
}

#[pymethods]
impl PyModel {
    /// Scores one transaction given as a dict (or any mapping) of field
    /// values. Returns the same keys and values as the HTTP API:
    /// `is_fraud` (0 or 1), `fraud_probability`, `risk_level` ("LOW",
    /// "MEDIUM" or "HIGH"), `model_version`, `threshold`, and `warnings` when
    /// there are any (a category never seen in training, say).
    ///
    /// Raises InvalidInputError naming every missing or invalid field.
    fn predict<'py>(
        &self,
        py: Python<'py>,
        transaction: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let cells = self.record_cells(py, transaction, "predict")?;
        let record = Record {
            features: &self.inner.schema().features,
            cells: &cells,
        };
        let prediction = self.inner.predict(&record).map_err(EngineError)?;
        self.prediction_dict(py, &prediction)
    }

    /// Scores and explains one transaction (a dict, as `predict` takes).
    /// Returns `predict`'s keys plus `base_value` (the model's mean output
    /// over its training data), `contributions` (each feature's exact
    /// TreeSHAP value in probability units, feature order; `base_value` plus
    /// their sum is `fraud_probability` to 1e-9) and `reasons`: up to three
    /// features that raised the risk, largest first, each a dict with
    /// `feature`, `value` (the input value; a category's name), `contribution`
    /// and `text` ("<feature> = <value> raised the risk").
    ///
    /// Raises as `predict` does for bad input.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        transaction: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let cells = self.record_cells(py, transaction, "explain")?;
        let record = Record {
            features: &self.inner.schema().features,
            cells: &cells,
        };
        let model = &self.inner;
        // Tens of microseconds for a large forest (and the first call
        // prepares the trees' paths): worth letting other threads run.
        let explained = py.detach(|| model.explain(&record)).map_err(EngineError)?;
        let dict = self.prediction_dict(py, &explained.prediction)?;
        dict.set_item(intern!(py, "base_value"), explained.explanation.base_value)?;
        let contributions = PyDict::new(py);
        for (key, c) in self.keys.iter().zip(&explained.explanation.contributions) {
            contributions.set_item(key.bind(py), c)?;
        }
        dict.set_item(intern!(py, "contributions"), contributions)?;
        let reasons = PyList::empty(py);
        for r in &explained.reasons {
            let item = PyDict::new(py);
            item.set_item(intern!(py, "feature"), &r.feature)?;
            item.set_item(intern!(py, "value"), to_python(py, &r.value)?)?;
            item.set_item(intern!(py, "contribution"), r.contribution)?;
            item.set_item(intern!(py, "text"), &r.text)?;
            reasons.append(item)?;
        }
        dict.set_item(intern!(py, "reasons"), reasons)?;
        Ok(dict)
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
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = &self.inner;
        let values = match table_kind(x)? {
            Some(kind) => {
                let names = self.feature_names_owned();
                let table = read_table(py, x, kind, Some(&names))?;
                py.detach(|| -> EngineResult<Vec<f64>> {
                    let rows = encode_columns(model, &table.columns, table.n_rows, table.source)?;
                    Ok(explain_rows(model, &rows)?)
                })?
            }
            None => self.with_matrix(py, x, |rows, _| {
                let encoded = model.encode_rows(rows)?;
                Ok(explain_rows(model, &encoded)?)
            })?,
        };
        let n = model.schema().features.len();
        let n_rows = values.len() / n;
        PyArray1::from_vec(py, values).reshape([n_rows, n])
    }

    /// The explanations' base value: the model's mean output over its
    /// training data (the mean over trees of each tree's cover-weighted leaf
    /// value), as shap's `TreeExplainer.expected_value`.
    #[getter]
    fn expected_value(&self) -> f64 {
        self.inner.base_value()
    }

    /// The forest's trees, read-only copies for other tools (e.g. to build
    /// shap's custom tree format): one dict per tree of numpy arrays with
    /// one entry per node, root first: `left` and `right` (int64 child
    /// indices, -1 at leaves), `feature` (int64 feature index in
    /// `feature_names` order, -1 at leaves), `threshold` (float64; a row goes
    /// left when `x <= threshold`, as in scikit-learn; categories compare by
    /// code), `value` (float64 fraud fraction of the training rows at the
    /// node; the forest's probability is the mean of the leaves reached) and
    /// `cover` (float64 weighted count of training rows at the node).
    fn trees<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for tree in self.inner.trees() {
            let feature: Vec<i64> = tree
                .feature
                .iter()
                .zip(&tree.left)
                .map(|(&f, &l)| if l == NO_CHILD { -1 } else { i64::from(f) })
                .collect();
            let dict = PyDict::new(py);
            dict.set_item(
                intern!(py, "left"),
                readonly(PyArray1::from_vec(py, links(&tree.left)))?,
            )?;
            dict.set_item(
                intern!(py, "right"),
                readonly(PyArray1::from_vec(py, links(&tree.right)))?,
            )?;
            dict.set_item(
                intern!(py, "feature"),
                readonly(PyArray1::from_vec(py, feature))?,
            )?;
            dict.set_item(
                intern!(py, "threshold"),
                readonly(PyArray1::from_slice(py, &tree.threshold))?,
            )?;
            dict.set_item(
                intern!(py, "value"),
                readonly(PyArray1::from_slice(py, &tree.value))?,
            )?;
            dict.set_item(
                intern!(py, "cover"),
                readonly(PyArray1::from_slice(py, &tree.cover))?,
            )?;
            list.append(dict)?;
        }
        Ok(list)
    }

    /// Fraud probabilities, one per row, as a 1-D float64 array.
    ///
    /// `X` is a pandas DataFrame (columns by name, extra columns ignored), a
    /// list of dicts, a dict of columns, or a 2-D numeric array whose columns
    /// are `feature_names` in order, with categorical features given as codes
    /// (`category_codes`) and NaN for a missing value. The GIL is released
    /// while rows are scored.
    fn predict_proba<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let scores = self.scores(py, x)?;
        Ok(PyArray1::from_vec(py, scores))
    }

    /// Scores many rows (any `X` that `predict_proba` takes) and returns the
    /// three result columns `fraud_probability`, `is_fraud` and `risk_level`:
    /// as a DataFrame with X's index when X is a pandas DataFrame, else as a
    /// list of dicts.
    fn predict_many<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Py<PyAny>> {
        let scores = self.scores(py, x)?;
        let decided: Vec<Prediction> = scores
            .iter()
            .map(|&p| self.inner.decide(p, Vec::new()))
            .collect();
        let is_pandas = x.get_type().module()?.to_cow()?.starts_with("pandas");
        if is_pandas {
            let flags: Vec<u8> = decided.iter().map(|p| u8::from(p.is_fraud)).collect();
            let levels: Vec<&Bound<'py, PyString>> =
                decided.iter().map(|p| risk_str(py, p)).collect();
            let columns = PyDict::new(py);
            columns.set_item("fraud_probability", PyArray1::from_vec(py, scores))?;
            columns.set_item("is_fraud", PyArray1::from_vec(py, flags))?;
            columns.set_item("risk_level", PyList::new(py, levels)?)?;
            let kwargs = PyDict::new(py);
            kwargs.set_item("index", x.getattr("index")?)?;
            let frame = py
                .import(intern!(py, "pandas"))?
                .getattr("DataFrame")?
                .call((columns,), Some(&kwargs))?;
            return Ok(frame.unbind());
        }
        let records = PyList::empty(py);
        for p in &decided {
            let item = PyDict::new(py);
            item.set_item(intern!(py, "fraud_probability"), p.fraud_probability)?;
            item.set_item(intern!(py, "is_fraud"), u8::from(p.is_fraud))?;
            item.set_item(intern!(py, "risk_level"), risk_str(py, p))?;
            records.append(item)?;
        }
        Ok(records.into_any().unbind())
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
        let scores = self.scores(py, x)?;
        let labels = self.labels(py, x, y)?;
        if labels.len() != scores.len() {
            return Err(invalid_input(
                py,
                "y",
                format!("{} labels for {} rows", labels.len(), scores.len()),
            ));
        }
        let threshold = self.inner.threshold();
        let (evaluation, (roc, pr)) = py.detach(|| {
            (
                fraud_engine::Evaluation::new(&scores, &labels, threshold),
                fraud_engine::metrics::curves(&scores, &labels, 200),
            )
        });
        let value = serde_json::to_value(&evaluation)
            .map_err(|e| invalid_input(py, "evaluation", e.to_string()))?;
        let dict = to_python(py, &value)?;
        let roc_dict = PyDict::new(py);
        roc_dict.set_item("fpr", roc.x)?;
        roc_dict.set_item("tpr", roc.y)?;
        roc_dict.set_item("thresholds", roc.thresholds)?;
        let pr_dict = PyDict::new(py);
        pr_dict.set_item("recall", pr.x)?;
        pr_dict.set_item("precision", pr.y)?;
        pr_dict.set_item("thresholds", pr.thresholds)?;
        dict.set_item("roc_curve", roc_dict)?;
        dict.set_item("pr_curve", pr_dict)?;
        Ok(dict)
    }

    /// The codes of a categorical feature's categories, for encoded 2-D
    /// arrays. A value not in the dict (never seen in training) scores
    /// through the unknown bucket, whose code is `unknown_code(feature)`;
    /// NaN in an array also means missing.
    fn category_codes<'py>(&self, py: Python<'py>, feature: &str) -> PyResult<Bound<'py, PyDict>> {
        let (levels, codes, _) = self.categorical(py, feature)?;
        let dict = PyDict::new(py);
        for (level, code) in levels.iter().zip(codes) {
            dict.set_item(level, code)?;
        }
        Ok(dict)
    }

    /// The code of a categorical feature's unknown bucket (unseen and
    /// missing categories).
    fn unknown_code(&self, py: Python<'_>, feature: &str) -> PyResult<u32> {
        Ok(self.categorical(py, feature)?.2)
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
        let bands = match risk_bands {
            Some((medium, high)) => RiskBands { medium, high },
            None => RiskBands::around(threshold),
        };
        let decision = Decision {
            threshold,
            risk_bands: bands,
            strategy: format!("set by hand to {threshold}"),
        };
        let model = self.inner.with_decision(decision).map_err(EngineError)?;
        Ok(PyModel::new(py, model))
    }

    /// Writes the model file (atomically: a reader never sees half a file).
    fn save(&self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        let model = &self.inner;
        py.detach(|| model.save(&path)).map_err(EngineError)?;
        Ok(())
    }

    /// The model file's bytes (what `save` writes; `fraud_engine.from_bytes` reads them).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// Feature names in model order (the column order of encoded arrays).
    #[getter]
    fn feature_names(&self) -> Vec<String> {
        self.feature_names_owned()
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

    /// How the model was made: model_id, engine and format versions,
    /// created, training rows and frauds, parameters, out-of-bag evaluation
    /// and curves, feature importances and statistics, node count, depth,
    /// the features with their kinds, and the decision layer.
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let model = &self.inner;
        let mut value = serde_json::to_value(model.metadata())
            .map_err(|e| invalid_input(py, "metadata", e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("format_version".into(), fraud_engine::FORMAT_VERSION.into());
            map.insert("n_trees".into(), model.trees().len().into());
            map.insert("label".into(), model.schema().label.clone().into());
            map.insert(
                "decision".into(),
                serde_json::to_value(model.decision()).unwrap_or_default(),
            );
            let features: Vec<serde_json::Value> = model
                .schema()
                .features
                .iter()
                .map(|f| match f.kind {
                    FeatureKind::Numeric { min, max } => serde_json::json!({
                        "name": f.name, "kind": "numeric", "min": min, "max": max
                    }),
                    FeatureKind::Flag => serde_json::json!({"name": f.name, "kind": "flag"}),
                    FeatureKind::Categorical => {
                        serde_json::json!({"name": f.name, "kind": "categorical"})
                    }
                })
                .collect();
            map.insert("features".into(), features.into());
        }
        to_python(py, &value)
    }

    fn __repr__(&self) -> String {
        let meta = self.inner.metadata();
        format!(
            "Model(model_id='{}', features={}, trees={}, threshold={})",
            meta.model_id,
            self.keys.len(),
            self.inner.trees().len(),
            self.inner.threshold()
        )
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
        Ok((loader, (self.to_bytes(py),)))
    }
}

impl PyModel {
    fn categorical<'m>(
        &'m self,
        py: Python<'_>,
        feature: &str,
    ) -> PyResult<(&'m [String], &'m [u32], u32)> {
        let index = self.inner.schema().index_of(feature).ok_or_else(|| {
            invalid_input(
                py,
                feature,
                format!(
                    "the model has no such feature (it reads {})",
                    self.inner.feature_names().join(", ")
                ),
            )
        })?;
        match &self.inner.pipeline().encoders()[index] {
            Encoder::Categorical {
                levels,
                codes,
                unknown,
            } => Ok((levels, codes, *unknown)),
            _ => Err(invalid_input(
                py,
                feature,
                "not a categorical feature: give its value as a number",
            )),
        }
    }
}
