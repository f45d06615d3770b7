/// The dashboard UI: one page that asks for a token once (kept in the browser session), lists
/// the dashboards, and draws each panel from the JSON API with Chart.js. Every panel exposes
/// what it drew in the DOM (`data-state`, a JSON `panel-data` script, `data-value` for numbers),
/// which the browser test reads.
enum DashboardPage {
    static let html = #"""
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>pingroll dashboards</title>
    <style>
      body { font-family: system-ui, sans-serif; margin: 0; background: #f6f7f9; color: #1f2328; }
      header { background: #292961; color: #fff; padding: .8rem 1.2rem; display: flex; gap: 1rem; align-items: center; flex-wrap: wrap; }
      header h1 { font-size: 1.1rem; margin: 0 1rem 0 0; }
      header label { font-size: .85rem; }
      header select, header input, header button { font: inherit; font-size: .85rem; }
      main { padding: 1rem; display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 1rem; }
      .panel { background: #fff; border: 1px solid #d8dee4; border-radius: 6px; padding: .8rem 1rem; }
      .panel h2 { font-size: .95rem; margin: 0 0 .4rem; display: flex; justify-content: space-between; gap: .5rem; }
      .panel h2 a { font-size: .75rem; font-weight: normal; }
      .panel p.description { font-size: .8rem; color: #57606a; margin: 0 0 .5rem; }
      .panel .number { font-size: 3rem; font-weight: 600; padding: 1rem 0; }
      .panel .table { overflow-x: auto; }
      .panel table { border-collapse: collapse; font-size: .8rem; width: 100%; }
      .panel td, .panel th { border-bottom: 1px solid #eaeef2; padding: .2rem .4rem; text-align: right; }
      .panel td:first-child, .panel th:first-child { text-align: left; }
      .error { color: #b42318; }
      #login { padding: 2rem; max-width: 30rem; }
      #dashboard-description { padding: .6rem 1.2rem 0; font-size: .85rem; color: #57606a; }
    </style>
    <script src="/assets/chart.min.js"></script>
    </head>
    <body>
    <header>
      <h1>pingroll</h1>
      <label>Dashboard <select id="dashboard"></select></label>
      <label>From <input type="date" id="from"></label>
      <label>To <input type="date" id="to"></label>
      <label>Interval <select id="interval"><option>day</option><option selected>week</option><option>month</option></select></label>
      <button id="apply">Show</button>
      <button id="logout" title="Forget the token in this browser session">Forget token</button>
    </header>
    <div id="dashboard-description"></div>
    <form id="login" hidden>
      <p>Paste an API token (<code>pingroll token create --role viewer --name NAME</code>). It is kept for this browser session only.</p>
      <input id="token" type="password" size="60" autocomplete="off"> <button>Use token</button>
      <p class="error" id="login-error"></p>
    </form>
    <main id="panels"></main>
    <script>
    "use strict";
    const KEY = "pingroll-token";
    const hash = new URLSearchParams(location.hash.slice(1));
    if (hash.get("token")) {
      sessionStorage.setItem(KEY, hash.get("token"));
      history.replaceState(null, "", location.pathname + location.search);
    }
    const $ = (id) => document.getElementById(id);
    const iso = (d) => d.toISOString().slice(0, 10);
    const params = new URLSearchParams(location.search);
    const today = new Date();
    $("to").value = params.get("to") || iso(today);
    $("from").value = params.get("from") || iso(new Date(today.getTime() - 84 * 86400000));
    $("interval").value = params.get("interval") || "week";
    const colors = ["#1f75cb", "#e24329", "#fca326", "#108548", "#6b4fbb", "#db3b21", "#217645", "#5943b6", "#c17d10", "#00856b"];
    let dashboards = [];
    const charts = [];

    async function api(path) {
      const response = await fetch(path, { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } });
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
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("login").hidden = true;
      start();
    });
    $("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
    $("apply").addEventListener("click", () => {
      const q = new URLSearchParams({ dashboard: $("dashboard").value, from: $("from").value, to: $("to").value, interval: $("interval").value });
      history.replaceState(null, "", "?" + q);
      render();
    });
    $("dashboard").addEventListener("change", () => $("apply").click());

    async function start() {
      if (!sessionStorage.getItem(KEY)) return showLogin("");
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

    // Labels and datasets a panel plots, from the API's answer.
    function plotData(query, answer) {
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
      if ((query.source || "series") === "ingest") {
        return { labels: answer.days.map((d) => d.day), datasets: [{ label: query.value, data: answer.days.map((d) => d[query.value]),
                                                                       installations: answer.days.map((d) => d.accepted + d.duplicates + d.rejected) }] };
      }
      const series = answer.series;
      const labels = series.length ? series[0].points.map((p) => p.period) : [];
      const datasets = [];
      for (const s of series) {
        if (query.value === "values") {
          const names = new Set();
          s.points.forEach((p) => Object.keys(p.values || {}).forEach((v) => names.add(v)));
          for (const name of [...names].sort()) {
            datasets.push({ label: s.group === "all" ? name : s.group + ": " + name, data: s.points.map((p) => (p.values || {})[name] || 0),
                            installations: s.points.map((p) => p.installations) });
          }
        } else {
          datasets.push({ label: s.group, data: s.points.map((p) => p[query.value] === undefined ? null : p[query.value]),
                          installations: s.points.map((p) => p.installations) });
        }
      }
      return { labels, datasets };
    }

    async function render() {
      charts.splice(0).forEach((c) => c.destroy());
      const dashboard = dashboards.find((d) => d.slug === $("dashboard").value) || dashboards[0];
      if (!dashboard) return;
      $("dashboard-description").textContent = dashboard.description || "";
      document.title = dashboard.title + " · pingroll";
      const main = $("panels");
      main.innerHTML = "";
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
        main.appendChild(section);
        try {
          const query = panel.query;
          const source = query.source || "series";
          const range = { from: $("from").value, to: $("to").value };
          const url = source === "ingest" ? "/api/v1/ingest?" + new URLSearchParams(range)
            : source === "beta" ? "/api/v1/beta/programs/" + encodeURIComponent(query.program) + "/timeline?" + new URLSearchParams({ ...range, interval: query.interval || $("interval").value })
            : seriesURL(query);
          const data = plotData(query, await (await api(url)).json());
          const link = document.createElement("a");
          link.href = "#"; link.textContent = "CSV"; link.className = "csv";
          link.addEventListener("click", (e) => { e.preventDefault(); downloadCSV(panel, data); });
          title.appendChild(link);
          draw(section, panel, data);
          const script = document.createElement("script");
          script.type = "application/json"; script.className = "panel-data";
          script.textContent = JSON.stringify(data);
          section.appendChild(script);
          section.dataset.state = "ready";
        } catch (e) {
          const p = document.createElement("p");
          if (panel.query.source === "beta" && e.status === 404) {
            p.textContent = "There is no beta program " + panel.query.program + " yet.";
            section.dataset.state = "empty";
          } else {
            p.className = "error"; p.textContent = e.message;
            section.dataset.state = "error";
          }
          section.appendChild(p);
        }
      }));
      document.body.dataset.rendered = dashboard.slug;
    }

    function draw(section, panel, data) {
      if (panel.chart === "number") {
        // The latest period in which installations reported (the current one may not have yet).
        const ds = data.datasets[0];
        let index = ds ? ds.data.length - 1 : -1;
        while (ds && index > 0 && !(ds.installations[index] > 0)) index--;
        const last = index >= 0 ? ds.data[index] : null;
        if (index >= 0) section.dataset.period = data.labels[index];
        const div = document.createElement("div"); div.className = "number";
        div.textContent = last === null || last === undefined ? "–" : last;
        section.dataset.value = String(last);
        section.appendChild(div);
      } else if (panel.chart === "table") {
        const wrap = document.createElement("div");
        wrap.className = "table";
        const table = document.createElement("table");
        const head = table.insertRow();
        ["", ...data.labels].forEach((l) => { const th = document.createElement("th"); th.textContent = l; head.appendChild(th); });
        for (const ds of data.datasets) {
          const row = table.insertRow();
          [ds.label, ...ds.data].forEach((v) => { row.insertCell().textContent = v === null ? "" : v; });
        }
        wrap.appendChild(table);
        section.appendChild(wrap);
      } else {
        const canvas = document.createElement("canvas");
        section.appendChild(canvas);
        const stacked = panel.chart === "stacked_bar";
        charts.push(new Chart(canvas, {
          type: stacked ? "bar" : "line",
          data: { labels: data.labels, datasets: data.datasets.map((d, i) => ({ label: d.label, data: d.data, borderColor: colors[i % colors.length], backgroundColor: colors[i % colors.length], spanGaps: true })) },
          options: { animation: false, responsive: true, scales: { x: { stacked }, y: { stacked, beginAtZero: true } },
                     plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } } },
        }));
      }
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
    </script>
    </body>
    </html>
    """#
}
