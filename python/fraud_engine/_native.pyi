"""Type stubs for the compiled ``fraud_engine._native`` module."""

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union, final, overload

import numpy as np
import numpy.typing as npt
# pandas ships no type information unless pandas-stubs is installed.
import pandas  # type: ignore[import-untyped,unused-ignore]

from .types import (
    DriftReport,
    Evaluation,
    ExplainedPrediction,
    GeneratedColumns,
    ModelMetadata,
    Prediction,
)

__version__: str
ENGINE_VERSION: str
FORMAT_VERSION: int
DEFAULT_TRAIN_PARAMS: Dict[str, Any]

_Path = Union[str, "os.PathLike[str]"]
# A DataFrame (pandas, polars), an Arrow table or anything with
# `__arrow_c_stream__`, a list of dicts, a dict of columns, or a 2-D numeric array.
_Table = Any
# Inputs whose predict_many answer is a list of dicts (frames get a frame back).
_Rows = Union[Sequence[Mapping[str, Any]], Mapping[str, Any], npt.NDArray[Any]]

class FraudError(Exception):
    """Base class of every error raised by fraud_engine."""

class InvalidInputError(FraudError, ValueError):
    problems: List[Dict[str, Any]]
    total: int

class SchemaError(InvalidInputError): ...

class InvalidParamsError(FraudError, ValueError):
    param: str

class CorruptModelError(FraudError, ValueError):
    offset: Optional[int]

class UnsupportedVersionError(CorruptModelError):
    found: int
    supported: int

class FraudIOError(FraudError, OSError): ...
class FraudFileNotFoundError(FraudIOError, FileNotFoundError): ...

@final
class Model:
    """A trained fraud model (frozen; safe to share between threads)."""

    @property
    def feature_names(self) -> List[str]: ...
    @property
    def threshold(self) -> float: ...
    @property
    def risk_bands(self) -> Tuple[float, float]: ...
    @property
    def label(self) -> str: ...
    @property
    def metadata(self) -> ModelMetadata: ...
    @property
    def expected_value(self) -> float: ...
    def predict(self, transaction: Mapping[str, Any]) -> Prediction: ...
    def explain(self, transaction: Mapping[str, Any]) -> ExplainedPrediction: ...
    def shap_values(self, x: _Table) -> npt.NDArray[np.float64]: ...
    def trees(self) -> List[Dict[str, npt.NDArray[Any]]]: ...
    def predict_proba(self, x: _Table) -> npt.NDArray[np.float64]: ...
    # A frame (pandas, polars, pyarrow) gets a frame of its own library back.
    @overload
    def predict_many(self, x: _Rows) -> List[Prediction]: ...
    @overload
    def predict_many(self, x: _Table) -> Any: ...
    def evaluate(self, x: _Table, y: Optional[Any] = None) -> Evaluation: ...
    def drift(self, x: _Table) -> DriftReport: ...
    def category_codes(self, feature: str) -> Dict[str, int]: ...
    def unknown_code(self, feature: str) -> int: ...
    def with_threshold(
        self, threshold: float, risk_bands: Optional[Tuple[float, float]] = None
    ) -> Model: ...
    def save(self, path: _Path) -> None: ...
    def to_bytes(self) -> bytes: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> Tuple[Any, Tuple[bytes]]: ...
    def _repr_html_(self) -> str: ...

def load(path: _Path) -> Model: ...
def from_bytes(data: bytes) -> Model: ...
def train(
    data: Union[_Path, _Table],
    label: str = "is_fraud",
    drop: Union[str, Sequence[str], None] = None,
    keep: Union[str, Sequence[str], None] = None,
    threads: Optional[int] = None,
    schema: Optional[str] = None,
    out_of_range: Optional[str] = None,
    sample_weight: Optional[Any] = None,
    **params: Any,
) -> Model: ...
def generate(rows: int, seed: int = 42) -> Union[pandas.DataFrame, GeneratedColumns]: ...

# The forest merge behind fraud_engine.dask and fraud_engine.spark.
def summarize(
    data: _Table,
    label: str = "is_fraud",
    drop: Union[str, Sequence[str], None] = None,
    keep: Union[str, Sequence[str], None] = None,
    schema: Optional[str] = None,
    out_of_range: Optional[str] = None,
) -> bytes: ...
def fit_encoding(summaries: Sequence[bytes]) -> bytes: ...
def split_trees(n_trees: int, n_parts: int) -> List[Tuple[int, int]]: ...
def train_part(
    data: _Table,
    encoding: bytes,
    first: int,
    end: int,
    threads: Optional[int] = None,
    **params: Any,
) -> bytes: ...
def merge_parts(parts: Sequence[bytes]) -> Model: ...
