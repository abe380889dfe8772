import Foundation
import KubeModel
import KubeTesting
import Testing

/// Every shipped manifest against the schemas of current Kubernetes, with
/// `kubernetes-validate --strict` (PyPI; `scripts/testenv ensure` installs it): `deploy/` as
/// `kubectl kustomize` renders it, `crds/`, `samples/` and the chart as Helm renders it with
/// its defaults, for 1.25, 1.29 and 1.34. The test
/// API server is 1.20, so this is what shows the manifests still fit the clusters people run.
///
/// What it does and does not check, found by trying the tool:
/// - Built-in kinds: every field, strictly (a misspelt or unknown field is an error).
/// - CRDs: the CustomResourceDefinition object and every node of its `openAPIV3Schema`
///   strictly by shape (unknown keywords, wrong keyword types), but not keyword values the
///   API server alone judges (`type: objectt`, `x-kubernetes-list-type: mapp` pass).
///   `CRDRoundTripTests` installs the CRDs in the 1.20 API server, which does judge them.
/// - Custom resources have no schema in the tool: DataVolumes, SharedVolumes and
///   cert-manager's Issuer and Certificate are reported as "Couldn't find schema", a warning
///   with exit status 0. The same warning is all the tool says of a built-in API a version
///   has removed (`policy/v1beta1` in 1.25), so this test fails on it for any group but the
///   custom ones below. The samples' DataVolumes and SharedVolumes are validated against the
///   CRDs' schemas by the API server in `CRDRoundTripTests.samplesSurviveTheAPIServer`.
/// - The Helm chart is not validated here: rendering it belongs to the chart's own tests
///   (issue 16, item 4).
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct ManifestSchemaTests {
    static let versions = ["1.25.0", "1.29.0", "1.34.0"]
    /// API groups of custom resources, which the tool has no schema for.
    static let customGroups: Set<String> = ["stowage.io", "cert-manager.io"]

    @Test(arguments: versions) func everyShippedManifestValidatesStrictly(version: String) throws {
        let files = try Self.shippedFiles()
        defer { for generated in [files.files.first, files.files.last] { try? FileManager.default.removeItem(atPath: generated?.path ?? "") } }
        let report = try Self.validate(files.paths, version: version)
        for failure in report.failures {
            Issue.record("Kubernetes \(version): \(files.name(of: failure.file)) \(failure.object): \(failure.error)")
        }
        for missing in report.unknown where !Self.customGroups.contains(missing.group) {
            Issue.record("Kubernetes \(version): \(files.name(of: missing.file)): \(missing.kind) \(missing.apiVersion) is not served (no schema)")
        }
        // Every object was looked at: validated, or a custom resource the tool cannot check.
        let validated = Set(report.passed.map { "\(files.name(of: $0.file)) \($0.object)" })
        #expect(report.passed.count + report.failures.count + report.unknown.count == files.documents,
                "\(files.documents) documents, the tool reported \(report.passed.count + report.failures.count + report.unknown.count)")
        for object in ["deploy/ deployment/stowage-operator", "deploy/ poddisruptionbudget/stowage-operator",
                       "deploy/ validatingwebhookconfiguration/stowage", "deploy/ mutatingwebhookconfiguration/stowage",
                       "crds/datavolumes.yaml customresourcedefinition/datavolumes.stowage.io",
                       "crds/sharedvolumes.yaml customresourcedefinition/sharedvolumes.stowage.io",
                       "samples/stowage-config.yaml configmap/stowage-config",
                       "charts/stowage deployment/stowage-operator", "charts/stowage poddisruptionbudget/stowage-operator",
                       "charts/stowage validatingwebhookconfiguration/stowage"] {
            #expect(validated.contains(object), "Kubernetes \(version): \(object) was validated; validated: \(validated.sorted())")
        }
        let unchecked = Set(report.unknown.map(\.kind))
        #expect(unchecked == ["DataVolume", "SharedVolume", "Issuer", "Certificate"], "left unchecked: \(unchecked.sorted())")
    }

    /// The test above relies on how the tool reports what it cannot check: an API removed in
    /// 1.25 only warns (exit 0), a misspelt field is an error naming the object.
    @Test func theToolsVerdictsAreReadAsTheTestReadsThem() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("schema-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = directory + "/bad.yaml"
        try """
        apiVersion: policy/v1beta1
        kind: PodDisruptionBudget
        metadata: {name: old}
        spec: {minAvailable: 1}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: typo}
        spec:
          ports: [{port: 443, targetPortt: webhook}]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let report = try Self.validate([file], version: "1.34.0")
        #expect(report.unknown.map { "\($0.kind) \($0.apiVersion)" } == ["PodDisruptionBudget policy/v1beta1"])
        #expect(report.failures.map(\.object) == ["service/typo"])
        #expect(report.failures.first?.error.contains("'targetPortt' was unexpected") == true, "\(report.failures)")
        #expect(report.passed.isEmpty)
    }

    // MARK: - the tool

    struct Report {
        struct Verdict {
            var file: String
            var object: String
            var error = ""
        }
        struct Unknown {
            var file: String
            var kind: String
            var apiVersion: String
            var group: String { apiVersion.contains("/") ? String(apiVersion.split(separator: "/")[0]) : "" }
        }
        var passed: [Verdict] = []
        var failures: [Verdict] = []
        var unknown: [Unknown] = []
    }

    /// Runs `kubernetes-validate --strict` and reads its one line per object:
    /// `INFO FILE passed for resource KIND/NAME against version V`,
    /// `ERROR FILE did not validate for resource KIND/NAME against version V: ERROR`,
    /// `WARN FILE Couldn't find schema for kind KIND with api version API for kubernetes version V`.
    static func validate(_ files: [String], version: String) throws -> Report {
        let tool = try toolPath("kubernetes-validate")
        let (status, output) = try runMerged(tool, ["--strict", "-k", version] + files)
        let passed = try Regex(#"^INFO (\S+) passed for resource (\S+) against version"#)
        let failed = try Regex(#"^ERROR (\S+) did not validate for resource (\S+) against version [0-9.]+: (.*)$"#)
        let unknown = try Regex(#"^WARN (\S+) Couldn't find schema for kind (\S+) with api version (\S+) for"#)
        var report = Report()
        for line in output.split(separator: "\n").map(String.init) {
            if let m = line.firstMatch(of: passed) {
                report.passed.append(.init(file: String(m.output[1].substring!), object: String(m.output[2].substring!)))
            } else if let m = line.firstMatch(of: failed) {
                report.failures.append(.init(file: String(m.output[1].substring!), object: String(m.output[2].substring!),
                                             error: String(m.output[3].substring!)))
            } else if let m = line.firstMatch(of: unknown) {
                report.unknown.append(.init(file: String(m.output[1].substring!), kind: String(m.output[2].substring!),
                                            apiVersion: String(m.output[3].substring!)))
            } else if !line.isEmpty {
                Issue.record("kubernetes-validate said what this test cannot read: \(line)")
            }
        }
        #expect((status == 0) == report.failures.isEmpty, "kubernetes-validate exited \(status):\n\(output)")
        return report
    }

    struct ShippedFiles {
        struct File {
            var path: String
            /// As messages name it: `deploy/`, `crds/NAME`, `samples/NAME`.
            var name: String
        }
        var files: [File]
        /// YAML documents with a kind, over all files.
        var documents: Int
        var paths: [String] { files.map(\.path) }
        func name(of path: String) -> String { files.first { $0.path == path }?.name ?? path }
    }

    /// `deploy/` rendered into a temporary file (named `deploy/` in messages), and the YAML of
    /// `crds/` and `samples/` but their kustomization files.
    static func shippedFiles() throws -> ShippedFiles {
        let root = TestEnvironment.packageRoot
        let rendered = try run("/usr/bin/kubectl", ["kustomize", root + "/deploy"])
        let deploy = FileManager.default.temporaryDirectory.appendingPathComponent("deploy-\(UUID().uuidString).yaml").path
        try rendered.write(toFile: deploy, atomically: true, encoding: .utf8)
        var files = [ShippedFiles.File(path: deploy, name: "deploy/")]
        for directory in ["crds", "samples"] {
            let names = try FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)
                .filter { $0.hasSuffix(".yaml") && $0 != "kustomization.yaml" }.sorted()
            files += names.map { ShippedFiles.File(path: "\(root)/\(directory)/\($0)", name: "\(directory)/\($0)") }
        }
        var documents = try files.reduce(0) { count, file in
            let text = try String(contentsOfFile: file.path, encoding: .utf8)
            return count + text.components(separatedBy: "\n---\n").filter { $0.contains("\nkind: ") || $0.hasPrefix("kind: ") }.count
        }
        // The chart as `helm template` renders it with its defaults (Helm's SDK, offline),
        // one JSON document per object (JSON is YAML).
        guard case .array(let objects) = try JSONValue(parsing: Data(HelmTests.helm(
            ["render", root + "/charts/stowage", "stowage", "stowage-system", "{}"]).utf8)) else {
            throw CommandFailed(description: "scripts/helm.py render: not a list of objects")
        }
        let chart = FileManager.default.temporaryDirectory.appendingPathComponent("chart-\(UUID().uuidString).yaml").path
        try objects.map { String(decoding: try JSONEncoder.kube.encode($0), as: UTF8.self) }.joined(separator: "\n---\n")
            .write(toFile: chart, atomically: true, encoding: .utf8)
        files.append(ShippedFiles.File(path: chart, name: "charts/stowage"))
        documents += objects.count
        return ShippedFiles(files: files, documents: documents)
    }
}

/// A tool of the test environment: on `$STOWAGE_TESTENV_BIN` (what `DIR/env` exports),
/// else in the cache `scripts/testenv ensure` fills, else on `$PATH`.
func toolPath(_ name: String) throws -> String {
    let environment = ProcessInfo.processInfo.environment
    let home = environment["HOME"] ?? "/root"
    let directories = (environment["STOWAGE_TESTENV_BIN"] ?? "").split(separator: ":").map(String.init)
        + [home + "/.cache/stowage/testenv/venv/bin"] + (environment["PATH"] ?? "").split(separator: ":").map(String.init)
    guard let found = directories.map({ $0 + "/" + name }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw CommandFailed(description: "\(name) not found on STOWAGE_TESTENV_BIN, in ~/.cache/stowage/testenv/venv/bin or on PATH: run scripts/testenv ensure")
    }
    return found
}

/// Runs a tool with standard output and error in one stream; returns its exit status too.
/// `input`, if any, is its standard input, through a file (so nothing blocks on a pipe).
func runMerged(_ executable: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    let inputFile = FileManager.default.temporaryDirectory.appendingPathComponent("input-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: inputFile) }
    if let input {
        try Data(input.utf8).write(to: inputFile)
        process.standardInput = try FileHandle(forReadingFrom: inputFile)
    }
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}
