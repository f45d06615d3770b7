// The beta page's code (served as /assets/beta.js: pages run no inline script).
"use strict";
const $ = (id) => document.getElementById(id);
const STATUSES = ["interested", "enrolled", "importing", "migrated", "withdrawn", "blocked"];
const DRIVERS = ["filesystem", "s3", "gcs", "azure", "swift", "oss"];
let program = "";
let current = null;

async function api(method, path, body, type) {
  const headers = { Authorization: "Bearer " + PingRoll.token() };
  if (body !== undefined) headers["Content-Type"] = type || "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : (type ? body : JSON.stringify(body)) });
  if (response.status === 401) { $("login").hidden = false; $("main").hidden = true; throw new Error("the token was refused"); }
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) {}
  if (!response.ok) {
    const error = new Error((json && json.error && json.error.message) || ("the server answered " + response.status));
    error.status = response.status; error.body = json;
    throw error;
  }
  return json === null ? text : json;
}

function table(into, columns, rows, onClick) {
  const t = document.createElement("table");
  const head = t.insertRow();
  for (const c of columns) { const th = document.createElement("th"); th.textContent = c; head.appendChild(th); }
  rows.forEach((r, i) => {
    const row = t.insertRow();
    for (const v of r) row.insertCell().textContent = v === null || v === undefined ? "" : v;
    if (onClick) { row.className = "clickable"; row.addEventListener("click", () => onClick(i)); }
  });
  $(into).innerHTML = "";
  if (!rows.length) { $(into).innerHTML = '<p class="note">None.</p>'; return; }
  $(into).appendChild(t);
}

function fill(select, values) {
  for (const v of values) { const o = document.createElement("option"); o.value = v; o.textContent = v; select.appendChild(o); }
}

const yesNo = (v) => v === null || v === undefined ? "unknown" : v ? "on" : "off";

async function start() {
  if (!PingRoll.token()) { $("login").hidden = false; $("main").hidden = true; return; }
  $("login").hidden = true; $("main").hidden = false;
  let programs;
  try { programs = (await api("GET", "/api/v1/beta/programs")).programs; } catch (e) {
    if (e.status === 403) { $("viewer-note").hidden = false; $("main").dataset.state = "viewer"; }
    return;
  }
  $("program").innerHTML = "";
  fill($("program"), programs.map((p) => p.slug));
  program = new URLSearchParams(location.search).get("program") || (programs[0] && programs[0].slug) || "";
  $("program").value = program;
  $("enrollments-card").hidden = false; $("forms-card").hidden = false;
  await loadTable();
  const id = new URLSearchParams(location.search).get("enrollment");
  if (id) await openEnrollment(Number(id));
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const el of $("filters").elements) if (el.name && el.value.trim()) q.set(el.name, el.value.trim());
  return q;
}

async function loadTable() {
  $("main").dataset.state = "loading";
  const q = filterQuery(); q.set("format", "json");
  try {
    const answer = await api("GET", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/cohort?" + q);
    const list = Array.isArray(answer) ? answer : (answer.enrollments || []);
    const runs = await Promise.all(list.map((x) => api("GET", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/enrollments/" + x.id + "/migrations")
      .then((r) => r.runs).catch(() => [])));
    table("table", ["organization", "contact", "status", "phase", "installation", "version", "database (pings)", "last ping", "last run"],
          list.map((x, i) => {
            const last = runs[i][runs[i].length - 1];
            const inst = x.installation || {};
            return [x.organization, x.contact_name + " <" + x.contact_email + ">", x.status, x.phase, x.uuid, inst.version, yesNo(inst.db_enabled),
                    inst.last_ping_at, last ? last.mode + ", " + last.outcome + " " + last.started_at.slice(0, 10) : ""];
          }), (i) => openEnrollment(list[i].id));
    $("table-note").textContent = list.length + " enrollments match. Click one to open it.";
    $("table").dataset.count = String(list.length);
    $("main").dataset.state = "ready";
  } catch (e) {
    $("table-note").textContent = "Could not list the enrollments: " + e.message; $("table-note").className = "note error";
    $("main").dataset.state = "error";
  }
}

async function openEnrollment(id) {
  const detail = $("detail");
  detail.hidden = false; detail.dataset.state = "loading";
  const x = await api("GET", "/api/v1/beta/enrollments/" + id);
  current = x;
  const base = "/api/v1/beta/programs/" + encodeURIComponent(program) + "/enrollments/" + id;
  history.replaceState(null, "", "/beta?program=" + encodeURIComponent(program) + "&enrollment=" + id);
  $("detail-title").textContent = x.organization + " — " + x.status;
  const inst = x.installation || {};
  table("detail-facts", ["contact", "installation", "type", "registry size", "storage", "import mode", "version", "database (pings)", "last ping"],
        [[x.contact_name + " <" + x.contact_email + ">", (x.uuid || "") + (x.hostname ? " (" + x.hostname + ")" : ""), x.installation_type,
          x.registry_size_bytes, x.storage_driver, x.import_mode, inst.version, yesNo(inst.db_enabled), inst.last_ping_at]]);
  // Only the transitions the rules allow from here.
  $("status-select").innerHTML = "";
  fill($("status-select"), x.allowed_next || []);
  $("status-form").hidden = !(x.allowed_next || []).length;
  const [runs, feedback, hist] = await Promise.all([api("GET", base + "/migrations"), api("GET", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/feedback"),
                                                    api("GET", "/api/v1/beta/enrollments/" + id + "/history")]);
  table("runs", ["mode", "outcome", "started", "finished", "hours", "downtime (min)", "storage", "size", "notes"],
        runs.runs.map((r) => [r.mode, r.outcome, r.started_at, r.finished_at, r.total_seconds === null ? "" : (r.total_seconds / 3600).toFixed(1),
                              r.downtime_seconds === null ? "" : (r.downtime_seconds / 60).toFixed(0), r.storage_driver, r.registry_size_bytes, r.notes]));
  table("feedback", ["at", "category", "rating", "text", "issue"],
        feedback.feedback.filter((f) => f.enrollment_id === id).map((f) => [f.at, f.category, f.rating, f.text, f.issue_url]));
  table("history", ["at", "by", "field", "from", "to"], hist.history.slice().reverse().map((h) => [h.at, h.token, h.field, h.old, h.new]));
  detail.dataset.runs = String(runs.runs.length);
  detail.dataset.status = x.status;
  detail.dataset.state = "ready";
}

function formObject(form) {
  const o = {};
  for (const el of form.elements) {
    if (!el.name || el.type === "file" || el.type === "checkbox") continue;
    const v = el.value.trim();
    if (v) o[el.name] = v;
  }
  return o;
}

function say(id, text, ok) { $(id).textContent = text; $(id).className = "note " + (ok ? "ok" : "error"); }

$("enroll").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const x = await api("POST", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/enrollments", formObject($("enroll")));
    say("enroll-result", "enrolled as " + x.id, true);
    $("enroll").reset();
    await loadTable();
  } catch (err) { say("enroll-result", err.message, false); }
});

$("import").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("import").elements.file.files[0];
  if (!file) return;
  const partial = $("import").elements.partial.checked ? "?partial=true" : "";
  try {
    const r = await api("POST", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/enrollments/import" + partial, await file.text(), "text/csv");
    say("import-result", r.created + " created, " + r.updated + " updated", true);
    await loadTable();
  } catch (err) {
    const rows = (err.body && err.body.errors || []).slice(0, 10).map((p) => "row " + p.row + " " + p.column + ": " + p.reason).join("; ");
    say("import-result", err.message + (rows ? " — " + rows : ""), false);
  }
});

$("status-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api("PATCH", "/api/v1/beta/enrollments/" + current.id, { status: $("status-select").value });
    say("status-result", "changed", true);
    await openEnrollment(current.id);
    await loadTable();
  } catch (err) { say("status-result", err.message, false); }
});

// datetime-local gives local time without a zone; the API wants an instant.
const instant = (v) => v ? new Date(v).toISOString() : undefined;
$("run-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const o = formObject($("run-form"));
  o.started_at = instant(o.started_at);
  if (o.finished_at) o.finished_at = instant(o.finished_at);
  if (o.registry_size_bytes) o.registry_size_bytes = Number(o.registry_size_bytes);
  try {
    await api("POST", "/api/v1/beta/programs/" + encodeURIComponent(program) + "/enrollments/" + current.id + "/migrations", o);
    say("run-result", "recorded", true);
    $("run-form").reset();
    await loadTable();
    await openEnrollment(current.id);
  } catch (err) { say("run-result", err.message, false); }
});

$("feedback-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const o = formObject($("feedback-form"));
  o.rating = Number(o.rating);
  try {
    await api("POST", "/api/v1/beta/enrollments/" + current.id + "/feedback", o);
    say("feedback-result", "added", true);
    $("feedback-form").reset();
    await openEnrollment(current.id);
  } catch (err) { say("feedback-result", err.message, false); }
});

async function download(format) {
  const q = filterQuery(); q.set("format", format);
  const response = await fetch("/api/v1/beta/programs/" + encodeURIComponent(program) + "/cohort?" + q, { headers: { Authorization: "Bearer " + PingRoll.token() } });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await response.blob()); a.download = program + "-enrollments." + format;
  document.body.appendChild(a); a.click(); a.remove();
}
$("export-csv").addEventListener("click", () => download("csv"));
$("export-json").addEventListener("click", () => download("json"));
$("filters").addEventListener("submit", (e) => { e.preventDefault(); loadTable(); });
$("program").addEventListener("change", () => { program = $("program").value; $("detail").hidden = true; loadTable(); });
$("login").addEventListener("submit", (e) => { e.preventDefault(); PingRoll.setToken($("token").value.trim()); start(); });
$("logout").addEventListener("click", () => { PingRoll.forgetToken(); location.reload(); });
fill(document.querySelector("#filters [name=status]"), STATUSES);
for (const s of document.querySelectorAll("[name=storage_driver]")) fill(s, DRIVERS);
start();
