import PingRollCore
import PingRollService
import PingRollStore

extension PingRollResponder {
    /// `GET .../cohort?filters&format=csv|json` and saved cohorts: streamed, no row cap.
    func exportCohort(_ program: BetaProgram, _ arguments: [(String, String)], format: String) throws -> HTTPResponse {
        let filter: CohortFilter
        do { filter = try CohortFilter.parse(arguments) } catch { throw HTTPError(400, "invalid_parameter", error.description) }
        guard let kind = BetaOperations.Format(rawValue: format) else {
            throw HTTPError(400, "invalid_parameter", "`format`: must be csv or json (got \(format))")
        }
        let export = BetaOperations.CohortExport(store: store, program: program.slug, filter: filter, format: kind)
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
    func importEnrollments(_ request: HTTPRequest) throws -> HTTPResponse {
        let program = try program(request)
        let report: BetaOperations.ImportReport
        do {
            report = try BetaOperations.importCSV(store, program: program.slug, csv: String(decoding: request.body, as: UTF8.self),
                                                  partial: request.head.queryValue("partial") == "true", by: request.tokenName ?? "")
        } catch {
            switch error {
            case .csv(let message): throw HTTPError(422, "invalid_csv", message)
            case .storage(let e): throw e
            }
        }
        return .json(report.applied ? 200 : 422, ImportReportBody(report))
    }
}
