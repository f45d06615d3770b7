import Logging
import Foundation
import PingRollCore
import PingRollService

/// `/api/v1/beta/...`: programs, enrollments with status history, feedback. Everything needs the
/// `pm` role except a program's summary (aggregates, no personal data), which `viewer` may read.
struct BetaController: Controller {
    let beta: BetaService
    let jobs: Jobs
    let logger: Logger

    func register(_ r: inout Router, limits: IngestLimits) {
        // Reads take no body; writes up to 1 MiB; enrollment imports (CSV or JSON) up to the ingest limit.
        let read = limits.maxOtherBodyBytes, write = 1 << 20
        func add(_ method: String, _ path: String, role: Role = .pm, body: Int? = nil, query: Set<String> = [],
                 _ answer: @escaping @Sendable (BetaController, HTTPRequest) throws -> HTTPResponse) {
            r.add(method, path, Route(maxBodyBytes: body ?? (method == "GET" ? read : write), requiresLength: method != "GET", role: role,
                                      queryParameters: query, answer: bind(answer)))
        }
        let programs = "/api/v1/beta/programs", program = programs + "/{slug}", enrollment = "/api/v1/beta/enrollments/{id}"
        add("GET", programs) { controller, _ in .json(200, ProgramListBody(try controller.beta.programs())) }
        add("POST", programs) { try $0.createProgram($1) }
        add("GET", program) { .json(200, ProgramBody(try $0.program($1))) }
        add("GET", program + "/enrollments") { try $0.listEnrollments($1) }
        add("POST", program + "/enrollments") { try $0.createEnrollment($1) }
        add("POST", program + "/enrollments/import", body: limits.maxBodyBytes, query: ["partial"]) { try $0.importEnrollments($1) }
        add("GET", program + "/feedback") { controller, request in
            .json(200, FeedbackListBody(try controller.beta.feedback(program: try controller.program(request).slug)))
        }
        // Aggregates without personal data: viewers may read them.
        add("GET", program + "/summary", role: .viewer) { controller, request in
            .json(200, try controller.beta.summary(try controller.program(request), maskFreeText: request.role == .viewer))
        }
        add("GET", program + "/timeline", role: .viewer, query: ["interval", "from", "to"]) { try $0.timeline($1) }
        add("GET", program + "/analytics", role: .viewer, query: ["from", "to", "interval", "stuck_after_days"]) { try $0.analytics($1) }
        add("GET", program + "/cohort", query: Set(CohortFilter.parameters).union(["format"])) { controller, request in
            try controller.exportCohort(try controller.program(request), request.head.query, format: request.head.queryValue("format") ?? "json")
        }
        add("GET", program + "/cohorts/{name}", query: ["format"]) { try $0.exportSavedCohort($1) }
        add("PUT", program + "/cohorts/{name}", query: Set(CohortFilter.parameters)) { try $0.saveCohort($1) }
        add("GET", enrollment) { .json(200, try $0.enrollmentBody(try $0.enrollment($1))) }
        add("PATCH", enrollment) { try $0.updateEnrollment($1) }
        add("GET", enrollment + "/history") { controller, request in
            .json(200, HistoryBody(try controller.beta.enrollmentHistory(id: try controller.enrollment(request).id)))
        }
        add("POST", enrollment + "/feedback") { try $0.addFeedback($1) }
        let migrations = program + "/enrollments/{id}/migrations"
        add("GET", migrations) { controller, request in
            .json(200, MigrationRunListBody(try controller.beta.runs(enrollmentID: try controller.programEnrollment(request).id)))
        }
        add("POST", migrations) { try $0.createRun($1) }
        add("POST", migrations + "/from-registry-statistics", body: limits.maxBodyBytes) { try $0.createRunsFromStatistics($1) }
        add("PATCH", migrations + "/{run}") { try $0.updateRun($1) }
    }

    /// `GET …/analytics?from=&to=&interval=&stuck_after_days=`: migrations, funnel, feedback and
    /// adoption (defaults: the last 365 days, by month, stuck after 14 days).
    func analytics(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        let (from, to) = try request.dayRange(defaultDays: 365)
        let interval = try request.query("interval", as: PeriodKind.self, default: .month)
        let stuckText = request.head.queryValue("stuck_after_days") ?? "14"
        guard let stuck = Int(stuckText), (0...3650).contains(stuck) else {
            throw HTTPError(400, "invalid_parameter", "`stuck_after_days`: must be 0 to 3650 (got \(stuckText))")
        }
        return .json(200, try beta.analytics(program, fromDay: from, toDay: to, interval: interval, stuckAfterDays: stuck,
                                                     maskFreeText: request.role == .viewer))
    }

    /// The enrollment `{id}` of program `{slug}`, or 404.
    func programEnrollment(_ request: HTTPRequest) throws -> Enrollment {
        let program = try program(request)
        let x = try enrollment(request)
        guard x.program == program.slug else { throw HTTPError(404, "not_found", "enrollment \(x.id) is not in program \(program.slug)") }
        return x
    }

    /// `POST …/enrollments/{id}/migrations`: a run recorded by hand.
    func createRun(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        let run = try MigrationRunInput.parse(try request.jsonObject(), base: nil)
        let stored = try beta.createRuns([run], enrollmentID: x.id, program: x.program, by: request.tokenName ?? "")
        guard let created = stored.first else { throw HTTPError(409, "conflict", "the run is already recorded") }
        return .json(201, MigrationRunBody(created))
    }

    /// `POST …/migrations/from-registry-statistics`: the registry's `GET /gitlab/v1/statistics/`
    /// answer; each import attempt (one-step) or group of three (three-step) becomes a run.
    func createRunsFromStatistics(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        try request.checkedJSONBody()
        let runs = try RegistryStatistics.runs(from: request.body)
        // Parsed and checked here; stored by a job (202), in short transactions.
        return try jobs.accept(.registryStatistics, request, subject: "enrollment \(x.id)", total: runs.count,
                            beta.registryRunsWork(runs, enrollmentID: x.id, program: x.program, by: request.tokenName ?? ""))
    }

    /// `PATCH …/migrations/{run}`: only the fields given change; the result is checked whole.
    func updateRun(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        let id = try request.path("run", as: Int64.self, notFound: "there is no migration run \(request.pathParameters["run"] ?? "")")
        let object = try request.jsonObject()
        let changes = UncheckedSendableBox(object)
        switch try beta.updateRun(id: id, enrollmentID: x.id, by: request.tokenName ?? "", { old throws(FieldError) in
            try MigrationRunInput.parse(changes.value, base: old)
        }) {
        case nil: throw HTTPError(404, "not_found", "enrollment \(x.id) has no migration run \(id)")
        case .failure(let error)?: throw error
        case .success(let run)?: return .json(200, MigrationRunBody(run))
        }
    }

    /// The program `{slug}` names, or 404.
    func program(_ request: HTTPRequest) throws -> BetaProgram {
        let slug = try request.path("slug", as: String.self, notFound: "")
        guard let program = try beta.program(slug: slug) else { throw HTTPError(404, "not_found", "there is no beta program \(slug)") }
        return program
    }

    /// The enrollment `{id}` names, or 404.
    func enrollment(_ request: HTTPRequest) throws -> Enrollment {
        let missing = "there is no enrollment \(request.pathParameters["id"] ?? "")"
        guard let x = try beta.enrollment(id: try request.path("id", as: Int64.self, notFound: missing)) else { throw HTTPError(404, "not_found", missing) }
        return x
    }

    /// An enrollment with its live installation facts, read from the store now (never copied).
    func enrollmentBody(_ x: Enrollment) throws(StorageError) -> EnrollmentBody {
        try beta.enrollmentBody(x)
    }

    func createProgram(_ request: HTTPRequest) throws -> HTTPResponse {
        let (inputs, lists) = try request.fieldInputs(lists: ["phases"])
        let known: Set<String> = ["slug", "name", "description", "phases"]
        if let unknown = (Array(inputs.keys) + Array(lists.keys)).sorted().first(where: { !known.contains($0) }) {
            throw HTTPError(422, "invalid_field", "`\(unknown.replacingNUL())` is not a program field (slug, name, description, phases)")
        }
        guard case .text(let slug)? = inputs["slug"], slug.count <= 64, !slug.isEmpty,
              slug.allSatisfy({ ($0.isLowercase || $0.isNumber || $0 == "-") && $0.isASCII }) else {
            throw HTTPError(422, "invalid_field", "`slug`: is required: lower-case letters, digits and dashes")
        }
        // Any visible character: a name of form feeds or other Unicode spaces is no name.
        guard case .text(let name)? = inputs["name"], name.hasVisibleCharacter else {
            throw HTTPError(422, "invalid_field", "`name`: is required")
        }
        var description: String?
        switch inputs["description"] {
        case nil, .null?: break
        case .text(let d)?: description = d
        default: throw HTTPError(422, "invalid_field", "`description` must be text or null")
        }
        // phases: a JSON array of texts, or one comma-separated text.
        var phases: [String] = []
        if let list = lists["phases"] {
            phases = list
        } else if case .text(let p)? = inputs["phases"] {
            phases = p.splitting(atASCII: UInt8(ascii: ",")).map { $0.trimmingASCIIWhitespace() }
        } else if let value = inputs["phases"], value != .null {
            throw HTTPError(422, "invalid_field", "`phases` must be a list of texts")
        }
        let program = BetaProgram(slug: slug, name: name.trimmingASCIIWhitespace(), description: description, phases: phases)
        do throws(StorageError) {
            try beta.createProgram(program)
        } catch {
            guard error.kind != .constraint else { throw HTTPError(409, "exists", "a program with slug \(slug) exists") }
            throw error
        }
        return .json(201, ProgramBody(program))
    }

    func listEnrollments(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(200, try beta.enrollmentList(program: try program(request).slug))
    }

    func createEnrollment(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        var inputs = try request.fieldInputs().inputs
        var x = Enrollment(program: program.slug, organization: "", contactName: "", contactEmail: "")
        if inputs["status"] == nil { inputs["status"] = .text("interested") }
        _ = try x.apply(inputs, creating: true)
        x.createdAt = .now()
        x.updatedAt = x.createdAt
        x.id = try beta.createEnrollment(x, by: request.tokenName ?? "")
        return .json(201, try enrollmentBody(x))
    }

    func updateEnrollment(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = try enrollment(request).id
        let inputs = try request.fieldInputs().inputs
        guard let result = try beta.updateEnrollment(id: id, by: request.tokenName ?? "", { x throws(EnrollmentError) in try x.apply(inputs) }) else {
            throw HTTPError(404, "not_found", "there is no enrollment \(id)")
        }
        return .json(200, try enrollmentBody(try result.get()))
    }

    /// `PUT .../cohorts/{name}?filters`: saves (or replaces) a named filter.
    func saveCohort(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request), name = try request.path("name", as: String.self, notFound: "")
        let filter: CohortFilter
        do { filter = try CohortFilter.parse(request.head.query) } catch {
            throw HTTPError(400, "invalid_parameter", error.description)
        }
        try beta.saveCohort(program: program.slug, name: name, filter: filter.queryText)
        return .json(200, SavedCohortBody(program: program.slug, name: name, filter: filter))
    }

    /// `GET .../cohorts/{name}[?format=]`: the saved filter's cohort, exported now.
    func exportSavedCohort(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request), name = try request.path("name", as: String.self, notFound: "")
        guard let saved = try beta.cohort(program: program.slug, name: name) else {
            throw HTTPError(404, "not_found", "there is no cohort \(name) in \(program.slug)")
        }
        return try exportCohort(program, saved, format: request.head.queryValue("format") ?? "json")
    }
}

extension BetaController {
    func addFeedback(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try enrollment(request)
        let inputs = try request.fieldInputs().inputs
        var f: Feedback
        do throws(EnrollmentError) {
            f = try Feedback(x, inputs, at: .now(), tokenName: request.tokenName ?? "")
        } catch {
            throw HTTPError(422, "invalid_field", "`\(error.field)`: \(error.message)")
        }
        f.id = try beta.addFeedback(f)
        return .json(201, FeedbackBody(f))
    }
}

extension BetaController {
    /// `GET .../timeline?interval=&from=&to=` (viewer): see `BetaAnalytics.timeline`.
    func timeline(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        let q = request.head
        let interval = try request.query("interval", as: PeriodKind.self, default: .week)
        guard let from = days(isoDate: q.queryValue("from") ?? ""), let to = days(isoDate: q.queryValue("to") ?? ""), from <= to else {
            throw HTTPError(400, "invalid_parameter", "`from`: and `to` are required dates YYYY-MM-DD, from <= to")
        }
        var starts: [Int64] = []
        var start = interval.start(of: Timestamp(milliseconds: from * 86_400_000))
        while start <= to && starts.count <= SeriesQuery.maxPeriods { starts.append(start); start = interval.next(after: start) }
        guard starts.count <= SeriesQuery.maxPeriods else {
            throw HTTPError(400, "invalid_parameter", "`from`: the range holds more than \(SeriesQuery.maxPeriods) periods")
        }
        return .json(200, try beta.timeline(program, interval: interval, starts: starts))
    }
}

/// A value handed to a `@Sendable` closure that runs synchronously on the calling thread.
struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
