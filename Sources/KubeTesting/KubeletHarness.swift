import Foundation
import KubeClient
import KubeModel
import Synchronization

/// Plays the kubelet for the pods a test cares about: the test control plane has no
/// scheduler and no kubelet, so pods stay Pending unless something runs them.
///
/// For each matching pod it runs the first container's command for real, on this machine:
/// `command[0]` is replaced by `binary`; every PersistentVolumeClaim the container mounts
/// becomes a local directory (`directory(namespace:claim:)`), and arguments under the
/// mount path are rewritten to it; Secret volumes are written to a temporary directory;
/// environment variables from `secretKeyRef` are read from the Secret, as a kubelet does;
/// `/dev/termination-log` becomes a file whose content ends up as the termination message.
/// Then it writes the pod status (phase, container state with exit code and message)
/// through the status subresource, so the real Job controller sees the pod finish.
public final class KubeletHarness: Sendable {
    public let client: KubeClient
    public let namespace: String
    public let root: String
    public let binary: String
    let labelSelector: String
    private let handled = Mutex<Set<String>>([])
    private let runs = Mutex<[String]>([])
    /// Pods seen while paused, to run on resume; nil while running.
    private let held = Mutex<[Pod]?>(nil)
    private let work: AsyncStream<Pod>
    private let submit: AsyncStream<Pod>.Continuation

    public init(client: KubeClient, namespace: String, root: String, binary: String,
                labelSelector: String = "stowage.io/managed-by=stowage") {
        self.client = client
        self.namespace = namespace
        self.root = root
        self.binary = binary
        self.labelSelector = labelSelector
        (work, submit) = AsyncStream<Pod>.makeStream()
    }

    /// The local directory that stands for a claim.
    public func directory(claim: String) -> String { "\(root)/\(namespace)/\(claim)" }

    /// Names of the pods run so far, in order.
    public var podsRun: [String] { runs.withLock { $0 } }

    /// While paused, new pods are left Pending (to stop the world mid-sync in a test); on
    /// resume they run.
    public func pause(_ value: Bool) {
        let resumed: [Pod] = held.withLock { held in
            if value {
                if held == nil { held = [] }
                return []
            }
            defer { held = nil }
            return held ?? []
        }
        for pod in resumed { submit.yield(pod) }
    }

    /// Watches the namespace and runs pods until cancelled.
    public func run() async throws {
        let pods = client.resource(Pod.self, namespace: namespace)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    do {
                        let (items, version) = try await pods.listAll(ListOptions(labelSelector: self.labelSelector))
                        for pod in items { self.offer(pod) }
                        var options = WatchOptions(resourceVersion: version, labelSelector: self.labelSelector)
                        options.timeoutSeconds = 60
                        for try await event in try await pods.watch(options) {
                            if case .added(let pod) = event { self.offer(pod) }
                            if case .modified(let pod) = event { self.offer(pod) }
                        }
                    } catch is CancellationError {
                        break
                    } catch {
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
                self.submit.finish()
            }
            for await pod in work {
                group.addTask { try await self.execute(pod) }
            }
            group.cancelAll()
        }
    }

    /// Queues a pod that waits for a kubelet, once.
    private func offer(_ pod: Pod) {
        guard let uid = pod.metadata.uid, pod.status?.phase == nil || pod.status?.phase == "Pending",
              pod.metadata.deletionTimestamp == nil else { return }
        guard handled.withLock({ $0.insert(uid).inserted }) else { return }
        let queued = held.withLock { held in
            guard held != nil else { return false }
            held?.append(pod)
            return true
        }
        if !queued { submit.yield(pod) }
    }

    /// Runs the pod's first container and reports how it ended.
    func execute(_ pod: Pod) async throws {
        guard let name = pod.metadata.name, let spec = pod.spec, let container = spec.containers.first else { return }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("kubelet-\(pod.metadata.uid ?? name)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        // Mounts: claims become local directories, Secret volumes become files.
        var mounts: [(path: String, local: String)] = []
        for mount in container.volumeMounts ?? [] {
            guard let volume = spec.volumes?.first(where: { $0.name == mount.name }) else { continue }
            if let claim = volume.persistentVolumeClaim?.claimName {
                let local = directory(claim: claim)
                try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
                mounts.append((mount.mountPath, local))
            } else if let secretName = volume.secret?["secretName"]?.stringValue {
                let local = scratch + "/secret-" + volume.name
                try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
                for (key, value) in try await secretData(secretName) {
                    _ = FileManager.default.createFile(atPath: local + "/" + key, contents: value)
                }
                mounts.append((mount.mountPath, local))
            }
        }
        let terminationLog = scratch + "/termination-log"
        func local(_ arg: String) -> String {
            if arg == (container.terminationMessagePath ?? "/dev/termination-log") { return terminationLog }
            for m in mounts where arg == m.path || arg.hasPrefix(m.path + "/") { return m.local + arg.dropFirst(m.path.count) }
            return arg
        }
        let argv = ((container.command ?? []).dropFirst() + (container.args ?? [])).map(local)

        var environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": scratch]
        for variable in container.env ?? [] {
            if let value = variable.value {
                environment[variable.name] = value
            } else if let ref = variable.valueFrom?.secretKeyRef {
                environment[variable.name] = try await secretData(ref.name)[ref.key].map { String(decoding: $0, as: UTF8.self) }
            }
        }

        let started = Date()
        let exitCode = try await Self.spawn(binary, argv, environment: environment, log: scratch + "/log")
        let message = (try? String(contentsOfFile: terminationLog, encoding: .utf8))
            ?? (try? String(contentsOfFile: scratch + "/log", encoding: .utf8)).map { String($0.suffix(2048)) } ?? ""
        runs.withLock { $0.append(name) }

        let time = { (date: Date) in JSONValue.string(date.formatted(Date.ISO8601FormatStyle())) }
        let terminated: JSONValue = [
            "exitCode": .number(Double(exitCode)), "reason": exitCode == 0 ? "Completed" : "Error",
            "message": .string(message), "startedAt": time(started), "finishedAt": time(Date()),
        ]
        let status: JSONValue = [
            "phase": exitCode == 0 ? "Succeeded" : "Failed",
            "startTime": time(started),
            "containerStatuses": [[
                "name": .string(container.name), "image": .string(container.image ?? ""), "imageID": "",
                "ready": false, "restartCount": 0, "state": ["terminated": terminated],
            ]],
        ]
        _ = try await client.resource(Pod.self, namespace: namespace).patchStatus(name, .merge, ["status": status])
    }

    private func secretData(_ name: String) async throws -> [String: Data] {
        let secret = try await client.resource(SecretData.self, namespace: namespace).get(name)
        var data = (secret.data ?? [:]).compactMapValues { Data(base64Encoded: $0) }
        for (key, value) in secret.stringData ?? [:] { data[key] = Data(value.utf8) }
        return data
    }

    /// Runs a program to its end without blocking a cooperative thread.
    static func spawn(_ path: String, _ arguments: [String], environment: [String: String], log: String) async throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        return try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { p in
                try? output.close()
                continuation.resume(returning: p.terminationStatus)
            }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
    }
}

/// A core/v1 Secret with its data: test support only (a kubelet reads Secrets; the operator
/// never does, and its model has no such type).
public struct SecretData: KubeResource {
    public static let apiVersion = "v1"
    public static let kind = "Secret"
    public static let plural = "secrets"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    /// Base64 values, as the API returns them.
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?
    public var original = Original()

    public init(name: String, namespace: String? = nil, stringData: [String: String]) {
        metadata = ObjectMeta(name: name, namespace: namespace)
        self.stringData = stringData
    }
}
