import Foundation
import HTTP
import KubeTesting
import Testing
@testable import KubeClient
@testable import KubeModel

/// The generic client against the real kube-apiserver.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct ResourceClientTests {
    @Test func configMapCRUD() async throws {
        let cluster = try await Cluster("crud")
        let cms = cluster.configMaps()
        var cm = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "levels", labels: ["app": "stowage"]), data: ["a": "1"]))
        #expect(cm.metadata.uid != nil)
        #expect(cm.metadata.namespace == cluster.namespace)

        cm.data?["b"] = "2"
        cm = try await cms.update(cm)
        #expect(try await cms.get("levels").data == ["a": "1", "b": "2"])

        cm = try await cms.patch("levels", .merge, ["data": ["a": nil, "c": "3"]])
        #expect(cm.data == ["b": "2", "c": "3"])
        cm = try await cms.patch("levels", .json, [["op": "add", "path": "/metadata/labels/tier", "value": "gold"]])
        #expect(cm.metadata.labels?["tier"] == "gold")

        let selected = try await cms.list(ListOptions(labelSelector: "app=stowage,tier=gold"))
        #expect(selected.items.map(\.metadata.name) == ["levels"])
        #expect(try await cms.list(ListOptions(labelSelector: "app=other")).items.isEmpty)
        let byField = try await cms.list(ListOptions(fieldSelector: "metadata.name=levels"))
        #expect(byField.items.count == 1)

        try await cms.delete("levels")
        await #expect { try await cms.get("levels") } throws: { ($0 as? KubeClientError)?.apiCode == .notFound }
    }

    @Test func typedErrors() async throws {
        let cluster = try await Cluster("errors")
        let cms = cluster.configMaps()
        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "x")))
        await #expect { try await cms.create(ConfigMap(metadata: ObjectMeta(name: "x"))) } throws: {
            ($0 as? KubeClientError)?.apiCode == .alreadyExists
        }
        do {
            _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "Not_Valid")))
            Issue.record("accepted an invalid name")
        } catch KubeClientError.api(let e) {
            #expect(e.code == .invalid)
            #expect(e.causes.contains { $0.field == "metadata.name" })
            #expect(e.description.contains("metadata.name"))
        }
        // A precondition on a changed uid is refused.
        await #expect { try await cms.delete("x", preconditions: (uid: "not-the-uid", resourceVersion: nil)) } throws: {
            ($0 as? KubeClientError)?.apiCode == .conflict
        }

        var connection = cluster.client.connection
        connection.credentials = .token(cluster.env.unprivilegedToken)
        await #expect { try await KubeClient(connection: connection).resource(ConfigMap.self, namespace: cluster.namespace).list() } throws: {
            ($0 as? KubeClientError)?.apiCode == .forbidden
        }
        connection.credentials = .token("wrong")
        await #expect { try await KubeClient(connection: connection).resource(ConfigMap.self, namespace: cluster.namespace).list() } throws: {
            ($0 as? KubeClientError)?.apiCode == .unauthorized
        }
        connection.server = "https://127.0.0.1:1"
        var fast = KubeClient.Options()
        fast.maxRetries = 1
        await #expect { try await KubeClient(connection: connection, options: fast).resource(ConfigMap.self).list() } throws: {
            if case .transport(let e) = $0 as? KubeClientError { return e.code == .connectFailed }
            return false
        }
    }

    @Test func staleUpdateIsAConflict() async throws {
        let cluster = try await Cluster("stale")
        let cms = cluster.configMaps()
        let first = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "c"), data: ["v": "0"]))
        var a = first, b = first
        a.data = ["v": "a"]
        _ = try await cms.update(a)
        b.data = ["v": "b"]
        await #expect { try await cms.update(b) } throws: { ($0 as? KubeClientError)?.apiCode == .conflict }
        #expect(try await cms.get("c").data == ["v": "a"])
    }

    @Test func serverSideApplyConflictsUnlessForced() async throws {
        let cluster = try await Cluster("apply")
        let cms = cluster.configMaps()
        let mine = ConfigMap(metadata: ObjectMeta(name: "owned", namespace: cluster.namespace), data: ["mode": "RW"])
        _ = try await cms.apply(mine, fieldManager: "stowage")
        // Applying the same again by the same manager is a no-op, not a conflict.
        _ = try await cms.apply(mine, fieldManager: "stowage")

        let theirs = ConfigMap(metadata: ObjectMeta(name: "owned", namespace: cluster.namespace), data: ["mode": "RO"])
        await #expect { try await cms.apply(theirs, fieldManager: "someone-else") } throws: {
            ($0 as? KubeClientError)?.apiCode == .conflict
        }
        #expect(try await cms.get("owned").data?["mode"] == "RW")
        let forced = try await cms.apply(theirs, fieldManager: "someone-else", force: true)
        #expect(forced.data?["mode"] == "RO")
    }

    @Test func unknownFieldsSurviveReadModifyWrite() async throws {
        let cluster = try await Cluster("unknown")
        let pods = cluster.client.resource(Pod.self, namespace: cluster.namespace)
        // hostname, subdomain and workingDir are fields Pod does not model; pod specs are
        // immutable, so an update that dropped them would be refused outright. No scheduler
        // serves its schedulerName, so nothing but this test writes the pod.
        let podJSON: JSONValue = [
            "apiVersion": "v1", "kind": "Pod",
            "metadata": ["name": "nb", "namespace": .string(cluster.namespace)],
            "spec": ["hostname": "jupyter", "subdomain": "hub", "schedulerName": "nobody",
                     "containers": [["name": "nb", "image": "jupyter/base", "workingDir": "/home/jovyan"]]],
        ]
        var created = try podJSON.decode(as: Pod.self)
        created.original = Original(podJSON)
        _ = try await pods.create(created)
        var pod = try await pods.get("nb")
        pod.metadata.labels = ["stowage.io/user": "alice"]
        pod = try await pods.update(pod)
        #expect(pod.metadata.labels?["stowage.io/user"] == "alice")
        let stored = try await cluster.raw("/api/v1/namespaces/\(cluster.namespace)/pods/nb")
        #expect(stored["spec"]?["hostname"] == "jupyter")
        #expect(stored["spec"]?["subdomain"] == "hub")
        if case .array(let containers)? = stored["spec"]?["containers"] {
            #expect(containers.first?["workingDir"] == "/home/jovyan")
        } else {
            Issue.record("no containers")
        }
        // Clearing a modelled field does remove it.
        pod.metadata.labels = nil
        pod = try await pods.update(pod)
        #expect(try await cluster.raw("/api/v1/namespaces/\(cluster.namespace)/pods/nb")["metadata"]?["labels"] == nil)
    }

    @Test func customResourceWithStatusSubresource() async throws {
        let cluster = try await Cluster("crd")
        let crds = cluster.client.resource(CustomResourceDefinition.self)
        do { _ = try await crds.create(Widget.definition) } catch KubeClientError.api(let e) where e.code == .alreadyExists {}
        // Wait until the new API is served (CRD establishment takes a moment).
        for _ in 0..<100 where !(try await cluster.client.isServed(group: "test.stowage.io", version: "v1", resource: "widgets")) {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await crds.get("widgets.test.stowage.io").isEstablished)

        let widgets = cluster.client.resource(Widget.self, namespace: cluster.namespace)
        var w = try await widgets.create(Widget(metadata: ObjectMeta(name: "w1"), spec: .init(size: "10Gi", replicas: 1)))
        #expect(w.metadata.generation == 1)

        // Schema validation names the field.
        do {
            _ = try await widgets.create(Widget(metadata: ObjectMeta(name: "bad"), spec: .init(size: "ten", replicas: -1)))
            Issue.record("accepted an invalid widget")
        } catch KubeClientError.api(let e) {
            #expect(e.code == .invalid)
            #expect(e.causes.contains { $0.field == "spec.size" })
        }

        // Status goes through the subresource; the main resource ignores status changes.
        w.status = .init(phase: "Ready", conditions: [Condition(type: "Ready", status: true, reason: "Synced", observedGeneration: 1)])
        w = try await widgets.updateStatus(w)
        #expect(w.status?.phase == "Ready")
        #expect(w.metadata.generation == 1, "a status write must not bump the generation")
        w = try await widgets.patchStatus("w1", .merge, ["status": ["phase": "InUse"]])
        #expect(try await widgets.getStatus("w1").status?.phase == "InUse")
        #expect(w.status?.conditions?[type: "Ready"]?.reason == "Synced")

        w.spec.replicas = 2
        w.status?.phase = "Ignored"
        w = try await widgets.update(w)
        #expect(w.metadata.generation == 2)
        #expect(w.status?.phase == "InUse")

        // An unmodelled spec field (color) survives a typed update.
        _ = try await widgets.patch("w1", .merge, ["spec": ["color": "blue"]])
        var fresh = try await widgets.get("w1")
        fresh.spec.replicas = 3
        _ = try await widgets.update(fresh)
        #expect(try await cluster.raw("/apis/test.stowage.io/v1/namespaces/\(cluster.namespace)/widgets/w1")["spec"]?["color"] == "blue")

        try await widgets.delete("w1")
        await #expect { try await widgets.get("w1") } throws: { ($0 as? KubeClientError)?.apiCode == .notFound }
    }

    @Test func listingPagesThrough1500Objects() async throws {
        let cluster = try await Cluster("pages")
        var options = KubeClient.Options()
        options.qps = 2000
        options.burst = 200
        let cms = KubeClient(connection: cluster.client.connection, options: options).resource(ConfigMap.self, namespace: cluster.namespace)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for i in stride(from: worker, to: 1500, by: 8) {
                        _ = try await cms.create(ConfigMap(metadata: ObjectMeta(name: "cm-\(i)", labels: ["bulk": "yes"])))
                    }
                }
            }
            try await group.waitForAll()
        }
        let first = try await cms.list(ListOptions(labelSelector: "bulk=yes", limit: 500))
        #expect(first.items.count == 500)
        #expect(first.metadata.continue?.isEmpty == false)
        let all = try await cms.listAll(ListOptions(labelSelector: "bulk=yes", limit: 500))
        #expect(all.items.count == 1500)
        #expect(Set(all.items.compactMap(\.metadata.name)).count == 1500)
        #expect(!all.resourceVersion.isEmpty)
    }

    @Test func discovery() async throws {
        let cluster = try await Cluster("discovery")
        #expect(try await cluster.client.serverVersion().gitVersion == "v1.20.2")
        #expect(try await cluster.client.isServed(group: "", version: "v1", resource: "configmaps"))
        #expect(try await cluster.client.isServed(group: "coordination.k8s.io", version: "v1", resource: "leases"))
        #expect(try await !cluster.client.isServed(group: "nothing.example.com", version: "v1", resource: "things"))
    }
}

@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct TokenRotationTests {
    /// A projected service-account token changes on disk; the next request uses it.
    @Test func aRotatedTokenFileIsPickedUpWithoutRestart() async throws {
        let env = try TestEnvironment.shared()
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID())").path
        defer { unlink(path) }
        try env.unprivilegedToken.write(toFile: path, atomically: true, encoding: .utf8)
        var connection = try KubeConfig.load(path: env.kubeconfig).connection()
        connection.credentials = .tokenFile(TokenFile(path: path))
        let namespaces = KubeClient(connection: connection).resource(Namespace.self)
        await #expect { try await namespaces.list() } throws: { ($0 as? KubeClientError)?.apiCode == .forbidden }

        try env.adminToken.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(2)], ofItemAtPath: path)
        #expect(try await namespaces.list().items.contains { $0.metadata.name == "default" })
    }
}
