import Controllers
import Foundation
import HTTP
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import StowageAPI
import Testing
@testable import Webhook

/// The webhook's caches hand the decisions their own `CachedVolume`s (made once when the
/// watch stores a volume) instead of copies of the volumes. These tests hold the answers
/// from the caches to the answers from a snapshot of the same volumes as values, and check
/// that a newer version of a volume replaces what was derived from the older one.
@Suite("Cached volumes")
struct CachedVolumeTests {
    /// `testConfig()` as the admin's ConfigMap says it.
    static let configYAML = """
        groups:
          team-a: [alice, bob]
        levels:
          public: {read: ["*"], write: ["members:ReadWrite"]}
          private: {read: ["members"], write: ["members:ReadWrite"]}
          secret: {read: ["members"], write: [], sync: false}
        homes:
          enabled: true
        spawners:
          trusted: ["\(spawner)"]
        """

    static let dataVolumes = [
        dataVolume("home-bob", owner: "bob", users: ["bob"], path: "/home/jovyan"),
        dataVolume("data", owner: "alice", users: ["alice"], path: "/data", source: true, phase: .idle),
        dataVolume("gpu", owner: "alice", selector: ["gpu": "true"], path: "/gpu"),
        dataVolume("going", owner: "alice", path: "/going", phase: .terminating),
        dataVolume("other-ns", owner: "alice", path: "/elsewhere", namespace: "other"),
    ]
    static let sharedVolumes = [
        sharedVolume("tools", level: "public", purpose: .software),
        sharedVolume("team", level: "private", members: [Member(group: "team-a", access: .readWrite)]),
        sharedVolume("vault", level: "secret", members: [Member(user: "alice", access: .readOnly)], source: true, phase: nil),
        sharedVolume("pulling", level: "public", source: true, phase: .initializing),
    ]

    /// Caches filled as the watch fills them, with no watch running.
    static func caches() throws -> WebhookCaches {
        let connection = ClusterConnection(server: "https://127.0.0.1:1", contextName: "none", namespace: "default",
                                           tls: TLSConfiguration(), credentials: .none)
        let caches = WebhookCaches(client: KubeClient(connection: connection), configNamespace: "stowage-system",
                                   logger: Logger(label: "test"))
        var map = ConfigMap(metadata: ObjectMeta(name: StowageConfig.configMapName, namespace: "stowage-system"),
                            data: [StowageConfig.configMapKey: configYAML])
        map.metadata.resourceVersion = "1"
        try #require(caches.configHolder.take(map) == .applied)
        for (i, volume) in dataVolumes.enumerated() { caches.dataVolumes.wrote(versioned(volume, i + 2)) }
        for (i, share) in sharedVolumes.enumerated() { caches.sharedVolumes.wrote(versioned(share, i + 2)) }
        return caches
    }

    static func versioned<V: KubeResource>(_ object: V, _ version: Int) -> V {
        var object = object
        object.metadata.resourceVersion = String(version)
        return object
    }

    static func handler(_ source: any VolumeSource) -> AdmissionHandler {
        AdmissionHandler(source: source, settings: settings, logger: Logger(label: "test"))
    }

    static func body(_ pod: JSONValue, user: String = spawner) -> Data {
        ReviewReaderTests.body(ReviewReaderTests.review(pod, user: user))
    }

    @Test func theCachesAnswerAsTheVolumesDo() throws {
        let caches = try Self.caches()
        let fromCaches = Self.handler(WebhookCaches.FilledByHand(caches))
        // Every volume in one snapshot: the caches pass only the candidates, the answer must not change.
        let fromValues = Self.handler(FixedSource(snapshot: VolumeSnapshot(config: caches.config, dataVolumes: Self.dataVolumes.filter {
            $0.metadata.namespace == "jhub"
        }, sharedVolumes: Self.sharedVolumes)))
        let pods: [(String, JSONValue)] = [
            ("alice", ReviewReaderTests.fullPod()),
            ("alice with the gpu label", ReviewReaderTests.fullPod(labels: ["gpu": "true"])),
            ("bob", ReviewReaderTests.fullPod(user: "bob")),
            ("carol, in no group", ReviewReaderTests.fullPod(user: "carol")),
            ("alice with claims", ReviewReaderTests.fullPod(claims: [("dv-data", false), ("shv-tools", true), ("shv-vault", false),
                                                                     ("dv-home-bob", false), ("dv-nope", true)])),
            ("bob with claims", ReviewReaderTests.fullPod(user: "bob", claims: [("dv-home-bob", false), ("shv-team", false)])),
        ]
        var injected = 0
        for (name, pod) in pods {
            for path in ["/mutate-pods", "/validate-pods"] {
                let body = Self.body(pod)
                let cached = fromCaches.handle(method: "POST", uri: path, body: body)
                try expectSameReply(cached, fromValues.handle(method: "POST", uri: path, body: body), "\(name) \(path)")
                if path == "/mutate-pods", try JSONValue(parsing: cached.body)["response"]?["patch"] != nil { injected += 1 }
            }
        }
        #expect(injected == pods.count, "every notebook pod got something injected")
    }

    @Test func aNewerVersionOfAVolumeIsWhatTheDecisionsSee() throws {
        let caches = try Self.caches()
        let handler = Self.handler(WebhookCaches.FilledByHand(caches))
        func patch() throws -> String {
            let reply = try JSONValue(parsing: handler.handle(method: "POST", uri: "/mutate-pods", body: Self.body(ReviewReaderTests.fullPod())).body)
            let base64 = try #require(reply["response"]?["patch"]?.stringValue)
            return String(decoding: try #require(Data(base64Encoded: base64)), as: UTF8.self)
        }
        // `data` is idle with a source and never pulled: alice's pod waits for it.
        #expect(try patch().contains(#""--path","/data:0""#))
        var pulled = Self.dataVolumes[1]
        pulled.status = DataVolumeStatus(phase: .ready)
        caches.dataVolumes.wrote(Self.versioned(pulled, 100))
        #expect(try !patch().contains(#""/data:0""#), "in place once it is Ready: no wait for it")
        #expect(try patch().contains(#""mountPath":"/data""#))
        // Deleted: no longer injected.
        caches.dataVolumes.wrote(Self.versioned(Self.dataVolumes[1], 50))
        #expect(try patch().contains(#""mountPath":"/data""#), "an older version does not replace the newer")
        var going = pulled
        going.metadata.deletionTimestamp = Date(timeIntervalSince1970: 1_800_000_000)
        caches.dataVolumes.wrote(Self.versioned(going, 101))
        #expect(try !patch().contains(#""mountPath":"/data""#), "a volume being deleted is not injected")
    }
}
