/// The dashboard UI: one page that asks for a token once (kept in the browser session), lists
/// the dashboards, and draws each panel from the JSON API with Chart.js. Every panel exposes
/// what it drew in the DOM (`data-state`, a JSON `panel-data` script, `data-value` for numbers),
/// which the browser test reads. The page is `dashboard.html`, built into the binary by
/// `scripts/embed-defaults.py` (`EmbeddedPages`).
enum DashboardPage {
    static var html: String { EmbeddedPages.dashboardHTML }
}
