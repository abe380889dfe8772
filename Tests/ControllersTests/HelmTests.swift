import Foundation
import KubeTesting
import Testing

/// `charts/stowage` as Helm itself handles it: Helm 4's Go SDK (through `scripts/helm.py`)
/// lints and renders the chart, and installs, upgrades and uninstalls it on a real cluster
/// where the operator runs in a pod on a real node and the API server calls its webhook.
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct HelmTests {
    static let root = TestEnvironment.packageRoot
    static let chart = root + "/charts/stowage"

    /// Labels and annotations only Helm writes: which release an object belongs to (also in
    /// the selectors, so two releases' pods stay apart) and the configuration checksum that
    /// rolls the pods when the chart's access levels change. `deploy/` has none of them.
    static let helmOnlyKeys: Set<String> = ["app.kubernetes.io/instance", "app.kubernetes.io/managed-by",
                                            "app.kubernetes.io/version", "helm.sh/chart", "checksum/config"]

    /// The values that give the chart the test cluster's image and webhook certificate, and
    /// that the upgrade changes.
    static func values(image: String, caBundle: String, replicas: Int = 1, logLevel: String = "info",
                       resources: [String: Any] = ["requests": ["cpu": "100m", "memory": "64Mi"], "limits": ["memory": "256Mi"]]) -> [String: Any] {
        let colon = image.lastIndex(of: ":")!
        return [
            "image": ["repository": String(image[..<colon]), "tag": String(image[image.index(after: colon)...]), "pullPolicy": "Never"],
            "replicas": replicas, "logLevel": logLevel, "resources": resources,
            "webhook": ["certManager": ["enabled": false], "tlsSecretName": "stowage-webhook-tls", "caBundle": caBundle] as [String: Any],
        ]
    }

    @Test func helmLintFindsNoWarning() throws {
        // Exits non-zero naming each warning or error; the defaults and the test's values.
        let cases: [[String: Any]] = [[:], Self.values(image: "stowage.test/stowage:dev", caBundle: "Q0E=")]
        for values in cases {
            let report = try Self.json(Self.helm(["lint", Self.chart, Self.text(values)]))
            #expect((report as? [String: Any])?["total_charts_linted"] as? Int == 1, "\(report)")
        }
    }

    /// `helm template` with the defaults gives `kubectl kustomize deploy/`'s objects, parsed
    /// and compared field by field, but for Helm's own labels and the Namespace (Helm installs
    /// into one); with the test's values, exactly the fields those values set differ.
    @Test func theChartRendersTheObjectsOfDeployExceptWhatTheValuesChange() throws {
        let deploy = try Self.keyed(Self.json(Self.helm(["objects"], input: Self.run("/usr/bin/kubectl", ["kustomize", Self.root + "/deploy"]))))
        let rendered = try Self.keyed(Self.json(Self.helm(["render", Self.chart, "stowage", "stowage-system", "{}"])))
        #expect(Set(deploy.keys).subtracting(rendered.keys) == ["Namespace/stowage-system"], "objects only deploy/ has")
        #expect(Set(rendered.keys).subtracting(deploy.keys).isEmpty, "objects only the chart has")
        #expect(rendered.count == 17, "\(rendered.keys.sorted())")
        for key in rendered.keys.sorted() {
            guard let shipped = deploy[key] else { continue }
            let differences = try Self.differences(Self.normalized(rendered[key]!), Self.normalized(shipped))
            #expect(differences.isEmpty, "\(key): the chart differs from deploy/:\n\(differences.joined(separator: "\n"))")
        }

        let resources: [String: Any] = ["requests": ["cpu": "50m", "memory": "48Mi"], "limits": ["memory": "192Mi"]]
        let changed = try Self.keyed(Self.json(Self.helm(["render", Self.chart, "stowage", "stowage-system", Self.text(
            Self.values(image: "registry.example.org/stowage:1.2", caBundle: "Q0E=", replicas: 3, logLevel: "debug", resources: resources))])))
        var differing: [String: [String]] = [:]
        for key in changed.keys.sorted() {
            let differences = try Self.differences(Self.normalized(changed[key]!), Self.normalized(deploy[key] ?? [:]))
            if !differences.isEmpty { differing[key] = differences.map { line in String(line.prefix { $0 != ":" }) } }
        }
        let container = "/spec/template/spec/containers[0]"
        #expect(Set(differing["Deployment/stowage-operator"] ?? []) == [
            "/spec/replicas", "\(container)/args[3]", "\(container)/env[2]/value", "\(container)/image",
            "\(container)/imagePullPolicy", "\(container)/resources/limits/memory", "\(container)/resources/requests/cpu",
            "\(container)/resources/requests/memory",
        ], "\(differing)")
        // Without cert-manager: no Issuer or Certificate, the CA given instead of injected.
        for kind in ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"] {
            let paths = differing["\(kind)/stowage"] ?? []
            #expect(paths.contains("/metadata/annotations") && paths.allSatisfy { $0 == "/metadata/annotations" || $0.hasSuffix("/clientConfig/caBundle") },
                    "\(kind): \(paths)")
        }
        #expect(changed["Issuer/stowage-selfsigned"] == nil && changed["Certificate/stowage-webhook"] == nil)
        #expect(Set(differing.keys) == ["Deployment/stowage-operator", "MutatingWebhookConfiguration/stowage",
                                        "ValidatingWebhookConfiguration/stowage"], "\(differing)")
    }

    // MARK: - install, upgrade, uninstall

    /// In a cluster of its own: the chart's CRDs, ClusterRoles and webhook configurations are
    /// cluster-wide (the webhooks, failing closed, would review every other suite's pods and
    /// volumes), and its API server routes webhook calls to the Service's endpoints
    /// (`--enable-aggregator-routing`: no kube-proxy here) and mounts service-account tokens.
    @Test func helmInstallsUpgradesAndUninstallsTheOperator() async throws {
        let shared = try TestEnvironment.shared()
        let directory = Self.root + "/.testenv/helm-\(getpid())"
        // `up` loads DIR/images/stowage.tar onto its node: the image this test run built.
        try FileManager.default.createDirectory(atPath: directory + "/images", withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: directory + "/images/stowage.tar")
        try FileManager.default.copyItem(atPath: shared.directory + "/images/stowage.tar", toPath: directory + "/images/stowage.tar")
        let env = try TestEnvironment.start(directory: directory, apiServerFlags: [
            "--enable-admission-plugins=ServiceAccount", "--enable-aggregator-routing=true"], nodes: 1)
        defer {
            try? env.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let namespace = "stowage-system", release = "stowage"
        // Kubernetes 1.21+ labels every namespace with its name; on 1.20 the admin does, so the
        // validating webhook leaves the operator's own pods alone (docs/admin-guide.md).
        try env.kubectl(["create", "namespace", namespace])
        try env.kubectl(["label", "namespace", namespace, "kubernetes.io/metadata.name=\(namespace)"])
        let tls = try TLSMaterial.make(subjectAltNames: ["DNS:stowage-webhook.\(namespace).svc"])
        defer { tls.remove() }
        try env.kubectl(["create", "secret", "tls", "stowage-webhook-tls", "-n", namespace, "--cert", tls.certificate, "--key", tls.key])

        do {
            try await installAndUpgrade(env, namespace: namespace, release: release, caBundle: tls.caBundle)
        } catch {
            Issue.record("the operator's pods:\n\((try? env.kubectl(["describe", "pods", "-n", namespace])) ?? "")")
            throw error
        }
        try await uninstall(env, namespace: namespace, release: release)
    }

    func installAndUpgrade(_ env: TestEnvironment, namespace: String, release: String, caBundle: String) async throws {
        let installed = try Self.json(Self.helm(["install", Self.chart, release, namespace, Self.text(
            Self.values(image: env.image, caBundle: caBundle))], kubeconfig: env.kubeconfig)) as? [[String: Any]] ?? []
        let pdb = installed.first { $0["kind"] as? String == "PodDisruptionBudget" }
        #expect(pdb?["apiVersion"] as? String == "policy/v1beta1", "a 1.20 API server serves no policy/v1")
        try await waitForRollout(env, namespace: namespace, replicas: 1, "the installed operator is ready")
        try checkWebhookAnswers(env, "after the install")

        // A volume the operator, running in its pod as its ServiceAccount, reconciles.
        try env.kubectl(["create", "namespace", "helm-data"])
        try Self.apply(env, """
            {"apiVersion": "stowage.io/v1alpha1", "kind": "DataVolume", "metadata": {"name": "scratch", "namespace": "helm-data"},
             "spec": {"owner": "carol", "size": "1Gi"}}
            """)
        try await eventually("the DataVolume is Ready", timeout: .seconds(90)) {
            try env.kubectl(["get", "dv", "scratch", "-n", "helm-data", "-o", "jsonpath={.status.phase}"]) == "Ready"
        }
        #expect(try Self.debugLines(env, namespace).isEmpty, "at log level info no debug line is written")

        let resources: [String: Any] = ["requests": ["cpu": "50m", "memory": "48Mi"], "limits": ["memory": "192Mi"]]
        _ = try Self.helm(["upgrade", Self.chart, release, namespace, Self.text(
            Self.values(image: env.image, caBundle: caBundle, replicas: 2, logLevel: "debug", resources: resources))], kubeconfig: env.kubeconfig)
        try await waitForRollout(env, namespace: namespace, replicas: 2, "the upgraded operator has 2 ready replicas")
        let pods = try Self.operatorPods(env, namespace)
        #expect(pods.count == 2, "\(pods.count) operator pods")
        for pod in pods {
            let container = ((pod["spec"] as? [String: Any])?["containers"] as? [[String: Any]])?.first ?? [:]
            let name = (pod["metadata"] as? [String: Any])?["name"] as? String ?? "?"
            #expect((container["args"] as? [String])?.contains("--log-level=debug") == true, "\(name): \(container["args"] ?? "")")
            let podResources = container["resources"] as? [String: Any]
            #expect(try Self.differences(podResources ?? [:], resources).isEmpty, "\(name) runs with \(podResources ?? [:])")
        }
        try await eventually("the upgraded operator writes debug lines (the watchers' first lists)", timeout: .seconds(60)) {
            try Self.debugLines(env, namespace).contains { $0.hasSuffix(" listed") }
        }
        try checkWebhookAnswers(env, "after the upgrade")
    }

    func uninstall(_ env: TestEnvironment, namespace: String, release: String) async throws {
        _ = try Self.helm(["uninstall", release, namespace], kubeconfig: env.kubeconfig)
        // The operator's objects go, cluster-wide ones included.
        for (kind, name, inNamespace) in [("deployment", "stowage-operator", true), ("service", "stowage-webhook", true),
                                          ("serviceaccount", "stowage-operator", true), ("configmap", "stowage-config", true),
                                          ("role", "stowage-operator", true), ("rolebinding", "stowage-operator", true),
                                          ("poddisruptionbudget", "stowage-operator", true),
                                          ("clusterrole", "stowage-operator", false), ("clusterrole", "stowage-edit", false),
                                          ("clusterrole", "stowage-view", false), ("clusterrolebinding", "stowage-operator", false),
                                          ("mutatingwebhookconfiguration", "stowage", false),
                                          ("validatingwebhookconfiguration", "stowage", false)] {
            let found = try env.kubectl(["get", kind, name, "--ignore-not-found", "-o", "name"] + (inNamespace ? ["-n", namespace] : []))
            #expect(found.isEmpty, "helm uninstall left \(kind) \(name)")
        }
        try await eventually("the operator's pods are gone", timeout: .seconds(90)) { try Self.operatorPods(env, namespace).isEmpty }
        // With the webhook gone, the volume it refused is stored: the refusals were its own.
        try Self.apply(env, Self.invalidVolume)
        // No data is deleted: the CRDs, and so every DataVolume, stay.
        for crd in ["datavolumes.stowage.io", "sharedvolumes.stowage.io"] {
            #expect((try? env.kubectl(["get", "crd", crd, "-o", "name"])) != nil, "helm uninstall deleted CRD \(crd)")
        }
        let volume = try env.kubectl(["get", "dv", "scratch", "-n", "helm-data", "-o", "jsonpath={.metadata.name} {.metadata.deletionTimestamp}"])
        #expect(volume == "scratch ", "the DataVolume stays, not being deleted: \(volume)")
    }

    /// The API server calls the webhook in the operator's pod (through the Service, over the
    /// chart's TLS): a volume only the webhook's validation refuses is refused.
    func checkWebhookAnswers(_ env: TestEnvironment, _ when: String) throws {
        #expect {
            try Self.apply(env, Self.invalidVolume)
        } throws: { error in
            let text = "\(error)"
            // The webhook's own validation (no CRD schema on 1.20 can say it); the uninstall
            // shows the API server alone accepts the same object.
            let refused = text.contains("spec.access: RWD mirrors deletions to object storage and requires spec.source")
            if !refused { Issue.record("\(when), the webhook did not refuse: \(text)") }
            return refused
        }
    }

    /// Valid by the CRD's schema, invalid by Stowage's validation: RWD without a source.
    static let invalidVolume = """
        {"apiVersion": "stowage.io/v1alpha1", "kind": "DataVolume", "metadata": {"name": "mirror", "namespace": "default"},
         "spec": {"size": "1Gi", "access": "RWD"}}
        """

    func waitForRollout(_ env: TestEnvironment, namespace: String, replicas: Int, _ what: String) async throws {
        try await eventually(what, timeout: .seconds(180)) {
            let status = try Self.json(env.kubectl(["get", "deployment", "stowage-operator", "-n", namespace, "-o", "json"])) as? [String: Any]
            let generation = (status?["metadata"] as? [String: Any])?["generation"] as? Int
            let s = status?["status"] as? [String: Any] ?? [:]
            return s["observedGeneration"] as? Int == generation && s["updatedReplicas"] as? Int == replicas
                && s["readyReplicas"] as? Int == replicas && s["replicas"] as? Int == replicas
        }
    }

    static func operatorPods(_ env: TestEnvironment, _ namespace: String) throws -> [[String: Any]] {
        let list = try json(env.kubectl(["get", "pods", "-n", namespace, "-l", "app.kubernetes.io/component=operator", "-o", "json"]))
        return ((list as? [String: Any])?["items"] as? [[String: Any]] ?? []).filter {
            ($0["metadata"] as? [String: Any])?["deletionTimestamp"] == nil
        }
    }

    /// The lines the operator's pods logged at level debug (swift-log: `TIME LEVEL LABEL : ...`).
    /// Every debug line of the operator's pods so far. Pod by pod: with a label selector
    /// `kubectl logs` shows only the last 10 lines of each, `--tail=-1` notwithstanding.
    static func debugLines(_ env: TestEnvironment, _ namespace: String) throws -> [String] {
        let names = try operatorPods(env, namespace).compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        return try names.flatMap { name in
            try env.kubectl(["logs", "-n", namespace, name]).split(separator: "\n")
                .filter { $0.split(separator: " ").dropFirst().first == "debug" }.map(String.init)
        }
    }

    static func apply(_ env: TestEnvironment, _ object: String) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("helm-test-\(UUID().uuidString).json").path
        try object.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try env.kubectl(["create", "-f", file])
    }

    // MARK: - comparing objects

    /// Objects by `Kind/name`.
    static func keyed(_ objects: Any) -> [String: [String: Any]] {
        var keyed: [String: [String: Any]] = [:]
        for object in objects as? [[String: Any]] ?? [] {
            let name = (object["metadata"] as? [String: Any])?["name"] as? String ?? "?"
            keyed["\(object["kind"] as? String ?? "?")/\(name)"] = object
        }
        return keyed
    }

    /// Without Helm's own keys (`helmOnlyKeys`, wherever they stand), and with the
    /// access-level configuration parsed (deploy/'s has comments, the chart's is generated).
    static func normalized(_ value: Any) throws -> Any {
        if var map = value as? [String: Any] {
            for key in helmOnlyKeys { map.removeValue(forKey: key) }
            var result: [String: Any] = [:]
            for (key, inner) in map {
                if key == "config.yaml", let text = inner as? String {
                    result[key] = try json(helm(["objects"], input: text))
                    continue
                }
                let kept = try normalized(inner)
                // A map that held only Helm's keys (the pod template's annotations) is absent in deploy/.
                if let before = inner as? [String: Any], !before.isEmpty, (kept as? [String: Any])?.isEmpty == true { continue }
                result[key] = kept
            }
            return result
        }
        if let list = value as? [Any] { return try list.map(normalized) }
        return value
    }

    /// Each path where `a` and `b` differ, with both values.
    static func differences(_ a: Any, _ b: Any, at path: String = "") throws -> [String] {
        switch (a, b) {
        case let (a as [String: Any], b as [String: Any]):
            return try Set(a.keys).union(b.keys).sorted().flatMap { key -> [String] in
                switch (a[key], b[key]) {
                case let (x?, y?): return try differences(x, y, at: path + "/" + key)
                case let (x?, nil): return ["\(path)/\(key): chart \(text(x)), deploy/ has none"]
                case let (nil, y?): return ["\(path)/\(key): deploy/ \(text(y)), the chart has none"]
                default: return []
                }
            }
        case let (a as [Any], b as [Any]) where a.count == b.count:
            return try zip(a, b).enumerated().flatMap { try differences($0.element.0, $0.element.1, at: "\(path)[\($0.offset)]") }
        default:
            let (x, y) = (text(a), text(b))
            return x == y ? [] : ["\(path): chart \(x), deploy/ \(y)"]
        }
    }

    // MARK: - running Helm

    /// The test environment's python (`scripts/testenv ensure` installs the Helm SDK there).
    static let python = (ProcessInfo.processInfo.environment["STOWAGE_CACHE"] ?? NSHomeDirectory() + "/.cache/stowage/testenv") + "/venv/bin/python"

    /// Runs `scripts/helm.py` and returns its standard output; throws with its error output.
    static func helm(_ arguments: [String], input: String? = nil, kubeconfig: String? = nil) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        if let kubeconfig { environment["KUBECONFIG"] = kubeconfig }
        return try run(python, [root + "/scripts/helm.py"] + arguments, input: input, environment: environment)
    }

    static func run(_ executable: String, _ arguments: [String], input: String? = nil, environment: [String: String]? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("helm-test-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: out.path + ".err", contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out.path + ".out"); try? FileManager.default.removeItem(atPath: out.path + ".err") }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out.path + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: out.path + ".err"))
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        stdin.fileHandleForWriting.write(Data((input ?? "").utf8))
        try? stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        let output = (try? String(contentsOfFile: out.path + ".out", encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            let errors = (try? String(contentsOfFile: out.path + ".err", encoding: .utf8)) ?? ""
            throw CommandFailed(description: "\(executable) \(arguments.prefix(4).joined(separator: " ")) failed: \(errors)")
        }
        return output
    }

    static func json(_ text: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }

    /// JSON, keys sorted: the same value always reads the same.
    static func text(_ value: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]))
            .map { String(decoding: $0, as: UTF8.self) } ?? "\(value)"
    }
}
