import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// One end-to-end world: a namespace, a bucket with credentials in a Secret, and the
/// operator's controllers watching only that namespace. Pods run for real on the test
/// environment's nodes (kubelet, containerd, runc), claims are provisioned by its
/// provisioner, sync pods run the stowage image built from this tree.
struct World {
    let env: TestEnvironment
    let client: KubeClient
    let namespace: String
    let bucket: String
    let s3: S3Client
    let root: String

    /// The notebook user's uid and gid, as in Jupyter's images and the notebook image.
    static let notebookUser: (uid: uid_t, gid: gid_t) = (1000, 100)

    static let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("stowage").path

    static func make(_ prefix: String) async throws -> World {
        let env = try TestEnvironment.shared()
        var options = KubeClient.Options()
        options.qps = 500
        options.burst = 500
        let client = KubeClient(connection: try KubeConfig.load(path: env.kubeconfig).connection(), options: options)
        try await installCRDs(env)
        let namespace = "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        _ = try await client.resource(Namespace.self).create(Namespace(name: namespace))
        let s3 = try S3Client(configuration: S3Configuration(
            endpoint: env.s3Endpoint, region: "us-east-1",
            credentials: S3Credentials(accessKeyID: env.s3AccessKey, secretAccessKey: env.s3SecretKey), addressing: .path))
        let bucket = "e2e-\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
        try await s3.createBucket(bucket)
        _ = try await client.resource(SecretData.self, namespace: namespace).create(SecretData(
            name: "s3-creds", stringData: ["AWS_ACCESS_KEY_ID": env.s3AccessKey, "AWS_SECRET_ACCESS_KEY": env.s3SecretKey]))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-e2e-\(namespace)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return World(env: env, client: client, namespace: namespace, bucket: bucket, s3: s3, root: root)
    }

    /// Runs `body` in a fresh world with the operator's controllers running in-process,
    /// cleaning the world up whatever happens.
    static func with(_ prefix: String, config: String? = nil, _ adjust: (inout SyncPodSettings) -> Void = { _ in },
                     _ body: (World) async throws -> Void) async throws {
        let world = try await World.make(prefix)
        let op = try await world.startOperator(config: config, adjust)
        defer { op.cancel() }
        do {
            try await body(world)
        } catch {
            await world.cleanUp()
            throw error
        }
        await world.cleanUp()
    }

    static func installCRDs(_ env: TestEnvironment) async throws { try await env.installStowageCRDs() }

    /// Homes on, as JupyterHub's users get them: `/home/jovyan`, RW, from this world's bucket
    /// under `homes/{username}` (the `homes` section of the access-level configuration).
    var homesConfig: String {
        """
        homes:
          enabled: true
          size: 1Gi
          mountPath: /home/jovyan
          access: RW
          source: {s3: {endpoint: "\(env.s3Endpoint)", bucket: \(bucket), prefix: "homes/{username}", credentialsSecretRef: {name: s3-creds}, pathStyle: true}}

        """
    }

    func source(prefix: String) -> DataSource {
        DataSource(s3: S3Source(endpoint: env.s3Endpoint, region: "us-east-1", bucket: bucket, prefix: prefix,
                                credentialsSecretRef: LocalObjectReference(name: "s3-creds"), pathStyle: true))
    }

    /// Starts the controllers in-process for this namespace; cancel the task to stop them.
    func startOperator(config: String? = nil, _ adjust: (inout SyncPodSettings) -> Void = { _ in }) async throws -> Task<Void, any Error> {
        if let config { try await setConfig(config) }
        var logger = Logger(label: "e2e")
        logger.logLevel = .warning
        var settings = SyncPodSettings()
        settings.image = env.image
        settings.backoffLimit = 0
        adjust(&settings)
        let events = EventRecorder(client: client, component: "stowage-operator", instance: "e2e", logger: logger)
        let holder = ConfigHolder(namespace: namespace)
        let op = Operator(client: client, watchNamespace: namespace, settings: settings, config: holder,
                          events: events, metrics: nil, workers: 2, logger: logger)
        return Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await events.run() }
                group.addTask { try await op.run() }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    func setConfig(_ yaml: String) async throws {
        let api = client.resource(ConfigMap.self, namespace: namespace)
        let map = ConfigMap(metadata: ObjectMeta(name: StowageConfig.configMapName), data: [StowageConfig.configMapKey: yaml])
        do { _ = try await api.create(map) } catch let error as KubeClientError where error.apiCode == .alreadyExists {
            _ = try await api.patch(StowageConfig.configMapName, .merge, ["data": [StowageConfig.configMapKey: .string(yaml)]])
        }
    }

    var dataVolumes: ResourceClient<DataVolume> { client.resource(DataVolume.self, namespace: namespace) }
    var sharedVolumes: ResourceClient<SharedVolume> { client.resource(SharedVolume.self, namespace: namespace) }
    var pods: ResourceClient<Pod> { client.resource(Pod.self, namespace: namespace) }
    var claims: ResourceClient<PersistentVolumeClaim> { client.resource(PersistentVolumeClaim.self, namespace: namespace) }

    /// A pod as JupyterHub's KubeSpawner makes it (labels, annotations, the claims mounted,
    /// 1000:100 with fsGroup 100), running the notebook image: `script` runs first, then it
    /// idles until stopped (SIGTERM ends it at once).
    func notebookPod(user: String, claims names: [String], script: String = "", node: String? = nil) -> Pod {
        var container = Container(name: "notebook", image: env.notebookImage, command: ["/bin/sh", "-c",
            "set -e; cd /home/jovyan; \(script)\ntrap 'exit 0' TERM; while :; do sleep 0.2; done"])
        container.volumeMounts = names.enumerated().map { VolumeMount(name: "v\($0.offset)", mountPath: "/home/jovyan/v\($0.offset)") }
        var spec = PodSpec(containers: [container], volumes: names.enumerated().map { Volume(name: "v\($0.offset)", claimName: $0.element) })
        var security = PodSecurityContext()
        security.runAsUser = Int64(Self.notebookUser.uid)
        security.runAsGroup = Int64(Self.notebookUser.gid)
        security.fsGroup = Int64(Self.notebookUser.gid)
        spec.securityContext = security
        spec.terminationGracePeriodSeconds = 5
        spec.nodeName = node
        let label = String(user.lowercased().filter { $0.isLetter || $0.isNumber }.prefix(63))
        return Pod(metadata: ObjectMeta(
            name: "jupyter-\(UserName.escape(user))",
            labels: ["app": "jupyterhub", "component": "singleuser-server", "hub.jupyter.org/username": label],
            annotations: ["hub.jupyter.org/username": user, StowageKeys.user: user]), spec: spec)
    }

    func events(for name: String) async throws -> [Event] {
        try await client.resource(Event.self, namespace: namespace).listAll().items
            .filter { $0.involvedObject.name == name }
    }

    /// The directory on this machine that holds a bound claim's volume (its PV's hostPath).
    func directory(claim: String) async throws -> String {
        let volumeName = try #require(try await claims.get(claim).spec?.volumeName, "claim \(claim) is bound")
        let pv = try await client.resource(PersistentVolume.self).get(volumeName)
        return try #require(pv.spec?.hostPath?.path, "PV \(volumeName) is a hostPath volume")
    }

    /// Writes a file into a claim's volume as the notebook user would (owned by 1000:100).
    func write(_ claim: String, _ path: String, _ text: String) async throws {
        let root = try await directory(claim: claim)
        var dir = root
        for part in path.split(separator: "/").dropLast() {
            dir += "/\(part)"
            if !FileManager.default.fileExists(atPath: dir) {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
                chown(dir, Self.notebookUser.uid, Self.notebookUser.gid)
            }
        }
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/" + path))
        chown(root + "/" + path, Self.notebookUser.uid, Self.notebookUser.gid)
    }

    func remove(_ claim: String, _ path: String) async throws {
        try FileManager.default.removeItem(atPath: try await directory(claim: claim) + "/" + path)
    }

    func read(_ claim: String, _ path: String) async -> String? {
        guard let root = try? await directory(claim: claim) else { return nil }
        return try? String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    /// The sync Jobs started in this world's namespace so far, from the operator's
    /// `SyncStarted` events (repeats are aggregated into one event's count).
    func syncsStarted(_ direction: SyncDirection, volume: String? = nil) async throws -> Int {
        try await client.resource(Event.self, namespace: namespace).listAll().items
            .filter { $0.reason == "SyncStarted" && ($0.message ?? "").hasPrefix("\(direction.rawValue) started")
                && (volume == nil || $0.involvedObject.name == volume) }
            .reduce(0) { $0 + ($1.count ?? 1) }
    }

    /// Sync pods in the namespace now (a recorded Job is deleted with its pods).
    func syncPods(_ direction: SyncDirection) async throws -> [Pod] {
        try await pods.listAll(ListOptions(labelSelector: "\(StowageKeys.syncDirection)=\(direction.rawValue)")).items
    }

    func object(_ key: String) async throws -> String? {
        try? String(decoding: await s3.getObject(bucket: bucket, key: key), as: UTF8.self)
    }

    func cleanUp() async {
        try? await s3.deleteBucketAndContents(bucket)
        try? FileManager.default.removeItem(atPath: root)
    }
}

func runKubectl(_ env: TestEnvironment, _ arguments: [String]) throws { try env.kubectl(arguments) }

/// Starts a long-running program with no input and its output in the file `log` (made
/// empty first), for a test to read when something fails. `environment`: the whole
/// environment it gets (nil: this process's).
func startLogged(_ executable: String, _ arguments: [String], log: String, environment: [String: String]? = nil) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}
