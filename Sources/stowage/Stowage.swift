import ArgumentParser

@main
struct Stowage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stowage",
        abstract: "Data volumes backed by object storage, shared safely, on Kubernetes.",
        // No `version:` here: ArgumentParser would then take `--version` anywhere on the
        // command line as a request for it, and `stowage sync pull --version ID` pins a
        // version of the data. `stowage version` prints Stowage's.
        subcommands: [VersionCommand.self, OperatorCommand.self, SyncCommand.self, WaitCommand.self, PresignCommand.self, VersionsCommand.self, PurgeCommand.self]
    )
}

enum StowageVersion {
    static let current = "0.1.0-dev"
}
