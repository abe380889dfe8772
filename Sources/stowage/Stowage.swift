import ArgumentParser

@main
struct Stowage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stowage",
        abstract: "Data volumes backed by object storage, shared safely, on Kubernetes.",
        version: StowageVersion.current,
        subcommands: [VersionCommand.self, OperatorCommand.self, SyncCommand.self, WaitCommand.self, PresignCommand.self, VersionsCommand.self]
    )
}

enum StowageVersion {
    static let current = "0.1.0-dev"
}
