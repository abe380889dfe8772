import Foundation

/// The real cluster (control plane, scheduler, nodes with containerd and a kubelet each, a
/// provisioner) and S3 server a test run shares, as `scripts/testenv up` started them.
///
/// The test command (`make test`) starts them once and exports `STOWAGE_TESTENV_DIR`; by
/// hand, `scripts/testenv up DIR` and `source DIR/env` do the same. Without it, `shared()`
/// fails with those instructions (unit tests never call it).
public struct TestEnvironment: Sendable {
    public let directory: String
    public let apiServer: String
    public let adminToken: String
    public let caFile: String
    public let kubeconfig: String
    public let etcd: String
    /// The S3 server the tests talk to: SeaweedFS (reachable from pods too), or moto_server
    /// on loopback when `STOWAGE_TEST_S3_SERVER=moto` (scripts/test runs the ObjectStore and
    /// DataSync suites against each; pods cannot reach moto).
    public let s3Endpoint: String
    public let s3Server: S3Server
    public let s3AccessKey: String
    public let s3SecretKey: String
    /// SeaweedFS's filer, which serves files over plain HTTP without signatures.
    public let filer: String
    /// A client certificate and key of a cluster-admin user (`cert-admin`).
    public let clientCertificate: String
    public let clientKey: String
    /// A token of user `alice`, who has no RBAC grants.
    public let unprivilegedToken = "stowage-user-token"
    /// The names of the environment's nodes (each a kubelet with its own containerd).
    public let nodes: [String]
    /// The stowage image built from this tree (`scripts/testenv load-image`), and a small
    /// notebook image (busybox, user jovyan 1000:100), both on every node.
    public let image: String
    public let notebookImage: String
    /// The default StorageClass: claims become 0777 directories under `volumesRoot`.
    public let storageClass: String
    public let volumesRoot: String

    /// The environment the test command started (`STOWAGE_TESTENV_DIR`). Integration tests
    /// fail at once, saying how to start one, when there is none: a test run never starts a
    /// cluster behind the developer's back.
    public static func shared() throws -> TestEnvironment { try sharedResult.get() }

    private static let sharedResult: Result<TestEnvironment, TestEnvironmentError> = {
        guard let dir = ProcessInfo.processInfo.environment["STOWAGE_TESTENV_DIR"] else {
            return .failure(TestEnvironmentError(
                "integration tests need the test environment, and STOWAGE_TESTENV_DIR is not set: run `make test`, "
                + "or `scripts/testenv up DIR && source DIR/env` before `swift test` (unit tests need none)"))
        }
        return Result { () throws(TestEnvironmentError) in try load(directory: dir) }
    }()

    /// Starts a separate environment (for tests that restart or break their control plane),
    /// with `nodes` nodes (none by default: such tests need the control plane only).
    public static func start(directory: String, apiServerFlags: [String] = [], nodes: Int = 0) throws(TestEnvironmentError) -> TestEnvironment {
        try runScript(["up", directory], environment: ["STOWAGE_APISERVER_FLAGS": apiServerFlags.joined(separator: " "),
                                                       "STOWAGE_TESTENV_NODES": String(nodes)])
        return try load(directory: directory)
    }

    /// Stops the processes this environment's `up` started.
    public func stop() throws(TestEnvironmentError) {
        try Self.runScript(["down", directory])
    }

    /// Stops and starts kube-apiserver on the same port and data.
    public func restartAPIServer() throws(TestEnvironmentError) {
        try Self.runScript(["restart-apiserver", directory])
    }

    /// Reads `DIR/env` as written by `scripts/testenv up DIR`.
    public static func load(directory: String) throws(TestEnvironmentError) -> TestEnvironment {
        let path = directory + "/env"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw TestEnvironmentError("cannot read \(path): is the test environment up?")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let assignment = line.dropFirst("export ".count)
            guard let eq = assignment.firstIndex(of: "=") else { continue }
            values[String(assignment[..<eq])] = String(assignment[assignment.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
        func value(_ key: String) throws(TestEnvironmentError) -> String {
            guard let v = values[key] else { throw TestEnvironmentError("\(path) has no \(key)") }
            return v
        }
        let server = S3Server(rawValue: ProcessInfo.processInfo.environment["STOWAGE_TEST_S3_SERVER"] ?? "seaweedfs") ?? .seaweedfs
        return TestEnvironment(
            directory: directory, apiServer: try value("STOWAGE_TEST_APISERVER"),
            adminToken: try value("STOWAGE_TEST_TOKEN"), caFile: try value("STOWAGE_TEST_CA"),
            kubeconfig: try value("STOWAGE_TEST_KUBECONFIG"), etcd: try value("STOWAGE_TEST_ETCD"),
            s3Endpoint: try value(server == .moto ? "STOWAGE_TEST_MOTO_ENDPOINT" : "STOWAGE_TEST_S3_ENDPOINT"), s3Server: server, s3AccessKey: try value("AWS_ACCESS_KEY_ID"),
            s3SecretKey: try value("AWS_SECRET_ACCESS_KEY"), filer: try value("STOWAGE_TEST_FILER"),
            clientCertificate: try value("STOWAGE_TEST_CLIENT_CERT"), clientKey: try value("STOWAGE_TEST_CLIENT_KEY"),
            nodes: try value("STOWAGE_TEST_NODES").split(separator: " ").map(String.init),
            image: try value("STOWAGE_TEST_IMAGE"), notebookImage: try value("STOWAGE_TEST_NOTEBOOK_IMAGE"),
            storageClass: try value("STOWAGE_TEST_STORAGE_CLASS"), volumesRoot: try value("STOWAGE_TEST_VOLUMES"))
    }

    /// The package root, found from this file's location.
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    private static func runScript(_ arguments: [String], environment: [String: String] = [:]) throws(TestEnvironmentError) {
        try runStarter(packageRoot + "/scripts/testenv", arguments, environment: environment)
    }
}

/// Runs a script that starts daemons (`scripts/testenv up`, `scripts/hub/hub up`) and waits
/// for it with `waitpid`: Foundation's `Process` can miss the exit of a child whose own
/// children live on holding the descriptor it watches, as these daemons do. (The scripts
/// start their daemons with no descriptor but standard input, output and error: one that
/// inherited the descriptor Foundation watches for another test's process would hold that
/// test's `waitUntilExit` for as long as it lives.) Its output goes where this process's
/// goes; `environment` is added to this process's.
public func runStarter(_ script: String, _ arguments: [String], environment: [String: String] = [:]) throws(TestEnvironmentError) {
    let argv = [script] + arguments
    let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
    var pid = pid_t()
    let cArgs = argv.map { strdup($0) } + [nil]
    let cEnv = env.map { strdup($0) } + [nil]
    defer { (cArgs + cEnv).forEach { free($0) } }
    let name = (script as NSString).lastPathComponent
    let rc = posix_spawn(&pid, script, nil, nil, cArgs, cEnv)
    guard rc == 0 else { throw TestEnvironmentError("cannot run \(name): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exited = (status & 0x7f) == 0
    let code = (status >> 8) & 0xff
    guard exited && code == 0 else {
        throw TestEnvironmentError("\(name) \(arguments.joined(separator: " ")) failed (status \(status))")
    }
}

/// The S3 implementations the test environment runs. Where they differ (checksums,
/// versioning, errors, listing), a test says which behaviour Stowage relies on.
public enum S3Server: String, Sendable, CaseIterable {
    /// SeaweedFS (`weed server -s3`): checks credentials, signatures, Content-MD5 and
    /// flexible checksums.
    case seaweedfs
    /// moto_server (`moto[server]`): AWS's API as moto models it; accepts any credentials.
    case moto

    /// Whether the server checks signatures and credentials. moto accepts any (it would
    /// need IAM users set up first); SeaweedFS and AWS refuse a wrong secret.
    public var checksCredentials: Bool { self == .seaweedfs }

    /// Whether the server verifies `Content-MD5` and S3's flexible checksums
    /// (`x-amz-checksum-crc32c`) before it stores a body. moto stores what it gets.
    /// Stowage relies on the server for this where it can: a part whose bytes changed
    /// after they were hashed is refused there (AWS, SeaweedFS); elsewhere only the file's
    /// size and mtime, compared before and after the upload, catch such a change.
    public var verifiesChecksums: Bool { self == .seaweedfs }
}

public struct TestEnvironmentError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension TestEnvironment {
    /// Kills a container through its node's runtime, as the OOM killer or a crash would
    /// (`containerID` as in a pod's status, `containerd://ID`, or the bare ID).
    public func killContainer(_ containerID: String, node: String) throws {
        let id = containerID.split(separator: "/").last.map(String.init) ?? containerID
        try run("/usr/bin/ctr", ["--address", socket(node), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", id])
    }

    /// The IDs of the containers named `container` in pods of `namespace` on `node`, asked of
    /// the node's containerd directly: it knows a container the moment the kubelet makes it,
    /// while the pod's status reaches the API server a moment later.
    public func runtimeContainers(namespace: String, container: String, node: String) throws -> [String] {
        let filter = #"labels."io.kubernetes.pod.namespace"==\#(namespace),labels."io.kubernetes.container.name"==\#(container)"#
        return try run("/usr/bin/ctr", ["--address", socket(node), "-n", "k8s.io", "containers", "ls", "-q", filter])
            .split(separator: "\n").map(String.init)
    }

    private func socket(_ node: String) -> String { "\(directory)/nodes/\(node)/containerd.sock" }
}
