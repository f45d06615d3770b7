import Foundation
import PingRollCore
import PingRollService

/// `/api/v1/beta/...`: programs, enrollments with status history, feedback. Everything needs the
/// `pm` role except a program's summary (aggregates, no personal data), which `viewer` may read.
extension PingRollResponder {
    static func addBetaRoutes(to r: inout Router, limits: IngestLimits) {
        // Reads take no body; writes up to 1 MiB; enrollment imports (CSV or JSON) up to the ingest limit.
        let read = limits.maxOtherBodyBytes, write = 1 << 20
        func add(_ method: String, _ path: String, role: Role = .pm, body: Int? = nil, query: Set<String> = [],
                 _ answer: @escaping @Sendable (PingRollResponder, HTTPRequest) throws -> HTTPResponse) {
            r.add(method, path, Route(maxBodyBytes: body ?? (method == "GET" ? read : write), requiresLength: method != "GET", role: role,
                                      queryParameters: query, answer: answer))
        }
        let programs = "/api/v1/beta/programs", program = programs + "/{slug}", enrollment = "/api/v1/beta/enrollments/{id}"
        add("GET", programs) { responder, _ in .json(200, ProgramListBody(try responder.services.beta.programs())) }
        add("POST", programs) { try $0.createProgram($1) }
        add("GET", program) { .json(200, ProgramBody(try $0.program($1))) }
        add("GET", program + "/enrollments") { try $0.listEnrollments($1) }
        add("POST", program + "/enrollments") { try $0.createEnrollment($1) }
        add("POST", program + "/enrollments/import", body: limits.maxBodyBytes, query: ["partial"]) { try $0.importEnrollments($1) }
        add("GET", program + "/feedback") { responder, request in
            .json(200, FeedbackListBody(try responder.services.beta.feedback(program: try responder.program(request).slug)))
        }
        // Aggregates without personal data: viewers may read them.
        add("GET", program + "/summary", role: .viewer) { responder, request in
            .json(200, try responder.services.beta.summary(try responder.program(request), maskFreeText: request.role == .viewer))
        }
        add("GET", program + "/timeline", role: .viewer, query: ["interval", "from", "to"]) { try $0.timeline($1) }
        add("GET", program + "/analytics", role: .viewer, query: ["from", "to", "interval", "stuck_after_days"]) { try $0.analytics($1) }
        add("GET", program + "/cohort", query: Set(CohortFilter.parameters).union(["format"])) { responder, request in
            try responder.exportCohort(try responder.program(request), request.head.query, format: request.head.queryValue("format") ?? "json")
        }
        add("GET", program + "/cohorts/{name}", query: ["format"]) { try $0.exportSavedCohort($1) }
        add("PUT", program + "/cohorts/{name}", query: Set(CohortFilter.parameters)) { try $0.saveCohort($1) }
        add("GET", enrollment) { .json(200, try $0.enrollmentBody(try $0.enrollment($1))) }
        add("PATCH", enrollment) { try $0.updateEnrollment($1) }
        add("GET", enrollment + "/history") { responder, request in
            .json(200, HistoryBody(try responder.services.beta.enrollmentHistory(id: try responder.enrollment(request).id)))
        }
        add("POST", enrollment + "/feedback") { try $0.addFeedback($1) }
        let migrations = program + "/enrollments/{id}/migrations"
        add("GET", migrations) { responder, request in
            .json(200, MigrationRunListBody(try responder.services.beta.runs(enrollmentID: try responder.programEnrollment(request).id)))
        }
        add("POST", migrations) { try $0.createRun($1) }
        add("POST", migrations + "/from-registry-statistics", body: limits.maxBodyBytes) { try $0.createRunsFromStatistics($1) }
        add("PATCH", migrations + "/{run}") { try $0.updateRun($1) }
    }

    /// `GET …/analytics?from=&to=&interval=&stuck_after_days=`: migrations, funnel, feedback and
    /// adoption (defaults: the last 365 days, by month, stuck after 14 days).
    func analytics(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        let (from, to) = try dayRange(request, defaultDays: 365)
        let intervalText = request.head.queryValue("interval") ?? "month"
        guard let interval = PeriodKind(rawValue: intervalText) else {
            throw HTTPError(400, "invalid_parameter", "`interval`: must be day, week or month (got \(intervalText))")
        }
        let stuckText = request.head.queryValue("stuck_after_days") ?? "14"
        guard let stuck = Int(stuckText), (0...3650).contains(stuck) else {
            throw HTTPError(400, "invalid_parameter", "`stuck_after_days`: must be 0 to 3650 (got \(stuckText))")
        }
        return .json(200, try services.beta.analytics(program, fromDay: from, toDay: to, interval: interval, stuckAfterDays: stuck,
                                                     maskFreeText: request.role == .viewer))
    }

    /// The enrollment `{id}` of program `{slug}`, or 404.
    func programEnrollment(_ request: HTTPRequest) throws -> Enrollment {
        let program = try program(request)
        let x = try enrollment(request)
        guard x.program == program.slug else { throw HTTPError(404, "not_found", "enrollment \(x.id) is not in program \(program.slug)") }
        return x
    }

    /// The body as a JSON object (grammar and depth checked by the scanner first), or a 400.
    func jsonObject(_ request: HTTPRequest) throws -> JSONObject {
        try checkedJSONBody(request)
        if let repeated = TopLevelKeys.firstRepeated(in: request.body) {
            throw HTTPError(400, "invalid_json", "`\(repeated.replacingNUL())` appears twice in the body; send each field once")
        }
        guard let object = (try? JSONTree.parse(request.body))?.objectValue else {
            throw HTTPError(400, "not_an_object", "the body must be a JSON object")
        }
        return object
    }

    /// `POST …/enrollments/{id}/migrations`: a run recorded by hand.
    func createRun(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        let run = try MigrationRunInput.parse(try jsonObject(request), base: nil)
        let stored = try services.beta.createRuns([run], enrollmentID: x.id, program: x.program, by: request.tokenName ?? "")
        guard let created = stored.first else { throw HTTPError(409, "conflict", "the run is already recorded") }
        return .json(201, MigrationRunBody(created))
    }

    /// `POST …/migrations/from-registry-statistics`: the registry's `GET /gitlab/v1/statistics/`
    /// answer; each import attempt (one-step) or group of three (three-step) becomes a run.
    func createRunsFromStatistics(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        try checkedJSONBody(request)
        let runs = try RegistryStatistics.runs(from: request.body)
        // Parsed and checked here; stored by a job (202), in short transactions.
        return try startJob(.registryStatistics, request, subject: "enrollment \(x.id)", total: runs.count,
                            services.beta.registryRunsWork(runs, enrollmentID: x.id, program: x.program, by: request.tokenName ?? ""))
    }

    /// `PATCH …/migrations/{run}`: only the fields given change; the result is checked whole.
    func updateRun(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try programEnrollment(request)
        let text = request.pathParameters["run"] ?? ""
        guard let id = Int64(text) else { throw HTTPError(404, "not_found", "there is no migration run \(text)") }
        let object = try jsonObject(request)
        let changes = UncheckedSendableBox(object)
        switch try services.beta.updateRun(id: id, enrollmentID: x.id, by: request.tokenName ?? "", { old throws(FieldError) in
            try MigrationRunInput.parse(changes.value, base: old)
        }) {
        case nil: throw HTTPError(404, "not_found", "enrollment \(x.id) has no migration run \(id)")
        case .failure(let error)?: throw error
        case .success(let run)?: return .json(200, MigrationRunBody(run))
        }
    }

    /// A member of a beta request body, decoded by `JSONDecoder` (which keeps booleans and
    /// numbers apart): a field input, a list of texts, or anything else.
    enum BodyMember: Decodable {
        case input(FieldInput)
        case texts([String])
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .input(.null) }
            else if let b = try? c.decode(Bool.self) { self = .input(.bool(b)) }
            else if let d = try? c.decode(Double.self) { self = .input(.number(d)) }
            else if let s = try? c.decode(String.self) { self = .input(.text(s)) }
            else if let list = try? c.decode([String].self) { self = .texts(list) }
            else { self = .other }
        }
    }

    /// The body as a JSON object of field inputs (and, for the members named in `lists`, lists of
    /// texts), parsed once after the scanner checked its grammar and depth; or a 400/422.
    func fieldInputs(_ request: HTTPRequest, lists: Set<String> = []) throws(HTTPError) -> (inputs: [String: FieldInput], lists: [String: [String]]) {
        let scan = try checkedJSONBody(request, requireContentType: false)
        guard scan.topLevelIsObject else { throw HTTPError(400, "not_an_object", "the body must be a JSON object") }
        if let repeated = TopLevelKeys.firstRepeated(in: request.body) {
            throw HTTPError(400, "invalid_json", "`\(repeated.replacingNUL())` appears twice in the body; send each field once")
        }
        let members: [String: BodyMember]
        do { members = try JSONDecoder().decode([String: BodyMember].self, from: Data(request.body)) } catch {
            throw HTTPError(400, "invalid_json", "the body is not JSON")
        }
        var inputs: [String: FieldInput] = [:], texts: [String: [String]] = [:]
        for (key, member) in members {
            // No store keeps a NUL in text (PostgreSQL refuses it); refuse it here, for every field.
            let hasNUL: Bool
            switch member {
            case .input(.text(let s)): hasNUL = s.utf8.contains(0)
            case .texts(let list): hasNUL = list.contains { $0.utf8.contains(0) }
            default: hasNUL = false
            }
            guard !hasNUL, !key.utf8.contains(0) else {
                throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` must not contain a NUL character")
            }
            switch member {
            case .input(let input): inputs[key] = input
            case .texts(let list) where lists.contains(key): texts[key] = list
            default: throw HTTPError(422, "invalid_field", "`\(key.replacingNUL())` must be \(lists.contains(key) ? "a list of texts, " : "")text, a number, true/false or null")
            }
        }
        return (inputs, texts)
    }

    /// The program `{slug}` names, or 404.
    func program(_ request: HTTPRequest) throws -> BetaProgram {
        let slug = request.pathParameters["slug"] ?? ""
        guard let program = try services.beta.program(slug: slug) else { throw HTTPError(404, "not_found", "there is no beta program \(slug)") }
        return program
    }

    /// The enrollment `{id}` names, or 404.
    func enrollment(_ request: HTTPRequest) throws -> Enrollment {
        let text = request.pathParameters["id"] ?? ""
        guard let id = Int64(text), let x = try services.beta.enrollment(id: id) else { throw HTTPError(404, "not_found", "there is no enrollment \(text)") }
        return x
    }

    /// An enrollment with its live installation facts, read from the store now (never copied).
    func enrollmentBody(_ x: Enrollment) throws(StorageError) -> EnrollmentBody {
        try services.beta.enrollmentBody(x)
    }

    func createProgram(_ request: HTTPRequest) throws -> HTTPResponse {
        let (inputs, lists) = try fieldInputs(request, lists: ["phases"])
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
            try services.beta.createProgram(program)
        } catch {
            guard error.kind != .constraint else { throw HTTPError(409, "exists", "a program with slug \(slug) exists") }
            throw error
        }
        return .json(201, ProgramBody(program))
    }

    func listEnrollments(_ request: HTTPRequest) throws -> HTTPResponse {
        .json(200, try services.beta.enrollmentList(program: try program(request).slug))
    }

    func createEnrollment(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        var inputs = try fieldInputs(request).inputs
        var x = Enrollment(program: program.slug, organization: "", contactName: "", contactEmail: "")
        if inputs["status"] == nil { inputs["status"] = .text("interested") }
        _ = try x.apply(inputs, creating: true)
        x.createdAt = .now()
        x.updatedAt = x.createdAt
        x.id = try services.beta.createEnrollment(x, by: request.tokenName ?? "")
        return .json(201, try enrollmentBody(x))
    }

    func updateEnrollment(_ request: HTTPRequest) throws -> HTTPResponse {
        let id = try enrollment(request).id
        let inputs = try fieldInputs(request).inputs
        guard let result = try services.beta.updateEnrollment(id: id, by: request.tokenName ?? "", { x throws(EnrollmentError) in try x.apply(inputs) }) else {
            throw HTTPError(404, "not_found", "there is no enrollment \(id)")
        }
        return .json(200, try enrollmentBody(try result.get()))
    }

    /// `PUT .../cohorts/{name}?filters`: saves (or replaces) a named filter.
    func saveCohort(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request), name = request.pathParameters["name"] ?? ""
        let filter: CohortFilter
        do { filter = try CohortFilter.parse(request.head.query) } catch {
            throw HTTPError(400, "invalid_parameter", error.description)
        }
        try services.beta.saveCohort(program: program.slug, name: name, filter: filter.queryText)
        return .json(200, SavedCohortBody(program: program.slug, name: name, filter: filter))
    }

    /// `GET .../cohorts/{name}[?format=]`: the saved filter's cohort, exported now.
    func exportSavedCohort(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request), name = request.pathParameters["name"] ?? ""
        guard let saved = try services.beta.cohort(program: program.slug, name: name) else {
            throw HTTPError(404, "not_found", "there is no cohort \(name) in \(program.slug)")
        }
        return try exportCohort(program, saved, format: request.head.queryValue("format") ?? "json")
    }
}

extension PingRollResponder {
    func addFeedback(_ request: HTTPRequest) throws -> HTTPResponse {
        let x = try enrollment(request)
        let inputs = try fieldInputs(request).inputs
        var f: Feedback
        do throws(EnrollmentError) {
            f = try Feedback(x, inputs, at: .now(), tokenName: request.tokenName ?? "")
        } catch {
            throw HTTPError(422, "invalid_field", "`\(error.field)`: \(error.message)")
        }
        f.id = try services.beta.addFeedback(f)
        return .json(201, FeedbackBody(f))
    }
}

extension PingRollResponder {
    /// `GET .../timeline?interval=&from=&to=` (viewer): see `BetaAnalytics.timeline`.
    func timeline(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        let q = request.head
        guard let interval = PeriodKind(rawValue: q.queryValue("interval") ?? "week") else {
            throw HTTPError(400, "invalid_parameter", "`interval`: must be day, week or month")
        }
        guard let from = days(isoDate: q.queryValue("from") ?? ""), let to = days(isoDate: q.queryValue("to") ?? ""), from <= to else {
            throw HTTPError(400, "invalid_parameter", "`from`: and `to` are required dates YYYY-MM-DD, from <= to")
        }
        var starts: [Int64] = []
        var start = interval.start(of: Timestamp(milliseconds: from * 86_400_000))
        while start <= to && starts.count <= SeriesQuery.maxPeriods { starts.append(start); start = interval.next(after: start) }
        guard starts.count <= SeriesQuery.maxPeriods else {
            throw HTTPError(400, "invalid_parameter", "`from`: the range holds more than \(SeriesQuery.maxPeriods) periods")
        }
        return .json(200, try services.beta.timeline(program, interval: interval, starts: starts))
    }
}

/// A value handed to a `@Sendable` closure that runs synchronously on the calling thread.
struct UncheckedSendableBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
