import ArgumentParser
import CYAML
import Foundation
import HTTP
import KubeClient

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
        print("libyaml \(String(cString: yaml_get_version_string()))")
        guard !client else { return }
        do {
            print(try await serverLine())
        } catch {
            print("kubernetes: not reachable: \(error)")
        }
    }

    /// The cluster's version and where it was found, or the reason it could not be had.
    private func serverLine() async throws -> String {
        let config = try KubeConfig.load(path: kubeconfig)
        let connection = try config.connection()
        let http = HTTPClient(configuration: connection.httpConfiguration)
        var request = HTTPRequest(url: connection.server + "/version", timeout: .seconds(10))
        try connection.authorize(&request)
        let response = try await http.execute(request)
        guard response.status == 200 else {
            throw ValidationError("\(connection.server)/version answered HTTP \(response.status)")
        }
        let version = try JSONDecoder().decode(ServerVersion.self, from: response.body)
        return "kubernetes \(version.gitVersion) at \(connection.server) (context \(connection.contextName))"
    }
}

private struct ServerVersion: Decodable {
    var gitVersion: String
}
