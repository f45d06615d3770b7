import Foundation
import Synchronization
import Testing
import PingRollCore

/// Every route but ingest runs on the API lane: a slow API request never holds a ping, has a
/// time budget, and a full queue answers 503.
@Suite struct APILaneTests {
    /// Ten metadata reports of 80,000 metric names each (about 4 MB each): the instrumentation
    /// report over them takes seconds in a debug build.
    /// Enough metric rows (40 reports × the 10,000 names a report keeps) that a view of the
    /// instrumentation report takes well over 0.2 s on a debug build.
    func seedReports(_ server: ServerProcess) throws {
        let metrics = (0..<MetadataEntries.maxNames).map { #"{"name":"counts.metric_\#($0)","time_elapsed":0.01}"# }.joined(separator: ",")
        for r in 0..<40 {
            let body = #"{"metadata":{"uuid":"lane-\#(r)","metrics":[\#(metrics)]}}"#
            #expect(try server.client().postJSON("/usage_ping_metadata", body).status == 201)
        }
    }

    @Test func pingsAreAnsweredWhileSlowAPIRequestsRun() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        try seedReports(server)
        let token = try server.token(role: "viewer")
        let slowFinished = Mutex<[Date]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                let r = try? server.client().request("GET", "/api/v1/instrumentation/metrics", headers: [("Authorization", "Bearer \(token)")])
                #expect(r?.status == 200)
                slowFinished.withLock { $0.append(Date()) }
            }
        }
        Thread.sleep(forTimeInterval: 0.3)
        var answered: [Date] = []
        for i in 0..<6 {
            #expect(try server.client().postJSON("/usage_data", Pings.make(uuid: "during-\(i)")).status == 201)
            answered.append(Date())
        }
        group.wait()
        let firstSlow = try #require(slowFinished.withLock { $0.min() })
        #expect(answered.allSatisfy { $0 < firstSlow }, "every ping was answered before the slow requests ended")
    }

    @Test func anAPIRequestOverItsBudgetIsAnswered503AndAFullQueueToo() throws {
        let server = try ServerProcess(arguments: ["--api-request-timeout", "0.2", "--api-workers", "1", "--api-queue", "1"])
        defer { server.cleanUp() }
        try seedReports(server)
        let token = try server.token(role: "viewer")
        let answers = Mutex<[(Int, String?)]>([])
        let group = DispatchGroup()
        for _ in 0..<4 {
            DispatchQueue.global().async(group: group) {
                let r = try? server.client().request("GET", "/api/v1/instrumentation/metrics", headers: [("Authorization", "Bearer \(token)")])
                answers.withLock { $0.append((r?.status ?? 0, r?.errorCode)) }
            }
        }
        group.wait()
        let codes = answers.withLock { $0 }
        #expect(codes.contains { $0.0 == 503 && $0.1 == "timeout" }, "\(codes)")
        #expect(codes.contains { $0.0 == 503 && $0.1 == "overloaded" }, "\(codes)")
        #expect(codes.allSatisfy { $0.0 == 503 }, "none finished within 0.2 s: \(codes)")
        // Ingest never waited for any of it, and the server answers again once the lane is free.
        #expect(try server.client().postJSON("/usage_data", Pings.make(uuid: "after")).status == 201)
    }
}
