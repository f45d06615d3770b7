// The dashboard page's code (served as /assets/dashboard.js: pages run no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
const iso = (d) => d.toISOString().slice(0, 10);
const params = new URLSearchParams(location.search);
const today = new Date();
$("to").value = params.get("to") || iso(today);
$("from").value = params.get("from") || iso(new Date(today.getTime() - 84 * 86400000));
$("interval").value = params.get("interval") || "week";
const { color, fade, compareVersions } = PingRoll;
let dashboards = [];
const charts = [];

async function api(path) {
  const response = await fetch(path, { headers: { Authorization: "Bearer " + PingRoll.token() } });
  if (response.status === 401) { showLogin("The token was refused: it is unknown or revoked."); throw new Error("unauthorized"); }
  if (!response.ok) {
    let message = response.status + "";
    try { message = (await response.json()).error.message; } catch (e) {}
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

function showLogin(message) {
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  $("panels").innerHTML = "";
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  PingRoll.setToken($("token").value.trim());
  $("login").hidden = true;
  start();
});
$("logout").addEventListener("click", () => { PingRoll.forgetToken(); showLogin(""); });
$("apply").addEventListener("click", () => {
  const q = new URLSearchParams({ dashboard: $("dashboard").value, from: $("from").value, to: $("to").value, interval: $("interval").value });
  history.replaceState(null, "", "?" + q);
  render();
});
$("dashboard").addEventListener("change", () => $("apply").click());

async function start() {
  if (!PingRoll.token()) return showLogin("");
  try {
    dashboards = (await (await api("/api/v1/dashboards")).json()).dashboards;
  } catch (e) { return; }
  $("dashboard").innerHTML = "";
  for (const d of dashboards) {
    const option = document.createElement("option");
    option.value = d.slug; option.textContent = d.title;
    $("dashboard").appendChild(option);
  }
  if (params.get("dashboard")) $("dashboard").value = params.get("dashboard");
  render();
}

function seriesURL(query, format) {
  const q = new URLSearchParams({ metric: query.metric, interval: query.interval || $("interval").value, from: $("from").value, to: $("to").value });
  if (query.group_by) q.set("group_by", query.group_by);
  for (const f of query.filters || []) q.append("filter", f);
  if (format) q.set("format", format);
  return "/api/v1/series?" + q;
}

// An estimate panel's query: by week or month only (a day's view asks for weeks).
function estimateURL(query) {
  const interval = query.interval || ($("interval").value === "month" ? "month" : "week");
  const q = new URLSearchParams({ metric: query.metric, interval, from: $("from").value, to: $("to").value });
  if (query.group_by) q.set("group_by", query.group_by);
  for (const f of query.filters || []) q.append("filter", f);
  if (query.method) q.set("method", query.method);
  if (query.lookback) q.set("lookback", String(query.lookback));
  return "/api/v1/estimate?" + q;
}

// Labels and datasets a panel plots, from the API's answer.
function plotData(query, answer) {
  if (query.source === "estimate") {
    // The estimate with its 95 % interval as a band, beside what the reporters said.
    const one = (v) => v === undefined || v === null ? null : Math.round(v * 10) / 10;
    const labels = answer.series.length ? answer.series[0].points.map((p) => p.period) : [];
    const datasets = [];
    for (const s of answer.series) {
      const name = (suffix) => (s.group === "all" ? "" : s.group + ": ") + suffix;
      const est = { label: name(query.value === "silent" ? "silent installations" : "estimated, silent included"),
                    data: s.points.map((p) => one(p[query.value])), installations: s.points.map((p) => p.reported),
                    complete: s.points.map((p) => p.complete !== false), expected: s.points.map((p) => p.expected),
                    reported: s.points.map((p) => p.reported), silent: s.points.map((p) => p.silent),
                    reasons: s.points.map((p) => p.reason), estimate: true };
      if (query.value === "estimated_true") {
        est.ciLow = s.points.map((p) => one(p.estimated_true_low));
        est.ciHigh = s.points.map((p) => one(p.estimated_true_high));
      }
      if (s.points.some((p) => p.suppressed)) est.suppressed = s.points.map((p) => p.suppressed === true);
      datasets.push(est);
      if (query.value !== "silent") {
        const key = query.value === "estimated_true" ? "true" : "reporting";
        datasets.push({ label: name("reported " + (key === "true" ? "true" : "true or false")), data: s.points.map((p) => p[key]),
                        installations: s.points.map((p) => p.reported), complete: est.complete, expected: est.expected, reported: est.reported });
      }
    }
    return { labels, datasets };
  }
  if (query.source === "beta") {
    const labels = answer.periods.map((p) => p.period);
    if (query.value === "adoption") {
      return { labels, datasets: [
        { label: "enrolled or further", data: answer.periods.map((p) => p.enrolled), installations: answer.periods.map((p) => p.enrolled) },
        { label: "metadata database on (from pings)", data: answer.periods.map((p) => p.db_enabled), installations: answer.periods.map((p) => p.enrolled) } ] };
    }
    const statuses = ["interested", "enrolled", "importing", "migrated", "blocked", "withdrawn"];
    return { labels, datasets: statuses.map((s) => ({ label: s, data: answer.periods.map((p) => p.by_status[s]), installations: answer.periods.map(() => 1) })) };
  }
  if (query.source === "beta_analytics") {
    const hours = (v) => v === null || v === undefined ? "" : (v / 3600).toFixed(1);
    const minutes = (v) => v === null || v === undefined ? "" : (v / 60).toFixed(0);
    const one = (v) => [1];
    switch (query.value) {
      case "throughput":
        return { labels: ["runs", "succeeded", "failed", "p50 hours", "max hours", "p50 downtime (min)", "max downtime (min)", "p50 GiB/hour"],
                 datasets: answer.throughput.map((t) => ({ label: t.storage_driver + ", " + t.size_bucket, installations: one(),
                   data: [t.runs, t.succeeded, t.failed, hours(t.duration_p50_seconds), hours(t.duration_max_seconds), minutes(t.downtime_p50_seconds),
                          minutes(t.downtime_max_seconds), t.bytes_per_hour_p50 === null ? "" : (t.bytes_per_hour_p50 / 1073741824).toFixed(1)] })) };
      case "downtime":
        return { labels: answer.throughput.map((t) => t.storage_driver + ", " + t.size_bucket),
                 datasets: [{ label: "p50 downtime (min)", data: answer.throughput.map((t) => t.downtime_p50_seconds === null ? null : Math.round(t.downtime_p50_seconds / 60)), installations: answer.throughput.map(() => 1) },
                            { label: "max downtime (min)", data: answer.throughput.map((t) => t.downtime_max_seconds === null ? null : Math.round(t.downtime_max_seconds / 60)), installations: answer.throughput.map(() => 1) }] };
      case "failures_by_phase":
        return { labels: answer.failures_by_phase.map((f) => f.key), datasets: [{ label: "failed runs", data: answer.failures_by_phase.map((f) => f.runs), installations: answer.failures_by_phase.map(() => 1) }] };
      case "failures_by_message":
        return { labels: ["runs", "run ids"], datasets: answer.failures_by_message.map((f) => ({ label: f.key, installations: one(), data: [f.runs, f.run_ids.join(", ")] })) };
      case "funnel":
        return { labels: ["reached", "now", "p50 days", "p90 days"], datasets: answer.funnel.map((f) => ({ label: f.status, installations: one(), data: [f.reached, f.current, f.days_p50, f.days_p90] })) };
      case "stuck":
        return { labels: ["status", "since", "days"], datasets: answer.stuck.map((x) => ({ label: "enrollment " + x.enrollment_id, installations: one(), data: [x.status, x.since.slice(0, 10), x.days] })) };
      default:
        return { labels: ["count", "mean rating"], datasets: answer.feedback.map((f) => ({ label: f.category + ", " + f.period, installations: one(), data: [f.count, f.mean_rating] })) };
    }
  }
  if (query.source === "instrumentation_metrics") {
    const seconds = (v) => v === null || v === undefined ? "" : v;
    if (query.value === "slowest") {
      const rows = answer.metrics.filter((m) => m.time_elapsed_p95 !== null)
        .sort((a, b) => b.time_elapsed_p95 - a.time_elapsed_p95 || a.name.localeCompare(b.name)).slice(0, 15);
      return { labels: ["installations", "p50 (s)", "p95 (s)", "max (s)", "errors"], datasets: rows.map((m) => ({ label: m.name, installations: [m.installations],
        data: [m.installations, seconds(m.time_elapsed_p50), seconds(m.time_elapsed_p95), seconds(m.time_elapsed_max), m.errors] })) };
    }
    const rows = answer.metrics.filter((m) => m.errors > 0).slice(0, 15);
    return { labels: ["errors", "installations", "error rate (%)", "p95 (s)"], datasets: rows.map((m) => ({ label: m.name, installations: [m.installations],
      data: [m.errors, m.installations, Math.round(m.error_rate * 1000) / 10, seconds(m.time_elapsed_p95)] })) };
  }
  if (query.source === "instrumentation_errors") {
    if (query.value === "per_day") {
      return { labels: answer.days.map((d) => d.day), datasets: [{ label: "error reports", data: answer.days.map((d) => d.reports), installations: answer.days.map(() => 1) }] };
    }
    if (query.value === "by_version") {
      const totals = {};
      for (const g of answer.errors) for (const [v, n] of Object.entries(g.versions)) totals[v] = (totals[v] || 0) + n;
      const labels = Object.keys(totals).sort(compareVersions);
      return { labels, datasets: [{ label: "error reports", data: labels.map((v) => totals[v]), installations: labels.map(() => 1) }] };
    }
    return { labels: ["installations", "reports", "versions", "first seen", "last seen"], datasets: answer.errors.map((g) => ({ label: g.message, installations: [g.installations],
      data: [g.installations, g.reports, Object.keys(g.versions).sort(compareVersions).map((v) => v + ": " + g.versions[v]).join(", "),
             g.first_seen.slice(0, 16).replace("T", " "), g.last_seen.slice(0, 16).replace("T", " ")] })) };
  }
  if (query.source === "pulls") {
    const columns = ["last success", "last attempt", "status", "successes", "failures", "next pull"];
    return { labels: columns, datasets: answer.pulls.map((p) => ({ label: p.name, installations: [1],
      data: [p.last_success_at || "never", p.last_attempt_at || "never", p.failing ? (p.last_error || "failing") : (p.last_attempt_at ? "ok" : "not pulled yet"),
             p.successes, p.failures, p.next_at] })) };
  }
  if ((query.source || "series") === "ingest") {
    return { labels: answer.days.map((d) => d.day), datasets: [{ label: query.value, data: answer.days.map((d) => d[query.value]),
                                                                   installations: answer.days.map((d) => d.accepted + d.duplicates + d.rejected) }] };
  }
  const series = answer.series.slice();
  if (answer.group_by === "version") series.sort((a, b) => compareVersions(a.group, b.group));
  const labels = series.length ? series[0].points.map((p) => p.period) : [];
  const datasets = [];
  for (const s of series) {
    if (query.value === "values") {
      const names = new Set();
      s.points.forEach((p) => Object.keys(p.values || {}).forEach((v) => names.add(v)));
      for (const name of [...names].sort()) {
        // The API's keys: "other" is the folded remainder, "v:" marks a real value that reads like a cell.
        const shown = name === "other" ? "(other values)" : name.startsWith("v:") ? name.slice(2) : name;
        datasets.push({ label: s.group === "all" ? shown : s.group + ": " + shown, data: s.points.map((p) => (p.values || {})[name] || 0),
                        installations: s.points.map((p) => p.installations) });
      }
    } else {
      // A share is plotted in percent, its denominator the installations reporting true or false,
      // with its 95 % interval and whether it rests on too few reports (low_count).
      const ratio = query.value === "ratio";
      const percent = (v) => v === undefined || v === null ? null : Math.round(v * 100000) / 1000;
      const dataset = { label: s.group, data: s.points.map((p) => p[query.value] === undefined || p[query.value] === null ? null
                                                                 : ratio ? percent(p[query.value]) : p[query.value]),
                        installations: s.points.map((p) => ratio ? (p.true || 0) + (p.false || 0) : p.installations) };
      if (ratio) {
        dataset.ciLow = s.points.map((p) => percent(p.ci_low));
        dataset.ciHigh = s.points.map((p) => percent(p.ci_high));
        dataset.lowCount = s.points.map((p) => p.low_count === true);
      }
      if (s.points.some((p) => p.suppressed)) dataset.suppressed = s.points.map((p) => p.suppressed === true);
      // Partial periods: a period still filling up is drawn dashed and named so.
      dataset.complete = s.points.map((p) => p.complete !== false);
      dataset.expected = s.points.map((p) => p.expected === undefined ? null : p.expected);
      dataset.reported = s.points.map((p) => p.reported === undefined ? null : p.reported);
      datasets.push(dataset);
    }
  }
  return { labels, datasets };
}

// The annotations that fall in each plotted period (`labels` are period starts, YYYY-MM-DD),
// about the panel's metric or about all: [{index, period, text}].
function annotationsFor(labels, notes, query) {
  const found = [];
  labels.forEach((start, i) => {
    const end = i + 1 < labels.length ? labels[i + 1] : nextStart(labels);
    for (const n of notes) {
      const day = n.at.slice(0, 10);
      if ((!n.metric || n.metric === query.metric) && day >= start && day < end) found.push({ index: i, period: start, kind: n.kind, text: n.text });
    }
  });
  return found;
}

// The start after the last label: one period on, measured from the two before it.
function nextStart(labels) {
  if (labels.length < 2) return "9999-12-31";
  const a = Date.parse(labels[labels.length - 2]), b = Date.parse(labels[labels.length - 1]);
  const step = b - a;
  if (step > 27 * 86400000) { const d = new Date(b); d.setUTCMonth(d.getUTCMonth() + 1); return d.toISOString().slice(0, 10); }
  return new Date(b + step).toISOString().slice(0, 10);
}

// Draws each annotation as a dashed vertical line at its period (the text is in the tooltip).
const annotationMarkers = {
  id: "annotationMarkers",
  afterDatasetsDraw(chart) {
    const notes = chart.options.plugins.annotationMarkers && chart.options.plugins.annotationMarkers.notes;
    if (!notes || notes.length === 0) return;
    const { ctx, chartArea, scales } = chart;
    ctx.save();
    ctx.strokeStyle = "rgba(90, 90, 90, 0.7)"; ctx.setLineDash([4, 4]); ctx.lineWidth = 1;
    for (const index of new Set(notes.map((n) => n.index))) {
      const x = scales.x.getPixelForValue(index);
      ctx.beginPath(); ctx.moveTo(x, chartArea.top); ctx.lineTo(x, chartArea.bottom); ctx.stroke();
    }
    ctx.restore();
  },
};

async function render() {
  charts.splice(0).forEach((c) => c.destroy());
  const dashboard = dashboards.find((d) => d.slug === $("dashboard").value) || dashboards[0];
  if (!dashboard) return;
  $("dashboard-description").textContent = dashboard.description || "";
  document.title = dashboard.title + " · pingroll";
  const main = $("panels");
  main.innerHTML = "";
  // The range's annotations, once for every chart (a failure leaves the charts without them).
  const notes = await api("/api/v1/annotations?" + new URLSearchParams({ from: $("from").value, to: $("to").value }))
    .then((r) => r.json()).then((a) => a.annotations).catch(() => []);
  await Promise.all(dashboard.panels.map(async (panel) => {
    const section = document.createElement("section");
    section.className = "panel"; section.id = "panel-" + panel.id;
    section.dataset.panel = panel.id; section.dataset.state = "loading";
    const title = document.createElement("h2");
    title.textContent = panel.title;
    section.appendChild(title);
    if (panel.description) {
      const p = document.createElement("p"); p.className = "description"; p.textContent = panel.description; section.appendChild(p);
    }
    const loading = document.createElement("p"); loading.className = "loading"; loading.textContent = "Loading…";
    section.appendChild(loading);
    main.appendChild(section);
    try {
      const query = panel.query;
      const source = query.source || "series";
      const range = { from: $("from").value, to: $("to").value };
      const url = source === "ingest" ? "/api/v1/ingest?" + new URLSearchParams(range)
        : source === "beta" ? "/api/v1/beta/programs/" + encodeURIComponent(query.program) + "/timeline?" + new URLSearchParams({ ...range, interval: query.interval || $("interval").value })
        : source === "pulls" ? "/api/v1/pulls"
        : source === "beta_analytics" ? "/api/v1/beta/programs/" + encodeURIComponent(query.program) + "/analytics?" + new URLSearchParams({ from: $("from").value, to: $("to").value })
        : source === "instrumentation_metrics" ? "/api/v1/instrumentation/metrics?" + new URLSearchParams({ ...range, limit: "10000" })
        : source === "instrumentation_errors" ? "/api/v1/instrumentation/errors?" + new URLSearchParams({ ...range, limit: "10000" })
        : source === "estimate" ? estimateURL(query)
        : seriesURL(query);
      const data = plotData(query, await (await api(url)).json());
      if (source === "series" || source === "estimate") data.annotations = annotationsFor(data.labels, notes, query);
      if ((source === "pulls" || (panel.chart === "table" && (source.startsWith("instrumentation") || source === "beta_analytics"))) && data.datasets.length === 0) {
        const p = document.createElement("p");
        p.textContent = source === "pulls" ? "No instances are pulled: serve --pull-config FILE lists them."
          : source === "beta_analytics" ? "Nothing recorded in this date range." : "No reports in this date range.";
        section.appendChild(p);
        section.dataset.state = "empty";
        return;
      }
      const link = document.createElement("a");
      link.href = "#"; link.textContent = "CSV"; link.className = "csv";
      link.addEventListener("click", (e) => { e.preventDefault(); downloadCSV(panel, data); });
      title.appendChild(link);
      loading.remove();
      draw(section, panel, data);
      const script = document.createElement("script");
      script.type = "application/json"; script.className = "panel-data";
      script.textContent = JSON.stringify(data);
      section.appendChild(script);
      section.dataset.state = "ready";
    } catch (e) {
      loading.remove();
      const p = document.createElement("p");
      if ((panel.query.source === "beta" || panel.query.source === "beta_analytics") && e.status === 404) {
        p.textContent = "There is no beta program " + panel.query.program + " yet.";
        section.dataset.state = "empty";
      } else {
        p.className = "error"; p.textContent = "Could not load this panel: " + e.message;
        section.dataset.state = "error";
      }
      section.appendChild(p);
    }
  }));
  document.body.dataset.rendered = dashboard.slug;
}

function draw(section, panel, data) {
  if (panel.chart === "number") {
    // The latest complete period in which installations reported (a period still filling up
    // would show a fraction of the fleet); without one, the latest with reports.
    const ds = data.datasets[0];
    const usable = (i) => ds.installations[i] > 0 && (!ds.complete || ds.complete[i]);
    let index = ds ? ds.data.length - 1 : -1;
    while (ds && index > 0 && !usable(index)) index--;
    if (ds && index >= 0 && !usable(index)) { index = ds.data.length - 1; while (index > 0 && !(ds.installations[index] > 0)) index--; }
    const last = index >= 0 ? ds.data[index] : null;
    if (index >= 0) section.dataset.period = data.labels[index];
    const div = document.createElement("div"); div.className = "number";
    const percent = panel.query.value === "ratio";
    const low = percent && ds && ds.lowCount && ds.lowCount[index];
    div.textContent = last === null || last === undefined ? "–" : last + (percent ? " %" : "");
    if (low) div.classList.add("low-count");
    section.dataset.value = String(last);
    section.appendChild(div);
    if (index >= 0) {
      const context = document.createElement("p"); context.className = "context";
      const interval = panel.query.interval || $("interval").value;
      const band = percent && ds.ciLow && ds.ciLow[index] !== null ? " (95 %: " + ds.ciLow[index] + "–" + ds.ciHigh[index] + " %)" : "";
      const partial = ds.complete && !ds.complete[index] ? " (partial)" : ds.complete ? " (latest complete " + interval + ")" : "";
      context.textContent = (low ? "n = " + ds.installations[index] + ": too few to read a share; " : "")
        + (percent ? "of " + ds.installations[index] + " installations reporting true or false" + band + ", " : "") + interval + " of " + data.labels[index] + partial;
      section.appendChild(context);
    }
  } else if (panel.chart === "table") {
    const wrap = document.createElement("div");
    wrap.className = "table";
    const table = document.createElement("table");
    const head = table.insertRow();
    // Period columns newest first, so the latest weeks are in view; other tables as they come.
    const periodic = (panel.query.source || "series") === "series";
    const order = data.labels.map((_, i) => i);
    if (periodic) order.reverse();
    ["", ...order.map((i) => data.labels[i])].forEach((l) => { const th = document.createElement("th"); th.textContent = l; head.appendChild(th); });
    for (const ds of data.datasets) {
      const row = table.insertRow();
      [ds.label, ...order.map((i) => ds.data[i])].forEach((v) => { row.insertCell().textContent = v === null || v === undefined ? "" : v; });
    }
    wrap.appendChild(table);
    section.appendChild(wrap);
  } else {
    const canvas = document.createElement("canvas");
    section.appendChild(canvas);
    const stacked = panel.chart === "stacked_bar";
    const percent = panel.query.value === "ratio";
    // Shares: a point from too few reports is drawn hollow and faded; a line chart draws each
    // share's 95 % interval as a band behind it (two extra datasets, out of the legend).
    const shown = data.datasets.map((d, i) => {
      const low = d.lowCount || [];
      return { label: d.label, data: d.data, borderColor: color(i), backgroundColor: color(i), borderDash: i >= 12 ? [6, 3] : [], spanGaps: true,
               pointBackgroundColor: d.data.map((_, j) => low[j] ? "rgba(255,255,255,0)" : color(i)),
               pointBorderColor: d.data.map((_, j) => low[j] ? fade(i) : color(i)),
               pointRadius: d.data.map((_, j) => low[j] ? 4 : 3), source: d,
               // The segment into a period still filling up is dashed.
               segment: { borderDash: (ctx) => d.complete && d.complete[ctx.p1DataIndex] === false ? [6, 4] : undefined } };
    });
    if (!stacked) {
      data.datasets.forEach((d, i) => {
        if (!d.ciLow) return;
        shown.push({ label: d.label + " (95 % interval)", data: d.ciHigh, band: true, borderColor: "rgba(0,0,0,0)", pointRadius: 0,
                     backgroundColor: fade(i), fill: "+1", spanGaps: true });
        shown.push({ label: d.label + " (95 % interval, low end)", data: d.ciLow, band: true, borderColor: "rgba(0,0,0,0)", pointRadius: 0,
                     backgroundColor: fade(i), fill: false, spanGaps: true });
      });
    }
    section.dataset.bands = String(shown.filter((d) => d.band).length / 2);
    section.dataset.annotations = String((data.annotations || []).length);
    section.dataset.hollow = String(data.datasets.reduce((n, d) => n + (d.lowCount || []).filter((x) => x).length, 0));
    charts.push(new Chart(canvas, {
      type: stacked ? "bar" : "line",
      plugins: [annotationMarkers],
      data: { labels: data.labels, datasets: shown },
      options: { animation: false, responsive: true,
                 scales: { x: { stacked, title: { display: true, text: xTitle(panel) } },
                           y: { stacked, beginAtZero: true, title: { display: true, text: yTitle(panel) }, ticks: percent ? { callback: (v) => v + " %" } : {} } },
                 plugins: { annotationMarkers: { notes: data.annotations || [] },
                            legend: { position: "bottom", labels: { boxWidth: 12, filter: (item, chart) => !chart.datasets[item.datasetIndex].band } },
                            tooltip: { filter: (c) => !c.dataset.band,
                                       callbacks: { footer: (items) => (data.annotations || []).filter((n) => items.length && n.index === items[0].dataIndex)
                                                                           .map((n) => n.kind.replace("_", " ") + ": " + n.text),
                                                    afterLabel: (c) => {
                                         const d = c.dataset.source;
                                         if (!d) return "";
                                         const n = d.installations[c.dataIndex];
                                         if (d.complete && d.complete[c.dataIndex] === false) {
                                           const e = d.expected && d.expected[c.dataIndex], r = d.reported ? d.reported[c.dataIndex] : n;
                                           return "partial: " + (e ? Math.round(100 * r / e) + " % of the previous period's " + e + " installations so far" : r + " installations so far");
                                         }
                                         if (d.estimate) {
                                           const j = c.dataIndex, reason = d.reasons[j] ? " (" + d.reasons[j] + ")" : "";
                                           const band = d.ciLow && d.ciLow[j] !== null ? "95 %: " + d.ciLow[j] + "–" + d.ciHigh[j] + "; " : "";
                                           return band + d.reported[j] + " reported, " + d.silent[j] + " silent" + reason;
                                         }
                                         if (!percent) return "";
                                         if (d.lowCount && d.lowCount[c.dataIndex]) return "n = " + n + ": too few to read a share";
                                         const band = d.ciLow && d.ciLow[c.dataIndex] !== null ? "; 95 %: " + d.ciLow[c.dataIndex] + "–" + d.ciHigh[c.dataIndex] + " %" : "";
                                         return "of " + n + " installations reporting" + band;
                                       } } } } },
    }));
  }
}

function xTitle(panel) {
  const q = panel.query, source = q.source || "series";
  if (source === "ingest" || q.value === "per_day") return "day";
  if (q.value === "by_version") return "GitLab version (major.minor)";
  if (q.value === "downtime") return "storage driver, registry size";
  if (q.value === "failures_by_phase") return "phase that failed";
  return (q.interval || $("interval").value) + " starting";
}

function yTitle(panel) {
  const q = panel.query, source = q.source || "series";
  if (source === "ingest") return "pings";
  if (source === "instrumentation_errors") return "error reports";
  if (source === "beta") return "enrollments";
  if (source === "beta_analytics") return q.value === "downtime" ? "minutes" : "runs";
  if (q.value === "ratio") return "share of installations reporting (%)";
  if (["sum", "p50", "p90", "p99"].includes(q.value)) return q.value + " of " + q.metric;
  return "installations";
}

function downloadCSV(panel, data) {
  const query = panel.query;
  if ((query.source || "series") === "series") {
    return api(seriesURL(query, "csv")).then((r) => r.blob()).then((blob) => save(blob, panel.id + ".csv"));
  }
  const quote = (v) => { v = String(v === null ? "" : v); if (/^[=+\-@\t\r]/.test(v) && isNaN(Number(v))) v = "'" + v; return /[",\r\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; };
  const rows = [["period", ...data.datasets.map((d) => d.label)].map(quote).join(",")];
  data.labels.forEach((l, i) => rows.push([l, ...data.datasets.map((d) => d.data[i])].map(quote).join(",")));
  save(new Blob([rows.join("\r\n") + "\r\n"], { type: "text/csv" }), panel.id + ".csv");
}

function save(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
}

start();
