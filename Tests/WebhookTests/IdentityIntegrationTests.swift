import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import StowageAPI
import Testing
import Controllers
@testable import Webhook

/// Issue 15, item 1, through the real API server with both webhooks registered and the
/// operator's controllers running: every user name gets one home, the same in the mutator,
/// the validator and the reconcilers.
@Suite("Identity through the API server", .serialized)
struct IdentityIntegrationTests {
    /// User names around every limit: the home name's 63 characters (`home-` and the
    /// escape), the 63 characters a claim name had before it stopped being shortened (a home
    /// of 60 characters), far past both, non-ASCII, and pairs that differ only in case or
    /// punctuation.
    static let users: [String] = [
        "nina",
        String(repeating: "a", count: 55),          // home 60, claim 63
        String(repeating: "b", count: 56),          // home 61, claim 64
        String(repeating: "c", count: 57),          // home 62
        String(repeating: "d", count: 58),          // home 63: the longest unshortened home
        String(repeating: "e", count: 59),          // home shortened to 63
        "Christopher.Montgomery-Smith@physics.example-university.edu",
        String(repeating: "Long.User-", count: 30), // 300 characters
        "Zoë", "用户名",
        "Alice", "alice",
        "a.b", "a-b", "a_b",
        String(repeating: "x", count: 70) + "A", String(repeating: "x", count: 70) + "a",
    ]

    @Test func everyUserNameGetsItsOwnHomeAdmittedByBothWebhooks() async throws {
        let users = Self.users
        let homes = users.map { UserName.homeName(for: $0)! }
        #expect(Set(homes).count == users.count, "no two users share a home name")
        #expect(homes.map(\.count).max() == 63)
        #expect(homes.contains { $0.count == 60 } && homes.contains { $0.count == 61 })

        try await WebhookWorld.with { world in
            try await world.serving { _ in
                try await world.runningOperator { _ in
                    let pods = world.admin.resource(Pod.self, namespace: world.namespace)
                    for (i, user) in users.enumerated() {
                        let pod = try await pods.create(world.spawnedPod("jupyter-\(i)", user: user))
                        #expect(pod.metadata.annotations?[StowageKeys.user] == user)
                        let claim = ChildNames.claimName(kind: .dataVolume, name: homes[i])
                        let home = pod.spec?.volumes?.first { $0.persistentVolumeClaim?.claimName == claim }
                        #expect(home != nil, "\(user): the pod mounts \(claim)")
                        #expect(pod.spec?.containers.first?.volumeMounts?.contains { $0.name == home?.name && $0.mountPath == "/home/jovyan" } == true)
                        #expect(pod.metadata.annotations?[StowageKeys.injected] == "dv/\(homes[i]):rw", "\(user)")
                    }
                    // The homes controller made each home for its user, and the DataVolume
                    // reconciler its claim, under the name the webhook injected.
                    let dvs = world.admin.resource(DataVolume.self, namespace: world.namespace)
                    let claims = world.admin.resource(PersistentVolumeClaim.self, namespace: world.namespace)
                    try await eventually("every home and its claim exist", timeout: .seconds(60)) {
                        let names = Set(try await claims.list().items.compactMap(\.metadata.name))
                        return homes.allSatisfy { names.contains(ChildNames.claimName(kind: .dataVolume, name: $0)) }
                    }
                    let created = try await dvs.list().items
                    #expect(created.count == users.count)
                    for (i, user) in users.enumerated() {
                        let volume = try #require(created.first { $0.metadata.name == homes[i] })
                        #expect(volume.spec.owner == user)
                        #expect(volume.status?.claimName == ChildNames.claimName(kind: .dataVolume, name: homes[i]))
                    }
                    // Each home is its user's only: the next user's pod naming it is denied.
                    for (i, home) in homes.enumerated() {
                        let other = users[(i + 1) % users.count]
                        let claim = ChildNames.claimName(kind: .dataVolume, name: home)
                        await expectDenied(try await pods.create(world.spawnedPod("steal-\(i)", user: other, claim: claim)),
                                           containing: "pod mounts DataVolume \"\(home)\" (claim \(claim)) of user \"\(users[i])\": user \"\(other)\" is not entitled")
                    }
                }
            }
        }
    }
}

extension WebhookWorld {
    /// A pod as KubeSpawner builds it for `user` (any length: the label value is bounded),
    /// optionally naming a claim itself.
    func spawnedPod(_ name: String, user: String, claim: String? = nil) -> Pod {
        var container = Container(name: "notebook", image: "jupyter/minimal-notebook")
        var volumes: [Volume]?
        if let claim {
            volumes = [Volume(name: "named", claimName: claim)]
            container.volumeMounts = [VolumeMount(name: "named", mountPath: "/mnt/named")]
        }
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace,
                                        labels: ["component": "singleuser-server", "hub.jupyter.org/username": UserName.labelValue(user)],
                                        annotations: ["hub.jupyter.org/username": user]),
                   spec: PodSpec(containers: [container], volumes: volumes))
    }

    /// Runs `body` while the operator's controllers run for the test's namespace (its
    /// access-level configuration is this world's).
    func runningOperator(_ body: (Operator) async throws -> Void) async throws {
        var logger = Logger(label: "identity-test")
        logger.logLevel = .warning
        let holder = ConfigHolder(namespace: namespace)
        let events = EventRecorder(client: admin, component: "stowage-operator", instance: "identity-test", logger: logger)
        let operation = Operator(client: admin, watchNamespace: namespace, settings: SyncPodSettings(), config: holder,
                                 events: events, metrics: nil, workers: 2, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await operation.run() }
            do {
                try await eventually("the operator has the configuration") { holder.current.homes.enabled }
                try await body(operation)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }
}
