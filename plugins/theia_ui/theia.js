// Theia page: plain JS, no build step; charts are inline SVG drawn here.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const FLOW_TYPES = { 1: "Intra-Node", 2: "Inter-Node", 3: "To External", 4: "From External" };
const PROTOCOLS = { 6: "TCP", 17: "UDP", 132: "SCTP", 1: "ICMP", 58: "ICMPv6" };
const ACTIONS = { 0: "", 1: "Allow", 2: "Drop", 3: "Reject" };
// Namespace-allow and cluster-wide reject policies come from the run's parameters, not flows.
const STATIC_POLICY = "— (set by parameters)";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function status(text) { document.getElementById("status").textContent = text || ""; }

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0, v = Number(n);
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return (i ? v.toFixed(1) : v) + " " + units[i];
}

// Times as the API sends them (ISO 8601, any offset) shown to the second, in UTC, labelled
// (table cells leave the label to their column header).
function when(iso, label = true) {
  if (!iso) return "";
  const t = new Date(iso);
  if (isNaN(t)) return iso;
  return t.toISOString().slice(0, 19).replace("T", " ") + (label ? " UTC" : "");
}

// A recommendation run's approval before it became latest (empty when none was asked).
function approvalText(r) {
  const by = r.reviewer ? ` by ${r.reviewer}` : "";
  return { pending: "awaiting approval", approved: "approved" + by, rejected: "rejected" + by,
           timed_out: "rejected: no answer in time" }[r.approval] || "";
}

// The window a view covers, as the API resolved it.
function windowText(w) { return w ? `${when(w.start)} – ${when(w.end)}` : ""; }

function scopeParams() {
  const form = document.getElementById("scope");
  const out = { start: form.start.value, end: form.end.value };
  if (form.cluster.value) out.cluster = form.cluster.value;
  return out;
}

async function api(path, params) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== "" && v !== null && v !== undefined) query.set(k, v);
  const url = "api/" + path + (query.toString() ? "?" + query : "");
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    let detail = response.statusText;
    try { detail = JSON.stringify((await response.json()).detail); } catch (e) { /* not JSON */ }
    throw new Error(path + ": HTTP " + response.status + " " + detail);
  }
  return response.json();
}

function table(columns, rows, onRowClick) {
  const head = el("tr", {}, ...columns.map(c => el("th", {}, c.label)));
  const body = rows.map(row => {
    const tr = el("tr", onRowClick ? { class: "clickable" } : {},
      ...columns.map(c => {
        const value = c.render ? c.render(row) : row[c.key];
        return el("td", c.cls ? { class: c.cls(row) || "" } : {}, value instanceof Node ? value : (value ?? ""));
      }));
    if (onRowClick) tr.addEventListener("click", () => {
      tr.parentNode.querySelectorAll("tr.selected").forEach(r => r.classList.remove("selected"));
      tr.classList.add("selected");
      onRowClick(row);
    });
    return tr;
  });
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function card(label, value, id) {
  return el("div", { class: "card", id: id || "" }, el("div", { class: "value" }, value), el("div", { class: "label" }, label));
}

function replace(id, ...nodes) { const node = document.getElementById(id); node.replaceChildren(...nodes); return node; }

// --- Overview ---------------------------------------------------------------------------

async function loadOverview() {
  const [data, recs, anomalies] = await Promise.all([
    api("overview", scopeParams()), api("recommendations", { limit: 1 }).catch(() => ({ runs: [] })),
    api("anomalies", { ...scopeParams(), limit: 5 }).catch(() => ({ anomalies: [] })),
  ]);
  const f = data.flows, g = data.ingestion;
  replace("overview-cards",
    card("flow records", f.flow_records), card("bytes", bytes(f.bytes)), card("pods", f.pods),
    card("namespaces", f.namespaces), card("services", f.services), card("clusters", f.clusters),
    card("denied flows", f.denied_flows), card("flows without policy", f.unprotected_flows),
    card("newest flow", when(f.last_flow_end)));
  replace("ingestion-cards",
    card("files loaded", g.files_loaded), card("rows loaded", g.rows_loaded),
    card("rows rejected", g.rows_rejected), card("last load", when(g.last_loaded_at)));
  const latest = [];
  if (recs.runs.length) {
    const r = recs.runs[0];
    latest.push(el("p", { id: "latest-recommendation" }, "Latest policy recommendation: ",
      el("strong", {}, r.run_id), ` (${[r.status, approvalText(r)].filter(Boolean).join(", ")}, ${r.policy_count ?? 0} policies, ${when(r.started_at)})`));
  } else latest.push(el("p", {}, "No policy recommendation run yet."));
  if (anomalies.anomalies.length) {
    latest.push(el("p", { id: "latest-anomalies" }, "Recent drop anomalies: ",
      ...anomalies.anomalies.map(a => el("span", { class: "denied" }, `${a.endpoint} (${a.direction}, ${a.anomaly_date}) `))));
  } else latest.push(el("p", {}, `No drop anomaly in ${windowText(anomalies.window) || "this window"}.`));
  replace("overview-latest", ...latest);
}

// --- Flow records -------------------------------------------------------------------------

function endpoint(ns, pod, ip, port) {
  return (pod ? ns + "/" + pod : ip) + (port ? ":" + port : "");
}

async function loadFlows() {
  const form = document.getElementById("flow-filters");
  const params = { ...scopeParams() };
  for (const name of ["namespace", "pod", "protocol", "flow_type", "action", "limit"]) params[name] = form[name].value;
  const data = await api("flows", params);
  const verdict = r => [r.ingress_action, r.egress_action].some(a => a === 2 || a === 3);
  replace("flow-table", el("p", {}, `${data.flows.length} flow records (newest first)`), table([
    { label: "flow end (UTC)", render: r => when(r.flow_end, false), cls: () => "nowrap" },
    { label: "source", render: r => endpoint(r.source_namespace, r.source_pod, r.source_ip, r.source_port) },
    { label: "destination", render: r => endpoint(r.destination_namespace, r.destination_pod, r.destination_ip, r.destination_port) },
    { label: "service", key: "destination_service" },
    { label: "protocol", render: r => PROTOCOLS[r.protocol] || r.protocol, cls: () => "nowrap" },
    { label: "type", render: r => FLOW_TYPES[r.flow_type] || r.flow_type, cls: () => "nowrap" },
    { label: "bytes", render: r => bytes(r.bytes), cls: () => "nowrap" },
    { label: "reverse", render: r => bytes(r.reverse_bytes), cls: () => "nowrap" },
    { label: "ingress policy", render: r => (r.ingress_policy || "") + (ACTIONS[r.ingress_action] ? " (" + ACTIONS[r.ingress_action] + ")" : ""), cls: r => verdict(r) ? "denied" : "" },
    { label: "egress policy", render: r => (r.egress_policy || "") + (ACTIONS[r.egress_action] ? " (" + ACTIONS[r.egress_action] + ")" : ""), cls: r => verdict(r) ? "denied" : "" },
  ], data.flows));
}

// --- Pod-to-pod: Sankey and namespace matrix ------------------------------------------------

// Node heights follow bytes, but every node gets at least one label's height, so labels of
// small neighbours (pods of one workload) never overlap; long names are cut, with a tooltip.
const SANKEY_LABEL = 14, SANKEY_LABEL_CHARS = 38;

function cutLabel(attrs, name, chars) {
  const text = name.length > chars ? name.slice(0, chars - 1) + "…" : name;
  return svg("text", attrs, svg("title", {}, name), text);
}

function sankeyLabel(attrs, name) { return cutLabel(attrs, name, SANKEY_LABEL_CHARS); }

function sankey(edges) {
  const width = 960, pad = 4, flowHeight = 480;
  const total = edges.reduce((s, e) => s + e.bytes, 0) || 1;
  const scale = flowHeight / total;  // px per byte, the same on both sides
  const side = key => {
    const sums = new Map();
    for (const e of edges) sums.set(e[key], (sums.get(e[key]) || 0) + e.bytes);
    const names = [...sums.keys()].sort((a, b) => sums.get(b) - sums.get(a) || (a < b ? -1 : 1));
    const pos = new Map(); let y = pad;
    for (const n of names) {
      const h = Math.max(1, scale * sums.get(n)), slot = Math.max(h, SANKEY_LABEL);
      pos.set(n, { y: y + (slot - h) / 2, h, mid: y + slot / 2, used: 0 });
      y += slot + pad;
    }
    pos.bottom = y;
    return pos;
  };
  const left = side("source"), right = side("destination");
  const height = Math.max(200, left.bottom, right.bottom);
  const x0 = 260, x1 = width - 260;
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "sankey-svg" });
  for (const e of edges) {
    const a = left.get(e.source), b = right.get(e.destination);
    const h = Math.max(1, scale * e.bytes);
    const ya = a.y + a.used + h / 2, yb = b.y + b.used + h / 2; a.used += h; b.used += h;
    const path = svg("path", { d: `M${x0},${ya} C${(x0 + x1) / 2},${ya} ${(x0 + x1) / 2},${yb} ${x1},${yb}`,
      fill: "none", stroke: "#457b9d", "stroke-opacity": 0.45, "stroke-width": h });
    path.append(svg("title", {}, `${e.source} → ${e.destination}: ${bytes(e.bytes)}, ${e.flows} flows`));
    root.append(path);
  }
  for (const [name, p] of left) {
    root.append(svg("rect", { x: x0 - 8, y: p.y, width: 8, height: p.h, fill: "#1d3557" }));
    root.append(sankeyLabel({ x: x0 - 12, y: p.mid + 4, "text-anchor": "end", class: "sankey-source" }, name));
  }
  for (const [name, p] of right) {
    root.append(svg("rect", { x: x1, y: p.y, width: 8, height: p.h, fill: "#e63946" }));
    root.append(sankeyLabel({ x: x1 + 12, y: p.mid + 4, class: "sankey-destination" }, name));
  }
  return root;
}

function matrixCellText(c) {
  return `${c.source_namespace} → ${c.destination_namespace}: ${bytes(c.bytes)}, ${c.flows} flows, ${c.denied_flows} denied`;
}

function matrix(data) {
  const names = data.namespaces, cell = 34, margin = 130;
  const size = margin + cell * names.length + 10;
  const max = Math.max(1, ...data.cells.map(c => c.bytes));
  const root = svg("svg", { width: size, height: size, id: "matrix-svg" });
  const readout = el("p", { id: "matrix-readout" }, "Hover over a cell for its bytes and flows.");
  root.append(svg("text", { x: 2, y: 12, class: "axis" }, "source ↓  destination →"));
  names.forEach((n, i) => {
    const label = n ?? "(none)";
    root.append(cutLabel({ x: margin - 6, y: margin + i * cell + cell / 2 + 4, "text-anchor": "end" }, label, 20));
    root.append(cutLabel({ x: margin + i * cell + cell / 2, y: margin - 6, transform: `rotate(-45 ${margin + i * cell + cell / 2} ${margin - 6})` }, label, 20));
  });
  for (const c of data.cells) {
    const i = names.indexOf(c.source_namespace), j = names.indexOf(c.destination_namespace);
    const rect = svg("rect", { x: margin + j * cell, y: margin + i * cell, width: cell - 2, height: cell - 2,
      fill: c.denied_flows ? "#e63946" : "#1d3557", "fill-opacity": 0.15 + 0.85 * c.bytes / max, class: "matrix-cell" });
    rect.append(svg("title", {}, matrixCellText(c)));
    rect.addEventListener("mouseenter", () => { readout.textContent = matrixCellText(c); });
    root.append(rect);
  }
  return el("div", {}, root, readout, matrixLegend(max), data.truncated ? el("p", {}, "Only the largest namespace pairs are shown.") : null);
}

function matrixLegend(max) {
  const width = 220, root = svg("svg", { width: width + 260, height: 44, id: "matrix-legend" });
  const gradient = svg("linearGradient", { id: "matrix-scale" },
    svg("stop", { offset: "0", "stop-color": "#1d3557", "stop-opacity": 0.15 }),
    svg("stop", { offset: "1", "stop-color": "#1d3557", "stop-opacity": 1 }));
  root.append(svg("defs", {}, gradient));
  root.append(svg("rect", { x: 0, y: 4, width, height: 12, fill: "url(#matrix-scale)" }));
  root.append(svg("text", { x: 0, y: 30 }, "0 B"));
  root.append(svg("text", { x: width, y: 30, "text-anchor": "end" }, bytes(max)));
  root.append(svg("text", { x: width / 2, y: 42, "text-anchor": "middle" }, "bytes, both directions"));
  root.append(svg("rect", { x: width + 20, y: 4, width: 12, height: 12, fill: "#e63946" }));
  root.append(svg("text", { x: width + 38, y: 14 }, "some flows denied"));
  return root;
}

async function loadPods() {
  const [edges, mat] = await Promise.all([api("pod-edges", { ...scopeParams(), limit: 40 }), api("namespace-matrix", scopeParams())]);
  replace("sankey", edges.edges.length ? sankey(edges.edges) : el("p", {}, "No pod-to-pod traffic in this window."));
  replace("matrix", mat.cells.length ? matrix(mat) : el("p", {}, "No namespace traffic in this window."));
}

// --- Policy recommendations ---------------------------------------------------------------

// The impact preview: what the run's set would deny of a longer window, and the verdicts that
// change against the published set.
function previewParts(preview) {
  const s = preview.summary;
  if (!s) return [el("h3", {}, "Impact preview"), el("p", { id: "preview-summary" }, "No preview for this run (preview_days 0).")];
  const v = s.verdicts;
  const end = (ns, labels, ip) => ns ? `${ns}/${labels || "{}"}` : (ip || "");
  return [
    el("h3", {}, `Impact preview: ${s.days} days, ${when(s.window_start)} – ${when(s.window_end)}`),
    el("p", { id: "preview-summary" }, `${s.denied_tuples} of ${s.tuples} flow tuples would be denied (${s.denied_flows} flows, ${bytes(s.denied_bytes)}); ` +
      `against ${v.previous_run_id ? "the published run " + v.previous_run_id : "no published set"}: ${v.newly_denied} newly denied, ${v.newly_allowed} newly allowed`),
    table([
      { label: "verdict", key: "verdict", cls: r => r.denied ? "denied" : "added" },
      { label: "direction", key: "direction" },
      { label: "source", render: r => end(r.src_namespace, r.src_labels, r.src_ip) },
      { label: "destination", render: r => r.service ? "service " + r.service : end(r.dst_namespace, r.dst_labels, r.dst_ip) },
      { label: "port", render: r => `${r.port}/${r.protocol}` },
      { label: "flows", key: "flow_count" }, { label: "bytes", render: r => bytes(r.bytes) },
      { label: "last seen (UTC)", render: r => when(r.last_seen, false) },
      { label: "denied by", render: r => r.denied ? `${r.policy}${r.rule_index == null ? " (" + r.reason + ")" : " rule " + r.rule_index}` : "(was: " + (r.previous_policy || "") + ")" },
    ], preview.rows),
    ...(preview.rows.length >= preview.limit ? [el("p", {}, `First ${preview.limit} shown; all are in RECOMMENDATION_PREVIEW.`)] : []),
  ];
}

async function showRun(run) {
  const [detail, diff, preview] = await Promise.all([api("recommendations/" + encodeURIComponent(run.run_id)),
    api("recommendations/" + encodeURIComponent(run.run_id) + "/diff"),
    api("recommendations/" + encodeURIComponent(run.run_id) + "/preview", { limit: 100 })]);
  const d = detail.diff_counts;
  const parts = [
    el("h2", {}, "Run ", el("span", { id: "run-id" }, detail.run_id)),
    el("p", { id: "run-summary" }, `${detail.policy_type}, ${[detail.status, approvalText(detail)].filter(Boolean).join(", ")}, window ${when(detail.window_start)} – ${when(detail.window_end)}, ` +
      `${detail.flow_count ?? 0} flows, ${detail.policy_count ?? 0} policies `,
      el("a", { href: "api/recommendations/" + encodeURIComponent(detail.run_id) + "/yaml", id: "yaml-download", download: "" }, "Download YAML")),
  ];
  if (detail.error) parts.push(el("p", { class: "denied" }, detail.error));
  if (detail.warnings && detail.warnings.length) parts.push(el("p", {}, "Warnings: " + detail.warnings.join("; ")));
  parts.push(el("h3", {}, "Policies by namespace"), table([
    { label: "namespace", render: r => r.namespace || "(cluster-scoped)" }, { label: "kind", key: "kind" }, { label: "policies", key: "policies" },
  ], detail.namespaces));
  parts.push(el("h3", {}, "Policies"), table([
    { label: "kind", key: "kind" }, { label: "namespace", key: "namespace" }, { label: "name", key: "name" },
    { label: "rules", render: r => r.basis === "parameters" ? STATIC_POLICY : r.rule_count },
    { label: "flows", render: r => r.basis === "parameters" ? STATIC_POLICY : r.flow_count },
    { label: "bytes", render: r => r.basis === "parameters" ? STATIC_POLICY : bytes(r.bytes) },
    { label: "last seen (UTC)", render: r => when(r.last_seen, false) },
  ], detail.policies, p => showEvidence(detail.run_id, p)));
  parts.push(el("div", { id: "policy-evidence" }, el("p", {}, "Select a policy to see the peers of its rules with their evidence.")));
  parts.push(el("h3", {}, "Diff against the previous run" + (diff.previous_run_id ? " " + diff.previous_run_id : " (none: first run with these parameters)")));
  parts.push(el("p", { id: "diff-counts" }, `added ${diff.added.length}, removed ${diff.removed.length}, changed ${diff.changed.length}, unchanged ${diff.unchanged}` +
    (d ? ` (stored: +${d.added} −${d.removed} ~${d.changed})` : "")));
  for (const k of diff.added) parts.push(el("div", { class: "added" }, "+ " + k));
  for (const k of diff.removed) parts.push(el("div", { class: "removed" }, "− " + k));
  for (const c of diff.changed) parts.push(el("pre", {}, c.diff));
  parts.push(...previewParts(preview));
  const yaml = await fetch("api/recommendations/" + encodeURIComponent(run.run_id) + "/yaml", { credentials: "same-origin" });
  parts.push(el("h3", {}, "YAML"), el("pre", { id: "policy-yaml" }, yaml.ok ? await yaml.text() : "HTTP " + yaml.status));
  replace("recommendation-detail", ...parts);
}

// A policy's rules, each with its peers busiest first and the flows behind each peer.
async function showEvidence(runId, policy) {
  const params = { kind: policy.kind, name: policy.name, top: 20 };
  if (policy.namespace) params.namespace = policy.namespace;
  const data = await api("recommendations/" + encodeURIComponent(runId) + "/evidence", params);
  const parts = [el("h3", {}, "Evidence: " + (policy.namespace ? policy.namespace + "/" : "") + policy.name)];
  if (!data.rules.length) parts.push(el("p", {}, "No observed flows behind this policy (a static or reject policy)."));
  for (const rule of data.rules) {
    const shown = rule.peers.length < rule.peer_count ? ` (busiest ${rule.peers.length} of ${rule.peer_count} peers)` : ` (${rule.peer_count} peers)`;
    parts.push(el("h4", {}, `${rule.direction} rule ${rule.rule}${shown}`), table([
      { label: "peer", key: "peer" }, { label: "flows", key: "flow_count" }, { label: "bytes", render: p => bytes(p.bytes) },
      { label: "first seen (UTC)", render: p => when(p.first_seen, false) }, { label: "last seen (UTC)", render: p => when(p.last_seen, false) },
    ], rule.peers));
  }
  replace("policy-evidence", ...parts);
}

async function loadRecommendations() {
  const data = await api("recommendations", { limit: 20 });
  if (!data.runs.length) { replace("recommendation-runs", el("p", {}, "No policy recommendation run yet: trigger the theia_policy_recommendation DAG.")); replace("recommendation-detail"); return; }
  replace("recommendation-runs", el("h2", {}, "Runs"), table([
    { label: "run", key: "run_id" }, { label: "type", key: "policy_type" }, { label: "status", key: "status" },
    { label: "approval", render: approvalText },
    { label: "started (UTC)", render: r => when(r.started_at, false) }, { label: "policies", key: "policy_count" },
    { label: "flows", key: "flow_count" },
    { label: "diff", render: r => r.diff ? `+${r.diff.added} −${r.diff.removed} ~${r.diff.changed}` : "" },
  ], data.runs, showRun));
  document.querySelector("#recommendation-runs tbody tr").classList.add("selected");
  await showRun(data.runs[0]);
}

// --- Drop anomalies -----------------------------------------------------------------------

function barChart(series, highlight) {
  const width = 900, height = 220, left = 40, bottom = 40;
  const max = Math.max(1, ...series.map(p => p.drops));
  const step = (width - left) / Math.max(1, series.length);
  const root = svg("svg", { width, height, id: "series-svg" });
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#57606a" }));
  root.append(svg("text", { x: 2, y: 12 }, String(max)));
  series.forEach((p, i) => {
    const h = (height - bottom - 20) * p.drops / max;
    const bar = svg("rect", { x: left + i * step + 1, y: height - bottom - h, width: Math.max(1, step - 2), height: h,
      fill: p.day === highlight ? "#e63946" : "#457b9d" });
    bar.append(svg("title", {}, `${p.day}: ${p.drops} dropped flows`));
    root.append(bar);
    if (series.length <= 31 || i % Math.ceil(series.length / 31) === 0)
      root.append(svg("text", { x: left + i * step, y: height - bottom + 14, transform: `rotate(45 ${left + i * step} ${height - bottom + 14})` }, p.day.slice(5)));
  });
  return root;
}

async function showAnomaly(a) {
  const params = { ...scopeParams(), endpoint: a.endpoint, direction: a.direction, granularity: a.granularity };
  const anomalyDay = new Date(a.anomaly_date + "T00:00:00Z");
  params.start = new Date(anomalyDay.getTime() - 20 * 86400000).toISOString().replace(/\.\d{3}Z$/, "Z");
  params.end = new Date(Math.min(anomalyDay.getTime() + 5 * 86400000, Date.now())).toISOString().replace(/\.\d{3}Z$/, "Z");
  const data = await api("anomalies/series", params);
  const rules = (a.attribution && a.attribution.rules) || [];
  replace("anomaly-series",
    el("h3", {}, `Daily dropped flows (UTC days): ${a.endpoint} (${a.direction})`), barChart(data.series, a.anomaly_date),
    el("p", {}, `Top rules: `, rules.length ? rules.slice(0, 5).map(r => `${r.policy_namespace ? r.policy_namespace + "/" : ""}${r.policy_name} ${r.rule_name || ""} (${r.drops})`).join(", ") : (a.top_policy || "unknown")));
}

async function loadAnomalies() {
  const [data, runs] = await Promise.all([api("anomalies", { ...scopeParams(), limit: 200 }), api("drop-runs", { limit: 10 })]);
  replace("drop-runs", table([
    { label: "run", key: "run_id" }, { label: "method", key: "method" }, { label: "status", key: "status" },
    { label: "window (UTC)", render: r => `${when(r.window_start, false)} – ${when(r.window_end, false)}` },
    { label: "dropped flows", key: "dropped_flows" }, { label: "anomalies", key: "anomaly_count" },
  ], runs.runs));
  const span = windowText(data.window);
  if (!data.anomalies.length) { replace("anomaly-table", el("p", { id: "anomaly-window" }, `No drop anomaly in ${span} (days the From/To window touches).`)); replace("anomaly-series"); return; }
  replace("anomaly-table", el("h2", {}, "Anomalies"), el("p", { id: "anomaly-window" }, `Days the From/To window touches: ${span}`), table([
    { label: "day (UTC)", key: "anomaly_date" }, { label: "endpoint", key: "endpoint" }, { label: "direction", key: "direction" },
    { label: "drops", key: "drop_count" }, { label: "baseline", render: r => r.baseline_mean === null ? "" : Number(r.baseline_mean).toFixed(1) },
    { label: "score", render: r => r.score === null ? "" : Number(r.score).toFixed(1) },
    { label: "top policy", key: "top_policy" }, { label: "top rule", key: "top_rule" }, { label: "top peer", key: "top_peer" },
  ], data.anomalies, showAnomaly));
  document.querySelector("#anomaly-table tbody tr").classList.add("selected");
  await showAnomaly(data.anomalies[0]);
}

// --- Throughput anomalies -----------------------------------------------------------------

function bps(n) {
  const v = Number(n);
  for (const [unit, scale] of [["Gbps", 1e9], ["Mbps", 1e6], ["kbps", 1e3]]) if (Math.abs(v) >= scale) return `${(v / scale).toFixed(2)} ${unit}`;
  return `${v.toFixed(0)} bps`;
}

function seriesChart(points, flagged) {
  const width = 900, height = 240, left = 70, bottom = 40, top = 10;
  const times = points.map(p => Date.parse(p.flow_end));
  const t0 = Math.min(...times), t1 = Math.max(...times, t0 + 1);
  const max = Math.max(1, ...points.map(p => p.throughput));
  const x = t => left + (width - left - 10) * (t - t0) / (t1 - t0);
  const y = v => height - bottom - (height - bottom - top) * v / max;
  const root = svg("svg", { width, height, id: "tad-svg" });
  root.append(svg("line", { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: "#57606a" }));
  root.append(svg("text", { x: 2, y: top + 10 }, bps(max)));
  root.append(svg("text", { x: left, y: height - bottom + 16 }, when(points[0].flow_end)));
  root.append(svg("text", { x: width - 200, y: height - bottom + 16 }, when(points[points.length - 1].flow_end)));
  root.append(svg("polyline", { fill: "none", stroke: "#457b9d", "stroke-width": 1.5,
    points: points.map((p, i) => `${x(times[i])},${y(p.throughput)}`).join(" ") }));
  for (const a of flagged) {
    const dot = svg("circle", { cx: x(Date.parse(a.flow_end)), cy: y(a.throughput), r: 5, fill: "#e63946", class: "tad-flag" });
    dot.append(svg("title", {}, `${when(a.flow_end)}: ${bps(a.throughput)}` + (a.algorithm === "DBSCAN" ? " (noise)" : ` vs ${a.algorithm} ${a.algo_calc === null ? "(no value)" : bps(a.algo_calc)}`)));
    root.append(dot);
  }
  return root;
}

async function showTadSeries(runId, a) {
  const data = await api(`tad-runs/${encodeURIComponent(runId)}/series`, { series: a.series });
  replace("tad-series",
    el("h3", {}, `${a.series} (${data.algorithm}, ${data.anomalies.length} flagged of ${data.point_count} points)`),
    seriesChart(data.points, data.anomalies),
    el("p", {}, `Threshold (sample standard deviation): ${data.stddev === null ? "none" : bps(data.stddev)}` + (data.truncated ? "; first points only" : "")));
}

async function showTadRun(run) {
  const data = await api(`tad-runs/${encodeURIComponent(run.run_id)}/anomalies`, { limit: 200 });
  if (!data.anomalies.length) { replace("tad-anomalies", el("p", {}, "This run flagged no point.")); replace("tad-series"); return; }
  replace("tad-anomalies", el("h2", {}, `Anomalous points (${run.algorithm}, ${run.agg_flow})`), table([
    { label: "time", render: r => when(r.flow_end) }, { label: "series", key: "series" },
    { label: "throughput", render: r => bps(r.throughput) },
    { label: run.algorithm, render: r => r.algorithm === "DBSCAN" ? "noise" : r.algo_calc === null ? "" : bps(r.algo_calc) },
    { label: "stddev", render: r => r.stddev === null ? "" : bps(r.stddev) },
  ], data.anomalies, a => showTadSeries(run.run_id, a)));
  document.querySelector("#tad-anomalies tbody tr").classList.add("selected");
  await showTadSeries(run.run_id, data.anomalies[0]);
}

async function loadThroughput() {
  const data = await api("tad-runs", { limit: 20 });
  if (!data.runs.length) {
    replace("tad-runs", el("p", {}, "No throughput anomaly detection run yet: trigger theia_throughput_anomaly_detection."));
    replace("tad-anomalies"); replace("tad-series"); return;
  }
  replace("tad-runs", el("h2", {}, "Runs"), table([
    { label: "run", key: "run_id" }, { label: "algorithm", key: "algorithm" }, { label: "series", key: "agg_flow" },
    { label: "variant", key: "variant" }, { label: "status", key: "status" },
    { label: "window", render: r => `${when(r.window_start)} – ${when(r.window_end)}` },
    { label: "series scored", key: "series_count" }, { label: "anomalies", key: "anomaly_count" },
  ], data.runs, showTadRun));
  const first = data.runs.find(r => r.status === "succeeded") || data.runs[0];
  document.querySelectorAll("#tad-runs tbody tr")[data.runs.indexOf(first)].classList.add("selected");
  await showTadRun(first);
}

// --- Navigation ---------------------------------------------------------------------------

const LOADERS = { overview: loadOverview, flows: loadFlows, pods: loadPods, recommendations: loadRecommendations, anomalies: loadAnomalies, throughput: loadThroughput };

async function show(view) {
  if (!LOADERS[view]) view = "overview";
  document.querySelectorAll(".view").forEach(v => v.classList.toggle("active", v.id === "view-" + view));
  document.querySelectorAll("#tabs a").forEach(a => a.classList.toggle("active", a.dataset.view === view));
  status("loading…");
  document.body.dataset.loaded = "";
  try { await LOADERS[view](); status(""); } catch (e) { status(e.message); }
  document.body.dataset.loaded = view;
}

async function init() {
  try {
    const data = await api("clusters");
    const select = document.getElementById("scope").cluster;
    for (const c of data.clusters) select.append(el("option", { value: c }, c));
  } catch (e) { status(e.message); }
  document.getElementById("scope").addEventListener("submit", ev => { ev.preventDefault(); show(location.hash.slice(1)); });
  document.getElementById("flow-filters").addEventListener("submit", ev => { ev.preventDefault(); show("flows"); });
  window.addEventListener("hashchange", () => show(location.hash.slice(1)));
  await show(location.hash.slice(1));
}

init();
