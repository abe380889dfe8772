import Foundation
import HTTP
import KubeModel
import KubeTesting
import Testing

/// A real JupyterHub (`scripts/hub/hub`: JupyterHub with KubeSpawner and the Python
/// configurable-http-proxy, configured from `deploy/jupyterhub/values.yaml`, the values the
/// admin guide gives), spawning into one world's namespace as that namespace's `hub` service
/// account, with its own token, as Zero to JupyterHub runs it. Driven through its REST API,
/// as an admin's script or the hub's own pages would.
final class JupyterHub: @unchecked Sendable {
    let directory: String
    let env: TestEnvironment
    let base: String
    let token: String
    /// The identity the hub creates pods as: what `spawners.trusted` must name.
    let identity: String
    let http = HTTPClient()

    var log: String { (try? String(contentsOfFile: directory + "/jupyterhub.log", encoding: .utf8)) ?? "" }

    private init(directory: String, env: TestEnvironment, settings: [String: String]) {
        self.directory = directory
        self.env = env
        base = settings["STOWAGE_HUB_URL"] ?? ""
        token = settings["STOWAGE_HUB_TOKEN"] ?? ""
        identity = settings["STOWAGE_HUB_IDENTITY"] ?? ""
    }

    static func start(_ w: World) async throws -> JupyterHub {
        let directory = w.root + "/hub"
        try hub(w.env, ["up", directory, w.namespace])
        // DIR/env: `export NAME='value'` lines.
        var settings: [String: String] = [:]
        for line in try String(contentsOfFile: directory + "/env", encoding: .utf8).split(separator: "\n") {
            let assignment = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if assignment.count == 2 { settings[String(assignment[0])] = String(assignment[1].dropFirst().dropLast()) }
        }
        return JupyterHub(directory: directory, env: w.env, settings: settings)
    }

    func stop() {
        try? Self.hub(env, ["down", directory])
    }

    static func hub(_ env: TestEnvironment, _ arguments: [String]) throws {
        try runStarter(TestEnvironment.packageRoot + "/scripts/hub/hub", arguments,
                       environment: ["KUBECONFIG": env.kubeconfig, "STOWAGE_TEST_NOTEBOOK_IMAGE": env.notebookImage])
    }

    struct Answer {
        var status: Int
        var json: [String: Any]
        var text: String
    }

    /// One REST call, as the service the hub's configuration declares.
    func call(_ method: HTTPRequest.Method, _ path: String, _ body: [String: Any]? = nil) async throws -> Answer {
        var headers: HTTPHeaders = ["Authorization": "token \(token)"]
        var payload: HTTPRequest.Body?
        if let body {
            headers.add("Content-Type", "application/json")
            payload = .data(try JSONSerialization.data(withJSONObject: body))
        }
        let response = try await http.execute(HTTPRequest(method: method, url: base + path, headers: headers, body: payload, timeout: .seconds(60)))
        let text = String(decoding: response.body, as: UTF8.self)
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return Answer(status: response.status, json: json, text: text)
    }

    /// The user's default server as the hub reports it: nil when it has none.
    func server(_ user: String) async throws -> [String: Any]? {
        let model = try await call(.get, "/users/\(user)")
        return (model.json["servers"] as? [String: Any])?[""] as? [String: Any]
    }

    /// The messages of a spawn's progress, as the hub's spawn page reads them: its event
    /// stream, which ends when the spawn does (ready, or failed).
    func progress(_ user: String, server: String = "") async throws -> [String] {
        let path = server.isEmpty ? "/users/\(user)/server/progress" : "/users/\(user)/servers/\(server)/progress"
        let request = HTTPRequest(url: base + path, headers: ["Authorization": "token \(token)"],
                                  timeout: .seconds(300))
        let (_, body) = try await http.stream(request)
        var messages: [String] = []
        for try await line in body.lines where line.starts(with: Data("data:".utf8)) {
            let event = (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(5)))) as? [String: Any]
            if let message = event?["message"] as? String { messages.append(message) }
        }
        return messages
    }

}
