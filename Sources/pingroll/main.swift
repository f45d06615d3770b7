import ArgumentParser
import Foundation
import PingRollConfig

// Every file and directory pingroll creates (the database and its journal, its directory,
// backups, exports, dashboard files) is private to the user it runs as: 0600 and 0700.
umask(0o077)

// Parsing and validation errors are ArgumentParser's; a ValidationError thrown while a
// subcommand runs gets that subcommand's usage (ArgumentParser would show the root's).
var command: ParsableCommand
var arguments = Array(CommandLine.arguments.dropFirst())
// `serve --config FILE` (or PINGROLL_CONFIG): the file's settings join the command line where
// neither it nor the environment sets them (ConfigFile).
if arguments.first == "serve", let path = ConfigFile.location(in: arguments) {
    do {
        arguments = ["serve"] + (try ConfigFile(path: path)).merged(into: Array(arguments.dropFirst()))
    } catch {
        FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
        exit(1)
    }
}
do {
    command = try PingRollCommand.parseAsRoot(arguments)
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
