// fraud-server web UI. Everything the user or the server supplies is put on
// the page with textContent or setAttribute, never as HTML, so a transaction
// field like "<img onerror=...>" is shown as text.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const DEFAULTS = {
  amount: "250.0", transaction_hour: "14", merchant_category: "Electronics",
  foreign_transaction: "0", location_mismatch: "0", device_trust_score: "75",
  velocity_last_24h: "3", cardholder_age: "35",
};
const BATCH_CHUNK = 500;
const TABLE_ROWS = 500;
const HISTORY_PAGE = 25;

let modelInfo = null;
let historyOffset = 0;

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function showError(box, err) {
  clear(box);
  if (!err) { box.hidden = true; return; }
  box.appendChild(el("div", err.message));
  if (err.details && err.details.length) {
    const list = el("ul");
    for (const d of err.details) list.appendChild(el("li", d.field + ": " + d.reason));
    box.appendChild(list);
  }
  box.hidden = false;
}

async function api(path, options) {
  const opts = options || {};
  const headers = { "Accept": "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const key = sessionStorage.getItem("apiKey");
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, {
    method: opts.method || "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const message = (data && data.error) ? data.error : ("HTTP " + response.status);
    const err = new Error(response.status + ": " + message);
    err.details = (data && data.details) || [];
    err.status = response.status;
    throw err;
  }
  return data;
}

async function loadModel(force) {
  if (modelInfo && !force) return modelInfo;
  modelInfo = await api("/api/model");
  $("model-badge").textContent = "model " + modelInfo.model_version;
  return modelInfo;
}

function fmtProb(p) { return (p * 100).toFixed(2) + "%"; }

// ---- score one transaction ----

// The value of the "other (unknown)" choice of a category select.
const OTHER = "\u0000other";

// A feature's valid values, in words.
function describeValues(f) {
  if (f.kind === "flag") return "flag: 0 or 1";
  if (f.kind === "categorical") {
    return f.allowed_categories ? "one of " + f.allowed_categories.length + " categories"
      : (f.categories || []).length + " categories seen in training";
  }
  const lo = f.min, hi = f.max;
  if (lo !== undefined && hi !== undefined) return "a number between " + lo + " and " + hi;
  if (lo !== undefined) return "a number of at least " + lo;
  if (hi !== undefined) return "a number of at most " + hi;
  return "a number";
}

function buildForm(info) {
  const box = $("fields");
  clear(box);
  for (const f of info.schema.features) {
    const wrap = el("div", null, "field");
    const id = "field-" + f.name;
    const label = el("label", f.name);
    label.setAttribute("for", id);
    wrap.appendChild(label);
    let input;
    let other = null;
    if (f.kind === "flag") {
      input = el("select");
      for (const [v, t] of [["0", "0 (no)"], ["1", "1 (yes)"]]) {
        const o = el("option", t); o.value = v; input.appendChild(o);
      }
    } else if (f.kind === "categorical") {
      // The model's categories, and a way to send one it never saw.
      input = el("select");
      for (const c of f.allowed_categories || f.categories || []) {
        const o = el("option", c); o.value = c; input.appendChild(o);
      }
      if (!f.allowed_categories) {
        const o = el("option", "other (unknown to the model)"); o.value = OTHER; input.appendChild(o);
        other = el("input");
        other.type = "text";
        other.id = id + "-other";
        other.hidden = true;
        other.setAttribute("aria-label", f.name + ": a category the model never saw");
        other.placeholder = "the category";
      }
    } else {
      input = el("input");
      input.type = "number";
      input.step = "any";
      if (f.min !== undefined) input.min = String(f.min);
      if (f.max !== undefined) input.max = String(f.max);
    }
    input.id = id;
    input.name = f.name;
    input.dataset.kind = f.kind;
    // The documented transaction's values where this model has the field
    // (and, for a select, the choice); else the first choice or the minimum.
    const preset = DEFAULTS[f.name];
    if (preset !== undefined && (input.tagName !== "SELECT" || [...input.options].some((o) => o.value === preset))) {
      input.value = preset;
    } else if (f.kind === "numeric") input.value = String(f.min !== undefined ? f.min : 0);
    wrap.appendChild(input);
    const hint = el("span", describeValues(f) + (f.required ? ", required" : ", optional"), "hint");
    hint.id = id + "-hint";
    wrap.appendChild(hint);
    const problem = el("span", null, "field-error");
    problem.id = id + "-error";
    problem.hidden = true;
    wrap.appendChild(problem);
    input.setAttribute("aria-describedby", hint.id + " " + problem.id);
    if (other) {
      wrap.appendChild(other);
      const note = el("span", "A category the model never saw is scored through its unknown bucket, with a warning.", "hint");
      note.id = id + "-other-note";
      note.hidden = true;
      wrap.appendChild(note);
      input.addEventListener("change", () => {
        const chosen = input.value === OTHER;
        other.hidden = !chosen;
        note.hidden = !chosen;
        if (chosen) other.focus();
      });
    }
    box.appendChild(wrap);
  }
}

function formTransaction() {
  const tx = {};
  for (const input of $("fields").querySelectorAll("input:not([id$='-other']), select")) {
    let raw = input.value.trim();
    if (input.value === OTHER) raw = $(input.id + "-other").value.trim() || "other";
    if (raw === "") { tx[input.name] = null; continue; }
    if (input.dataset.kind === "categorical") tx[input.name] = raw;
    else {
      const n = Number(raw);
      tx[input.name] = Number.isFinite(n) ? n : raw;
    }
  }
  return tx;
}

// Marks the form's fields a 422 names, and moves the focus to the first.
function markFields(details) {
  let first = null;
  for (const input of $("fields").querySelectorAll("input, select")) {
    input.removeAttribute("aria-invalid");
    input.classList.remove("invalid");
  }
  for (const box of $("fields").querySelectorAll(".field-error")) { box.textContent = ""; box.hidden = true; }
  for (const d of details || []) {
    const input = $("field-" + d.field);
    if (!input) continue;
    input.setAttribute("aria-invalid", "true");
    input.classList.add("invalid");
    const box = $("field-" + d.field + "-error");
    box.textContent = d.reason;
    box.hidden = false;
    if (!first) first = input;
  }
  if (first) first.focus();
}

function showPrediction(p) {
  const risk = $("result-risk");
  risk.textContent = p.risk_level;
  risk.className = "risk risk-" + p.risk_level;
  $("result-probability").textContent = fmtProb(p.fraud_probability);
  $("result-bar").style.width = Math.max(0, Math.min(100, p.fraud_probability * 100)) + "%";
  $("result-decision").textContent = p.is_fraud ? "1 — flagged as fraud" : "0 — not flagged";
  $("result-risk").setAttribute("aria-label", "risk level " + p.risk_level);
  $("result-threshold").textContent = fmtProb(p.threshold);
  $("result-model").textContent = p.model_version;
  const warnings = $("result-warnings");
  clear(warnings);
  for (const w of p.warnings || []) warnings.appendChild(el("li", "Warning: " + w.field + ": " + w.message));
  showExplanation(p);
  $("predict-result").hidden = false;
}

// ---- explanations: signed bars, red raises the risk, green lowers it ----

const UP = "#c62828", DOWN = "#2e7d32";

// A contribution in percentage points of fraud probability, with its sign.
function fmtContribution(c) { return (c >= 0 ? "+" : "−") + Math.abs(c * 100).toFixed(2) + " pp"; }

// One signed bar in a `width`-wide box whose middle is zero, scaled so that
// `max` fills half of it.
function signedBar(root, c, max, x0, width, y, h, cls, feature) {
  const half = width / 2;
  const w = Math.max(0.5, half * Math.abs(c) / max);
  root.appendChild(svg("rect", {
    x: (c >= 0 ? x0 + half : x0 + half - w).toFixed(1), y, width: w.toFixed(1), height: h,
    fill: c >= 0 ? UP : DOWN, class: cls + (c >= 0 ? " up" : " down"),
    "data-feature": feature, "data-contribution": c,
  }));
}

function showExplanation(p) {
  const box = $("result-explanation");
  if (!p.contributions || !p.reasons || p.base_value === undefined) { box.hidden = true; return; }
  const entries = Object.entries(p.contributions);
  const max = Math.max(1e-12, ...entries.map(([, c]) => Math.abs(c)));

  const list = $("result-reasons");
  clear(list);
  for (const r of p.reasons) {
    const item = el("li");
    item.appendChild(el("span", r.text, "reason-text"));
    const bar = svg("svg", { viewBox: "0 0 260 16", width: 260, height: 16, role: "img",
      "aria-label": r.feature + ": " + fmtContribution(r.contribution) });
    bar.appendChild(svg("line", { x1: 130, y1: 0, x2: 130, y2: 16, stroke: "#9aa6b2" }));
    signedBar(bar, r.contribution, max, 0, 260, 2, 12, "reason-bar", r.feature);
    item.appendChild(bar);
    item.appendChild(el("span", fmtContribution(r.contribution), "amount"));
    list.appendChild(item);
  }
  $("result-no-reasons").hidden = p.reasons.length > 0;

  const sum = entries.reduce((a, [, c]) => a + c, 0);
  $("result-base").textContent = "Base value " + fmtProb(p.base_value) + " (the model's average) " +
    fmtContribution(sum) + " from the features below = " + fmtProb(p.base_value + sum) + ".";

  const chart = $("contribution-chart");
  clear(chart);
  entries.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const rowH = 24, L = 170, W = 620, barW = W - L - 90;
  const H = entries.length * rowH + 10;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
    "aria-label": "each feature's contribution: " + entries.map(([n, c]) => n + " " + fmtContribution(c)).join(", ") });
  root.appendChild(svg("line", { x1: L + barW / 2, y1: 0, x2: L + barW / 2, y2: H, stroke: "#9aa6b2" }));
  entries.forEach(([name, c], i) => {
    const y = 5 + i * rowH;
    root.appendChild(svg("text", { x: L - 8, y: y + 15, "text-anchor": "end" }, name));
    signedBar(root, c, max, L, barW, y + 3, rowH - 8, "contribution-bar", name);
    root.appendChild(svg("text", { x: L + barW + 8, y: y + 15 }, fmtContribution(c)));
  });
  chart.appendChild(root);
  box.hidden = false;
}

async function onPredict(event) {
  event.preventDefault();
  const button = $("predict-submit");
  button.disabled = true;
  showError($("predict-error"), null);
  try {
    // The query parameter, not a body key, so the history keeps the
    // transaction exactly as typed.
    const p = await api("/api/predict?explain=true", { method: "POST", body: formTransaction() });
    markFields([]);
    showPrediction(p);
  } catch (err) {
    $("predict-result").hidden = true;
    showError($("predict-error"), err);
    markFields(err.details);
  } finally {
    button.disabled = false;
  }
}

// ---- batch CSV ----

function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false, i = 0;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ",") { row.push(field); field = ""; i++; continue; }
    if (c === "\r") { i++; continue; }
    if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; i++; continue; }
    field += c; i++;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ""));
}

function csvCell(v) {
  const s = v === null || v === undefined ? "" : String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

let downloadUrl = null;
let sampleUrl = null;

// A small CSV with the model's columns: the documented transaction's values
// where the model has the field, its first category otherwise.
function sampleCsv(info) {
  const names = info.schema.features.map((f) => f.name);
  const value = (f, i) => {
    if (f.kind === "categorical") {
      const choices = f.allowed_categories || f.categories || [];
      return choices.length ? choices[i % choices.length] : "";
    }
    if (DEFAULTS[f.name] !== undefined) return DEFAULTS[f.name];
    return f.kind === "flag" ? "0" : String(f.min !== undefined ? f.min : 0);
  };
  const rows = [0, 1, 2].map((i) => info.schema.features.map((f) => value(f, i)));
  return [names].concat(rows).map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
}

function offerSample(info) {
  if (sampleUrl) URL.revokeObjectURL(sampleUrl);
  sampleUrl = URL.createObjectURL(new Blob([sampleCsv(info)], { type: "text/csv" }));
  $("batch-sample").href = sampleUrl;
}

function setProgress(done, total) {
  $("batch-progress-box").hidden = false;
  const bar = $("batch-progress");
  bar.max = total;
  bar.value = done;
}

async function onBatchFile() {
  const file = $("batch-file").files[0];
  if (!file) return;
  const status = $("batch-status");
  showError($("batch-error"), null);
  $("batch-download").hidden = true;
  $("batch-summary").hidden = true;
  $("batch-progress-box").hidden = true;
  clear($("batch-table"));
  try {
    const rows = parseCsv(await file.text());
    if (rows.length < 2) throw new Error("The file needs a header row and at least one data row.");
    const header = rows[0].map((h) => h.trim());
    const data = rows.slice(1);
    const transactions = data.map((r) => {
      const tx = {};
      header.forEach((h, j) => {
        const v = (r[j] === undefined ? "" : r[j]).trim();
        tx[h] = v === "" ? null : v;
      });
      return tx;
    });
    const predictions = [];
    setProgress(0, transactions.length);
    for (let start = 0; start < transactions.length; start += BATCH_CHUNK) {
      status.textContent = "Scoring rows " + (start + 1) + "–" +
        Math.min(start + BATCH_CHUNK, transactions.length) + " of " + transactions.length + "…";
      let result;
      try {
        result = await api("/api/predict/batch", {
          method: "POST", body: { transactions: transactions.slice(start, start + BATCH_CHUNK) },
        });
      } catch (err) {
        // Row numbers in the server's answer are per chunk; say which file rows they are.
        for (const d of err.details || []) {
          d.field = d.field.replace(/^transactions\[(\d+)\]/, (_, n) => "row " + (start + Number(n) + 1));
        }
        throw err;
      }
      predictions.push(...result.predictions);
      setProgress(predictions.length, transactions.length);
    }
    // The verdict is predicted_is_fraud: a label column of the file stays as it is.
    const outHeader = header.concat(["fraud_probability", "predicted_is_fraud", "risk_level"]);
    const outRows = data.map((r, i) => header.map((_, j) => r[j] === undefined ? "" : r[j])
      .concat([predictions[i].fraud_probability, predictions[i].is_fraud, predictions[i].risk_level]));
    renderBatchTable(outHeader, outRows, predictions);
    renderBatchSummary(predictions);
    const csv = [outHeader].concat(outRows).map((r) => r.map(csvCell).join(",")).join("\n") + "\n";
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
    const link = $("batch-download");
    link.href = downloadUrl;
    link.download = file.name.replace(/\.csv$/i, "") + "-scored.csv";
    link.hidden = false;
    const flagged = predictions.filter((p) => p.is_fraud).length;
    status.textContent = "Scored " + predictions.length + " rows: " + flagged + " flagged as fraud." +
      (predictions.length > TABLE_ROWS ? " Showing the first " + TABLE_ROWS + "." : "");
  } catch (err) {
    status.textContent = "";
    $("batch-progress-box").hidden = true;
    showError($("batch-error"), err);
  }
}

// Counts by risk level, and a histogram of the probabilities in tenths.
function renderBatchSummary(predictions) {
  const table = $("batch-counts");
  clear(table);
  const head = el("tr");
  for (const h of ["risk level", "rows", "share"]) head.appendChild(el("th", h));
  table.appendChild(head);
  for (const level of ["HIGH", "MEDIUM", "LOW"]) {
    const n = predictions.filter((p) => p.risk_level === level).length;
    const tr = el("tr");
    tr.appendChild(el("td")).appendChild(el("span", level, "risk risk-" + level));
    tr.appendChild(el("td", n, "count"));
    tr.appendChild(el("td", (100 * n / predictions.length).toFixed(1) + "%"));
    table.appendChild(tr);
  }
  const bins = new Array(10).fill(0);
  for (const p of predictions) bins[Math.min(9, Math.floor(p.fraud_probability * 10))]++;
  const box = $("batch-histogram");
  clear(box);
  const W = 520, H = 210, L = 44, B = 34, T = 18;
  const most = Math.max(1, ...bins);
  const bw = (W - L - 8) / bins.length;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
    "aria-label": "histogram of fraud probabilities: " + bins.map((n, i) => (i * 10) + "–" + (i * 10 + 10) + "%: " + n).join(", ") });
  bins.forEach((n, i) => {
    const h = (H - B - T) * n / most;
    root.appendChild(svg("rect", { x: (L + i * bw + 2).toFixed(1), y: (H - B - h).toFixed(1), width: (bw - 4).toFixed(1),
      height: h.toFixed(1), fill: "#3d6fa8", class: "histogram-bar", "data-count": n }));
    root.appendChild(svg("text", { x: (L + i * bw + bw / 2).toFixed(1), y: H - B + 14, "text-anchor": "middle" }, i * 10 + "%"));
    if (n) root.appendChild(svg("text", { x: (L + i * bw + bw / 2).toFixed(1), y: (H - B - h - 3).toFixed(1), "text-anchor": "middle" }, n));
  });
  root.appendChild(svg("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle" }, "fraud probability"));
  box.appendChild(root);
  $("batch-summary").hidden = false;
}

function renderBatchTable(header, rows, predictions) {
  const table = $("batch-table");
  clear(table);
  const head = el("tr");
  for (const h of header) head.appendChild(el("th", h));
  table.appendChild(head);
  rows.slice(0, TABLE_ROWS).forEach((r, i) => {
    const tr = el("tr");
    r.forEach((v, j) => {
      if (j === r.length - 3) tr.appendChild(el("td", fmtProb(Number(v))));
      else if (j === r.length - 1) tr.appendChild(el("td")).appendChild(el("span", v, "risk risk-" + predictions[i].risk_level));
      else tr.appendChild(el("td", v));
    });
    table.appendChild(tr);
  });
}

// ---- history ----

// The filter form's query parameters.
function historyFilters() {
  const params = new URLSearchParams();
  const risk = $("filter-risk").value, fraud = $("filter-fraud").value;
  const since = $("filter-since").value, until = $("filter-until").value;
  if (risk) params.set("risk_level", risk);
  if (fraud) params.set("is_fraud", fraud);
  if (since) params.set("since", since);
  if (until) params.set("until", until);
  return params;
}

const HISTORY_COLUMNS = ["fields", "#", "time", "transaction", "probability", "risk", "decision", "model", "shadow", "label", "latency"];

// One history row, and a hidden row below it with the transaction's fields.
function historyRows(r) {
  const tr = el("tr");
  const detailsId = "history-details-" + r.id;
  const toggle = el("button", "Show", "toggle");
  toggle.type = "button";
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", detailsId);
  toggle.setAttribute("aria-label", "Show the fields of prediction " + r.id);
  tr.appendChild(el("td")).appendChild(toggle);
  tr.appendChild(el("td", r.id));
  tr.appendChild(el("td", r.timestamp));
  tr.appendChild(el("td", r.transaction_id === null ? "" : r.transaction_id));
  tr.appendChild(el("td", fmtProb(r.fraud_probability)));
  tr.appendChild(el("td")).appendChild(el("span", r.risk_level, "risk risk-" + r.risk_level));
  tr.appendChild(el("td", r.is_fraud ? "1 (flagged)" : "0"));
  tr.appendChild(el("td", r.model_version));
  // The shadow model's score of the same transaction, when one was set.
  const shadow = tr.appendChild(el("td", r.shadow_probability == null ? "" : fmtProb(r.shadow_probability), "shadow"));
  if (r.shadow_version != null) shadow.title = "shadow model " + r.shadow_version;
  // The true class, once someone labelled it (POST /api/feedback).
  const label = tr.appendChild(el("td", r.label == null ? "" : r.label ? "1 (fraud)" : "0 (legitimate)", "label"));
  if (r.label != null) label.title = "labelled" + (r.labelled_by ? " by " + r.labelled_by : "") + (r.labelled_at ? " at " + r.labelled_at : "");
  tr.appendChild(el("td", r.latency_ms.toFixed(3) + " ms"));
  const details = el("tr", null, "details");
  details.id = detailsId;
  details.hidden = true;
  const cell = el("td");
  cell.colSpan = HISTORY_COLUMNS.length;
  cell.appendChild(el("pre", JSON.stringify(r.features, null, 2), "features"));
  details.appendChild(cell);
  toggle.addEventListener("click", () => {
    details.hidden = !details.hidden;
    toggle.textContent = details.hidden ? "Show" : "Hide";
    toggle.setAttribute("aria-label", toggle.textContent + " the fields of prediction " + r.id);
    toggle.setAttribute("aria-expanded", String(!details.hidden));
  });
  return [tr, details];
}

async function loadHistory() {
  showError($("history-error"), null);
  // Until the answer comes, the old status would describe rows that are
  // about to be replaced.
  $("history-status").textContent = "Loading…";
  try {
    const params = historyFilters();
    params.set("limit", HISTORY_PAGE);
    params.set("offset", historyOffset);
    const page = await api("/api/predictions?" + params.toString());
    const table = $("history-table");
    clear(table);
    const head = el("tr");
    for (const h of HISTORY_COLUMNS) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const r of page.predictions) for (const row of historyRows(r)) table.appendChild(row);
    const last = Math.min(page.offset + page.predictions.length, page.total);
    $("history-status").textContent = page.total === 0 ? "No predictions match." :
      "Showing " + (page.offset + 1) + "–" + last + " of " + page.total + ", newest first.";
    $("history-newer").disabled = historyOffset === 0;
    $("history-older").disabled = last >= page.total;
  } catch (err) {
    showError($("history-error"), err);
  }
}

// ---- model ----

// xs and ys: the curve's two coordinate arrays (fpr/tpr, recall/precision).
function lineChart(box, xs, ys, xLabel, yLabel, marker) {
  clear(box);
  if (!xs || !xs.length) { box.appendChild(el("p", "No out-of-bag curve in this model.", "muted")); return; }
  const W = 360, H = 300, L = 48, B = 40, T = 10, R = 12;
  const sx = (x) => L + x * (W - L - R);
  const sy = (y) => H - B - y * (H - B - T);
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
    "aria-label": yLabel + " against " + xLabel });
  root.appendChild(svg("rect", { x: L, y: T, width: W - L - R, height: H - B - T, fill: "#fafbfc", stroke: "#c9d1da" }));
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    root.appendChild(svg("line", { x1: sx(t), y1: sy(0), x2: sx(t), y2: sy(1), stroke: "#eceff3" }));
    root.appendChild(svg("line", { x1: sx(0), y1: sy(t), x2: sx(1), y2: sy(t), stroke: "#eceff3" }));
    root.appendChild(svg("text", { x: sx(t), y: H - B + 14, "text-anchor": "middle" }, t));
    root.appendChild(svg("text", { x: L - 6, y: sy(t) + 4, "text-anchor": "end" }, t));
  }
  root.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle" }, xLabel));
  root.appendChild(svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", transform: "rotate(-90 12 " + (T + H - B) / 2 + ")" }, yLabel));
  const d = xs.map((x, i) => (i ? "L" : "M") + sx(x).toFixed(1) + " " + sy(ys[i]).toFixed(1)).join(" ");
  root.appendChild(svg("path", { d, fill: "none", stroke: "#1f3a5f", "stroke-width": 2, class: "curve" }));
  if (marker) {
    root.appendChild(svg("circle", { cx: sx(marker[0]), cy: sy(marker[1]), r: 5, fill: "#c62828", class: "operating-point" }));
  }
  box.appendChild(root);
}

function importanceChart(box, features) {
  clear(box);
  const sorted = features.slice().sort((a, b) => b.importance - a.importance);
  const max = Math.max(1e-9, ...sorted.map((f) => f.importance));
  const rowH = 24, L = 170, W = 620;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + (sorted.length * rowH + 10), width: W, height: sorted.length * rowH + 10, role: "img",
    "aria-label": "importance of each feature: " + sorted.map((f) => f.name + " " + f.importance.toFixed(4)).join(", ") });
  sorted.forEach((f, i) => {
    const y = 5 + i * rowH;
    const w = (W - L - 70) * f.importance / max;
    root.appendChild(svg("text", { x: L - 8, y: y + 15, "text-anchor": "end" }, f.name));
    root.appendChild(svg("rect", { x: L, y: y + 3, width: w.toFixed(1), height: rowH - 8, fill: "#3d6fa8", class: "importance-bar" }));
    root.appendChild(svg("text", { x: L + w + 6, y: y + 15 }, f.importance.toFixed(4)));
  });
  box.appendChild(root);
}

async function showModel() {
  showError($("model-error"), null);
  try {
    const m = await loadModel(true);
    const summary = $("model-summary");
    clear(summary);
    const facts = [
      ["Version", m.model_version], ["Created", m.created], ["Engine", m.engine_version],
      ["Trees", m.n_trees], ["Training rows", m.training_rows + " (" + m.training_frauds + " frauds)"],
      ["Threshold", m.threshold.toFixed(4) + " (" + m.threshold_strategy + ")"],
      ["Risk bands", "MEDIUM from " + m.risk_bands.medium.toFixed(4) + ", HIGH from " + m.risk_bands.high.toFixed(4)],
    ];
    for (const [k, v] of facts) { summary.appendChild(el("dt", k)); summary.appendChild(el("dd", v)); }
    const table = $("model-metrics");
    clear(table);
    const e = m.oob_metrics;
    if (e) {
      const fmt = (x) => (x === null || x === undefined) ? "n/a" : Number(x).toFixed(4);
      const rows = [["ROC-AUC", fmt(e.roc_auc)], ["PR-AUC", fmt(e.pr_auc)], ["Precision", fmt(e.precision)],
        ["Recall", fmt(e.recall)], ["F1", fmt(e.f1)], ["False-positive rate", fmt(e.false_positive_rate)],
        ["Log loss", fmt(e.log_loss)], ["Brier", fmt(e.brier)], ["Rows", e.rows], ["Frauds", e.frauds]];
      for (const [k, v] of rows) { const tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", v)); table.appendChild(tr); }
    } else {
      table.appendChild(el("tr")).appendChild(el("td", "No out-of-bag rows."));
    }
    importanceChart($("importance-chart"), m.schema.features);
    const roc = m.roc_curve || {}, pr = m.pr_curve || {};
    lineChart($("roc-chart"), roc.fpr, roc.tpr, "false-positive rate", "true-positive rate",
      e ? [e.false_positive_rate, e.recall] : null);
    lineChart($("pr-chart"), pr.recall, pr.precision, "recall", "precision", e ? [e.recall, e.precision] : null);
  } catch (err) {
    showError($("model-error"), err);
  }
}

// ---- drift ----

// A PSI as a bar on a scale to 0.5 (longer values are drawn full), with
// the band boundaries 0.1 and 0.25 marked.
function psiBar(psi, band) {
  const W = 160, H = 14, full = 0.5;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img",
    "aria-label": "PSI " + psi.toFixed(4) + ", " + band });
  root.appendChild(svg("rect", { x: 0, y: 2, width: W, height: H - 4, fill: "#e8edf2" }));
  const w = Math.max(1, Math.min(1, psi / full) * W);
  root.appendChild(svg("rect", { x: 0, y: 2, width: w.toFixed(1), height: H - 4, class: "psi-bar psi-" + band }));
  for (const edge of [0.1, 0.25]) {
    const x = (edge / full * W).toFixed(1);
    root.appendChild(svg("line", { x1: x, y1: 0, x2: x, y2: H, stroke: "#1d2733", "stroke-dasharray": "2 2" }));
  }
  return root;
}

function driftRow(p, isScore) {
  const tr = el("tr", null, isScore ? "drift-score" : "");
  tr.appendChild(el("th", isScore ? "score (the model's probability)" : p.feature));
  tr.appendChild(el("td", p.psi.toFixed(4), "psi"));
  tr.appendChild(el("td")).appendChild(el("span", p.band, "band band-" + p.band));
  tr.appendChild(el("td")).appendChild(psiBar(p.psi, p.band));
  tr.appendChild(el("td", p.top_moving_bins.map((b) =>
    b.bin + ": " + fmtProb(b.expected) + " \u2192 " + fmtProb(b.actual)).join("; ")));
  return tr;
}

async function showDrift() {
  showError($("drift-error"), null);
  try {
    const r = await api("/api/drift");
    const w = r.window;
    $("drift-status").textContent = w.transactions === 0
      ? "No transactions scored by model " + r.model_version + " yet (the window holds the latest " + w.capacity + ")."
      : w.transactions + " of the latest " + w.capacity + " transactions scored by model " + r.model_version +
        ", from " + w.from + " to " + w.to + ".";
    const table = $("drift-table");
    clear(table);
    if (w.transactions === 0) return;
    const head = el("tr");
    for (const h of ["feature", "PSI", "band", "PSI on a scale to 0.5", "most moved (training share \u2192 now)"]) head.appendChild(el("th", h));
    table.appendChild(head);
    for (const p of r.features) table.appendChild(driftRow(p, false));
    table.appendChild(driftRow(r.score, true));
  } catch (err) {
    showError($("drift-error"), err);
  }
}

// ---- navigation ----

const PAGES = ["predict", "batch", "history", "model", "drift"];

function route() {
  const asked = location.hash.slice(1);
  // No hash is the score page; a hash that names no page says so.
  const name = asked === "" ? "predict" : asked;
  const known = PAGES.includes(name);
  for (const p of PAGES) {
    $("page-" + p).hidden = p !== name;
    const link = $("nav-" + p);
    link.classList.toggle("active", p === name);
    if (p === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  $("page-missing").hidden = known;
  if (!known) $("missing-name").textContent = "#" + name;
  if (name === "history") loadHistory();
  if (name === "model") showModel();
  if (name === "drift") showDrift();
}

async function start() {
  const keyInput = $("api-key");
  keyInput.value = sessionStorage.getItem("apiKey") || "";
  keyInput.addEventListener("change", () => {
    sessionStorage.setItem("apiKey", keyInput.value);
    init();
  });
  // The skip link moves the focus without changing the page.
  document.querySelector(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("main").focus();
  });
  $("predict-form").addEventListener("submit", onPredict);
  $("batch-file").addEventListener("change", onBatchFile);
  $("history-refresh").addEventListener("click", loadHistory);
  $("drift-refresh").addEventListener("click", showDrift);
  $("history-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    historyOffset = 0;
    loadHistory();
  });
  $("history-newer").addEventListener("click", () => { historyOffset = Math.max(0, historyOffset - HISTORY_PAGE); loadHistory(); });
  $("history-older").addEventListener("click", () => { historyOffset += HISTORY_PAGE; loadHistory(); });
  window.addEventListener("hashchange", route);
  route();
  init();
}

async function init() {
  showError($("global-error"), null);
  try {
    const info = await loadModel(true);
    buildForm(info);
    offerSample(info);
    document.body.dataset.ready = "true";
  } catch (err) {
    showError($("global-error"), err);
    if (err.status === 503) setTimeout(init, 1000);
  }
}

start();
