import ArgumentParser
import Foundation

// Parsing and validation errors are ArgumentParser's; a ValidationError thrown while a
// subcommand runs gets that subcommand's usage (ArgumentParser would show the root's).
var command: ParsableCommand
do {
    command = try PingRollCommand.parseAsRoot()
} catch {
    PingRollCommand.exit(withError: error)
}
do {
    try command.run()
} catch let error as ValidationError {
    let usage = PingRollCommand.usageString(for: type(of: command)).trimmingCharacters(in: .whitespacesAndNewlines)
    let name = usage.split(separator: " ").prefix { !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("-") }.joined(separator: " ")
    FileHandle.standardError.write(Data("Error: \(error.message)\nUsage: \(usage)\n  See '\(name) --help' for more information.\n".utf8))
    exit(ExitCode.validationFailure.rawValue)
} catch {
    PingRollCommand.exit(withError: error)
}
