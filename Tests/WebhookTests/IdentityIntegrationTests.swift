import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import StowageAPI
import Testing
@testable import Controllers
@testable import Webhook

/// Issue 15, items 1 and 2, through the real API server with both webhooks registered and
/// the operator's controllers running: every user name gets one home, the same in the
/// mutator, the validator and the reconcilers; and only an identity the webhook established
/// makes a home.
@Suite("Identity through the API server", .serialized, .tags(.integration), .timeLimit(.minutes(15)))
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
                    // The claim is created before the pass that made it writes the status.
                    try await eventually("every home and its claim exist, and each status names its claim", timeout: .seconds(60)) {
                        let names = Set(try await claims.list().items.compactMap(\.metadata.name))
                        let recorded = Set(try await dvs.list().items.compactMap(\.status?.claimName))
                        return homes.allSatisfy {
                            let claim = ChildNames.claimName(kind: .dataVolume, name: $0)
                            return names.contains(claim) && recorded.contains(claim)
                        }
                    }
                    let created = try await dvs.list().items
                    #expect(created.count == users.count)
                    for (i, user) in users.enumerated() {
                        let volume = try #require(created.first { $0.metadata.name == homes[i] })
                        #expect(volume.spec.owner == user)
                        #expect(volume.status?.claimName == ChildNames.claimName(kind: .dataVolume, name: homes[i]))
                    }
                    // The next spawn finds the home existing (another path through both
                    // webhooks than the first, which injected a home still to be made).
                    try await eventually("the webhook's caches hold the homes") {
                        world.caches.dataVolumes.byIndex(Store<DataVolume>.namespaceIndex, world.namespace).count == users.count
                    }
                    for (i, user) in users.enumerated() {
                        let pod = try await pods.create(world.spawnedPod("again-\(i)", user: user))
                        let claim = ChildNames.claimName(kind: .dataVolume, name: homes[i])
                        #expect(pod.spec?.volumes?.contains { $0.persistentVolumeClaim?.claimName == claim } == true, "\(user)")
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

    @Test func forgedIdentitiesMakeNoHomeAndGetNoVolume() async throws {
        try await WebhookWorld.with { world in
            try await world.serving { _ in
                // A namespace the validating webhook covers but the mutating one does not.
                let plain = "webhook-plain-\(UInt32.random(in: 0...UInt32.max))"
                _ = try await world.admin.resource(Namespace.self).create(Namespace(name: plain, labels: [WebhookWorld.labelKey: world.plainLabel]))
                defer { _ = try? kubectl(world.env, ["delete", "namespace", plain, "--wait=false"]) }
                try kubectl(world.env, ["create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", plain])
                try await world.runningOperator(alsoWatching: plain) { _ in
                    let injected = world.alice.resource(Pod.self, namespace: world.namespace)
                    let uninjected = world.alice.resource(Pod.self, namespace: plain)

                    // Without injection: alice's pod saying it is victim's is refused.
                    var forged = world.spawnedPod("forged", user: "victim")
                    forged.metadata.namespace = plain
                    forged.metadata.annotations?[StowageKeys.user] = "victim"
                    await expectDenied(try await uninjected.create(forged),
                                       containing: #"may not say it belongs to "victim" (remove the annotation)"#)
                    // With injection, labelled as the operator's own: refused too (the label
                    // no longer takes a pod around the mutating webhook, and is the operator's alone).
                    var labelled = world.spawnedPod("labelled", user: "victim2")
                    labelled.metadata.labels?[StowageKeys.managedBy] = StowageKeys.managedByValue
                    labelled.metadata.annotations?[StowageKeys.user] = "victim2"
                    labelled.spec?.volumes = [Volume(name: "home", claimName: "dv-home-victim2")]
                    labelled.spec?.containers[0].volumeMounts = [VolumeMount(name: "home", mountPath: "/home/jovyan")]
                    await expectDenied(try await injected.create(labelled), containing: "has label stowage.io/managed-by")
                    // Unlabelled, with injection: the forged value is removed, nothing injected.
                    var stripped = world.spawnedPod("stripped", user: "victim3")
                    stripped.metadata.annotations?[StowageKeys.user] = "victim3"
                    let admitted = try await injected.create(stripped)
                    #expect(admitted.metadata.annotations?[StowageKeys.user] == nil)
                    #expect(admitted.spec?.volumes?.contains { $0.persistentVolumeClaim != nil } != true)
                    // And nobody writes the annotation or the label afterwards.
                    await expectDenied(try await injected.patch("stripped", .merge, ["metadata": ["annotations": [StowageKeys.user: "victim3"]]]),
                                       containing: "may not be added or changed after creation")
                    await expectDenied(try await injected.patch("stripped", .merge, ["metadata": ["labels": [StowageKeys.managedBy: "stowage"]]]),
                                       containing: "may not be added or changed")

                    // Witnesses that homes would have appeared by now: the trusted spawner's
                    // pods, in both namespaces (where the spawner names its user itself).
                    _ = try await world.admin.resource(Pod.self, namespace: world.namespace).create(world.spawnedPod("witness", user: "witness"))
                    var witness = world.spawnedPod("witness", user: "witness-plain")
                    witness.metadata.namespace = plain
                    witness.metadata.annotations?[StowageKeys.user] = "witness-plain"
                    _ = try await world.admin.resource(Pod.self, namespace: plain).create(witness)
                    let dvs = world.admin.resource(DataVolume.self, namespace: world.namespace)
                    let plainDVs = world.admin.resource(DataVolume.self, namespace: plain)
                    try await eventually("the witnesses' homes exist", timeout: .seconds(60)) {
                        let injectedHome = try? await dvs.get("home-witness")
                        let plainHome = try? await plainDVs.get("home-witness-2dplain")
                        return injectedHome != nil && plainHome != nil
                    }
                    let injectedHomes = try await dvs.list().items.compactMap(\.metadata.name)
                    let plainHomes = try await plainDVs.list().items.compactMap(\.metadata.name)
                    let homes = Set(injectedHomes + plainHomes)
                    #expect(homes == ["home-witness", "home-witness-2dplain"])
                    let podClaims = try await world.admin.resource(Pod.self, namespace: world.namespace).get("stripped").spec?.volumes?
                        .compactMap(\.persistentVolumeClaim?.claimName) ?? []
                    #expect(podClaims.isEmpty)
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
    /// access-level configuration is this world's), plus the homes controller for `other`.
    func runningOperator(alsoWatching other: String? = nil, _ body: (Operator) async throws -> Void) async throws {
        var logger = Logger(label: "identity-test")
        logger.logLevel = .warning
        let holder = ConfigHolder(namespace: namespace)
        let events = EventRecorder(client: admin, component: "stowage-operator", instance: "identity-test", logger: logger)
        let operation = Operator(client: admin, watchNamespace: namespace, settings: SyncPodSettings(), config: holder,
                                 events: events, metrics: nil, workers: 2, logger: logger)
        let extraHomes = other.map {
            HomeController.make(client: admin, namespace: $0, config: holder, dataVolumes: Store<DataVolume>(),
                                cacheSyncTimeout: .seconds(60), logger: logger)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await events.run() }
            group.addTask { try await operation.run() }
            if let extraHomes { group.addTask { try await extraHomes.run() } }
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
