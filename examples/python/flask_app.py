"""The fraud-detection Flask app, on fraud_engine instead of a pickled scikit-learn model.

Same routes and JSON as before (``/``, ``POST /api/predict``, ``/health``); the model
is a checked ``.fem`` model file instead of a ``.pkl``, and a prediction takes microseconds.

    fraud-server train --data transactions.csv --out fraud_model.fem   # or Model.save()
    MODEL_PATH=fraud_model.fem flask --app flask_app run --port 5000

Set ``API_KEY`` to require an ``X-API-Key`` header on ``/api/predict``.
"""

import datetime
import hmac
import os
from typing import Optional, Tuple, Union

from flask import Flask, Response, jsonify, request

import fraud_engine

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fraud detection</title></head>
<body>
<h1>Fraud detection</h1>
<form id="tx">
{fields}
<button type="submit">Check transaction</button>
</form>
<pre id="result"></pre>
<script>
document.getElementById("tx").addEventListener("submit", async (event) => {{
  event.preventDefault();
  const body = {{}};
  for (const [name, value] of new FormData(event.target)) {{
    body[name] = value === "" ? null : (isNaN(Number(value)) ? value : Number(value));
  }}
  const response = await fetch("/api/predict", {{
    method: "POST", headers: {{"Content-Type": "application/json"}}, body: JSON.stringify(body)
  }});
  document.getElementById("result").textContent = JSON.stringify(await response.json(), null, 2);
}});
</script>
</body></html>
"""


def create_app(model_path: Optional[str] = None, api_key: Optional[str] = None) -> Flask:
    """The app, serving the model at ``model_path`` (default: $MODEL_PATH or fraud_model.fem)."""
    app = Flask(__name__)
    model = fraud_engine.load(model_path or os.environ.get("MODEL_PATH", "fraud_model.fem"))
    api_key = api_key if api_key is not None else os.environ.get("API_KEY")
    model_version = model.metadata["model_version"]

    @app.get("/")
    def index() -> str:
        fields = "\n".join(
            f'<label>{name} <input name="{name}"></label><br>' for name in model.feature_names
        )
        return PAGE.format(fields=fields)

    @app.post("/api/predict")
    def predict() -> Union[Response, Tuple[Response, int]]:
        if api_key and not hmac.compare_digest(request.headers.get("X-API-Key", ""), api_key):
            return jsonify({"error": "Invalid API key"}), 401
        transaction = request.get_json(silent=True)
        if not isinstance(transaction, dict):
            return jsonify({"error": "the body must be a JSON object of transaction fields"}), 400
        try:
            return jsonify(model.predict(transaction))
        except fraud_engine.InvalidInputError as e:
            return jsonify({"error": str(e), "problems": e.problems}), 422

    @app.get("/health")
    def health() -> Response:
        return jsonify(
            {
                "status": "healthy",
                "model_loaded": True,
                "model_version": model_version,
                "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            }
        )

    return app


if __name__ == "__main__":
    create_app().run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
