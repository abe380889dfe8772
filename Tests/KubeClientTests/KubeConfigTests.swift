import Foundation
import HTTP
import KubeTesting
import Testing
@testable import KubeClient

@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct KubeConfigTests {
    /// A kubeconfig as kubeadm and kind write it, with two contexts.
    static let sample = """
    apiVersion: v1
    kind: Config
    preferences: {}
    current-context: kind-dev
    clusters:
    - cluster:
        certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
        server: https://127.0.0.1:6443/
      name: kind-dev
    - name: staging
      cluster:
        server: https://staging.example:6443
        certificate-authority: certs/ca.crt
        insecure-skip-tls-verify: false
    contexts:
    - context:
        cluster: kind-dev
        user: kind-dev
        namespace: notebooks
      name: kind-dev
    - name: staging
      context: {cluster: staging, user: robot}
    - name: broken
      context: {cluster: nowhere, user: robot}
    users:
    - name: kind-dev
      user:
        client-certificate-data: Y2VydA==
        client-key-data: a2V5
    - name: robot
      user:
        tokenFile: tokens/robot
    """

    @Test func currentContextWithInlineData() throws {
        let config = try KubeConfig.parse(Self.sample, path: "/home/u/.kube/config")
        let c = try config.connection()
        #expect(c.server == "https://127.0.0.1:6443")
        #expect(c.namespace == "notebooks")
        #expect(c.tls.trustRoots == .pem(Data("-----BEGIN CERTIFICATE-----\n".utf8)))
        #expect(c.tls.clientCertificate == .pem(Data("cert".utf8)))
        #expect(c.tls.clientKey == .pem(Data("key".utf8)))
        #expect(c.tls.insecureSkipVerify == false)
    }

    @Test func relativePathsResolveAgainstTheFile() throws {
        let config = try KubeConfig.parse(Self.sample, path: "/home/u/.kube/config")
        let c = try config.connection(context: "staging")
        #expect(c.tls.trustRoots == .file("/home/u/.kube/certs/ca.crt"))
        guard case .tokenFile(let file) = c.credentials else { Issue.record("expected a token file"); return }
        #expect(file.path == "/home/u/.kube/tokens/robot")
        #expect(c.namespace == "default")
    }

    @Test func errorsNameTheFileAndWhatIsMissing() throws {
        let config = try KubeConfig.parse(Self.sample, path: "/k/config")
        #expect(throws: KubeConfigError.self) { try config.connection(context: "broken") }
        do { _ = try config.connection(context: "broken") } catch {
            #expect(error.description == "/k/config: cluster \"nowhere\" of context \"broken\" is not in clusters")
        }
        do { _ = try config.connection(context: "nope") } catch {
            #expect(error.description.contains("context \"nope\" is not in contexts"))
        }
        do {
            _ = try KubeConfig.parse("clusters:\n- name: x\n  cluster: {}\n", path: "/k/bad")
            Issue.record("accepted a cluster without server")
        } catch {
            #expect(error.description.hasPrefix("/k/bad: line 3"))
            #expect(error.description.contains("server"))
        }
    }

    @Test func kubeconfigEnvironmentVariableTakesTheFirstExistingFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kc-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.sample.write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        let config = try KubeConfig.load(environment: ["KUBECONFIG": "\(dir)/a:\(dir)/b"])
        #expect(config.path == dir + "/b")
    }

    @Test func inClusterConfigAndTokenRotation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sa-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "first\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "ca".write(toFile: dir + "/ca.crt", atomically: true, encoding: .utf8)
        try "notebooks".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        let env = ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"]
        let c = try ClusterConnection.inCluster(environment: env, serviceAccountDirectory: dir)
        #expect(c.server == "https://10.0.0.1:443")
        #expect(c.namespace == "notebooks")
        var request = HTTPRequest(url: c.server)
        try c.authorize(&request)
        #expect(request.headers["authorization"] == "Bearer first")
        // The kubelet replaces the projected token file; the new token is used at once.
        try "second\n".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: dir + "/token")
        try c.authorize(&request)
        #expect(request.headers["authorization"] == "Bearer second")

        #expect(throws: KubeConfigError.self) { try ClusterConnection.inCluster(environment: [:], serviceAccountDirectory: dir) }
    }
}

@Suite struct KubeConfigMalformedTests {
    @Test func everyTruncationGivesAnErrorNamingTheFile() {
        let text = KubeConfigTests.sample
        var errors = 0
        for end in stride(from: 0, to: text.utf8.count, by: 7) {
            let cut = String(decoding: Array(text.utf8)[..<end], as: UTF8.self)
            do {
                _ = try KubeConfig.parse(cut, path: "/k/cut").connection()
            } catch {
                errors += 1
                #expect(error.file == "/k/cut")
                #expect(!error.message.isEmpty)
            }
        }
        #expect(errors > 0)
    }

    @Test func specificMessagesForCommonMistakes() throws {
        func message(_ text: String) -> String {
            do { _ = try KubeConfig.parse(text, path: "/k/c").connection(); return "accepted" } catch { return error.description }
        }
        #expect(message("clusters: {}\n").contains("line 1, column 11, field clusters"))
        #expect(message("current-context: x\ncontexts: []\n").contains("context \"x\" is not in contexts"))
        #expect(message("current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: [{name: c, cluster: {server: ftp://x}}]\n")
            .contains("not an http(s) URL"))
        #expect(message("current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: https://x}}]\nusers: [{name: u, user: {client-certificate: /c.pem}}]\n")
            .contains("client certificate without a key"))
        #expect(message("users:\n- name: u\n  user:\n    client-key-data: not base64!\n").contains("line 4"))
        #expect(message("\t- bad").contains("/k/c: line 1"))
    }
}
