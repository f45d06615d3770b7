import Foundation
import PingRollCore
import PingRollService
import PingRollStore

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
        add("GET", programs) { try $0.betaPrograms($1) }
        add("POST", programs) { try $0.betaPrograms($1) }
        add("GET", program) { try $0.betaProgram($1) }
        add("GET", program + "/enrollments") { try $0.betaProgram($1) }
        add("POST", program + "/enrollments") { try $0.betaProgram($1) }
        add("POST", program + "/enrollments/import", body: limits.maxBodyBytes, query: ["partial"]) { try $0.betaProgram($1) }
        add("GET", program + "/feedback") { try $0.betaProgram($1) }
        // Aggregates without personal data: viewers may read them.
        add("GET", program + "/summary", role: .viewer) { try $0.betaProgram($1) }
        add("GET", program + "/timeline", role: .viewer, query: ["interval", "from", "to"]) { try $0.betaProgram($1) }
        add("GET", program + "/cohort", query: Set(CohortFilter.parameters).union(["format"])) { try $0.betaProgram($1) }
        add("GET", program + "/cohorts/{name}", query: ["format"]) { try $0.betaProgram($1) }
        add("PUT", program + "/cohorts/{name}", query: Set(CohortFilter.parameters)) { try $0.betaProgram($1) }
        add("GET", enrollment) { try $0.betaEnrollment($1) }
        add("PATCH", enrollment) { try $0.betaEnrollment($1) }
        add("GET", enrollment + "/history") { try $0.betaEnrollment($1) }
        add("POST", enrollment + "/feedback") { try $0.betaEnrollment($1) }
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
        let scan: JSONScanner.Result
        do throws(JSONScanError) { scan = try JSONScanner(paths: KeyPathSet([]), maxDepth: 16).scan(request.body) } catch {
            throw HTTPError(400, "invalid_json", error.description)
        }
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

    func betaPrograms(_ request: HTTPRequest) throws -> HTTPResponse {
        if request.head.method == "GET" {
            return .api(200, "{\"programs\":[\(try store.programs().map(Self.programJSON).joined(separator: ","))]}")
        }
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
            try store.createProgram(program)
        } catch {
            guard error.kind != .constraint else { throw HTTPError(409, "exists", "a program with slug \(slug) exists") }
            throw error
        }
        return .api(201, Self.programJSON(program))
    }

    /// `/api/v1/beta/programs/{slug}[/enrollments|/summary]`.
    func betaProgram(_ request: HTTPRequest) throws -> HTTPResponse {
        let parts = request.head.path.dropFirst("/api/v1/beta/programs/".count).split(separator: "/").map(String.init)
        guard let slug = parts.first else { throw HTTPError.notFound(request.head.path) }
        let sub = parts.dropFirst().joined(separator: "/")
        guard let program = try store.program(slug: slug) else {
            throw HTTPError(404, "not_found", "there is no beta program \(slug)")
        }
        switch (request.head.method, sub) {
        case ("GET", ""): return .api(200, Self.programJSON(program))
        case ("GET", "enrollments"):
            var members: [String] = []
            try BetaOperations.forEachEnrollment(store, slug) { x throws(StorageError) in members.append(try enrollmentJSON(x)) }
            return .api(200, "{\"enrollments\":[\(members.joined(separator: ","))]}")
        case ("POST", "enrollments"): return try createEnrollment(program, request)
        case ("GET", "feedback"):
            return .api(200, "{\"feedback\":[\(try store.feedback(program: slug).map(Self.feedbackJSON).joined(separator: ","))]}")
        case ("GET", "summary"): return try .api(200, encoding: try BetaAnalytics.summary(store, program: program))
        case ("GET", "timeline"): return try timeline(program, request)
        case ("GET", "cohort"):
            return exportCohort(program, request.head.query, format: request.head.queryValue("format") ?? "json")
        case ("POST", "enrollments/import"): return importEnrollments(program, request)
        case ("PUT", let path) where path.hasPrefix("cohorts/") && parts.count == 3:
            let filter: CohortFilter
            do { filter = try CohortFilter.parse(request.head.query) } catch {
                throw HTTPError(400, "invalid_parameter", error.description)
            }
            try store.saveCohort(program: slug, name: parts[2], filter: filter.queryText)
            return (.api(200, "{\"program\":\(JSONText.quoted(slug)),\"name\":\(JSONText.quoted(parts[2])),\"filter\":"
                      + JSONText.object(filter.queryText) + "}"))
        case ("GET", let path) where path.hasPrefix("cohorts/") && parts.count == 3:
            guard let saved = try store.cohort(program: slug, name: parts[2]) else {
                throw HTTPError(404, "not_found", "there is no cohort \(parts[2]) in \(slug)")
            }
            return exportCohort(program, saved, format: request.head.queryValue("format") ?? "json")
        default: return HTTPError.notFound(request.head.path).response
        }
    }

    func createEnrollment(_ program: BetaProgram, _ request: HTTPRequest) throws -> HTTPResponse {
        var inputs = try fieldInputs(request).inputs
        var x = Enrollment(program: program.slug, organization: "", contactName: "", contactEmail: "")
        if inputs["status"] == nil { inputs["status"] = .text("interested") }
        _ = try x.apply(inputs, creating: true)
        x.createdAt = .now()
        x.updatedAt = x.createdAt
        x.id = try store.createEnrollment(x, by: request.tokenName ?? "")
        return .api(201, try enrollmentJSON(x))
    }

    /// `/api/v1/beta/enrollments/{id}[/history]`.
    func betaEnrollment(_ request: HTTPRequest) throws -> HTTPResponse {
        let parts = request.head.path.dropFirst("/api/v1/beta/enrollments/".count).split(separator: "/").map(String.init)
        guard let idText = parts.first, let id = Int64(idText) else { throw HTTPError.notFound(request.head.path) }
        let sub = parts.dropFirst().joined(separator: "/")
        switch (request.head.method, sub) {
        case ("GET", ""):
            guard let x = try store.enrollment(id: id) else { throw Self.noEnrollment(id) }
            return .api(200, try enrollmentJSON(x))
        case ("GET", "history"):
            guard try store.enrollment(id: id) != nil else { throw Self.noEnrollment(id) }
            let entries = try store.enrollmentHistory(id: id).map { h in
                "{\"at\":\(JSONText.quoted(h.at.description)),\"token\":\(JSONText.quoted(h.tokenName)),\"field\":\(JSONText.quoted(h.field)),"
                    + "\"old\":\(h.old.map(JSONText.quoted) ?? "null"),\"new\":\(h.new.map(JSONText.quoted) ?? "null")}"
            }
            return .api(200, "{\"history\":[\(entries.joined(separator: ","))]}")
        case ("POST", "feedback"):
            guard let x = try store.enrollment(id: id) else { throw Self.noEnrollment(id) }
            return try addFeedback(x, request)
        case ("PATCH", ""):
            let inputs = try fieldInputs(request).inputs
            guard let result = try store.updateEnrollment(id: id, by: request.tokenName ?? "", { x throws(EnrollmentError) in try x.apply(inputs) }) else {
                throw Self.noEnrollment(id)
            }
            switch result {
            case .success(let x): return .api(200, try enrollmentJSON(x))
            case .failure(let error) where error.allowed != nil:
                return (.api(409, "{\"error\":{\"code\":\"invalid_transition\",\"message\":\(JSONText.quoted(error.description)),"
                          + "\"allowed\":[\(error.allowed!.map { JSONText.quoted($0.rawValue) }.joined(separator: ","))]}}"))
            case .failure(let error): return HTTPError(422, "invalid_field", error.description).response
            }
        default: return HTTPError.notFound(request.head.path).response
        }
    }

    static func noEnrollment(_ id: Int64) -> HTTPError { HTTPError(404, "not_found", "there is no enrollment \(id)") }

    static func programJSON(_ p: BetaProgram) -> String {
        "{\"slug\":\(JSONText.quoted(p.slug)),\"name\":\(JSONText.quoted(p.name)),\"description\":\(p.description.map(JSONText.quoted) ?? "null"),"
            + "\"phases\":[\(p.phases.map(JSONText.quoted).joined(separator: ","))],\"created_at\":\(JSONText.quoted(p.createdAt.description))}"
    }

    /// An enrollment with its live installation facts, read from the store now (never copied).
    func enrollmentJSON(_ x: Enrollment) throws(StorageError) -> String {
        BetaOperations.json(x, facts: try BetaOperations.liveFacts(store, x))
    }
}

extension PingRollResponder {
    func addFeedback(_ x: Enrollment, _ request: HTTPRequest) throws -> HTTPResponse {
        let inputs = try fieldInputs(request).inputs
        var f: Feedback
        do throws(EnrollmentError) {
            f = try Feedback(x, inputs, at: .now(), tokenName: request.tokenName ?? "")
        } catch {
            throw HTTPError(422, "invalid_field", "`\(error.field)`: \(error.message)")
        }
        do {
            f.id = try store.addFeedback(f)
            return .api(201, Self.feedbackJSON(f))
        } catch {
            return (storageFailure(error).response)
        }
    }

    static func feedbackJSON(_ f: Feedback) -> String {
        "{\"id\":\(f.id),\"enrollment_id\":\(f.enrollmentID),\"category\":\(JSONText.quoted(f.category)),\"rating\":\(f.rating),"
            + "\"text\":\(JSONText.quoted(f.text)),\"issue_url\":\(f.issueURL.map(JSONText.quoted) ?? "null"),"
            + "\"at\":\(JSONText.quoted(f.at.description)),\"token\":\(JSONText.quoted(f.tokenName))}"
    }
}

extension PingRollResponder {
    /// `GET .../timeline?interval=&from=&to=` (viewer): see `BetaAnalytics.timeline`.
    func timeline(_ program: BetaProgram, _ request: HTTPRequest) throws -> HTTPResponse {
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
        return try .api(200, encoding: try BetaAnalytics.timeline(store, program: program, interval: interval, starts: starts))
    }
}
