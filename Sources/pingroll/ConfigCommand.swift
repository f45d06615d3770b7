import ArgumentParser
import Foundation
import PingRollConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Checks a configuration file for `pingroll serve --config`.",
        subcommands: [CheckCommand.self]
    )

    struct CheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validates a configuration file and prints the effective serve configuration, secrets masked.",
            discussion: """
                The file is YAML: a mapping whose keys are serve's long options without the dashes \
                (listen, tls-cert, metrics-allow, access-log, ...). Each setting's effective value \
                comes from the command line, else its environment variable, else the file, else the \
                default; this prints which. Exits 1 when the file or the resulting configuration is \
                not valid.
                """
        )

        @Argument(help: "The configuration file.")
        var file: String

        func run() throws {
            let config: ConfigFile
            do { config = try ConfigFile(path: file) } catch { throw CommandFailure("\(error)") }
            let arguments = config.merged(into: [])
            let env = ProcessInfo.processInfo.environment
            let width = ConfigFile.settings.map(\.name.count).max() ?? 20
            print("\("setting".padding(toLength: width, withPad: " ", startingAt: 0))  \("from".padding(toLength: 11, withPad: " ", startingAt: 0))  value")
            for setting in ConfigFile.settings {
                let source = config.source(of: setting, arguments: [])
                var value: String
                switch source {
                case .environment: value = env[setting.environment ?? ""] ?? ""
                case .file: value = config.values.first { $0.setting.name == setting.name }.map { $0.texts.isEmpty ? "true" : $0.texts.joined(separator: ", ") } ?? ""
                case .commandLine, .defaultValue: value = "(default)"
                }
                if setting.secret { value = Self.masked(value) }
                print("\(setting.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(source.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0))  \(value)")
            }
            do {
                _ = try ServeCommand.parse(arguments)
            } catch {
                throw CommandFailure("the configuration is not valid: \(ServeCommand.message(for: error))")
            }
            print("\(file): valid")
        }

        /// A URL's password, or a libpq `password=` value, as ***.
        static func masked(_ text: String) -> String {
            var options = DatabaseOptions()
            options.database = text
            return options.displayLocation
        }
    }
}
