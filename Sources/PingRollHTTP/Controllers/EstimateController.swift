import PingRollCore
import PingRollService

/// `/api/v1/estimate` (viewer): installations with a boolean metric true, the silent ones
/// included; `/api/v1/population`: the population the `population` method scales to (viewers
/// read it, admins replace it).
struct EstimateController: Controller {
    let query: QueryService
    let admin: AdminService
    let presentation: SeriesPresentation

    func register(_ r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/api/v1/estimate", Route(maxBodyBytes: small, requiresLength: false, role: .viewer,
                                               queryParameters: ["metric", "interval", "from", "to", "group_by", "filter", "include_internal", "method", "lookback"],
                                               answer: bind { try $0.estimate($1) }))
        r.add("GET", "/api/v1/population", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: [],
                                                 answer: bind { controller, _ in .json(200, PopulationBody(try controller.query.population())) }))
        r.add("PUT", "/api/v1/population", Route(maxBodyBytes: limits.maxBodyBytes, requiresLength: true, role: .admin, queryParameters: [],
                                                 answer: bind { try $0.replacePopulation($1) }))
    }

    func estimate(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let catalog = query.catalog else { throw HTTPError.noCatalog }
        let estimateQuery = try EstimateQuery.parse(request.head.query, catalog: catalog)
        return .json(200, EstimateBody(estimateQuery, try query.estimate(estimateQuery), presentation: presentation.seen(by: request)))
    }

    /// `PUT /api/v1/population` with `text/csv`: `period_start,dimension,value,installations`.
    func replacePopulation(_ request: HTTPRequest) throws -> HTTPResponse {
        guard !request.body.isEmpty else {
            throw HTTPError(422, "invalid_csv", "the body is empty: send CSV with the header \(PopulationCSV.columns.joined(separator: ","))")
        }
        guard let csv = String(validating: request.body, as: UTF8.self) else { throw HTTPError(422, "invalid_csv", "the CSV is not UTF-8") }
        return .json(200, PopulationBody(try admin.replacePopulation(csv: csv)))
    }
}
