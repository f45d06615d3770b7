import Foundation
import Testing

/// `pingroll beta` as a PM runs it next to a running server.
@Suite struct BetaCommandTests {
    @Test func importExportAndListProgramsFromTheCLI() throws {
        let server = try ServerProcess()
        defer { server.cleanUp() }
        let (_, tokenOutput) = try server.runCommand(["token", "create", "--role", "pm", "--name", "pm"])
        let token = try #require(tokenOutput.split(separator: "\n").last.map(String.init))
        let created = try server.client().postJSON("/api/v1/beta/programs", #"{"slug":"rmdb","name":"Registry metadata database"}"#,
                                                   headers: [("Content-Type", "application/json"), ("Authorization", "Bearer \(token)")])
        #expect(created.status == 201)
        let programs = try server.runCommand(["beta", "programs"]).1.split(separator: "\n")
        #expect(programs.first?.hasPrefix("SLUG") == true && programs.contains { $0.hasPrefix("rmdb  Registry metadata database") }, "\(programs)")
        let json = try server.runCommand(["beta", "programs", "--json"]).1
        let listed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(listed?.first?["slug"] as? String == "rmdb" && listed?.first?["name"] as? String == "Registry metadata database", "\(json)")

        let csv = server.directory.appendingPathComponent("in.csv")
        try "organization,contact_name,contact_email,registry_size_bytes,storage_driver,status\r\nACME,Ann,ann@acme.example,2TiB,s3,enrolled\r\nBeta Co,Bo,bo@beta.example,,,\r\n"
            .write(to: csv, atomically: true, encoding: .utf8)
        let (status, output) = try server.runCommand(["beta", "import", "--program", "rmdb", csv.path])
        #expect(status == 0 && output.contains("created 2, updated 0"), "\(output)")

        let bad = server.directory.appendingPathComponent("bad.csv")
        try "organization,contact_name,contact_email,storage_driver\r\nX,Y,nope,ftp\r\n".write(to: bad, atomically: true, encoding: .utf8)
        let refused = try server.runCommand(["beta", "import", "--program", "rmdb", bad.path])
        #expect(refused.0 != 0 && refused.1.contains("row 2, column contact_email") && refused.1.contains("row 2, column storage_driver"), "\(refused.1)")
        #expect(refused.1.contains("1 invalid row (2 problems)"), "\(refused.1)")

        let out = server.directory.appendingPathComponent("out.csv")
        let export = try server.runCommand(["beta", "export", "--program", "rmdb", "--status", "enrolled", "--format", "csv", "--output", out.path])
        #expect(export.0 == 0, "\(export.1)")
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.hasPrefix("id,program,organization,") && text.contains("ACME") && !text.contains("Beta Co"))
        #expect(text.contains(",2199023255552,s3,"))
    }
}
