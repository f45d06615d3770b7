import PingRollCore
import PingRollService

extension BetaController {
    /// `GET .../cohort?filters&format=csv|json` and saved cohorts: streamed, no row cap.
    func exportCohort(_ program: BetaProgram, _ arguments: [(String, String)], format: String) throws -> HTTPResponse {
        let filter: CohortFilter
        do { filter = try CohortFilter.parse(arguments) } catch { throw HTTPError(400, "invalid_parameter", error.description) }
        guard let kind = BetaOperations.Format(rawValue: format) else {
            throw HTTPError(400, "invalid_parameter", "`format`: must be csv or json (got \(format))")
        }
        let export = beta.cohortExport(program: program.slug, filter: filter, format: kind)
        let stream: @Sendable () -> [UInt8]? = { [logger] in
            let piece = export.next()
            // Headers are already sent: a failure ends the body early (a truncated document) and is logged.
            if let failure = export.failure { logger.error("cohort export failed", metadata: ["error": "\(failure)"]) }
            return piece
        }
        let type = kind == .csv ? "text/csv; charset=utf-8" : "application/json; charset=utf-8"
        return HTTPResponse(status: 200, headers: [("Content-Type", type),
                                                   ("Content-Disposition", "attachment; filename=\"\(program.slug)-cohort.\(format)\"")], stream: stream)
    }

    /// `POST .../enrollments/import[?partial=true]` with `text/csv`.
    /// `POST …/enrollments/import[?partial=true]`: a job (202) that checks every row, then writes
    /// in short, idempotent transactions; its result is the import report (`result_status` 422
    /// when invalid rows stopped it before anything was written).
    func importEnrollments(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        guard !request.body.isEmpty else { throw HTTPError(422, "invalid_csv", "the body is empty: send CSV with a header row") }
        let partialText = request.head.queryValue("partial") ?? "false"
        guard partialText == "true" || partialText == "false" else {
            throw HTTPError(400, "invalid_parameter", "`partial`: must be true or false")
        }
        let csv = String(decoding: request.body, as: UTF8.self)
        return try jobs.accept(.enrollmentsImport, request, subject: program.slug,
                            beta.importWork(program: program.slug, csv: csv, partial: partialText == "true",
                                                     by: request.tokenName ?? ""))
    }
}
