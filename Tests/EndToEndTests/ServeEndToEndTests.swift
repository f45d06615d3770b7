import Foundation
import Glibc
import Synchronization
import Testing
import PingRollCore
import PingRollStore

/// Runs the real `pingroll serve` binary over real sockets against a real SQLite file.
@Suite struct ServeEndToEndTests {
    func withServer(_ arguments: [String] = [], _ body: (ServerProcess) throws -> Void) throws {
        let server = try ServerProcess(arguments: arguments)
        defer { server.cleanUp() }
        try body(server)
    }

    func openStore(_ server: ServerProcess) throws -> SQLiteStore { try SQLiteStore(path: server.databasePath) }

    @Test func firstPingGets201AndAnIdAndADuplicateGetsTheSameId() throws {
        try withServer { server throws in
            let http = server.client()
            let body = Pings.make(uuid: "e2e-1", recordedAt: "2024-01-15T10:00:00.000Z")
            let first = try http.postJSON("/usage_data", body)
            #expect(first.status == 201 && first.headers["content-type"] == "application/json")
            let id = try #require(first.usageDataID)
            #expect(id > 0)
            let again = try http.postJSON("/usage_data", Pings.make(uuid: "e2e-1", recordedAt: "2024-01-15T12:00:00+02:00"))
            #expect(again.status == 201 && again.usageDataID == id)
            let store = try openStore(server)
            defer { store.close() }
            #expect(try store.statistics().pings == 1)
            #expect(try store.ping(id: Int64(id))?.payload == Array(body.utf8))
        }
    }

    @Test func everyErrorCaseGetsItsStatusAJSONErrorAndAQuarantineRow() throws {
        try withServer(["--max-body-bytes", "100000"]) { server throws in
            let http = server.client()
            let cases: [(HTTPClient.Response, Int, String)] = [
                (try http.postJSON("/usage_data", "{oops"), 400, "invalid_json"),
                (try http.postJSON("/usage_data", "[]"), 400, "not_an_object"),
                (try http.request("POST", "/usage_data", headers: [("Content-Type", "text/plain")], body: Array("{}".utf8)), 415, "unsupported_media_type"),
                (try http.postJSON("/usage_data", #"{"recorded_at":"2024-01-15T10:00:00Z"}"#), 422, "invalid_field"),
                (try http.postJSON("/usage_data", #"{"uuid":"x","recorded_at":"2999-01-01T00:00:00Z"}"#), 422, "recorded_in_future"),
                (try http.postJSON("/usage_data", Pings.make(approximateBytes: 200_000)), 413, "payload_too_large"),
            ]
            for (response, status, code) in cases {
                #expect(response.status == status && response.errorCode == code, "\(code)")
                #expect(response.headers["content-type"] == "application/json")
            }
            // The oversized body was answered before its quarantine row committed; give it a moment.
            let store = try openStore(server)
            defer { store.close() }
            var rows: [StoredQuarantineEntry] = []
            for _ in 0..<100 {
                rows = try store.quarantine(limit: 100)
                if rows.count == cases.count { break }
                usleep(50_000)
            }
            #expect(Set(rows.map(\.record.reason)) == Set(cases.map(\.2)))
            #expect(rows.allSatisfy { $0.record.remoteAddress == "127.0.0.1" })
            #expect(try store.statistics().pings == 0)

            let noLength = try http.connect()
            try noLength.send("POST /usage_data HTTP/1.0\r\nContent-Type: application/json\r\n\r\n")
            #expect(try noLength.readResponse().status == 411)
            #expect(try http.request("GET", "/usage_data").status == 405)
            #expect(try http.request("GET", "/missing").status == 404)
        }
    }

    @Test func gzipAndChunkedBodiesAreAccepted() throws {
        try withServer { server throws in
            let http = server.client()
            let body = Array(Pings.make(uuid: "gz", approximateBytes: 50_000).utf8)
            let gz = try http.request("POST", "/usage_data", headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")],
                                      body: try gzip(body))
            #expect(gz.status == 201)

            let c = try http.connect()
            let chunkedBody = Array(Pings.make(uuid: "chunked", approximateBytes: 50_000).utf8)
            try c.send("POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            for start in stride(from: 0, to: chunkedBody.count, by: 7000) {
                let piece = Array(chunkedBody[start..<min(start + 7000, chunkedBody.count)])
                try c.send(String(piece.count, radix: 16) + "\r\n")
                try c.send(piece + Array("\r\n".utf8))
            }
            try c.send("0\r\n\r\n")
            let chunked = try c.readResponse()
            #expect(chunked.status == 201)
            let store = try openStore(server)
            defer { store.close() }
            #expect(try store.ping(id: Int64(chunked.usageDataID ?? 0))?.payload == chunkedBody)
            #expect(try store.ping(id: Int64(gz.usageDataID ?? 0))?.payload == body)
        }
    }

    @Test func aFiveMegabytePingIsAccepted() throws {
        try withServer { server throws in
            let body = Pings.make(uuid: "big", approximateBytes: 5_000_000)
            #expect(body.utf8.count > 5_000_000)
            let r = try server.client().postJSON("/usage_data", body)
            #expect(r.status == 201 && r.usageDataID != nil)
        }
    }

    @Test func concurrentPostsFromManyClientsAreAllStoredExactlyOnce() throws {
        try withServer { server throws in
            let http = server.client()
            let distinct = 60, copies = 4
            let ids = Mutex<[Int: Set<Int>]>([:])
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: distinct * copies) { i in
                let n = i % distinct
                let body = Pings.make(uuid: "concurrent-\(n)", recordedAt: "2024-03-0\(1 + n % 5)T08:00:00Z", approximateBytes: 20_000)
                do {
                    let r = try http.postJSON("/usage_data", body)
                    guard r.status == 201, let id = r.usageDataID else {
                        failures.withLock { $0.append("\(r.status) \(r.text)") }
                        return
                    }
                    ids.withLock { _ = $0[n, default: []].insert(id) }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }); server log:\n\(server.log.suffix(3000))")
            let seen = ids.withLock { $0 }
            #expect(seen.count == distinct && seen.values.allSatisfy { $0.count == 1 })
            #expect(Set(seen.values.flatMap { $0 }).count == distinct)
            let store = try openStore(server)
            defer { store.close() }
            #expect(try store.statistics().pings == Int64(distinct))
        }
    }

    @Test func aStalledUploadDelaysNobodyAndIsClosedAfterTheTimeout() throws {
        try withServer(["--connection-timeout", "2"]) { server throws in
            let http = server.client()
            var stalled: [HTTPClient.Connection] = []
            for _ in 0..<4 {  // more stalled clients than server threads
                let c = try http.connect(receiveTimeoutSeconds: 20)
                try c.send("POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"uuid\":")
                stalled.append(c)
            }
            for i in 0..<20 {
                let r = try http.postJSON("/usage_data", Pings.make(uuid: "meanwhile-\(i)"))
                #expect(r.status == 201)
            }
            for c in stalled { #expect(c.waitForClose(), "the idle upload is closed by the server") }
        }
    }

    @Test func errorAndMetadataReportsAreStored() throws {
        try withServer { server throws in
            let http = server.client()
            #expect(try http.postJSON("/usage_ping_errors", #"{"error":{"uuid":"u","message":"boom","elapsed":1.5}}"#).status == 201)
            #expect(try http.postJSON("/usage_ping_metadata", #"{"metadata":{"uuid":"u","metrics":[]}}"#).text == "{}")
            #expect(try http.postJSON("/usage_ping_metadata", #"{"meta":{}}"#).status == 422)
        }
    }

    @Test func theUploadPageStoresAFileAndShowsItsId() throws {
        try withServer { server throws in
            let http = server.client()
            #expect(try http.request("GET", "/usage_data/new").text.contains("<form"))
            let file = Pings.make(uuid: "airgapped")
            let body = "--XX\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"usage.json\"\r\nContent-Type: application/json\r\n\r\n\(file)\r\n--XX--\r\n"
            let r = try http.request("POST", "/usage_data/new", headers: [("Content-Type", "multipart/form-data; boundary=XX")], body: Array(body.utf8))
            #expect(r.status == 201 && r.text.contains("usage-data-id"))
        }
    }

    @Test func healthAndReadinessAnswer200() throws {
        try withServer { server throws in
            let http = server.client()
            #expect(try http.request("GET", "/healthz").status == 200)
            #expect(try http.request("GET", "/readyz").text == #"{"status":"ready"}"#)
        }
    }

    @Test func sigtermLetsAnInFlightRequestFinishAndExitsZero() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let body = Array(Pings.make(uuid: "in-flight", approximateBytes: 30_000).utf8)
        let c = try server.client().connect()
        try c.send("POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n")
        try c.send(Array(body.prefix(1000)))
        usleep(200_000)
        kill(server.process.processIdentifier, SIGTERM)
        usleep(200_000)
        try c.send(Array(body.dropFirst(1000)))
        let r = try c.readResponse()
        #expect(r.status == 201)
        #expect(server.stop() == 0)
        #expect(server.log.contains("stopped"))
        let store = try SQLiteStore(path: server.databasePath)
        defer { store.close() }
        #expect(try store.statistics().pings == 1)
    }

    @Test func anAcknowledgedPingSurvivesKillDashNine() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        var ids: [Int] = []
        for i in 0..<20 {
            let r = try server.client().postJSON("/usage_data", Pings.make(uuid: "durable-\(i)", approximateBytes: 10_000))
            if let id = r.usageDataID { ids.append(id) }
        }
        server.stop(signal: SIGKILL)
        let store = try SQLiteStore(path: server.databasePath)
        defer { store.close() }
        for id in ids { #expect(try store.ping(id: Int64(id)) != nil) }
        #expect(ids.count == 20)
    }

    @Test func otherSubcommandsWorkWhileServeRuns() throws {
        try withServer { server throws in
            _ = try server.client().postJSON("/usage_data", Pings.make())
            let (status, output) = try server.runCommand(["migrate", "--status"])
            #expect(status == 0 && output.contains("applied"))
            let (migrateStatus, migrateOutput) = try server.runCommand(["migrate"])
            #expect(migrateStatus == 0 && migrateOutput.contains("schema version \(Migrations.latestVersion)"))
        }
    }

    @Test func aBinaryCopiedOutOfTheCheckoutRunsWithItsBuiltInCatalogAndDashboards() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pingroll-solo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("pingroll")
        try FileManager.default.copyItem(at: ServerProcess.binary, to: binary)
        let (status, output) = try ServerProcess.runTool(binary.path, ["catalog"], in: dir)
        #expect(status == 0 && output.contains("(built-in catalog)"), "\(output)")
        // Started from a directory without schemas/ or dashboards/ anywhere above it.
        let p = Process()
        p.executableURL = binary
        p.currentDirectoryURL = dir
        p.arguments = ["serve", "--listen", "127.0.0.1:0", "--database", dir.appendingPathComponent("db.sqlite3").path]
        let pipe = Pipe()
        p.standardError = pipe
        p.standardOutput = pipe
        try p.run()
        var log = ""
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline && !log.contains("listening on") {
            log += String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        }
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        #expect(log.contains("path=(built-in catalog)") && log.contains("dashboards=4"), "\(log)")
        let noChart = try ServerProcess.runTool(binary.path, ["serve", "--listen", "127.0.0.1:0", "--chartjs", "/nonexistent/chart.js",
                                                              "--database", dir.appendingPathComponent("db2.sqlite3").path], in: dir)
        #expect(noChart.0 != 0 && noChart.1.contains("libjs-chart.js"), "a missing Chart.js stops serve at start: \(noChart.1)")
    }

    @Test func aBusyPortIsAClearStartupError() throws {
        try withServer { server throws in
            let p = Process()
            p.executableURL = ServerProcess.binary
            p.arguments = ["serve", "--database", server.databasePath, "--listen", "127.0.0.1:\(server.port)"]
            let pipe = Pipe()
            p.standardError = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus != 0)
            #expect(text.contains("cannot listen on 127.0.0.1:\(server.port)"))
        }
    }
}

/// gzip via the system's gzip tool, so the test does not share the server's zlib code.
func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/gzip")
    p.arguments = ["-c"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    DispatchQueue.global().async {
        input.fileHandleForWriting.write(Data(bytes))
        try? input.fileHandleForWriting.close()
    }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Array(data)
}
