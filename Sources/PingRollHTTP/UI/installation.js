// The installation page's code (served as /assets/installation.js: pages run no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
const uuid = new URLSearchParams(location.search).get("uuid") || "";
const yesNo = (v) => v === null || v === undefined ? "unknown" : v ? "yes" : "no";

function table(into, columns, rows) {
  const t = document.createElement("table");
  const head = t.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  for (const r of rows) { const row = t.insertRow(); for (const v of r) row.insertCell().textContent = v === null || v === undefined ? "" : v; }
  $(into).innerHTML = "";
  if (!rows.length) { const p = document.createElement("p"); p.className = "note"; p.textContent = "None."; $(into).appendChild(p); return; }
  $(into).appendChild(t);
}

async function start() {
  if (!PingRoll.token()) { $("login").hidden = false; return; }
  const response = await fetch("/api/v1/installations/" + encodeURIComponent(uuid) + "/history?limit=100",
                               { headers: { Authorization: "Bearer " + PingRoll.token() } });
  if (response.status === 401) { $("login").hidden = false; $("login-error").textContent = "The token was refused."; return; }
  let body;
  try { body = await response.json(); } catch (e) { body = {}; }
  if (!response.ok) {
    $("title").textContent = "Could not load installation " + uuid + ": " + ((body.error || {}).message || response.status);
    $("title").className = "error";
    $("main").dataset.state = "error";
    return;
  }
  document.title = uuid + " · pingroll";
  $("title").textContent = "Installation " + uuid;
  table("facts", ["hostname", "version", "edition", "tier", "type", "registry", "vendor", "metadata database", "internal", "first seen", "last ping"],
        body.installations.map((i) => [i.hostname || "(none)", i.version, i.edition, i.tier, i.installation_type, yesNo(i.registry_enabled),
                                       i.registry_vendor, yesNo(i.db_enabled), yesNo(i.internal), i.first_seen_at, i.last_ping_at]));
  table("pings", ["recorded", "received", "hostname", "version", "edition", "registry", "vendor", "registry version", "metadata database", "raw payload"],
        body.pings.map((p) => [p.recorded_at, p.received_at, p.hostname || "(none)", p.version, p.edition, yesNo(p.registry_enabled), p.registry_vendor,
                               p.registry_version, yesNo(p.db_enabled), p.payload_dropped ? "dropped by retention" : "kept"]));
  if (body.enrollments.length) {
    table("enrollments", ["program", "status", "updated"], body.enrollments.map((e) => [e.program, e.status, e.updated_at]));
  } else {
    $("enrollments").innerHTML = '<p class="note">Not enrolled in a beta program.</p>';
  }
  table("metadata", ["received", "metrics listed", "failed metrics"], body.metadata_reports.map((m) => [m.received_at, m.metrics, m.failed.join(", ")]));
  table("errors", ["received", "version", "message"], body.error_reports.map((e) => [e.received_at, e.version, e.message]));
  const data = document.createElement("script");
  data.type = "application/json"; data.className = "panel-data"; data.textContent = JSON.stringify(body);
  document.body.appendChild(data);
  $("main").dataset.state = "ready";
}
$("login").addEventListener("submit", (e) => { e.preventDefault(); PingRoll.setToken($("token").value.trim()); location.reload(); });
start();
