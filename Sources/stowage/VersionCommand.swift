import ArgumentParser
import Foundation
import HTTP
import KubeClient
import YAML

/// `stowage version`: the client's versions always, then the cluster's when one answers.
/// Like `kubectl version`, but an unreachable or unconfigured cluster is reported on a line
/// of its own and is not a failure (exit 0): the client part is what this command is for.
struct VersionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print Stowage's version, its libraries', and the cluster's if one is configured and reachable.",
        discussion: "Exits 0 whether or not the cluster answers; without one it says why it was not reachable."
    )

    @Option(help: "Path to a kubeconfig; defaults to $KUBECONFIG, then ~/.kube/config.")
    var kubeconfig: String?

    @Flag(help: "Print only the client versions; do not contact the cluster.")
    var client = false

    func run() async throws {
        print("stowage \(StowageVersion.current)")
        print("libcurl \(HTTPClient.libraryVersion)")
        print("libyaml \(YAMLParser.libraryVersion)")
        guard !client else { return }
        do {
            print(try await serverLine())
        } catch {
            print("kubernetes: not reachable: \(error)")
        }
    }

    /// The cluster's version and where it was found, or the reason it could not be had.
    private func serverLine() async throws -> String {
        var options = KubeClient.Options()
        options.requestTimeout = .seconds(10)
        options.maxRetries = 0
        let client = try KubeClient.fromEnvironment(kubeconfig: kubeconfig, options: options)
        let version = try await client.serverVersion()
        return "kubernetes \(version.gitVersion) at \(client.connection.server) (context \(client.connection.contextName))"
    }
}
