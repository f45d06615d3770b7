import Foundation
import Testing
@testable import PingRollHTTP

@Suite struct OpenAPITests {
    /// (METHOD, path) pairs of schemas/openapi.yaml, paths as written (`{param}` included).
    static func documented() throws -> Set<String> {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        var result = Set<String>()
        var path: String?
        var inPaths = false
        for line in text.components(separatedBy: "\n") {
            if line == "paths:" { inPaths = true; continue }
            guard inPaths else { continue }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if let path, let method = ["get", "post", "put", "patch", "delete"].first(where: { line == "    \($0):" }) {
                result.insert("\(method.uppercased()) \(path)")
            }
        }
        return result
    }

    @Test func theSpecDocumentsExactlyTheRoutesTheServerHas() throws {
        let h = try ResponderHarness()
        let served = Set(h.responder.router.routes.map { "\($0.method) \($0.path)" })
        #expect(try Self.documented() == served)
    }
}
