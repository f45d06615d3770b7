import Logging
import PingRollCore
import PingRollService

/// Every route pingroll answers, by lane.
extension PingRollResponder {
    static func makeRouter(_ limits: IngestLimits, metrics: Bool, services: PingRollServices, pulls: ScheduledPulls?,
                           presentation: SeriesPresentation, ingest: IngestController, logger: Logger) -> Router {
        var r = Router()
        let small = limits.maxOtherBodyBytes
        // The ingest lane: the routes GitLab instances and the upload form post to (they hand
        // their work to the group committer and answer when it lands), and health checks.
        ingest.register(&r, limits: limits)
        r.add("GET", "/healthz", Route(maxBodyBytes: small, requiresLength: false) { _, _, done in
            done(.json(200, StatusBody("ok")))
        }.on(.ingest))
        r.add("GET", "/readyz", Route(maxBodyBytes: small, requiresLength: false) { responder, _, done in
            done(responder.readiness())
        }.on(.ingest))
        if metrics {
            r.add("GET", "/metrics", Route(maxBodyBytes: small, requiresLength: false, queryParameters: []) { responder, request, done in
                done(responder.metricsExposition(request.head))
            })
        }
        SeriesController(query: services.query, presentation: presentation).register(&r, limits: limits)
        AnnotationsController(annotations: services.annotations).register(&r, limits: limits)
        EstimateController(query: services.query, admin: services.admin, presentation: presentation).register(&r, limits: limits)
        SubscriptionsController(notify: services.notify).register(&r, limits: limits)
        QuarantineController(admin: services.admin, pulls: pulls).register(&r, limits: limits)
        RetentionController(admin: services.admin, jobs: services.jobs).register(&r, limits: limits)
        JobsController(jobs: services.jobs, query: services.query, admin: services.admin).register(&r, limits: limits)
        InstrumentationController(query: services.query).register(&r, limits: limits)
        let installations = InstallationsController(query: services.query)
        installations.register(&r, limits: limits)
        installations.registerIngestHealth(&r, limits: limits)
        addUIRoutes(to: &r, limits: limits)
        BetaController(beta: services.beta, jobs: services.jobs, logger: logger).register(&r, limits: limits)
        return r
    }
}
