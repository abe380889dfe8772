import ArgumentParser
import Controllers
import Foundation
import KubeClient
import KubeRuntime
import Logging
import ServiceLifecycle
import StowageAPI
import UnixSignals
import Webhook

/// `stowage operator`: the controllers (behind leader election), health and metrics, in one
/// service group that drains on SIGTERM.
struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator",
        abstract: "Run the Stowage operator: DataVolume and SharedVolume controllers, homes, health and metrics."
    )

    @Option(help: "kubeconfig to use (default: $KUBECONFIG, ~/.kube/config, then the in-cluster service account).")
    var kubeconfig: String?

    @Option(help: "The operator's own namespace: its access-level ConfigMap and leader Lease live here (default: $POD_NAMESPACE, else stowage-system).")
    var namespace: String?

    @Option(help: "Watch only this namespace (default: all namespaces).")
    var watchNamespace: String?

    @Option(help: "Name of the access-level ConfigMap in the operator's namespace.")
    var configMap = StowageConfig.configMapName

    @Option(help: "Image of sync pods: the operator's own (default: $STOWAGE_IMAGE, else stowage:latest).")
    var image: String?

    @Option(help: "Program sync pods run inside the image.")
    var syncCommand = "stowage"

    @Option(help: "Default uid of sync pods (spec.sync.runAsUser overrides it).")
    var syncUID: Int64 = 1000

    @Option(help: "Default gid of sync pods (spec.sync.runAsGroup overrides it).")
    var syncGID: Int64 = 100

    @Option(help: "Pod retries inside one sync Job.")
    var syncBackoffLimit = 2

    @Option(help: "Address of /healthz, /readyz and /metrics.")
    var healthAddress = "0.0.0.0"

    @Option(help: "Port of /healthz, /readyz and /metrics (0 picks a free one).")
    var healthPort = 8081

    @Flag(inversion: .prefixedNo, help: "Run controllers only while holding the leader Lease.")
    var leaderElect = true

    @Option(help: "Name of the leader Lease.")
    var leaseName = "stowage-operator"

    @Option(help: "Reconcile workers per controller.")
    var workers = 4

    @Option(help: "Seconds each controller waits for the first list of every kind it watches; past it, the operator exits naming the kinds it could not list (RBAC, usually).")
    var cacheSyncTimeout = 120

    @Option(help: "Client-side rate limit on API requests per second (token bucket).")
    var kubeQPS: Double = 50

    @Option(help: "Burst of the client-side rate limit.")
    var kubeBurst = 100

    @Option(help: "Port of the admission webhook (HTTPS); 0 turns the webhook off.")
    var webhookPort = 0

    @Option(help: "PEM certificate of the webhook, reloaded when it changes on disk.")
    var tlsCert = "/etc/stowage/tls/tls.crt"

    @Option(help: "PEM private key of the webhook.")
    var tlsKey = "/etc/stowage/tls/tls.key"

    @Option(help: "Image of the stowage-wait init container the webhook adds to pods whose data is still being pulled (default: the sync pods' image).")
    var waitImage: String?

    @Option(help: "Seconds the stowage-wait init container waits for a volume's data before it fails the pod.")
    var waitTimeout = 600

    @Option(help: "Kubernetes user of the operator, whose sync pods the webhook lets through (default: system:serviceaccount:<namespace>:stowage-operator).")
    var operatorUser: String?

    @Option(name: .customLong("job-controller-user"),
            help: "User the Job controller creates pods as; the webhook lets through pods of Jobs it validated (repeatable; default: system:serviceaccount:kube-system:job-controller and system:kube-controller-manager).")
    var jobControllerUsers: [String] = []

    @Option(help: "Seconds between progress reports: the progress lines sync pods log, and the Events that tell a notebook waiting for its data how far each pull is (at most one per pod per interval).")
    var progressInterval = 15

    @Option(help: "Log level: trace, debug, info, notice, warning, error.")
    var logLevel = "info"

    func validate() throws {
        guard cacheSyncTimeout >= 1 else { throw ValidationError("--cache-sync-timeout must be at least 1 (seconds)") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard progressInterval >= 1 else { throw ValidationError("--progress-interval must be at least 1 (seconds), got \(progressInterval)") }
        guard waitTimeout >= 1 else { throw ValidationError("--wait-timeout must be at least 1 (seconds), got \(waitTimeout)") }
        if let waitImage, waitImage.isEmpty || waitImage.contains(where: \.isWhitespace) {
            throw ValidationError("--wait-image must name an image (e.g. ghcr.io/example/stowage:0.1.0), got \"\(waitImage)\"")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var logger = Logger(label: "stowage.operator")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let namespace = namespace ?? environment["POD_NAMESPACE"] ?? "stowage-system"
        let identity = environment["POD_NAME"] ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"

        var options = KubeClient.Options()
        options.qps = kubeQPS
        options.burst = kubeBurst
        let client = try KubeClient.fromEnvironment(kubeconfig: kubeconfig, options: options)
        var settings = SyncPodSettings()
        settings.image = image ?? environment["STOWAGE_IMAGE"] ?? settings.image
        settings.command = syncCommand
        settings.runAsUser = syncUID
        settings.runAsGroup = syncGID
        settings.backoffLimit = syncBackoffLimit
        settings.progressIntervalSeconds = progressInterval

        let metrics = MetricsRegistry()
        let events = EventRecorder(client: client, component: "stowage-operator", instance: identity, logger: logger)
        // One configuration per process: the webhook reads what the controllers act on.
        let config = ConfigHolder(namespace: namespace, name: configMap)
        // One cache per (kind, namespace, label selector), shared by the controllers and the
        // webhook: one watch of each, whoever reads it.
        let caches = SharedCaches(client: client, metrics: metrics, logger: logger)
        let operation = Operator(client: client, watchNamespace: watchNamespace, settings: settings, config: config,
                                 events: events, metrics: metrics, workers: workers, cacheSyncTimeout: .seconds(cacheSyncTimeout),
                                 caches: caches, logger: logger)

        let elector = leaderElect
            ? LeaderElector(client: client, namespace: namespace, name: leaseName, identity: identity, logger: logger) : nil
        // The webhook serves on every replica, leader or not; its caches watch on every
        // replica, the controllers' only while they run.
        var webhook: WebhookRunner?
        if webhookPort > 0 {
            let settings = AdmissionSettings(operatorUsers: [operatorUser ?? "system:serviceaccount:\(namespace):stowage-operator"],
                                             jobControllerUsers: jobControllerUsers.isEmpty ? AdmissionSettings.defaultJobControllerUsers : jobControllerUsers,
                                             waitImage: waitImage ?? settings.image, waitCommand: syncCommand,
                                             waitTimeoutSeconds: waitTimeout)
            webhook = try WebhookRunner(client: client, configNamespace: namespace, configMapName: configMap,
                                        server: .init(certificatePath: tlsCert, keyPath: tlsKey, port: webhookPort),
                                        settings: settings, metrics: metrics, config: config, sharedCaches: caches,
                                        logger: logger)
        }
        let health = HealthServer(host: healthAddress, port: healthPort, registry: metrics,
                                  isReady: { [webhook] in webhook?.isReady ?? true }, logger: logger)
        let controllers = ControllersService(operation: operation, elector: elector)
        // Graceful shutdown runs from the last service to the first: the controllers stop,
        // then leadership is released, the webhook drains, the caches stop watching, posted
        // events are written.
        let services: [any Service] = [health, events, caches] + (webhook?.services ?? []) + (elector.map { [$0] } ?? []) + [controllers]
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) },
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("starting", metadata: ["namespace": "\(namespace)", "watch": "\(watchNamespace ?? "all")",
                                           "image": "\(settings.image)", "identity": "\(identity)"])
        try await group.run()
    }
}

/// The controllers as one service: behind leader election when there is an elector.
struct ControllersService: Service {
    let operation: Operator
    let elector: LeaderElector?

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                if let elector {
                    try await elector.whileLeading { try await operation.run() }
                } else {
                    try await operation.run()
                }
            }
        } catch where Task.isShuttingDownGracefully {
            // SIGTERM: the controllers stopped because we asked; in-flight passes finished.
        }
    }
}
