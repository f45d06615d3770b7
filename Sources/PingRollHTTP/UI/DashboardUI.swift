import PingRollCore
import PingRollService

/// What the built-in dashboard UI serves: the dashboard definitions and Chart.js.
public struct UIConfiguration: Sendable {
    /// The dashboard definitions, checked against the catalog.
    public var dashboards: [Dashboard]
    /// Chart.js (Debian's libjs-chart.js), or nil when it is not installed.
    public var chartJS: [UInt8]?
    public var chartJSPath: String

    public init(dashboards: [Dashboard], chartJSPath: String, chartJS: [UInt8]?) {
        self.dashboards = dashboards
        self.chartJSPath = chartJSPath
        self.chartJS = chartJS
    }

    /// Where Debian's libjs-chart.js installs Chart.js.
    public static let debianChartJS = "/usr/share/javascript/chart.js/chart.min.js"
}

extension PingRollResponder {
    static func addUIRoutes(to r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/", Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(DashboardPage.html.utf8)))
        })
        r.add("GET", "/explore", Route(maxBodyBytes: small, requiresLength: false, queryParameters: nil) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(EmbeddedPages.exploreHTML.utf8)))
        })
        r.add("GET", "/installation", Route(maxBodyBytes: small, requiresLength: false, queryParameters: nil) { _, _, done in
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")],
                              body: Array(EmbeddedPages.installationHTML.utf8)))
        })
        r.add("GET", "/assets/chart.min.js", Route(maxBodyBytes: small, requiresLength: false) { responder, _, done in
            guard let ui = responder.ui, let js = ui.chartJS else {
                return done(HTTPError(404, "not_found", "Chart.js is not installed at \(responder.ui?.chartJSPath ?? UIConfiguration.debianChartJS) (apt-get install libjs-chart.js)").response)
            }
            done(HTTPResponse(status: 200, headers: [("Content-Type", "text/javascript; charset=utf-8"), ("Cache-Control", "max-age=86400")], body: js))
        })
        r.add("GET", "/api/v1/dashboards", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: []) { responder, _, done in
            done(.json(200, DashboardListBody(responder.ui?.dashboards ?? [])))
        })
    }
}
