import Foundation
import KubeClient
import KubeModel
import KubeRuntime
import KubeTesting
import Logging
import StowageAPI
import SyncContract
import Testing
@testable import Webhook

/// One test's world: a namespace opted in with a label only this test uses, the access-level
/// ConfigMap in it, the webhook's caches and server in-process on a free loopback port with
/// a fresh CA, and webhook configurations (cluster-scoped, named for this test) whose
/// namespaceSelector matches only that label, so other tests' namespaces are never affected.
///
/// Trust: the spawner is the test environment's `admin` user (named in `spawners.trusted`);
/// the untrusted creator is `alice` (the environment's unprivileged token), given `edit` in
/// the namespace so that she can create pods at all.
struct WebhookWorld {
    let env: TestEnvironment
    let admin: KubeClient
    let alice: KubeClient
    let namespace: String
    let label: String
    let tls: TLSMaterial
    let caches: WebhookCaches
    let server: WebhookServer
    let configurationName: String

    static let labelKey = "stowage.io/webhook-test"

    static let config = """
    groups:
      team-a: [nina, omar]
    levels:
      public: {read: ["*"], write: ["members:ReadWrite"]}
      private: {read: ["members"], write: ["members:ReadWrite"]}
    homes:
      enabled: true
      size: 1Gi
      mountPath: /home/jovyan
    spawners:
      trusted: [admin]
    """

    static func make() async throws -> WebhookWorld {
        let env = try TestEnvironment.shared()
        try await installCRDs(env)
        let admin = try client(env)
        let id = UInt32.random(in: 0...UInt32.max)
        let label = "t\(id)"
        let namespace = "webhook-\(id)"
        _ = try await admin.resource(Namespace.self).create(Namespace(name: namespace, labels: [labelKey: label]))
        try kubectl(env, ["create", "rolebinding", "alice-edit", "--clusterrole=edit", "--user=alice", "-n", namespace])
        _ = try await admin.resource(ConfigMap.self, namespace: namespace).create(ConfigMap(
            metadata: ObjectMeta(name: StowageConfig.configMapName), data: [StowageConfig.configMapKey: config]))

        var logger = Logger(label: "webhook-test")
        logger.logLevel = .warning
        let tls = try TLSMaterial.make()
        let caches = WebhookCaches(client: admin, configNamespace: namespace, logger: logger)
        let handler = AdmissionHandler(source: caches, settings: AdmissionSettings(waitImage: "stowage:test"), logger: logger)
        let server = try WebhookServer(
            configuration: .init(certificatePath: tls.certificate, keyPath: tls.key, host: "127.0.0.1", port: 0,
                                 shutdownGrace: .milliseconds(200)),
            handler: handler, logger: logger)
        return WebhookWorld(env: env, admin: admin, alice: try client(env, token: env.unprivilegedToken), namespace: namespace,
                            label: label, tls: tls, caches: caches, server: server, configurationName: "stowage-test-\(label)")
    }

    /// Runs `body` with the caches watching; cleans up whatever happens.
    static func with(_ body: (WebhookWorld) async throws -> Void) async throws {
        let world = try await make()
        // Cluster-scoped configurations must go even when the test fails: they would
        // otherwise outlive it (harmlessly, thanks to the selector, but still).
        defer { world.cleanUp() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await world.caches.run() }
            await world.caches.waitUntilSynced()
            try await eventually("the access-level configuration is loaded") { world.caches.config.spawners.trusted == ["admin"] }
            do {
                try await body(world)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// Runs `body` while the server serves, with the webhook configurations registered and
    /// in effect.
    func serving(_ body: (Int) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.boundPort
            do {
                try await register(port: port)
                try await body(port)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    func register(port: Int) async throws {
        let base = "https://127.0.0.1:\(port)"
        // The validating webhooks also cover namespaces labelled `<label>-plain`, which the
        // mutating one does not: namespaces without injection, as in production.
        func webhook(_ name: String, _ path: String, rules: [JSONValue], plainToo: Bool = true) -> JSONValue {
            let values: [JSONValue] = plainToo ? [.string(label), .string(plainLabel)] : [.string(label)]
            return [
                "name": .string("\(name).\(label).stowage.io"),
                "clientConfig": ["url": .string(base + path), "caBundle": .string(tls.caBundle)],
                "rules": .array(rules),
                "namespaceSelector": ["matchExpressions": [["key": .string(Self.labelKey), "operator": "In", "values": .array(values)]]],
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                // The shipped 5 s is for a webhook with a core to itself; here it shares two
                // with every other suite and the nodes' pods.
                "timeoutSeconds": 15,
            ]
        }
        let pods: JSONValue = ["operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"]
        let jobs: JSONValue = ["operations": ["CREATE"], "apiGroups": ["batch"], "apiVersions": ["v1"], "resources": ["jobs"], "scope": "Namespaced"]
        let volumes: JSONValue = ["operations": ["CREATE", "UPDATE"], "apiGroups": ["stowage.io"], "apiVersions": ["v1alpha1"],
                                  "resources": ["datavolumes", "sharedvolumes"], "scope": "Namespaced"]
        let podUpdates: JSONValue = ["operations": ["CREATE", "UPDATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"], "scope": "Namespaced"]
        var mutate = webhook("pods-mutate", "/mutate-pods", rules: [pods], plainToo: false)
        if case .object(var o) = mutate { o["reinvocationPolicy"] = "IfNeeded"; mutate = .object(o) }
        let mutating = MutatingWebhookConfiguration(metadata: ObjectMeta(name: configurationName), webhooks: [mutate])
        let validating = ValidatingWebhookConfiguration(metadata: ObjectMeta(name: configurationName), webhooks: [
            webhook("pods-validate", "/validate-pods", rules: [podUpdates, jobs]),
            webhook("volumes-validate", "/validate-volumes", rules: [volumes]),
        ])
        try await replace(admin.resource(MutatingWebhookConfiguration.self), mutating)
        try await replace(admin.resource(ValidatingWebhookConfiguration.self), validating)

        // The API server picks configurations up from a watch: probe until both are in force.
        var probe = 0
        try await eventually("the webhook configurations are in force") {
            probe += 1
            var pod = plainPod("probe-\(probe)")
            pod.metadata.annotations = [StowageKeys.user: "forged"]
            pod.spec?.volumes = [Volume(name: "x", claimName: "dv-not-there")]
            do {
                let created = try await admin.resource(Pod.self, namespace: namespace).create(pod)
                try? await admin.resource(Pod.self, namespace: namespace).delete(created.metadata.name ?? "")
                return false
            } catch {
                return "\(error)".contains("reserved for DataVolume")
            }
        }
        try await eventually("the mutating webhook is in force") {
            probe += 1
            var pod = plainPod("probe-\(probe)")
            pod.metadata.annotations = [StowageKeys.user: "forged"]
            let created = try await admin.resource(Pod.self, namespace: namespace).create(pod)
            try? await admin.resource(Pod.self, namespace: namespace).delete(created.metadata.name ?? "")
            return created.metadata.annotations?[StowageKeys.user] == nil
        }
    }

    private func replace<R: KubeResource>(_ api: ResourceClient<R>, _ object: R) async throws {
        try? await api.delete(object.metadata.name ?? "")
        _ = try await api.create(object)
    }

    /// The label value of namespaces the validating webhooks cover and the mutating one does not.
    var plainLabel: String { label + "-plain" }

    func plainPod(_ name: String) -> Pod {
        Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: PodSpec(containers: [Container(name: "c", image: "busybox")]))
    }

    /// A pod as KubeSpawner makes it for `user`, optionally naming claims itself.
    func notebook(_ name: String, user: String, claims: [(String, Bool)] = []) -> Pod {
        var container = Container(name: "notebook", image: "jupyter/minimal-notebook")
        container.volumeMounts = claims.enumerated().map {
            var mount = VolumeMount(name: "v\($0.offset)", mountPath: "/mnt/v\($0.offset)")
            if $0.element.1 { mount.readOnly = true }
            return mount
        }
        let volumes = claims.enumerated().map { Volume(name: "v\($0.offset)", claimName: $0.element.0, readOnly: $0.element.1 ? true : nil) }
        return Pod(metadata: ObjectMeta(name: name, namespace: namespace,
                                        labels: ["component": "singleuser-server", "hub.jupyter.org/username": UserName.escape(user)],
                                        annotations: ["hub.jupyter.org/username": user]),
                   spec: PodSpec(containers: [container], volumes: volumes.isEmpty ? nil : volumes))
    }

    func cleanUp() {
        _ = try? kubectl(env, ["delete", "mutatingwebhookconfiguration", configurationName, "--ignore-not-found", "--wait=false"])
        _ = try? kubectl(env, ["delete", "validatingwebhookconfiguration", configurationName, "--ignore-not-found", "--wait=false"])
        _ = try? kubectl(env, ["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"])
        tls.remove()
    }

    /// Creates the volumes of the scenario and waits until the caches hold them.
    func createVolumes() async throws {
        let dvs = admin.resource(DataVolume.self, namespace: namespace)
        let shvs = admin.resource(SharedVolume.self, namespace: namespace)
        _ = try await dvs.create(DataVolume(name: "nina-data", spec: DataVolumeSpec(owner: "nina", size: "1Gi", mount: Mount(path: "/data/nina"))))
        _ = try await dvs.create(DataVolume(name: "nina-raw", spec: DataVolumeSpec(
            owner: "nina", size: "1Gi",
            source: DataSource(s3: S3Source(endpoint: "http://127.0.0.1:1", bucket: "raw", credentialsSecretRef: LocalObjectReference(name: "creds"))),
            access: .readOnly, mount: Mount(path: "/data/raw"))))
        _ = try await dvs.create(DataVolume(name: "omar-data", spec: DataVolumeSpec(owner: "omar", size: "1Gi", mount: Mount(path: "/data/omar"))))
        _ = try await shvs.create(SharedVolume(name: "datasets", spec: SharedVolumeSpec(size: "1Gi", mount: Mount(path: "/shared/datasets"), accessLevel: "public")))
        _ = try await shvs.create(SharedVolume(name: "team", spec: SharedVolumeSpec(
            size: "1Gi", mount: Mount(path: "/shared/team"), accessLevel: "private", members: [Member(group: "team-a", access: .readWrite)])))
        _ = try await shvs.create(SharedVolume(name: "private-x", spec: SharedVolumeSpec(
            size: "1Gi", accessLevel: "private", members: [Member(user: "omar", access: .readWrite)])))
        _ = try await shvs.create(SharedVolume(name: "modules", spec: SharedVolumeSpec(
            size: "1Gi", mount: Mount(path: "/opt/modules"), accessLevel: "public", purpose: .software)))
        try await eventually("the caches hold the volumes") {
            caches.dataVolumes.byIndex(Store<DataVolume>.namespaceIndex, namespace).count == 3
                && caches.sharedVolumes.byIndex(Store<SharedVolume>.namespaceIndex, namespace).count == 4
        }
    }
}

@Suite("Webhook through the API server", .serialized, .tags(.integration), .timeLimit(.minutes(15)))
struct WebhookIntegrationTests {
    @Test func spawnerPodsGetTheirVolumesAndNobodyMountsWhatTheyMayNot() async throws {
        try await WebhookWorld.with { world in
            try await world.serving { port in
                try await world.createVolumes()
                let adminPods = world.admin.resource(Pod.self, namespace: world.namespace)
                let alicePods = world.alice.resource(Pod.self, namespace: world.namespace)

                // The trusted spawner's pod for nina: home, her DataVolumes, the shares she may use.
                let pod = try await adminPods.create(world.notebook("jupyter-nina", user: "nina"))
                let annotations = pod.metadata.annotations ?? [:]
                #expect(annotations[StowageKeys.user] == "nina")
                #expect(annotations[StowageKeys.injected] == "dv/home-nina:rw,dv/nina-data:rw,dv/nina-raw:ro,shv/datasets:ro,shv/modules:ro,shv/team:rw")
                let volumes = Dictionary(uniqueKeysWithValues: (pod.spec?.volumes ?? []).compactMap { v in v.persistentVolumeClaim.map { (v.name, $0) } })
                #expect(Set(volumes.keys) == ["dv-home-nina", "dv-nina-data", "dv-nina-raw", "shv-datasets", "shv-modules", "shv-team"])
                #expect(volumes["dv-nina-raw"]?.readOnly == true)
                #expect(volumes["shv-datasets"]?.readOnly == true)
                #expect(volumes["shv-team"]?.readOnly == nil)
                let notebook = try #require(pod.spec?.containers.first)
                let mounts = Dictionary(uniqueKeysWithValues: (notebook.volumeMounts ?? []).map { ($0.mountPath, $0) })
                #expect(mounts["/home/jovyan"]?.name == "dv-home-nina")
                #expect(mounts["/shared/datasets"]?.readOnly == true)
                #expect(notebook.env?.first { $0.name == "MODULEPATH" }?.value == "/opt/modules")
                // nina-raw has a source and has not been pulled (no operator here): the pod waits for it.
                let wait = try #require(pod.spec?.initContainers?.first)
                #expect(wait.name == "stowage-wait")
                #expect(wait.args == ["wait", "--path", "/data/raw:0", "--timeout", "600"])

                // The same pod from an untrusted creator: nothing, and no identity annotation.
                var forged = world.notebook("jupyter-nina-forged", user: "nina")
                forged.metadata.annotations?[StowageKeys.user] = "nina"
                let plain = try await alicePods.create(forged)
                #expect(plain.spec?.volumes?.contains { $0.persistentVolumeClaim != nil } != true)
                #expect(plain.metadata.annotations?[StowageKeys.user] == nil)
                #expect(plain.metadata.annotations?[StowageKeys.injected] == nil)

                // Naming another user's claim is denied, with the volume and the reason.
                await expectDenied(try await adminPods.create(world.notebook("steal", user: "nina", claims: [("dv-omar-data", false)])),
                                   containing: #"pod mounts DataVolume "omar-data" (claim dv-omar-data) of user "omar": user "nina" is not entitled"#)
                await expectDenied(try await adminPods.create(world.notebook("steal-share", user: "nina", claims: [("shv-private-x", true)])),
                                   containing: #"SharedVolume "private-x" (claim shv-private-x, access level "private"): user "nina" is not entitled"#)
                // An untrusted creator cannot use even the claims the named user owns.
                await expectDenied(try await alicePods.create(world.notebook("own-untrusted", user: "nina", claims: [("dv-nina-data", false)])),
                                   containing: "no user identity")
                // A read-only grant mounted read-write is denied; read-only is fine.
                await expectDenied(try await adminPods.create(world.notebook("rw", user: "nina", claims: [("shv-datasets", false)])),
                                   containing: #"read-write: user "nina" may only read it"#)
                _ = try await adminPods.create(world.notebook("ro", user: "omar", claims: [("shv-datasets", true)]))
                // A Job cannot smuggle a claim past the pod check.
                let template = Job.PodTemplate(spec: PodSpec(containers: [Container(name: "c", image: "busybox")],
                                                             volumes: [Volume(name: "d", claimName: "dv-omar-data")], restartPolicy: "Never"))
                await expectDenied(try await world.admin.resource(Job.self, namespace: world.namespace)
                                    .create(Job(metadata: ObjectMeta(name: "steal-job"), spec: Job.Spec(template: template))),
                                   containing: "job mounts DataVolume \"omar-data\"")
                // Volume validation names the field.
                await expectDenied(try await world.admin.resource(SharedVolume.self, namespace: world.namespace).create(
                    SharedVolume(name: "bad", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "top-secret"))),
                                   containing: "spec.accessLevel: unknown access level \"top-secret\"")
                await expectDenied(try await world.admin.resource(DataVolume.self, namespace: world.namespace).create(
                    DataVolume(name: "home-omar", spec: DataVolumeSpec(owner: "nina", size: "1Gi"))),
                                   containing: "metadata.name")
                // A claim only grows: a smaller spec.size is refused on update, a larger one passes.
                let dvs = world.admin.resource(DataVolume.self, namespace: world.namespace)
                await expectDenied(try await dvs.patch("nina-data", .merge, ["spec": ["size": "512Mi"]]),
                                   containing: "spec.size: cannot shrink from 1Gi to 512Mi")
                #expect(try await dvs.patch("nina-data", .merge, ["spec": ["size": "2Gi"]]).spec.size == "2Gi")

                // A malformed review straight to the server: 400 with the reason.
                let reply = try curlPost(port: port, path: "/validate-pods", body: "{\"apiVersion\": 1", tls: world.tls)
                #expect(reply.status == 400)
                #expect(reply.body.contains("malformed AdmissionReview"))
                let notFound = try curlPost(port: port, path: "/nope", body: "{}", tls: world.tls)
                #expect(notFound.status == 404)
            }
        }
    }

    @Test func rotatedCertificateIsServedWithoutRestart() async throws {
        try await WebhookWorld.with { world in
            try await world.serving { port in
                #expect(try world.tls.servedSubject(port: port).contains("stowage-webhook"))
                try world.tls.issue(commonName: "stowage-webhook-rotated", into: world.tls.certificate, key: world.tls.key)
                #expect(try world.tls.servedSubject(port: port).contains("stowage-webhook-rotated"))
                #expect(world.server.certificateReloads >= 1)
                // The API server still gets answers (same CA) after the rotation.
                let pod = try await world.admin.resource(Pod.self, namespace: world.namespace)
                    .create(world.notebook("after-rotation", user: "nina"))
                #expect(pod.metadata.annotations?[StowageKeys.user] == "nina")
            }
        }
    }

    @Test func withTheWebhookDownOptedInNamespacesFailClosed() async throws {
        try await WebhookWorld.with { world in
            try await world.serving { _ in }
            // Server stopped, configurations still registered: failurePolicy Fail refuses
            // pods in opted-in namespaces rather than start them without identity checks.
            await expectDenied(try await world.admin.resource(Pod.self, namespace: world.namespace).create(world.plainPod("down")),
                               containing: "failed calling webhook")
            // Namespaces that did not opt in are untouched.
            let other = "webhook-other-\(UInt32.random(in: 0...UInt32.max))"
            _ = try await world.admin.resource(Namespace.self).create(Namespace(name: other))
            defer { _ = try? kubectl(world.env, ["delete", "namespace", other, "--wait=false"]) }
            _ = try await world.admin.resource(Pod.self, namespace: other).create(
                Pod(metadata: ObjectMeta(name: "fine"), spec: PodSpec(containers: [Container(name: "c", image: "busybox")])))
        }
    }
}

/// Expects `body` to throw an API error whose message contains `text`.
func expectDenied<T>(_ body: @autoclosure () async throws -> T, containing text: String,
                     sourceLocation: SourceLocation = #_sourceLocation) async {
    do {
        _ = try await body()
        Issue.record("expected a denial containing \(text)", sourceLocation: sourceLocation)
    } catch {
        #expect("\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
    }
}
