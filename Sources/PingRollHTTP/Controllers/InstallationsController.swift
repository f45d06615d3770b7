import PingRollCore
import PingRollService

struct InstallationsController: Controller {
    let query: QueryService

    func register(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/installations", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                    queryParameters: ["limit", "cursor", "filter", "include_internal", "metric", "value", "interval", "period"],
                                                    answer: bind { try $0.installationList($1) }))
        r.add("GET", "/api/v1/installations/{uuid}", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                      queryParameters: [], answer: bind { try $0.installationDetail($1) }))
        r.add("GET", "/api/v1/installations/{uuid}/history", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                                              queryParameters: ["limit"], answer: bind { try $0.installationHistory($1) }))
        r.add("GET", "/api/v1/installations/{uuid}/pings/{id}/raw", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .admin,
                                                                        queryParameters: [], answer: bind { try $0.rawPing($1) }))
    }

    /// `GET /api/v1/installations/{uuid}/pings/{id}/raw` (admin): the ping's payload exactly as it
    /// was posted (after any gzip transfer encoding was removed), whatever form it is stored in.
    func rawPing(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = try request.path("uuid", as: String.self, notFound: "")
        let missing = "installation \(uuid) has no ping \(request.pathParameters["id"] ?? "")"
        let id = try request.path("id", as: Int64.self, notFound: missing)
        guard let ping = try query.rawPing(uuid: uuid, id: id) else { throw HTTPError(404, "not_found", missing) }
        switch ping {
        case .dropped(let recordedAt):
            throw HTTPError(410, "payload_dropped", "retention dropped the raw payload of ping \(id) (recorded \(recordedAt)); its facts and rollup contributions are kept")
        case .payload(let payload):
            return HTTPResponse(status: 200, headers: [("Content-Type", "application/json"),
                                                       ("Content-Disposition", "attachment; filename=\"ping-\(id).json\"")], body: payload)
        }
    }

    /// `GET /api/v1/installations?limit=&cursor=&filter=DIM:VALUE,...&include_internal=`, in id
    /// order; `next_cursor` is null on the last page. Internal installations are left out unless
    /// `include_internal=true` or a filter on `internal` asks for them.
    func installationList(_ request: HTTPRequest) throws -> HTTPResponse {
        let limit = try request.limit(default: 100, max: 1000)
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
        return .json(200, try query.installationPage(filters: filters, cursor: cursor, limit: limit))
    }

    /// `GET /api/v1/installations?metric=KEY&value=V&interval=I&period=DAY[&filter=...][&include_internal=...]`:
    /// exactly the installations the series cell counts (see `CellMembersReading`), paged.
    func cellInstallations(_ request: HTTPRequest, filters: [Dimension: Set<String>], limit: Int, cursor: Int64) throws -> HTTPResponse {
        .json(200, try query.cellInstallations({ request.head.queryValue($0) }, filters: filters, limit: limit, cursor: cursor))
    }

    /// `GET /api/v1/installations/{uuid}/history?limit=N`: its facts per ping (newest first), its
    /// metadata and error reports, its beta enrollments (program and status only).
    func installationHistory(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = try request.path("uuid", as: String.self, notFound: "")
        let limit = try request.limit(default: 100, max: 1000)
        guard let history = try query.installationHistory(uuid: uuid, limit: limit) else {
            throw HTTPError(404, "not_found", "no installation has uuid \(uuid)")
        }
        return .json(200, history)
    }

    /// `GET /api/v1/installations/{uuid}`: every hostname of the uuid.
    func installationDetail(_ request: HTTPRequest) throws -> HTTPResponse {
        let uuid = try request.path("uuid", as: String.self, notFound: "")
        guard let list = try query.installation(uuid: uuid) else { throw HTTPError(404, "not_found", "no installation has uuid \(uuid)") }
        return .json(200, list)
    }

}

extension InstallationsController {
    func registerIngestHealth(_ r: inout Router, limits: IngestLimits) {
        r.add("GET", "/api/v1/ingest", Route(maxBodyBytes: limits.maxOtherBodyBytes, requiresLength: false, role: .viewer,
                                             queryParameters: ["from", "to"], answer: bind { try $0.ingestHealth($1) }))
    }

    /// `GET /api/v1/ingest[?from=YYYY-MM-DD&to=YYYY-MM-DD]` (default: the last 30 days, by day of receipt).
    func ingestHealth(_ request: HTTPRequest) throws -> HTTPResponse {
        let (from, to) = try request.dayRange()
        return .json(200, try query.ingestHealth(fromDay: from, toDay: to))
    }
}
