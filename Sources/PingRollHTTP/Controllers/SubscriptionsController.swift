import PingRollCore
import PingRollService

/// `/api/v1/subscriptions` (pm): digests and alerts by e-mail or webhook, and their deliveries;
/// `/api/v1/digest` (viewer): the weekly digest as JSON.
struct SubscriptionsController: Controller {
    let notify: NotifyService

    func register(_ r: inout Router, limits: IngestLimits) {
        let small = limits.maxOtherBodyBytes
        r.add("GET", "/api/v1/subscriptions", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: [],
                                                    answer: bind { controller, _ in .json(200, try controller.notify.subscriptions()) }))
        r.add("POST", "/api/v1/subscriptions", Route(maxBodyBytes: 16 * 1024, requiresLength: true, role: .pm, queryParameters: [],
                                                     answer: bind { try $0.create($1) }))
        r.add("GET", "/api/v1/subscriptions/{id}", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: [],
                                                         answer: bind { controller, request in .json(200, try controller.notify.subscription(id: try controller.id(request))) }))
        r.add("DELETE", "/api/v1/subscriptions/{id}", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: [],
                                                            answer: bind { try $0.delete($1) }))
        r.add("GET", "/api/v1/subscriptions/{id}/deliveries", Route(maxBodyBytes: small, requiresLength: false, role: .pm, queryParameters: ["limit"],
                                                                    answer: bind { try $0.deliveries($1) }))
        r.add("GET", "/api/v1/digest", Route(maxBodyBytes: small, requiresLength: false, role: .viewer, queryParameters: ["period", "dashboard"],
                                             answer: bind { try $0.digest($1) }))
    }

    func id(_ request: HTTPRequest) throws -> Int64 {
        try request.path("id", as: Int64.self, notFound: "there is no subscription \(request.pathParameters["id"] ?? "")")
    }

    func create(_ request: HTTPRequest) throws -> HTTPResponse {
        let object = try request.jsonObject()
        return .json(201, try notify.create(object, by: request.tokenName ?? "", role: request.role ?? .pm))
    }

    func delete(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = try id(request)
        try notify.delete(id: id)
        return .json(200, SubscriptionDeletedBody(id: id))
    }

    func deliveries(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(200, try notify.deliveries(subscriptionID: try id(request), limit: try request.limit(default: 100, max: 1000)))
    }

    /// `period=week:YYYY-MM-DD` (default the latest complete week), `dashboard=SLUG` (repeatable;
    /// default the adoption dashboard). Viewers get no installation names.
    func digest(_ request: HTTPRequest) throws -> HTTPResponse {
        var week = NotifyService.latestCompleteWeek(now: .now())
        if let text = request.head.queryValue("period") {
            guard let day = PeriodKind.week(named: text) else { throw HTTPError(400, "invalid_parameter", "`period`: must be week:YYYY-MM-DD, a Monday") }
            week = day
        }
        let slugs = request.head.query.filter { $0.0 == "dashboard" }.map(\.1)
        return .json(200, try notify.digest(week: week, role: request.role ?? .viewer, dashboardSlugs: slugs.isEmpty ? [Subscription.defaultDashboard] : slugs))
    }
}
