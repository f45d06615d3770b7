import PingRollCore
import PingRollService
import PingRollStore

extension PingRollResponder {
    static func addInstallationRoutes(to r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/installations", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                    queryParameters: ["limit", "cursor", "filter", "include_internal", "metric", "value", "interval", "period"],
                                                    answer: { try $0.installationList($1) }))
        r.add("GET", "/api/v1/installations/{uuid}", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                      queryParameters: [], answer: { try $0.installationDetail($1) }))
        r.add("GET", "/api/v1/installations/{uuid}/history", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                              queryParameters: ["limit"], answer: { try $0.installationHistory($1) }))
        r.add("GET", "/api/v1/installations/{uuid}/pings/{id}/raw", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                                        queryParameters: [], answer: { try $0.rawPing($1) }))
    }

    /// `GET /api/v1/installations/{uuid}/pings/{id}/raw` (admin): the ping's payload exactly as it
    /// was posted (after any gzip transfer encoding was removed), whatever form it is stored in.
    func rawPing(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = request.pathParameters["uuid"] ?? "", idText = request.pathParameters["id"] ?? ""
        guard let id = Int64(idText), let ping = try store.ping(id: id), ping.installation.uuid == uuid else {
            throw HTTPError(404, "not_found", "installation \(uuid) has no ping \(idText)")
        }
        if ping.payloadDropped {
            throw HTTPError(410, "payload_dropped", "retention dropped the raw payload of ping \(id) (recorded \(ping.recordedAt)); its facts and rollup contributions are kept")
        }
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"),
                                                   ("Content-Disposition", "attachment; filename=\"ping-\(id).json\"")], body: ping.payload)
    }

    /// `GET /api/v1/installations?limit=&cursor=&filter=DIM:VALUE,...&include_internal=`, in id
    /// order; `next_cursor` is null on the last page. Internal installations are left out unless
    /// `include_internal=true` or a filter on `internal` asks for them.
    func installationList(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try limitArgument(request, default: 100, max: 1000)
        let cursorText = request.head.queryValue("cursor") ?? "0"
        // 1 to 18 digits, as the spec says: every such number fits in 64 bits.
        guard (1...18).contains(cursorText.utf8.count), cursorText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let cursor = Int64(cursorText) else {
            throw HTTPError(400, "invalid_parameter", "`cursor`: must be a next_cursor from an earlier page")
        }
        let filters = SeriesQuery.applyingInternalDefault(
            try SeriesQuery.filterArguments(request.head.query.filter { $0.0 == "filter" }.map(\.1)),
            includeInternal: try SeriesQuery.includeInternalArgument(request.head.queryValue("include_internal")))
        let drill = ["metric", "value", "interval", "period"]
        if drill.contains(where: { request.head.queryValue($0) != nil }) {
            return try cellInstallations(request, filters: filters, limit: limit, cursor: cursor)
        }
        var found: [InstallationRecord] = []
        var after = cursor
        var exhausted = false
        while found.count < limit && !exhausted {
            let page = try store.installations(after: after, limit: 500)
            exhausted = page.count < 500
            for record in page {
                after = record.id
                if SeriesQuery.tuple(record.tuple, passes: filters) {
                    found.append(record)
                    if found.count == limit { break }
                }
            }
        }
        let more = try !exhausted || !store.installations(after: after, limit: 1).isEmpty
        return .json(200, InstallationPage(installations: found.map(InstallationBody.init), nextCursor: more ? "\(after)" : nil))
    }

    /// `GET /api/v1/installations?metric=KEY&value=V&interval=I&period=DAY[&filter=...][&include_internal=...]`:
    /// exactly the installations the series cell counts (see `CellMembersReading`), paged.
    func cellInstallations(_ request: HTTPRequest, filters: [Dimension: Set<String>], limit: Int, cursor: Int64) throws -> HTTPResponse {
        guard let catalog = store.catalog else { throw Self.noCatalog }
        func required(_ name: String, _ hint: String) throws(HTTPError) -> String {
            guard let text = request.head.queryValue(name) else {
                throw HTTPError(400, "invalid_parameter", "`\(name)`: is required with `metric`, `value`, `interval` and `period` (\(hint))")
            }
            return text
        }
        let key = try required("metric", "a key_path from /api/v1/catalog")
        guard let metric = catalog.metric(key) else { throw HTTPError(400, "invalid_parameter", "`metric`: `\(key)` is not in the catalog") }
        let intervalText = try required("interval", "day, week or month")
        guard let interval = PeriodKind(rawValue: intervalText) else {
            throw HTTPError(400, "invalid_parameter", "`interval`: must be day, week or month (got \(intervalText))")
        }
        guard metric.periods.contains(interval) else {
            throw HTTPError(400, "invalid_parameter", "`interval`: \(key) is rolled up by \(metric.periods.map(\.rawValue).joined(separator: ", ")) only")
        }
        let periodText = try required("period", "the period's first day, YYYY-MM-DD, as the series' `period`")
        guard let day = days(isoDate: periodText) else {
            throw HTTPError(400, "invalid_parameter", "`period`: must be a date YYYY-MM-DD (got \(periodText))")
        }
        let start = interval.start(of: Timestamp(milliseconds: day &* 86_400_000))
        guard start == day else {
            throw HTTPError(400, "invalid_parameter", "`period`: \(periodText) is not the first day of a \(interval.rawValue); that \(interval.rawValue) starts \(isoDate(days: start))")
        }
        let valueText = try required("value", "installations, or one of the point's cells")
        guard let selector = CellSelector.parse(valueText, type: metric.valueType) else {
            let cells = (["installations"] + CellSelector.fixed(for: metric.valueType).map(\.rawValue)).joined(separator: ", ")
            throw HTTPError(400, "invalid_parameter", "`value`: a \(metric.valueType.rawValue) metric's cells are \(cells) (got \(valueText))")
        }
        let page = try store.cellMembers(CellMembersQuery(metric: metric, interval: interval, periodStart: start, selector: selector,
                                                          filters: filters, after: cursor, limit: limit))
        return .json(200, CellInstallationsBody(metric: key, interval: interval, periodStart: start, selector: selector, page))
    }

    /// `GET /api/v1/installations/{uuid}/history?limit=N`: its facts per ping (newest first), its
    /// metadata and error reports, its beta enrollments (program and status only).
    func installationHistory(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = request.pathParameters["uuid"] ?? ""
        let limit = try limitArgument(request, default: 100, max: 1000)
        let records = try store.installations(uuid: uuid)
        guard !records.isEmpty else { throw HTTPError(404, "not_found", "no installation has uuid \(uuid)") }
        let reports = try store.clientReports(uuid: uuid, limit: limit)
        return .json(200, InstallationHistoryBody(installations: records, pings: try store.pingFacts(uuid: uuid, limit: limit),
                                                  metadata: reports.metadata, errors: reports.errors, enrollments: try store.enrollments(uuid: uuid)))
    }

    /// `GET /api/v1/installations/{uuid}`: every hostname of the uuid.
    func installationDetail(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = request.pathParameters["uuid"] ?? ""
        let records = try store.installations(uuid: uuid)
        guard !records.isEmpty else { throw HTTPError(404, "not_found", "no installation has uuid \(uuid)") }
        return .json(200, InstallationList(installations: records.map(InstallationBody.init)))
    }

}

extension PingRollResponder {
    static func addIngestHealthRoute(to r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/ingest", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                             queryParameters: ["from", "to"], answer: { try $0.ingestHealth($1) }))
    }

    /// `GET /api/v1/ingest[?from=YYYY-MM-DD&to=YYYY-MM-DD]` (default: the last 30 days, by day of receipt).
    func ingestHealth(_ request: HTTPRequest) throws -> HTTPResponse {
        let (from, to) = try dayRange(request)
        let health = try store.ingestHealth(fromDay: from, toDay: to)
        return .json(200, IngestHealthBody(health, fromDay: from, toDay: to, quarantineMaxBytes: store.quarantineMaxBytes))
    }
}
