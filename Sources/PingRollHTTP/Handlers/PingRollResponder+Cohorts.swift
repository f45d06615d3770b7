import Foundation
import PingRollCore
import PingRollStore

extension PingRollResponder {
    /// The live facts of an enrollment's installation (its latest ping), or nil.
    func liveFacts(_ x: Enrollment) throws(StorageError) -> InstallationRecord? {
        guard let uuid = x.uuid else { return nil }
        return try store.installations(uuid: uuid).filter { x.hostname == nil || $0.key.hostname == x.hostname }
            .max { ($0.lastRecordedAt?.milliseconds ?? 0) < ($1.lastRecordedAt?.milliseconds ?? 0) }
    }

    /// `GET .../cohort?filters&format=csv|json` and saved cohorts: streamed, no row cap.
    func exportCohort(_ program: BetaProgram, _ arguments: [(String, String)], format: String) -> HTTPResponse {
        let filter: CohortFilter
        do { filter = try CohortFilter.parse(arguments) } catch { return HTTPError(400, "invalid_parameter", error.description).response }
        guard format == "csv" || format == "json" else {
            return HTTPError(400, "invalid_parameter", "`format`: must be csv or json (got \(format))").response
        }
        let cursor = ExportCursor()
        let now = Timestamp.now()
        let stream: @Sendable () -> [UInt8]? = { [self] in
            guard !cursor.finished else { return nil }
            var out = ""
            if !cursor.started {
                cursor.started = true
                out += format == "csv" ? EnrollmentCSV.header : "{\"program\":\(JSONText.quoted(program.slug)),\"enrollments\":["
            }
            do {
                let page = try store.enrollments(program: program.slug, after: cursor.after, limit: 500)
                for x in page {
                    let facts = try liveFacts(x)
                    guard filter.matches(x, dbEnabled: facts?.dbEnabled, lastPingAt: facts?.lastRecordedAt, now: now) else { continue }
                    if format == "csv" {
                        out += EnrollmentCSV.row(x, lastPingAt: facts?.lastRecordedAt, dbEnabled: facts?.dbEnabled)
                    } else {
                        out += (cursor.rows > 0 ? "," : "") + (try enrollmentJSON(x))
                    }
                    cursor.rows += 1
                }
                if let last = page.last, page.count == 500 {
                    cursor.after = last.id
                } else {
                    cursor.finished = true
                    if format == "json" { out += "],\"count\":\(cursor.rows)}" }
                }
            } catch {
                // Headers are gone; end the body so the client sees a truncated document, and log it.
                logger.error("cohort export failed", metadata: ["error": "\(error)"])
                cursor.finished = true
            }
            return Array(out.utf8)
        }
        let type = format == "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8"
        return HTTPResponse(status: 200, headers: [("Content-Type", type),
                                                   ("Content-Disposition", "attachment; filename=\"\(program.slug)-cohort.\(format)\"")], stream: stream)
    }

    /// `POST .../enrollments/import[?partial=true]`, `text/csv`: every row is checked first; with any
    /// invalid row nothing is applied (unless partial=true, which applies the valid ones).
    func importEnrollments(_ program: BetaProgram, _ request: HTTPRequest) -> HTTPResponse {
        let partial = request.head.queryValue("partial") == "true"
        let rows: [[String]]
        do { rows = try CSV.parse(String(decoding: request.body, as: UTF8.self)) } catch {
            return HTTPError(400, "invalid_csv", error.description).response
        }
        guard let header = rows.first else { return HTTPError(422, "invalid_csv", "the CSV has no header row").response }
        let readOnly: Set<String> = ["program", "created_at", "updated_at", "last_ping_at", "db_enabled"]
        for column in header where column != "id" && !readOnly.contains(column) && !Enrollment.fields.contains(column) {
            return HTTPError(422, "invalid_csv", "column `\(column)` is not an enrollment field (\(EnrollmentCSV.columns.joined(separator: ", ")))").response
        }
        var planned: [(row: Int, enrollment: Enrollment, inputs: [String: FieldInput], isNew: Bool)] = []
        var errors: [String] = []
        for (index, cells) in rows.enumerated().dropFirst() where !(cells.count == 1 && cells[0].isEmpty) {
            let rowNumber = index + 1
            guard cells.count == header.count else {
                errors.append(Self.rowError(rowNumber, "", "has \(cells.count) cells, the header has \(header.count)"))
                continue
            }
            var inputs: [String: FieldInput] = [:]
            var id: Int64?
            for (column, cell) in zip(header, cells) {
                let value = EnrollmentCSV.restore(cell)
                if column == "id" { id = value.isEmpty ? nil : Int64(value); continue }
                if readOnly.contains(column) { continue }
                inputs[column] = value.isEmpty ? .null : .text(value)
            }
            do {
                if let id {
                    guard var x = try store.enrollment(id: id), x.program == program.slug else {
                        errors.append(Self.rowError(rowNumber, "id", "there is no enrollment \(id) in \(program.slug)"))
                        continue
                    }
                    _ = try x.apply(inputs)
                    planned.append((rowNumber, x, inputs, false))
                } else {
                    var x = Enrollment(program: program.slug, organization: "", contactName: "", contactEmail: "")
                    if inputs["status"] == nil || inputs["status"] == .null { inputs["status"] = .text("interested") }
                    _ = try x.apply(inputs, creating: true)
                    planned.append((rowNumber, x, inputs, true))
                }
            } catch let error as EnrollmentError {
                errors.append(Self.rowError(rowNumber, error.field, error.message))
            } catch let error as StorageError {
                return storageFailure(error).response
            } catch {
                return HTTPError(500, "internal", "unexpected error").response
            }
        }
        if !errors.isEmpty && !partial {
            return .api(422, "{\"error\":{\"code\":\"invalid_rows\",\"message\":\"\(errors.count) rows are invalid; nothing was applied (use partial=true to apply the valid rows)\"},\"errors\":[\(errors.joined(separator: ","))],\"created\":0,\"updated\":0}")
        }
        var created = 0, updated = 0
        do {
            for plan in planned {
                if plan.isNew {
                    var x = plan.enrollment
                    x.createdAt = .now()
                    x.updatedAt = x.createdAt
                    _ = try store.createEnrollment(x, by: request.tokenName ?? "")
                    created += 1
                } else {
                    let inputs = plan.inputs
                    if case .failure(let e)? = try store.updateEnrollment(id: plan.enrollment.id, by: request.tokenName ?? "", { x throws(EnrollmentError) in try x.apply(inputs) }) {
                        errors.append(Self.rowError(plan.row, e.field, e.message))
                    } else {
                        updated += 1
                    }
                }
            }
        } catch {
            return storageFailure(error).response
        }
        return .api(200, "{\"created\":\(created),\"updated\":\(updated),\"errors\":[\(errors.joined(separator: ","))]}")
    }

    static func rowError(_ row: Int, _ column: String, _ reason: String) -> String {
        "{\"row\":\(row),\"column\":\(JSONText.quoted(column)),\"reason\":\(JSONText.quoted(reason))}"
    }
}

/// Where a streamed export is; used by one server thread at a time (the connection's).
final class ExportCursor: @unchecked Sendable {
    var after: Int64 = 0
    var rows = 0
    var started = false
    var finished = false
}
