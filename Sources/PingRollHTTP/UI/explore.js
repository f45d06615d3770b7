// The explore page's code (served as /assets/explore.js: pages run no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
const iso = (d) => d.toISOString().slice(0, 10);
const TOP = 10;
let catalog = null;
let filters = [];
let chart = null;
let lastPlot = null;

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + PingRoll.token() } });
  if (response.status === 401) { showLogin("The token was refused: it is unknown or revoked."); throw new Error("unauthorized"); }
  if (!response.ok) {
    let message = "the server answered " + response.status;
    try { message = (await response.json()).error.message; } catch (e) {}
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function showLogin(message) {
  $("login").hidden = false; $("controls").hidden = true; $("main").hidden = true;
  $("login-error").textContent = message || "";
}
$("login").addEventListener("submit", (e) => { e.preventDefault(); PingRoll.setToken($("token").value.trim()); $("login").hidden = true; start(); });
$("logout").addEventListener("click", () => { PingRoll.forgetToken(); showLogin(""); });


const { color, compareVersions } = PingRoll;

const SHOWS = {
  boolean: [["share", "share true (%)"], ["true", "installations true"], ["false", "installations false"], ["unknown", "installations unknown"], ["installations", "installations counted"]],
  number: [["sum", "sum"], ["p50", "p50"], ["p90", "p90"], ["p99", "p99"], ["reporting", "installations reporting"], ["installations", "installations counted"]],
  string: [["values", "installations per value"], ["installations", "installations counted"]],
};
// Which drill-down cells each point of a type opens.
const CELLS = { boolean: ["true", "false", "unknown", "not_collected", "installations"], number: ["reporting", "failed", "unknown", "out_of_range", "not_collected", "installations"],
                string: ["other", "failed", "unknown", "not_collected", "installations"] };

function metricDef() { return catalog.metrics.find((m) => m.key_path === $("metric").value); }

function fillShow(selected) {
  const type = metricDef().value_type;
  $("show").innerHTML = "";
  for (const [value, label] of SHOWS[type]) {
    const o = document.createElement("option"); o.value = value; o.textContent = label; $("show").appendChild(o);
  }
  if (selected && SHOWS[type].some(([v]) => v === selected)) $("show").value = selected;
}

function renderFilters() {
  document.querySelectorAll("#filters .chip").forEach((c) => c.remove());
  for (const f of filters) {
    const chip = document.createElement("span"); chip.className = "chip"; chip.textContent = f;
    const x = document.createElement("button"); x.type = "button"; x.textContent = "×"; x.title = "Remove " + f;
    x.addEventListener("click", () => { filters = filters.filter((g) => g !== f); renderFilters(); });
    chip.appendChild(x);
    $("filters").insertBefore(chip, $("filter-dimension"));
  }
}
$("filter-add").addEventListener("click", () => {
  const v = $("filter-value").value.trim();
  if (!v || v.includes(",")) return;
  const f = $("filter-dimension").value + ":" + v;
  if (!filters.includes(f)) filters.push(f);
  $("filter-value").value = "";
  renderFilters();
});
$("metric").addEventListener("change", () => fillShow($("show").value));

// The whole state is in the URL.
function stateFromControls() {
  const q = new URLSearchParams({ metric: $("metric").value, interval: $("interval").value, from: $("from").value, to: $("to").value });
  if ($("group_by").value) q.set("group_by", $("group_by").value);
  if (filters.length) q.set("filter", filters.join(","));
  if ($("include_internal").checked) q.set("include_internal", "true");
  q.set("show", $("show").value);
  q.set("view", $("view").value);
  return q;
}

function controlsFromState(q) {
  const today = new Date();
  $("metric").value = q.get("metric") || "container_registry_server.db_enabled";
  if (!metricDef()) $("metric").selectedIndex = 0;
  $("interval").value = q.get("interval") || "week";
  $("to").value = q.get("to") || iso(today);
  $("from").value = q.get("from") || iso(new Date(today.getTime() - 84 * 86400000));
  $("group_by").value = q.get("group_by") || "";
  filters = q.getAll("filter").flatMap((f) => f.split(",")).filter((f) => f.includes(":"));
  $("include_internal").checked = q.get("include_internal") === "true";
  fillShow(q.get("show"));
  $("view").value = q.get("view") === "table" ? "table" : "chart";
  renderFilters();
}

$("controls").addEventListener("submit", (e) => {
  e.preventDefault();
  history.pushState(null, "", "/explore?" + stateFromControls());
  render();
});
window.addEventListener("popstate", () => { controlsFromState(new URLSearchParams(location.search)); render(); });

async function start() {
  if (!PingRoll.token()) return showLogin("");
  try { catalog = await api("/api/v1/catalog"); } catch (e) { if (e.message !== "unauthorized") showLogin(e.message); return; }
  $("metric").innerHTML = "";
  for (const m of catalog.metrics) {
    const o = document.createElement("option"); o.value = m.key_path; o.textContent = m.key_path + " (" + m.value_type + ")"; $("metric").appendChild(o);
  }
  for (const d of catalog.dimensions) {
    for (const select of [$("group_by"), $("filter-dimension")]) {
      const o = document.createElement("option"); o.value = d; o.textContent = d; select.appendChild(o);
    }
  }
  $("controls").hidden = false; $("main").hidden = false;
  controlsFromState(new URLSearchParams(location.search));
  render();
}

// A point's plotted value for `show`.
function pointValue(point, show) {
  if (show === "share") return point.ratio === null || point.ratio === undefined ? null : Math.round(point.ratio * 100000) / 1000;
  const v = point[show];
  return v === undefined ? null : v;
}

// Groups beyond the top TOP by installations fold into `other` (counts add up; a share is
// recomputed from the folded true and false; percentiles cannot fold, so those groups are left out).
function plotFrom(answer, show) {
  const series = answer.series;
  const labels = series.length ? series[0].points.map((p) => p.period) : [];
  const size = (s) => s.points.reduce((n, p) => n + (p.installations || 0), 0);
  let groups = series.slice();
  if (answer.group_by === "version") groups.sort((a, b) => compareVersions(a.group, b.group));
  else groups.sort((a, b) => size(b) - size(a) || a.group.localeCompare(b.group));
  let folded = [];
  if (groups.length > TOP) {
    const top = new Set(groups.slice().sort((a, b) => size(b) - size(a)).slice(0, TOP).map((g) => g.group));
    folded = groups.filter((g) => !top.has(g.group));
    groups = groups.filter((g) => top.has(g.group));
  }
  const datasets = [];
  const add = (label, points) => {
    if (show === "values") {
      const names = new Set();
      points.forEach((p) => Object.keys(p.values || {}).forEach((v) => names.add(v)));
      for (const name of [...names].sort(compareVersions)) {
        // The API lists each value under the key drill-down takes back (the remainder as
        // "other", a real value that reads like a cell as "v:" + value).
        const shown = name === "other" ? "(other values)" : name.startsWith("v:") ? name.slice(2) : name;
        datasets.push({ label: label === "all" ? shown : label + ": " + shown, group: label, cell: name, shown,
                        data: points.map((p) => (p.values || {})[name] || 0), installations: points.map((p) => p.installations) });
      }
    } else {
      const percent = (v) => v === undefined || v === null ? null : Math.round(v * 100000) / 1000;
      datasets.push({ label, group: label, data: points.map((p) => pointValue(p, show)), installations: points.map((p) => p.installations),
                      // A share's 95 % interval and low-count flag (a folded group has neither); every point's completeness.
                      ciLow: points.map((p) => show === "share" ? percent(p.ci_low) : null), ciHigh: points.map((p) => show === "share" ? percent(p.ci_high) : null),
                      lowCount: points.map((p) => show === "share" && p.low_count === true), complete: points.map((p) => p.complete !== false) });
    }
  };
  for (const g of groups) add(g.group, g.points);
  let note = "";
  if (folded.length) {
    if (["p50", "p90", "p99"].includes(show)) {
      note = folded.length + " smaller groups are not shown: percentiles cannot be combined.";
    } else {
      const other = labels.map((period, i) => {
        const p = { period, installations: 0, true: 0, false: 0, values: {} };
        for (const g of folded) {
          const q = g.points[i];
          for (const k of ["installations", "true", "false", "unknown", "reporting", "sum"]) if (q[k] !== undefined) p[k] = (p[k] || 0) + q[k];
          for (const [v, n] of Object.entries(q.values || {})) p.values[v] = (p.values[v] || 0) + n;
        }
        p.ratio = p.true + p.false > 0 ? p.true / (p.true + p.false) : null;
        return p;
      });
      add("other", other);
      datasets[datasets.length - 1].folded = folded.map((g) => g.group);
      note = folded.length + " smaller groups are folded into “other”.";
    }
  }
  return { labels, datasets, note };
}

function yTitle(show, metric) {
  if (show === "share") return "share of installations reporting true or false (%)";
  if (["sum", "p50", "p90", "p99"].includes(show)) return show + " of " + metric;
  return "installations";
}

async function render() {
  const m = metricDef();
  const show = $("show").value, view = $("view").value, interval = $("interval").value;
  const result = $("result");
  result.dataset.state = "loading";
  $("result-title").textContent = m.key_path + " by " + interval + ($("group_by").value ? ", grouped by " + $("group_by").value : "");
  $("result-note").textContent = "";
  $("result-body").innerHTML = '<p class="loading">Loading…</p>';
  $("drill").hidden = true;
  const sq = new URLSearchParams({ metric: m.key_path, interval, from: $("from").value, to: $("to").value });
  if ($("group_by").value) sq.set("group_by", $("group_by").value);
  for (const f of filters) sq.append("filter", f);
  if ($("include_internal").checked) sq.set("include_internal", "true");
  let answer;
  try {
    answer = await api("/api/v1/series?" + sq);
  } catch (e) {
    result.dataset.state = "error";
    $("result-body").innerHTML = "";
    const p = document.createElement("p"); p.className = "error"; p.textContent = "Could not load the series: " + e.message;
    $("result-body").appendChild(p);
    return;
  }
  const plot = plotFrom(answer, show);
  lastPlot = { plot, answer, show };
  // The range's annotations about this metric (or all), listed under the result.
  const notes = await api("/api/v1/annotations?" + new URLSearchParams({ from: $("from").value, to: $("to").value, metric: m.key_path }))
    .then((a) => a.annotations).catch(() => []);
  $("result-body").innerHTML = "";
  const denominator = show === "share" ? "Each point: installations reporting true, of those reporting true or false, in the " + interval + "."
    : "Each point counts each installation once per " + interval + ", by its latest ping of the " + interval + ".";
  $("result-note").textContent = denominator + " " + (plot.note || "") + " Click a point to list its installations.";
  if (chart) { chart.destroy(); chart = null; }
  if (view === "table") drawTable(plot, interval); else drawChart(plot, show, m.key_path, interval);
  const data = document.createElement("script");
  data.type = "application/json"; data.className = "panel-data";
  data.textContent = JSON.stringify({ labels: plot.labels, annotations: notes,
                                      datasets: plot.datasets.map((d) => ({ label: d.label, data: d.data, installations: d.installations,
                                                                            ciLow: d.ciLow, ciHigh: d.ciHigh, lowCount: d.lowCount, complete: d.complete })) });
  $("result-body").appendChild(data);
  if (notes.length) {
    const list = document.createElement("ul"); list.className = "annotations";
    for (const n of notes) {
      const li = document.createElement("li");
      li.textContent = n.at.slice(0, 10) + " · " + n.kind.replace("_", " ") + ": " + n.text;
      list.appendChild(li);
    }
    $("result-body").appendChild(list);
  }
  result.dataset.state = "ready";
}

function drawChart(plot, show, metric, interval) {
  const canvas = document.createElement("canvas");
  $("result-body").appendChild(canvas);
  chart = new Chart(canvas, {
    type: "line",
    data: { labels: plot.labels, datasets: plot.datasets.map((d, i) => ({ label: d.label, data: d.data, borderColor: color(i), backgroundColor: color(i),
                                                                          borderDash: i >= 12 ? [6, 3] : [], spanGaps: true })) },
    options: {
      animation: false, responsive: true,
      scales: { x: { title: { display: true, text: interval + " starting" } },
                y: { beginAtZero: true, title: { display: true, text: yTitle(show, metric) }, ticks: show === "share" ? { callback: (v) => v + " %" } : {} } },
      plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } },
                 tooltip: { callbacks: { afterLabel: (c) => "of " + plot.datasets[c.datasetIndex].installations[c.dataIndex] + " installations" } } },
      onClick: (event) => {
        const hit = chart.getElementsAtEventForMode(event, "nearest", { intersect: true }, true)[0];
        if (hit) openDrill(plot.datasets[hit.datasetIndex], plot.labels[hit.index]);
      },
    },
  });
}

function drawTable(plot, interval) {
  const wrap = document.createElement("div"); wrap.className = "table";
  const table = document.createElement("table");
  const head = table.insertRow();
  [interval + " starting", ...plot.datasets.map((d) => d.label)].forEach((l) => { const th = document.createElement("th"); th.textContent = l; head.appendChild(th); });
  // Newest first, so the latest periods are in view.
  for (let i = plot.labels.length - 1; i >= 0; i--) {
    const row = table.insertRow();
    row.insertCell().textContent = plot.labels[i];
    plot.datasets.forEach((d) => {
      const cell = row.insertCell();
      const band = d.ciLow && d.ciLow[i] !== null && d.ciLow[i] !== undefined ? " (" + d.ciLow[i] + "–" + d.ciHigh[i] + ")" : "";
      cell.textContent = d.data[i] === null ? "" : d.data[i] + band + (d.complete && d.complete[i] === false ? " (partial)" : "");
      if (d.lowCount && d.lowCount[i]) { cell.classList.add("low-count"); cell.title = "n = " + ((d.installations || [])[i] || 0) + ": too few to read a share"; }
      cell.className = "clickable";
      cell.addEventListener("click", () => openDrill(d, plot.labels[i]));
    });
  }
  wrap.appendChild(table);
  $("result-body").appendChild(wrap);
}

let drillState = null;
function openDrill(dataset, period) {
  const m = metricDef();
  const drill = $("drill");
  drill.hidden = false;
  $("drill-cells").innerHTML = "";
  if (dataset.folded) {
    $("drill-title").textContent = "“other” folds " + dataset.folded.length + " groups";
    $("drill-note").textContent = "Group by fewer values, or filter on one of them, to list its installations.";
    $("drill-list").innerHTML = "";
    drill.dataset.state = "ready";
    return;
  }
  const groupFilter = $("group_by").value && dataset.group !== "all" ? [$("group_by").value + ":" + dataset.group] : [];
  const cells = dataset.cell ? [dataset.cell, "installations"] : CELLS[m.value_type];
  const preferred = dataset.cell || ({ share: "true", true: "true", false: "false", unknown: "unknown", reporting: "reporting", sum: "reporting",
                                       p50: "reporting", p90: "reporting", p99: "reporting" })[$("show").value] || "installations";
  for (const cell of cells) {
    const b = document.createElement("button"); b.type = "button"; b.textContent = cell === dataset.cell && dataset.shown ? dataset.shown : cell;
    b.addEventListener("click", () => loadDrill({ metric: m.key_path, period, group: dataset.group, cell, shown: b.textContent,
                                                  filters: filters.concat(groupFilter) }, true));
    $("drill-cells").appendChild(b);
  }
  loadDrill({ metric: m.key_path, period, group: dataset.group, cell: preferred, shown: preferred === dataset.cell ? dataset.shown : null,
              filters: filters.concat(groupFilter) }, true);
}

async function loadDrill(state, fresh) {
  const drill = $("drill");
  if (fresh) { drillState = { ...state, cursor: null }; $("drill-list").innerHTML = ""; }
  drill.dataset.state = "loading";
  $("drill-title").textContent = "Installations counted in " + (state.shown || state.cell) + ", " +
    $("interval").value + " of " + state.period + (state.group && state.group !== "all" ? ", " + $("group_by").value + " " + state.group : "");
  const q = new URLSearchParams({ metric: state.metric, value: state.cell, interval: $("interval").value, period: state.period, limit: "100" });
  for (const f of state.filters) q.append("filter", f);
  if ($("include_internal").checked) q.set("include_internal", "true");
  if (drillState.cursor) q.set("cursor", drillState.cursor);
  try {
    const answer = await api("/api/v1/installations?" + q);
    for (const x of answer.installations) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/installation?uuid=" + encodeURIComponent(x.installation.uuid);
      a.textContent = x.installation.uuid + (x.installation.hostname ? " (" + x.installation.hostname + ")" : "");
      li.appendChild(a);
      li.appendChild(document.createTextNode(" — " + (x.installation.version || "version unknown") + ", ping of " + x.recorded_at.slice(0, 10)));
      $("drill-list").appendChild(li);
    }
    drillState.cursor = answer.next_cursor;
    $("drill-more").hidden = !answer.next_cursor;
    const n = $("drill-list").children.length;
    $("drill-note").textContent = n + (answer.next_cursor ? "+" : "") + " installations";
    drill.dataset.count = String(n);
    drill.dataset.state = "ready";
  } catch (e) {
    $("drill-note").textContent = "Could not list the installations: " + e.message;
    $("drill-note").className = "note error";
    drill.dataset.state = "error";
  }
}
$("drill-more").addEventListener("click", () => loadDrill(drillState, false));

// The panel a dashboard definition holds for the current view.
function panelForView() {
  const m = metricDef(), show = $("show").value;
  const query = { metric: m.key_path, interval: $("interval").value, value: show === "share" ? "ratio" : show };
  if ($("group_by").value) query.group_by = $("group_by").value;
  const fs = filters.slice();
  if ($("include_internal").checked && !fs.some((f) => f.startsWith("internal:"))) fs.push("internal:true", "internal:false");
  if (fs.length) query.filters = fs;
  const title = $("save-title").value.trim() || $("result-title").textContent;
  const id = (title.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "panel") + "-" + Date.now().toString(36);
  return { id, title, chart: $("view").value === "table" ? "table" : "line", query };
}
$("save").addEventListener("toggle", async () => {
  if (!$("save").open || $("save-dashboard").options.length) return;
  try {
    for (const d of (await api("/api/v1/dashboards")).dashboards) {
      const o = document.createElement("option"); o.value = d.slug; o.textContent = d.title; $("save-dashboard").appendChild(o);
    }
  } catch (e) { $("save-result").textContent = "Could not list the dashboards: " + e.message; }
});
$("save-button").addEventListener("click", async () => {
  const response = await fetch("/api/v1/dashboards/" + encodeURIComponent($("save-dashboard").value) + "/panels", {
    method: "POST", headers: { Authorization: "Bearer " + PingRoll.token(), "Content-Type": "application/json" },
    body: JSON.stringify(panelForView()) });
  let message = "saved: it is on the dashboard now";
  if (!response.ok) {
    message = response.status === 403 ? "saving panels needs an admin token" : "not saved: " + response.status;
    try { message = "not saved: " + (await response.json()).error.message; } catch (e) {}
  }
  $("save-result").textContent = message;
  $("save").dataset.state = response.ok ? "saved" : "refused";
});

start();
