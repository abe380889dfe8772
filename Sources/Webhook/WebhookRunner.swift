import KubeClient
import KubeRuntime
import Logging
import ServiceLifecycle
import StowageAPI

/// Builds the webhook's services for `stowage webhook` (standalone) or `stowage operator`
/// (beside the controllers): the caches and the HTTPS server, to run in one `ServiceGroup`.
///
/// Put `caches` before `server` in the group: a group shuts services down in reverse order,
/// so the server stops accepting before the caches stop watching.
public struct WebhookRunner: Sendable {
    public let caches: WebhookCaches
    public let server: WebhookServer

    /// - Parameters:
    ///   - configNamespace: the operator's namespace, where the access-level ConfigMap lives.
    ///   - metrics: the registry `/metrics` serves, for request counts and latencies.
    ///   - config: the process's access-level configuration (`stowage operator`'s, which its
    ///     config controller reports from), or nil for a holder of the webhook's own.
    ///   - sharedCaches: the process's caches (run by the caller as a service listed before
    ///     these), or nil for caches of the webhook's own, which `services` then runs.
    public init(client: KubeClient, configNamespace: String, configMapName: String = "stowage-config",
                server configuration: WebhookServer.Configuration, settings: AdmissionSettings,
                metrics: MetricsRegistry? = nil, config: ConfigHolder? = nil, sharedCaches: SharedCaches? = nil,
                logger: Logger) throws(WebhookError) {
        caches = WebhookCaches(client: client, configNamespace: configNamespace, configName: configMapName,
                               config: config, caches: sharedCaches, logger: logger)
        let handler = AdmissionHandler(source: caches, settings: settings, metrics: metrics, logger: logger)
        server = try WebhookServer(configuration: configuration, handler: handler, logger: logger)
    }

    /// The services in the order a `ServiceGroup` should get them.
    public var services: [any Service] { (caches.runsCaches ? [caches] : []) + [server] }

    /// True once the caches are synced: for `/readyz` of the health server.
    public var isReady: Bool { caches.isReady }
}
