import ArgumentParser

struct PingRollCommand: ParsableCommand {
    /// pingroll's version (`--version`, `pingroll_build_info`).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "pingroll",
        abstract: "Collects GitLab Service Pings, stores them durably and rolls them up.",
        discussion: """
            Every subcommand works on the database named by --database or PINGROLL_DATABASE \
            (default /var/lib/pingroll/pingroll.sqlite3 for root, else $XDG_DATA_HOME/pingroll/pingroll.sqlite3 or \
            ~/.local/share/pingroll/pingroll.sqlite3), also while `pingroll serve` is running on it. Only serve and \
            migrate create a database; the other commands refuse one that does not exist.
            """,
        version: PingRollCommand.version,
        subcommands: [ServeCommand.self, MigrateCommand.self, ImportCommand.self, CatalogCommand.self, RollupCommand.self, StorageCommand.self, BackupCommand.self, RetentionCommand.self, PullCommand.self, ConfigCommand.self, TokenCommand.self, BetaCommand.self, EstimateCommand.self, PopulationCommand.self, DigestCommand.self, AlertsCommand.self]
    )
}
