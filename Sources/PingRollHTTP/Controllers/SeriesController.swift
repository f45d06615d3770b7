import PingRollCore
import PingRollService

/// `/api/v1/catalog`, `/api/v1/series` and `/api/v1/breakdown` (viewer): the rollups.
struct SeriesController: Controller {
    let query: QueryService
    /// As configured: the low-count threshold, and the floor viewers see counts from.
    let presentation: SeriesPresentation

    func presentation(for request: HTTPRequest) -> SeriesPresentation { presentation.seen(by: request) }

    func register(_ r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/api/v1/catalog", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: [], answer: bind { controller, _ in
            guard let catalog = controller.query.catalog else { throw HTTPError.noCatalog }
            return .json(200, CatalogBody(catalog))
        }))
        r.add("GET", "/api/v1/series", Route(maxBodyBytes: small, requiresLength: false, role: .viewer,
                                             queryParameters: ["metric", "interval", "from", "to", "group_by", "filter", "include_internal", "format"], answer: bind { try $0.series($1) }))
        r.add("GET", "/api/v1/breakdown", Route(maxBodyBytes: small, requiresLength: false, role: .viewer,
                                                queryParameters: ["metric", "period", "group_by", "filter", "include_internal"], answer: bind { try $0.breakdown($1) }))
    }

    func series(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let catalog = query.catalog else { throw HTTPError.noCatalog }
        let query = try SeriesQuery.parse(request.head.query, catalog: catalog)
        let groups = try self.query.series(query)
        switch request.head.queryValue("format") ?? "json" {
        case "json": return .json(200, SeriesBody(query, groups, presentation: presentation(for: request)))
        case "csv":
            let name = query.metric.keyPath.replacingOccurrences(of: ".", with: "_")
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/csv; charset=utf-8"),
                                                       ("Content-Disposition", "attachment; filename=\"\(name)-\(query.interval.rawValue).csv\"")],
                                body: Array(SeriesRendering.csv(query, groups, presentation: presentation(for: request)).utf8))
        case let other: throw HTTPError(400, "invalid_parameter", "`format` must be json or csv (got \(other))")
        }
    }

    /// `period=week:2024-01-01|month:2024-01|day:2024-01-03&group_by=DIM`: one period split by a dimension.
    func breakdown(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let catalog = query.catalog else { throw HTTPError.noCatalog }
        let args = request.head.query
        guard let periodText = request.head.queryValue("period") else {
            throw HTTPError(400, "invalid_parameter", "`period`: is required, e.g. week:2024-01-01, month:2024-01 or day:2024-01-03")
        }
        let parts = periodText.splitting(atASCII: UInt8(ascii: ":"), maxSplits: 1, omittingEmpty: false)
        guard parts.count == 2, let kind = PeriodKind(rawValue: parts[0]),
              let day = days(isoDate: kind == .month && parts[1].count == 7 ? parts[1] + "-01" : parts[1]) else {
            throw HTTPError(400, "invalid_parameter", "`period`: must be week:YYYY-MM-DD, month:YYYY-MM or day:YYYY-MM-DD (got \(periodText))")
        }
        guard request.head.queryValue("group_by") != nil else {
            throw HTTPError(400, "invalid_parameter", "`group_by`: is required: \(RollupTuple.dimensions.joined(separator: ", "))")
        }
        let start = kind.start(of: Timestamp(milliseconds: day * 86_400_000))
        var forwarded = args.filter { ["metric", "group_by", "filter", "include_internal"].contains($0.0) }
        forwarded += [("interval", kind.rawValue), ("from", isoDate(days: start)), ("to", isoDate(days: start))]
        let query = try SeriesQuery.parse(forwarded, catalog: catalog)
        return .json(200, BreakdownBody(query, try self.query.series(query), presentation: presentation(for: request)))
    }
}

extension SeriesPresentation {
    /// How `request`'s caller sees points, now: the viewer floor applies to viewer tokens only.
    func seen(by request: HTTPRequest) -> SeriesPresentation {
        SeriesPresentation(minReliableCount: minReliableCount, suppressBelow: request.role == .viewer ? suppressBelow : 0,
                           completeAfterMs: completeAfterMs, now: .now())
    }
}
