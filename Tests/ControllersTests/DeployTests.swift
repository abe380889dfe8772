import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// What a cluster admin installs: `deploy/` applied to the real kube-apiserver, and the
/// operator run with nothing but the shipped RBAC (authenticated as its ServiceAccount
/// through a static token, so the shipped bindings apply to it unchanged) through the
/// notebook story. Plus static checks of the Helm chart's sources (Helm itself renders,
/// installs and compares it in HelmTests).
@Suite(.serialized, .tags(.integration), .timeLimit(.minutes(15))) struct DeployTests {
    static let root = TestEnvironment.packageRoot
    static let operatorUser = "system:serviceaccount:stowage-system:stowage-operator"
    /// The token `scripts/testenv` gives `operatorUser` (tokens.csv).
    static let operatorToken = "stowage-operator-token"

    /// Kinds `kubectl kustomize deploy/` renders that the test API server cannot store:
    /// cert-manager's (no cert-manager here) and `policy/v1` PodDisruptionBudget (served
    /// from Kubernetes 1.21; the test control plane is 1.20).
    static let notServedHere: Set<String> = ["Issuer", "Certificate", "PodDisruptionBudget"]
    /// Applied with `--dry-run=server` only: validated and defaulted by the API server but
    /// never stored, so no test running in parallel has its pods sent to a webhook that
    /// does not run here.
    static let dryRunOnly: Set<String> = ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]

    @Test func theShippedInstallRunsTheNotebookStoryAsTheOperatorsServiceAccount() async throws {
        let env = try TestEnvironment.shared()
        let rendered = try Self.kubectl(env, ["kustomize", Self.root + "/deploy"])
        let documents = Self.documents(rendered)
        let kinds = documents.map(\.kind)
        for kind in ["Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
                     "RoleBinding", "ConfigMap", "Deployment", "Service", "PodDisruptionBudget",
                     "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Issuer", "Certificate"] {
            #expect(kinds.contains(kind), "deploy/ renders a \(kind)")
        }
        let stored = documents.filter { !Self.notServedHere.contains($0.kind) && !Self.dryRunOnly.contains($0.kind) }
        let webhooks = documents.filter { Self.dryRunOnly.contains($0.kind) }
        defer { Self.removeClusterObjects(env) }

        // Server-side apply, as an admin would; CRDs are shared with the other suites.
        _ = try Self.kubectl(env, ["apply", "--server-side", "--force-conflicts", "-f", "-"],
                             input: stored.map(\.text).joined(separator: "\n---\n"))
        _ = try Self.kubectl(env, ["wait", "--for", "condition=established", "--timeout=60s",
                                   "crd/datavolumes.stowage.io", "crd/sharedvolumes.stowage.io"])

        try checkRBAC(env)
        try checkDeploymentAndService(env)
        try checkWebhookConfigurations(env, webhooks)

        // The operator, as its ServiceAccount, watching one fresh namespace.
        let w = try await World.make("deploy")
        let kubeconfig = w.root + "-operator.kubeconfig"
        try Self.operatorKubeconfig(env).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
        let log = w.root + "-operator.log"
        let lease = "stowage-deploy-test-\(UInt32.random(in: 0...UInt32.max))"
        let op = try startOperator(kubeconfig: kubeconfig, watch: w.namespace, lease: lease, log: log, image: w.env.image)
        defer {
            if op.isRunning { kill(op.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: kubeconfig)
            try? FileManager.default.removeItem(atPath: log)
            _ = try? Self.kubectl(env, ["delete", "namespace", w.namespace, "--wait=false"])
        }
        do {
            try await notebookStory(w, env: env, lease: lease)
        } catch {
            Issue.record("operator log:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            await w.cleanUp()
            throw error
        }

        kill(op.processIdentifier, SIGTERM)
        op.waitUntilExit()
        #expect(op.terminationStatus == 0, "SIGTERM drains and exits 0")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(!output.lowercased().contains("forbidden"), "the shipped RBAC is enough; the log has a refusal:\n\(output)")
        await w.cleanUp()
    }

    // MARK: - the story

    func notebookStory(_ w: World, env: TestEnvironment, lease: String) async throws {
        _ = try await w.s3.putObject(bucket: w.bucket, key: "users/alice/notebooks/analysis.ipynb", data: Data("v1".utf8))
        _ = try await w.dataVolumes.create(DataVolume(name: "home", spec: DataVolumeSpec(
            owner: "alice", size: "1Gi", source: w.source(prefix: "users/alice"), access: .readWrite)))
        // A share of a level from the shipped ConfigMap, read through the shipped Role.
        _ = try await w.sharedVolumes.create(SharedVolume(name: "team", spec: SharedVolumeSpec(size: "1Gi", accessLevel: "public")))
        let claim = "dv-home"

        try await eventually("the home is pulled and Ready", timeout: .seconds(90)) {
            try await w.dataVolumes.get("home").status?.phase == .ready
        }
        #expect(await w.read(claim, "notebooks/analysis.ipynb") == "v1")
        try await eventually("the share is Ready with the shipped level public") {
            let s = try await w.sharedVolumes.get("team").status
            return s?.phase == .ready && s?.level == "public"
        }

        _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
        try await eventually("the home is InUse") { try await w.dataVolumes.get("home").status?.phase == .inUse }
        try await w.write(claim, "notebooks/analysis.ipynb", "v2 from the notebook")
        try await w.write(claim, "results/model.txt", "trained")
        try await w.pods.delete("jupyter-alice")
        try await eventually("the final push ran and the home is Idle", timeout: .seconds(90)) {
            try await w.dataVolumes.get("home").status?.phase == .idle
        }
        #expect(try await w.object("users/alice/notebooks/analysis.ipynb") == "v2 from the notebook")
        #expect(try await w.object("users/alice/results/model.txt") == "trained")
        let status = try #require(try await w.dataVolumes.get("home").status)
        #expect(status.lastSync?.direction == .push && status.lastSync?.result == .succeeded)

        // Events were written as the operator's identity (create, get, patch on events).
        let reasons = Set(try await w.events(for: "home").compactMap(\.reason))
        #expect(reasons.isSuperset(of: ["ClaimCreated", "SyncStarted", "SyncSucceeded"]), "\(reasons)")
        // The Lease in the operator's namespace, through the shipped Role.
        let held = try Self.kubectl(env, ["get", "lease", lease, "-n", "stowage-system", "-o", "jsonpath={.spec.holderIdentity}"])
        #expect(held == "deploy-test-operator")

        // What `kubectl get` prints: the printer columns of the CRDs.
        let dvTable = try Self.kubectl(env, ["get", "dv", "-n", w.namespace])
        let dvHeader = dvTable.split(separator: "\n").first.map(String.init) ?? ""
        for column in ["NAME", "PHASE", "SIZE", "ACCESS", "OWNER", "LAST SYNC", "AGE"] {
            #expect(dvHeader.contains(column), "kubectl get dv shows \(column): \(dvTable)")
        }
        #expect(dvTable.contains("home") && dvTable.contains("Idle") && dvTable.contains("1Gi") && dvTable.contains("RW"), "\(dvTable)")
        let shvTable = try Self.kubectl(env, ["get", "shv", "-n", w.namespace])
        let shvHeader = shvTable.split(separator: "\n").first.map(String.init) ?? ""
        for column in ["NAME", "PHASE", "SIZE", "LEVEL", "PURPOSE", "AGE"] {
            #expect(shvHeader.contains(column), "kubectl get shv shows \(column): \(shvTable)")
        }
        #expect(shvTable.contains("team") && shvTable.contains("Ready") && shvTable.contains("public"), "\(shvTable)")

        // kubectl explain: the documented field description from the CRD schema.
        let explained = try Self.kubectl(env, ["explain", "datavolume.spec.access"])
        #expect(explained.contains("Sync mode: RO (pull only), RW (pull, push without deletions), RWD (mirror)."), "\(explained)")
        let explainedShare = try Self.kubectl(env, ["explain", "sharedvolume.spec"])
        #expect(explainedShare.contains("accessLevel"), "\(explainedShare)")

        // Deletion runs the finalizers with the shipped RBAC: claims deleted, finalizers removed.
        try await w.dataVolumes.delete("home")
        try await w.sharedVolumes.delete("team")
        try await eventually("both volumes and their claims are gone") {
            let volumes = try await w.dataVolumes.listAll().items.count + w.sharedVolumes.listAll().items.count
            let claims = try await w.claims.listAll().items.filter { $0.metadata.deletionTimestamp == nil }.count
            return volumes == 0 && claims == 0
        }
        #expect(try await w.object("users/alice/results/model.txt") == "trained", "deleting a volume never deletes its data")
    }

    func startOperator(kubeconfig: String, watch namespace: String, lease: String, log: String, image: String) throws -> Process {
        var environment = ProcessInfo.processInfo.environment
        environment["POD_NAME"] = "deploy-test-operator"
        environment.removeValue(forKey: "KUBECONFIG")
        // The operator's namespace is the shipped one: its ConfigMap and Role live there.
        return try startLogged(World.binary, ["operator", "--kubeconfig", kubeconfig, "--namespace", "stowage-system",
                                              "--watch-namespace", namespace, "--leader-elect", "--lease-name", lease,
                                              "--health-port", "0", "--image", image, "--sync-backoff-limit", "0",
                                              "--log-level", "info"],
                               log: log, environment: environment)
    }

    static func operatorKubeconfig(_ env: TestEnvironment) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: \(env.apiServer)
            certificate-authority: \(env.caFile)
        users:
        - name: stowage-operator
          user:
            token: \(operatorToken)
        contexts:
        - name: stowage-operator
          context:
            cluster: test
            user: stowage-operator
        current-context: stowage-operator

        """
    }

    // MARK: - what was applied

    /// Nothing shipped grants any verb on Secrets, or any wildcard; the API server agrees.
    func checkRBAC(_ env: TestEnvironment) throws {
        var roles: [[String: Any]] = []
        for (kind, namespace) in [("clusterroles", nil), ("roles", "stowage-system")] as [(String, String?)] {
            var args = ["get", kind, "-l", "app.kubernetes.io/name=stowage", "-o", "json"]
            if let namespace { args += ["-n", namespace] }
            let list = try Self.json(try Self.kubectl(env, args))
            roles += (list["items"] as? [[String: Any]]) ?? []
        }
        let names = roles.compactMap { ($0["metadata"] as? [String: Any])?["name"] as? String }
        #expect(names.filter { $0 == "stowage-operator" }.count == 2, "ClusterRole and Role stowage-operator: \(names)")
        for role in roles {
            let name = (role["metadata"] as? [String: Any])?["name"] as? String ?? "?"
            for rule in (role["rules"] as? [[String: Any]]) ?? [] {
                let resources = rule["resources"] as? [String] ?? []
                let verbs = rule["verbs"] as? [String] ?? []
                let groups = rule["apiGroups"] as? [String] ?? []
                #expect(!resources.contains { $0 == "secrets" || $0.hasPrefix("secrets/") }, "\(name) grants \(verbs) on secrets")
                #expect(!resources.contains("*") && !verbs.contains("*") && !groups.contains("*"), "\(name) has a wildcard: \(rule)")
            }
        }
        for verb in ["get", "list", "watch"] {
            let answer = try Self.kubectl(env, ["auth", "can-i", verb, "secrets", "--all-namespaces", "--as", Self.operatorUser,
                                                "--as-group", "system:serviceaccounts",
                                                "--as-group", "system:serviceaccounts:stowage-system"], allowFailure: true)
            #expect(answer.trimmingCharacters(in: .whitespacesAndNewlines) == "no", "can-i \(verb) secrets: \(answer)")
        }
        let lease = try Self.kubectl(env, ["auth", "can-i", "patch", "leases", "-n", "stowage-system", "--as", Self.operatorUser],
                                     allowFailure: true)
        #expect(lease.trimmingCharacters(in: .whitespacesAndNewlines) == "yes")
        let elsewhere = try Self.kubectl(env, ["auth", "can-i", "patch", "leases", "-n", "default", "--as", Self.operatorUser],
                                         allowFailure: true)
        #expect(elsewhere.trimmingCharacters(in: .whitespacesAndNewlines) == "no", "leases only in the operator's namespace")
    }

    func checkDeploymentAndService(_ env: TestEnvironment) throws {
        let deployment = try Self.json(try Self.kubectl(env, ["get", "deployment", "stowage-operator", "-n", "stowage-system", "-o", "json"]))
        let spec = try #require(deployment["spec"] as? [String: Any])
        #expect(spec["replicas"] as? Int == 2)
        let pod = try #require((spec["template"] as? [String: Any])?["spec"] as? [String: Any])
        #expect(pod["serviceAccountName"] as? String == "stowage-operator")
        let podSecurity = pod["securityContext"] as? [String: Any] ?? [:]
        #expect(podSecurity["runAsNonRoot"] as? Bool == true)
        #expect((podSecurity["seccompProfile"] as? [String: Any])?["type"] as? String == "RuntimeDefault")
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let security = container["securityContext"] as? [String: Any] ?? [:]
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect((security["capabilities"] as? [String: Any])?["drop"] as? [String] == ["ALL"])
        #expect(((container["livenessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/healthz")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        #expect((container["resources"] as? [String: Any])?["requests"] != nil)
        let args = container["args"] as? [String] ?? []
        #expect(args.first == "operator" && args.contains("--leader-elect"), "\(args)")
        #expect(args.contains("--webhook-port=9443") && args.contains("--tls-cert=/etc/stowage/tls/tls.crt"), "\(args)")
        let envNames = ((container["env"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
        #expect(Set(envNames).isSuperset(of: ["POD_NAME", "POD_NAMESPACE", "STOWAGE_IMAGE"]), "\(envNames)")
        let image = container["image"] as? String
        let stowageImage = ((container["env"] as? [[String: Any]]) ?? []).first { $0["name"] as? String == "STOWAGE_IMAGE" }?["value"] as? String
        #expect(image == stowageImage, "sync pods run the operator's own image")
        let containerPorts = ((container["ports"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }

        let service = try Self.json(try Self.kubectl(env, ["get", "service", "stowage-webhook", "-n", "stowage-system", "-o", "json"]))
        let ports = ((service["spec"] as? [String: Any])?["ports"] as? [[String: Any]]) ?? []
        let byPort = Dictionary(uniqueKeysWithValues: ports.compactMap { p in (p["port"] as? Int).map { ($0, p["targetPort"] as? String ?? "") } })
        #expect(byPort[443] == "webhook" && byPort[8081] == "metrics", "\(ports)")
        #expect(Set(byPort.values).isSubset(of: Set(containerPorts)), "service targets named container ports \(containerPorts)")
    }

    /// Validated and defaulted by the API server without being stored.
    func checkWebhookConfigurations(_ env: TestEnvironment, _ documents: [Document]) throws {
        #expect(documents.count == 2)
        for document in documents {
            let object = try Self.json(try Self.kubectl(env, ["apply", "--server-side", "--dry-run=server", "-o", "json", "-f", "-"],
                                                        input: document.text))
            let name = (object["metadata"] as? [String: Any])?["name"] as? String
            #expect(((object["metadata"] as? [String: Any])?["annotations"] as? [String: String])?["cert-manager.io/inject-ca-from"]
                == "stowage-system/stowage-webhook")
            let hooks = (object["webhooks"] as? [[String: Any]]) ?? []
            #expect(!hooks.isEmpty)
            for hook in hooks {
                let hookName = hook["name"] as? String ?? "?"
                #expect(hook["sideEffects"] as? String == "None", "\(hookName)")
                #expect(hook["failurePolicy"] as? String == "Fail", "\(hookName)")
                #expect((hook["timeoutSeconds"] as? Int).map { $0 > 0 && $0 <= 10 } == true, "\(hookName)")
                #expect(hook["admissionReviewVersions"] as? [String] == ["v1"], "\(hookName)")
                let service = (hook["clientConfig"] as? [String: Any])?["service"] as? [String: Any] ?? [:]
                #expect(service["name"] as? String == "stowage-webhook" && service["namespace"] as? String == "stowage-system")
                #expect(service["port"] as? Int == 443)
                let path = service["path"] as? String
                switch hookName {
                case "pods.mutate.stowage.io":
                    #expect(path == "/mutate-pods")
                    #expect(((hook["namespaceSelector"] as? [String: Any])?["matchLabels"] as? [String: String]) == ["stowage.io/inject": "enabled"])
                    #expect(hook["objectSelector"].map { ($0 as? [String: Any])?.isEmpty == true } ?? true,
                            "no label lets a pod around the mutating webhook")
                    #expect(hook["reinvocationPolicy"] as? String == "IfNeeded")
                case "pods.validate.stowage.io":
                    #expect(path == "/validate-pods")
                    let resources = ((hook["rules"] as? [[String: Any]]) ?? []).flatMap { $0["resources"] as? [String] ?? [] }
                    #expect(Set(resources) == ["pods", "jobs"], "Jobs are validated so their pods can be trusted")
                    let podOperations = ((hook["rules"] as? [[String: Any]]) ?? []).first { ($0["resources"] as? [String]) == ["pods"] }?["operations"]
                    #expect(podOperations as? [String] == ["CREATE", "UPDATE"], "the reserved keys may not be added later")
                    #expect(hook["objectSelector"].map { ($0 as? [String: Any])?.isEmpty == true } ?? true,
                            "no label lets a pod around the validating webhook")
                case "volumes.validate.stowage.io":
                    #expect(path == "/validate-volumes")
                default:
                    Issue.record("unexpected webhook \(hookName) in \(name ?? "?")")
                }
            }
        }
    }

    static func removeClusterObjects(_ env: TestEnvironment) {
        _ = try? kubectl(env, ["delete", "clusterrolebinding", "stowage-operator", "--ignore-not-found"])
        _ = try? kubectl(env, ["delete", "clusterrole", "stowage-operator", "stowage-edit", "stowage-view", "--ignore-not-found"])
        _ = try? kubectl(env, ["delete", "namespace", "stowage-system", "--ignore-not-found", "--wait=false"])
    }

    // MARK: - the Helm chart, statically

    /// The chart's sources: its CRDs are copies of `crds/`, its RBAC rules `deploy/`'s, and
    /// every value a template uses is defined (HelmTests compares what Helm renders).
    @Test func theChartShipsTheSameCRDsAndRBACAndOnlyValuesItDefines() throws {
        let chart = Self.root + "/charts/stowage"
        for crd in ["datavolumes.yaml", "sharedvolumes.yaml"] {
            let shipped = try String(contentsOfFile: Self.root + "/crds/" + crd, encoding: .utf8)
            let copy = try String(contentsOfFile: chart + "/crds/" + crd, encoding: .utf8)
            #expect(shipped == copy, "charts/stowage/crds/\(crd) is a copy of crds/\(crd): cp crds/*.yaml charts/stowage/crds/")
        }

        func ruleLines(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.hasPrefix("- apiGroups:") || $0.hasPrefix("resources:") || $0.hasPrefix("verbs:") }
        }
        let deployRules = try ruleLines(Self.root + "/deploy/rbac.yaml")
        #expect(!deployRules.isEmpty)
        #expect(try ruleLines(chart + "/templates/rbac.yaml") == deployRules, "the chart's RBAC rules are deploy/rbac.yaml's")
        #expect(!deployRules.contains { $0.contains("secrets") })

        let values = Self.valuePaths(try String(contentsOfFile: chart + "/values.yaml", encoding: .utf8))
        let templates = try FileManager.default.contentsOfDirectory(atPath: chart + "/templates")
        #expect(templates.contains("webhook.yaml") && templates.contains("deployment.yaml") && templates.contains("rbac.yaml"))
        let reference = try Regex(#"\.Values((?:\.[A-Za-z][A-Za-z0-9_]*)+)"#)
        for template in templates {
            let text = try String(contentsOfFile: chart + "/templates/" + template, encoding: .utf8)
            for match in text.matches(of: reference) {
                let path = String(text[match.range].dropFirst(".Values.".count))
                #expect(values.contains(path), "\(template) uses .Values.\(path), which values.yaml does not define")
            }
            // Every action that opens a block is closed.
            let opens = text.matches(of: try Regex(#"\{\{-?\s*(if|range|with|define)\b"#)).count
            let ends = text.matches(of: try Regex(#"\{\{-?\s*end\s*-?\}\}"#)).count
            #expect(opens == ends, "\(template): \(opens) blocks opened, \(ends) closed")
            // Every `{{` opens an action closed on the same line (YAML flow maps may end in `}}`).
            let actions = text.matches(of: try Regex(#"\{\{[^\n]*?\}\}"#)).count
            #expect(text.components(separatedBy: "{{").count - 1 == actions, "\(template): an action is not closed")
        }
    }

    /// The shipped access-level ConfigMap parses, with the documented defaults.
    @Test func theShippedConfigMapIsValid() throws {
        let text = try String(contentsOfFile: Self.root + "/deploy/config.yaml", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex { $0.trimmingCharacters(in: .whitespaces) == "config.yaml: |" })
        let body = lines[(start + 1)...].map { $0.hasPrefix("    ") ? String($0.dropFirst(4)) : String($0) }.joined(separator: "\n")
        let config = try StowageConfig.parse(yaml: body)
        #expect(Set(config.levels.keys) == ["public", "private", "secret"])
        #expect(config.levels["secret"]?.sync == false)
        #expect(!config.homes.enabled, "homes are off by default")
        #expect(config.spawners.trusted.isEmpty, "no spawner is trusted until the admin says so")
    }

    /// The dotted paths of every key in a values.yaml written in block style (what the chart
    /// uses), from indentation alone; comments and list items are skipped.
    static func valuePaths(_ yaml: String) -> Set<String> {
        var stack: [(indent: Int, key: String)] = []
        var paths = Set<String>()
        let keyLine = try! Regex(#"^( *)([A-Za-z][A-Za-z0-9_]*):(\s|$)"#)
        for line in yaml.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let match = String(line).firstMatch(of: keyLine),
                  let indent = match.output[1].substring?.count, let key = match.output[2].substring.map(String.init) else { continue }
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            stack.append((indent, key))
            paths.insert(stack.map(\.key).joined(separator: "."))
        }
        return paths
    }

    // MARK: - kubectl

    struct Document {
        var kind: String
        var text: String
    }

    /// The documents of kustomize's output, by top-level `kind:`.
    static func documents(_ yaml: String) -> [Document] {
        yaml.components(separatedBy: "\n---\n").compactMap { text in
            let kind = text.split(separator: "\n").first { $0.hasPrefix("kind: ") }.map { String($0.dropFirst(6)) }
            return kind.map { Document(kind: $0, text: text) }
        }
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// Runs kubectl as the admin and returns its standard output; stderr (warnings) is kept
    /// apart so JSON output stays parseable.
    @discardableResult
    static func kubectl(_ env: TestEnvironment, _ arguments: [String], input: String? = nil, allowFailure: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
        process.arguments = ["--kubeconfig", env.kubeconfig] + arguments
        let stdout = Pipe()
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("kubectl-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errors) }
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: errors)
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try process.run()
        if let input {
            // Written from another thread: a large input must not block against unread output.
            let writer = stdin.fileHandleForWriting
            Thread.detachNewThread {
                writer.write(Data(input.utf8))
                try? writer.close()
            }
        }
        let output = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 || allowFailure else {
            let message = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
            throw KubectlError(output: "kubectl \(arguments.joined(separator: " ")): \(message)\(output)")
        }
        return output
    }
}
