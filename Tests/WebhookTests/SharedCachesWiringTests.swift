import Controllers
import HTTP
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI
import Testing
import Webhook

/// `stowage operator`'s wiring: the controllers and the webhook on one registry ask for one
/// cache (one watch) per kind, namespace and selector.
@Suite struct SharedCachesWiringTests {
    static func client() -> KubeClient {
        KubeClient(connection: ClusterConnection(server: "https://127.0.0.1:1", contextName: "none", namespace: "default",
                                                 tls: TLSConfiguration(), credentials: .none))
    }

    func keys(watchNamespace: String?) -> [CacheKey] {
        let client = Self.client()
        let logger = Logger(label: "test")
        let caches = SharedCaches(client: client, logger: logger)
        let events = EventRecorder(client: client, component: "test", instance: "test", logger: logger)
        _ = Operator(client: client, watchNamespace: watchNamespace, settings: SyncPodSettings(),
                     config: ConfigHolder(namespace: "stowage-system"), events: events, metrics: nil, caches: caches, logger: logger)
        let webhook = WebhookCaches(client: client, configNamespace: "stowage-system", caches: caches, logger: logger)
        #expect(!webhook.runsCaches)
        return caches.keys
    }

    @Test func twoReconcilersTheHomesControllerAndTheWebhookShareEachKindsCache() {
        let keys = keys(watchNamespace: nil)
        let byKind = Dictionary(grouping: keys, by: \.kind).mapValues(\.count)
        // One Pod cache for both reconcilers and homes; one DataVolume cache for its
        // reconciler, the homes controller and the webhook; one ConfigMap cache for the
        // config controller and the webhook.
        #expect(byKind["Pod"] == 1)
        #expect(byKind["DataVolume"] == 1)
        #expect(byKind["SharedVolume"] == 1)
        #expect(byKind["ConfigMap"] == 1)
        // Claims and Jobs: one per owner label (a DataVolume's and a SharedVolume's children).
        #expect(byKind["PersistentVolumeClaim"] == 2)
        #expect(byKind["Job"] == 2)
        #expect(keys.count == 8, "\(keys)")
    }

    @Test func aWatchedNamespaceKeepsTheWebhooksAllNamespacesCachesApart() {
        let keys = keys(watchNamespace: "team")
        let volumes = keys.filter { $0.kind == "DataVolume" }.map(\.namespace)
        #expect(Set(volumes) == [nil, "team"])
        #expect(keys.filter { $0.kind == "Pod" }.map(\.namespace) == ["team"])
        #expect(keys.filter { $0.kind == "ConfigMap" }.map(\.namespace) == ["stowage-system"])
    }
}
