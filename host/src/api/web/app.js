// The Cairn web view: polls the job's JSON API and draws the job graph, the
// checkpoint timeline and the savepoints. Plain script, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let previous = null; // the last /v1/job reading and its time, for rates
let tokenRequired = false;

function el(tag, attrs, ...children) {
  const ns = ["svg", "g", "rect", "text", "path", "line", "title", "tspan"].includes(tag);
  const e = ns ? document.createElementNS(SVG, tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function bytes(n) {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

function rate(n) {
  if (!isFinite(n)) return "–";
  if (n >= 1e6) return (n / 1e6).toFixed(2) + " M/s";
  if (n >= 1e3) return (n / 1e3).toFixed(1) + " k/s";
  return n.toFixed(0) + " /s";
}

function count(n) {
  return n >= 1e6 ? (n / 1e6).toFixed(2) + " M" : n >= 1e4 ? (n / 1e3).toFixed(1) + " k" : String(n);
}

function ms(n) {
  return n >= 1000 ? (n / 1000).toFixed(2) + " s" : (n < 10 ? n.toFixed(2) : n.toFixed(0)) + " ms";
}

function show(text, bad) {
  const m = $("message");
  m.textContent = text;
  m.className = "message" + (bad ? " bad" : "");
  m.hidden = false;
}

// The token is kept for this tab only (sessionStorage), never on disk.
function withToken(headers) {
  const token = $("token").value.trim();
  if (token) {
    headers.authorization = "Bearer " + token;
    sessionStorage.setItem("cairn-token", token);
  }
  return headers;
}

async function getJson(path) {
  const r = await fetch(path, { cache: "no-store", headers: withToken({}) });
  if (r.status === 401) {
    // Off loopback, reading the job needs the token too.
    $("token").hidden = false;
    const e = new Error("enter the job's API token (CAIRN_API_TOKEN) to read it");
    e.unauthorized = true;
    throw e;
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function post(path, body) {
  const headers = withToken({ "content-type": "application/json" });
  const r = await fetch(path, { method: "POST", headers, body: body ? JSON.stringify(body) : undefined });
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(answer.error || "HTTP " + r.status);
  return answer;
}

async function follow(accepted, what) {
  show(what + " " + accepted["trigger-id"] + " requested…");
  for (;;) {
    const t = await getJson(accepted.poll);
    if (t.status === "completed") {
      show(what + " " + t.id + " completed: " + t.path);
      refresh();
      refreshSavepoints();
      return;
    }
    if (t.status === "failed") {
      show(what + " failed: " + t.reason, true);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

// ---- job graph -------------------------------------------------------------

function levels(nodes) {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const level = new Map();
  const visit = (n, depth) => {
    if (level.has(n.id)) return level.get(n.id);
    if (depth > nodes.length) return 0;
    const l = n.inputs.length ? 1 + Math.max(...n.inputs.map((i) => (byId.has(i) ? visit(byId.get(i), depth + 1) : 0))) : 0;
    level.set(n.id, l);
    return l;
  };
  nodes.forEach((n) => visit(n, 0));
  return level;
}

function drawGraph(job, now) {
  const nodes = job.nodes;
  const level = levels(nodes);
  const columns = [];
  for (const kind of ["source", "operator", "sink"]) {
    for (const n of nodes.filter((x) => x.kind === kind)) {
      const l = level.get(n.id);
      (columns[l] = columns[l] || []).push(n);
    }
  }
  const W = 210, H = 104, GX = 70, GY = 22, PAD = 12;
  const rows = Math.max(...columns.map((c) => (c ? c.length : 0)));
  const width = PAD * 2 + columns.length * W + (columns.length - 1) * GX;
  const height = PAD * 2 + rows * H + (rows - 1) * GY;
  const pos = new Map();
  columns.forEach((col, x) => (col || []).forEach((n, y) => {
    const offset = ((rows - col.length) * (H + GY)) / 2;
    pos.set(n.id, { x: PAD + x * (W + GX), y: PAD + offset + y * (H + GY) });
  }));
  const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "graph-svg" });
  const dt = previous ? (now - previous.at) / 1000 : 0;
  const before = new Map(previous ? previous.job.nodes.map((n) => [n.id, n]) : []);
  for (const n of nodes) {
    for (const i of n.inputs) {
      const a = pos.get(i), b = pos.get(n.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      svg.append(el("path", { d: `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`, class: "edge" }));
    }
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const old = before.get(n.id);
    const rIn = old && dt > 0 ? (n["events-in"] - old["events-in"]) / dt : NaN;
    const rOut = old && dt > 0 ? (n["events-out"] - old["events-out"]) / dt : NaN;
    const busy = old && dt > 0 ? (n["busy-ms"] - old["busy-ms"]) / (dt * 10 * n.parallelism) : NaN;
    const fill = n.capacity ? n.queued / n.capacity : 0;
    const g = el("g", { transform: `translate(${p.x},${p.y})`, class: "node " + n.kind, "data-node": n.id });
    g.append(el("rect", { width: W, height: H, rx: 8, class: "box" }));
    g.append(el("text", { x: 12, y: 22, class: "node-id" }, n.id));
    g.append(el("text", { x: W - 12, y: 22, class: "node-kind", "text-anchor": "end" }, n.kind + " ×" + n.parallelism));
    const inText = n.kind === "source" ? "" : "in " + rate(rIn);
    g.append(el("text", { x: 12, y: 44, class: "node-stat" }, inText));
    g.append(el("text", { x: W - 12, y: 44, class: "node-stat", "text-anchor": "end" }, (n.kind === "sink" ? "written " : "out ") + rate(rOut)));
    g.append(el("text", { x: 12, y: 62, class: "node-small" }, "events " + count(n["events-in"]) + " → " + count(n["events-out"])));
    g.append(el("text", { x: W - 12, y: 62, class: "node-small", "text-anchor": "end" }, isFinite(busy) ? "busy " + Math.min(100, busy).toFixed(0) + "%" : ""));
    if (n.kind !== "source") {
      g.append(el("text", { x: 12, y: 84, class: "node-small" }, "backpressure"));
      g.append(el("rect", { x: 92, y: 76, width: W - 104, height: 9, rx: 4, class: "bp-track" }));
      g.append(el("rect", { x: 92, y: 76, width: Math.max(0, (W - 104) * fill), height: 9, rx: 4, class: "bp-fill" + (fill > 0.8 ? " high" : fill > 0.4 ? " mid" : "") }));
    } else if (n.watermark !== null && n.watermark !== undefined) {
      g.append(el("text", { x: 12, y: 84, class: "node-small" }, "watermark " + new Date(n.watermark).toISOString().replace("T", " ").slice(0, 19)));
    }
    const tip = n.subtasks.map((s) => `#${s.subtask}: in ${s["events-in"]}, out ${s["events-out"]}, queued ${s.queued}/${s.capacity}, busy ${s["busy-ms"]} ms`).join("\n");
    g.append(el("title", {}, tip));
    svg.append(g);
  }
  $("graph").replaceChildren(svg);
}

// ---- checkpoints -----------------------------------------------------------

function drawCheckpoints(stats) {
  const history = stats.history.slice(-80);
  $("cp-counts").textContent = `${stats.completed} completed, ${stats.failed} failed · savepoints ${stats["savepoints-completed"]} completed, ${stats["savepoints-failed"]} failed`;
  const W = Math.max(600, $("timeline").clientWidth || 900), H = 120, PAD = 24;
  const svg = el("svg", { viewBox: `0 0 ${W} ${H + PAD}`, width: "100%", height: H + PAD, preserveAspectRatio: "none", class: "timeline-svg" });
  const max = Math.max(1, ...history.map((r) => r["duration-ms"]));
  const slot = (W - PAD) / Math.max(history.length, 20);
  svg.append(el("line", { x1: PAD, y1: H, x2: W, y2: H, class: "axis" }));
  svg.append(el("text", { x: 2, y: 12, class: "axis-label" }, ms(max)));
  history.forEach((r, i) => {
    const h = Math.max(3, (r["duration-ms"] / max) * (H - 16));
    const cls = r.status === "failed" ? "bad" : r.kind === "savepoint" ? "sp" : "ok";
    const bar = el("rect", { x: PAD + i * slot + 1, y: H - h, width: Math.max(2, slot - 3), height: h, rx: 2, class: "bar " + cls, "data-id": r.id });
    bar.append(el("title", {}, `#${r.id} ${r.kind} (${r.trigger}) ${r.status}\nduration ${ms(r["duration-ms"])}\nsize ${bytes(r.size)}\nalignment ${ms(r["alignment-ms"] || 0)}` + (r.reason ? "\n" + r.reason : "")));
    svg.append(bar);
    if (history.length <= 30 || i % Math.ceil(history.length / 30) === 0) {
      svg.append(el("text", { x: PAD + i * slot + slot / 2, y: H + 15, class: "axis-label", "text-anchor": "middle" }, r.id));
    }
  });
  $("timeline").replaceChildren(svg);
  const rows = stats.history.slice(-15).reverse().map((r) =>
    el("tr", { class: r.status === "failed" ? "failed" : r.kind },
      el("td", {}, r.id), el("td", {}, r.kind), el("td", {}, r.trigger), el("td", { class: "st-" + r.status }, r.status),
      el("td", {}, ms(r["duration-ms"])), el("td", {}, bytes(r.size)), el("td", {}, ms(r["alignment-ms"] || 0)),
      el("td", { class: "path" }, r.path || r.reason || "")));
  $("checkpoints").tBodies[0].replaceChildren(...rows);
}

// ---- savepoints ------------------------------------------------------------

async function refreshSavepoints() {
  try {
    const list = await getJson("/v1/savepoints");
    const rows = list.slice().reverse().map((s) =>
      el("tr", { class: "savepoint", "data-path": s.path },
        el("td", {}, s.id), el("td", {}, s["run-id"] || ""), el("td", {}, s.trigger || ""),
        el("td", {}, (s["triggered-at"] || "").replace("T", " ").replace(/\.\d+Z$/, "Z")),
        el("td", {}, bytes(s["state-size"])), el("td", {}, s["duration-ms"] === undefined ? "–" : ms(s["duration-ms"])),
        el("td", { class: "path" + (s.broken ? " bad" : "") }, s.broken ? "BROKEN (" + s.broken + "): " + s.path : s.path)));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "no savepoint yet")));
    $("savepoints").tBodies[0].replaceChildren(...rows);
  } catch (e) {
    show("cannot list savepoints: " + e.message, true);
  }
}

// ---- polling ---------------------------------------------------------------

async function refresh() {
  try {
    const now = Date.now();
    const [job, stats] = await Promise.all([getJson("/v1/job"), getJson("/v1/checkpoints")]);
    $("job-name").textContent = job.name;
    document.title = job.name + " · Cairn";
    const status = $("job-status");
    status.textContent = job.status;
    status.className = "status " + job.status;
    tokenRequired = job["token-required"];
    $("token").hidden = !tokenRequired;
    $("job-facts").textContent = `run ${job["run-id"]} · started ${job["started-at"].replace("T", " ").slice(0, 19)} · restarts ${job.restarts} · storage ${job.storage}`;
    drawGraph(job, now);
    drawCheckpoints(stats);
    previous = { job, at: now };
    const running = job.status === "running";
    $("trigger-savepoint").disabled = !running;
    $("stop-job").disabled = !running;
  } catch (e) {
    const status = $("job-status");
    status.textContent = e.unauthorized ? "token needed" : "unreachable";
    status.className = "status failed";
    if (e.unauthorized) show(e.message, true);
  }
}

$("trigger-savepoint").addEventListener("click", async () => {
  try {
    await follow(await post("/v1/savepoints"), "savepoint");
  } catch (e) {
    show("savepoint refused: " + e.message, true);
  }
});

$("stop-job").addEventListener("click", async () => {
  if (!confirm("Stop the job with a savepoint?")) return;
  try {
    await follow(await post("/v1/job/stop", { savepoint: true }), "stop savepoint");
  } catch (e) {
    show("stop refused: " + e.message, true);
  }
});

$("token").value = sessionStorage.getItem("cairn-token") || "";
$("token").addEventListener("change", () => { refresh(); refreshSavepoints(); });
refresh();
refreshSavepoints();
setInterval(refresh, 1000);
setInterval(refreshSavepoints, 5000);
