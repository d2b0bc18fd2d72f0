"""The examples run: the Flask app through Flask's test client, the notebook headless."""

import importlib.util

import nbformat
import pytest
from nbclient import NotebookClient

import fraud_engine
from conftest import REPO, TRANSACTION

EXAMPLES = REPO / "examples" / "python"


@pytest.fixture(scope="module")
def flask_app(tmp_path_factory, model):
    spec = importlib.util.spec_from_file_location("flask_app", EXAMPLES / "flask_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    path = tmp_path_factory.mktemp("flask") / "model.fem"
    model.save(path)
    return module


@pytest.fixture()
def client(flask_app, tmp_path, model):
    path = tmp_path / "model.fem"
    model.save(path)
    return flask_app.create_app(model_path=path).test_client()


def test_predict_route(client, model):
    response = client.post("/api/predict", json=TRANSACTION)
    assert response.status_code == 200
    assert response.get_json() == model.predict(TRANSACTION)


def test_bad_input_names_each_field(client):
    response = client.post("/api/predict", json=dict(TRANSACTION, amount="lots", foreign_transaction=5))
    assert response.status_code == 422
    body = response.get_json()
    assert {p["field"] for p in body["problems"]} == {"amount", "foreign_transaction"}
    assert client.post("/api/predict", data="not json", content_type="application/json").status_code == 400
    assert client.post("/api/predict", json=[1, 2]).status_code == 400


def test_health_and_index(client, model):
    health = client.get("/health").get_json()
    assert health["status"] == "healthy" and health["model_loaded"] is True
    assert health["model_version"] == model.metadata["model_version"]
    assert "T" in health["timestamp"]
    page = client.get("/")
    assert page.status_code == 200 and b'name="merchant_category"' in page.data


def test_api_key(flask_app, tmp_path, model):
    path = tmp_path / "m.fem"
    model.save(path)
    client = flask_app.create_app(model_path=path, api_key="s3cret").test_client()
    denied = client.post("/api/predict", json=TRANSACTION)
    assert denied.status_code == 401 and denied.get_json() == {"error": "Invalid API key"}
    allowed = client.post("/api/predict", json=TRANSACTION, headers={"X-API-Key": "s3cret"})
    assert allowed.status_code == 200


def test_notebook_runs_headless(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAUD_NOTEBOOK_ROWS", "20000")
    notebook = nbformat.read(EXAMPLES / "fraud_detection.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    # Its files go into the folder it names, not the working directory.
    out = tmp_path / "fraud_notebook_output"
    saved = fraud_engine.load(out / "fraud_model.fem")
    assert saved.metadata["n_trees"] == 100
    assert (out / "transactions.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fraud_notebook_output"]
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the ROC plot was not drawn"
    assert not [o for o in outputs if o.output_type == "error"]
    # Importances, ROC and PR curves, one explanation, the summary of many.
    plots = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(plots) >= 4, len(plots)
    cards = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    card = next(c for c in cards if "fraud-engine-model" in c)
    for part in ("Schema", "Out-of-bag metrics", "Decision", "merchant_category", "max-f1"):
        assert part in card, part
    reasons = next(o for cell in notebook.cells if "explained[\"reasons\"]" in cell.source
                   for o in cell.outputs if o.output_type == "execute_result")
    assert "raised the risk" in reasons["data"]["text/plain"]
