import Foundation
import KubeClient
import KubeModel
import KubeTesting
import ObjectStore
import StowageAPI
import SyncContract
import Testing

/// A real Prometheus (Debian's `prometheus`) scraping a real `stowage operator` process every
/// second: the controllers and the admission webhook share the process and its `/metrics`
/// (the in-process controllers of `World.with` serve no HTTP). Its HTTP API is asked what an
/// admin's dashboards and alerts ask; the shipped alert rules are loaded from
/// `deploy/prometheus-rules.yaml` with `for:` shortened to 0s, and the failed-push alert
/// must fire for the volume whose push failed, and only for it.
@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct PrometheusTests {
    static let rulesPath = TestEnvironment.packageRoot + "/deploy/prometheus-rules.yaml"

    @Test func prometheusScrapesTheOperatorAndAFailedPushFiresItsAlert() async throws {
        let w = try await World.make("prom")
        try await w.setConfig(NotebookStoryTests.spawnerConfig)
        // The volume whose push will fail has credentials of its own, right for its pull.
        _ = try await w.client.resource(SecretData.self, namespace: w.namespace).create(SecretData(
            name: "bad-creds", stringData: ["AWS_ACCESS_KEY_ID": w.env.s3AccessKey, "AWS_SECRET_ACCESS_KEY": w.env.s3SecretKey]))
        let metricsPort = try OperatorProcess.freePort()
        let op = try await OperatorProcess.start(w, healthPort: metricsPort)
        defer { op.stop() }
        let rules = try String(contentsOfFile: Self.rulesPath, encoding: .utf8)
        let immediate = rules.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.trimmingCharacters(in: .whitespaces).hasPrefix("for: ") ? line.prefix { $0 == " " } + "for: 0s" : String(line)
        }.joined(separator: "\n")
        #expect(immediate.components(separatedBy: "for: 0s").count - 1 == 2, "both rules have a for: to shorten")
        let prometheus = try PrometheusServer.start(directory: w.root + "/prometheus", target: "127.0.0.1:\(metricsPort)", rules: immediate)
        defer { prometheus.stop() }
        do {
            try await scenario(w, prometheus, metrics: "http://127.0.0.1:\(metricsPort)/metrics")
        } catch {
            Issue.record("operator log:\n\(op.log.split(separator: "\n").suffix(40).joined(separator: "\n"))")
            Issue.record("prometheus log:\n\(prometheus.log.split(separator: "\n").suffix(20).joined(separator: "\n"))")
            await w.cleanUp()
            throw error
        }
        await w.cleanUp()
    }

    func scenario(_ w: World, _ prometheus: PrometheusServer, metrics: String) async throws {
        let ns = w.namespace
        _ = try await w.s3.putObject(bucket: w.bucket, key: "good/a.txt", data: Data("a".utf8))
        _ = try await w.s3.putObject(bucket: w.bucket, key: "bad/a.txt", data: Data("a".utf8))
        var badSource = w.source(prefix: "bad")
        badSource.s3?.credentialsSecretRef = LocalObjectReference(name: "bad-creds")
        for (name, source) in [("good", w.source(prefix: "good")), ("bad", badSource)] {
            _ = try await w.dataVolumes.create(DataVolume(name: name, spec: DataVolumeSpec(
                owner: "alice", size: "1Gi", source: source, access: .readWrite)))
        }
        try await eventually("both volumes are pulled and Ready", timeout: .seconds(120)) {
            let phases = try await [w.dataVolumes.get("good"), w.dataVolumes.get("bad")].map(\.status?.phase)
            return phases == [.ready, .ready]
        }

        // alice's notebook uses both; while it runs, the second volume's key is revoked.
        var notebook = w.notebookPod(user: "alice", claims: ["dv-good", "dv-bad"])
        notebook.metadata.annotations?[StowageKeys.user] = nil    // the webhook sets it, for the trusted spawner
        _ = try await w.pods.create(notebook)
        try await eventually("both volumes are InUse") {
            let phases = try await [w.dataVolumes.get("good"), w.dataVolumes.get("bad")].map(\.status?.phase)
            return phases == [.inUse, .inUse]
        }
        _ = try w.env.kubectl(["-n", ns, "patch", "secret", "bad-creds", "-p", #"{"stringData":{"AWS_SECRET_ACCESS_KEY":"revoked"}}"#])
        try await w.write("dv-good", "result.txt", "kept")
        try await w.write("dv-bad", "result.txt", "lost")
        try await w.pods.delete("jupyter-alice")
        try await eventually("the good push succeeded and the bad one failed", timeout: .seconds(120)) {
            let good = try await w.dataVolumes.get("good").status?.lastSync
            let bad = try await w.dataVolumes.get("bad").status?.lastSync
            return good?.direction == .push && good?.result == .succeeded && bad?.direction == .push && bad?.result == .failed
        }
        let goodPush = try #require(try await w.dataVolumes.get("good").status?.lastSync?.end)

        // Per volume and direction, from status.lastSync.
        func volume(_ name: String, _ direction: String) -> String {
            #"{namespace="\#(ns)",name="\#(name)",kind="DataVolume",direction="\#(direction)"}"#
        }
        try await prometheus.expect("stowage_volume_last_sync_succeeded" + volume("good", "push"), 1)
        try await prometheus.expect("stowage_volume_last_sync_succeeded" + volume("bad", "push"), 0)
        try await prometheus.expect("stowage_volume_last_sync_succeeded" + volume("bad", "pull"), 1)
        try await prometheus.expect("stowage_volume_last_success_timestamp_seconds" + volume("good", "push"), goodPush.timeIntervalSince1970)
        try await prometheus.expect("count(stowage_volume_last_success_timestamp_seconds" + volume("bad", "push") + ") or vector(0)", 0)
        try await prometheus.expect(#"sum(stowage_volume_syncs_total{namespace="\#(ns)"}) by (direction)"#, ["pull": 2, "push": 2], by: "direction")
        try await prometheus.expect(#"sum(stowage_volume_sync_failures_total{namespace="\#(ns)"}) by (name)"#, ["good": 0, "bad": 1], by: "name")

        // The controllers' own series: every pass counted and timed, the queue's depth.
        let passes = try await prometheus.value(#"sum(stowage_reconcile_total{controller="datavolumes"})"#)
        #expect(passes >= 6, "passes of two volumes through pull, use and push: \(passes)")
        try await prometheus.expect(#"sum(stowage_reconcile_total{controller="datavolumes"}) - sum(stowage_reconcile_duration_seconds_count{controller="datavolumes"})"#, 0)
        let slowest = try await prometheus.value(#"histogram_quantile(1, sum by (le) (stowage_reconcile_duration_seconds_bucket{controller="datavolumes"}))"#)
        #expect(slowest > 0 && slowest <= 10, "the slowest pass took \(slowest) s")
        let depth = try await prometheus.value(#"stowage_workqueue_depth{controller="datavolumes"}"#)
        #expect(depth >= 0 && depth < 10, "\(depth) keys waiting")
        // The webhook's, from the same process: the notebook pod and both volumes went through it.
        let mutated = try await prometheus.value(#"sum(stowage_webhook_request_duration_seconds_count{path="/mutate-pods"})"#)
        #expect(mutated >= 1, "\(mutated) pods mutated")
        let volumes = try await prometheus.value(#"sum(stowage_webhook_requests_total{path="/validate-volumes",code="200"})"#)
        #expect(volumes >= 2, "\(volumes) volume reviews")
        try await prometheus.expect(#"sum(stowage_webhook_request_duration_seconds_bucket{path="/mutate-pods",le="+Inf"}) - sum(stowage_webhook_request_duration_seconds_count{path="/mutate-pods"})"#, 0)

        // The shipped rule fires for the failed push, and only for it.
        try await eventually("StowageVolumePushFailed fires for bad", timeout: .seconds(30)) {
            try await prometheus.query(#"ALERTS{alertname="StowageVolumePushFailed",alertstate="firing",namespace="\#(ns)"}"#)
                .map { $0.labels["name"] ?? "" } == ["bad"]
        }

        // A real exposition, with every family above in it, passes Prometheus's own linter.
        let exposition = try run("/usr/bin/curl", ["-sf", metrics])
        #expect(exposition.contains("stowage_volume_last_sync_succeeded{") && exposition.contains("stowage_webhook_request_duration_seconds_bucket{"))
        let (status, lint) = try runMerged("/usr/bin/promtool", ["check", "metrics"], input: exposition)
        #expect(status == 0, "promtool check metrics exited \(status):\n\(lint)")

        // A deleted volume's series go: Prometheus no longer has them at the next scrape.
        try await w.dataVolumes.delete("good")
        try await eventually("good is gone") { (try? await w.dataVolumes.get("good")) == nil }
        try await eventually("Prometheus has no series of good", timeout: .seconds(30)) {
            try await prometheus.query(#"{namespace="\#(ns)",name="good",__name__=~"stowage_volume_.*"}"#).isEmpty
        }
        try await prometheus.expect("stowage_volume_last_sync_succeeded" + volume("bad", "push"), 0)
    }

    /// The shipped rules load, and the overdue rule fires only past two schedule intervals
    /// (promtool's rule unit tests, on synthetic series: a real schedule's hours are too long
    /// for a test).
    @Test func theShippedRulesPassPromtoolAndTheirUnitTests() throws {
        let (status, output) = try runMerged("/usr/bin/promtool", ["check", "rules", Self.rulesPath])
        #expect(status == 0 && output.contains("SUCCESS: 2 rules found"), "promtool check rules:\n\(output)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tests = directory + "/tests.yaml"
        // Hourly volume `hourly` last succeeded at 0 (Unix time), `fine` keeps succeeding;
        // `failing` pushes and fails from the start.
        try """
        rule_files: [\(Self.rulesPath)]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: 'stowage_volume_sync_interval_seconds{namespace="a",name="hourly",kind="DataVolume"}'
                values: '3600x200'
              - series: 'stowage_volume_last_success_timestamp_seconds{namespace="a",name="hourly",kind="DataVolume",direction="push"}'
                values: '0x200'
              - series: 'stowage_volume_sync_interval_seconds{namespace="a",name="fine",kind="DataVolume"}'
                values: '3600x200'
              - series: 'stowage_volume_last_success_timestamp_seconds{namespace="a",name="fine",kind="DataVolume",direction="pull"}'
                values: '0+60x200'
              - series: 'stowage_volume_last_sync_succeeded{namespace="a",name="failing",kind="DataVolume",direction="push"}'
                values: '0x20'
              - series: 'stowage_volume_last_sync_succeeded{namespace="a",name="failing",kind="DataVolume",direction="pull"}'
                values: '1x20'
            alert_rule_test:
              - eval_time: 4m
                alertname: StowageVolumePushFailed
              - eval_time: 6m
                alertname: StowageVolumePushFailed
                exp_alerts:
                  - exp_labels: {severity: warning, namespace: a, name: failing, kind: DataVolume}
                    exp_annotations:
                      summary: "DataVolume a/failing: the last push failed"
                      description: "The changes in the volume's claim are not in object storage. `kubectl -n a describe DataVolume failing` shows why (status.lastSync.message, the SyncFailed event); fix it, then request a sync with the stowage.io/sync-now annotation."
              - eval_time: 125m
                alertname: StowageVolumeSyncOverdue
              - eval_time: 135m
                alertname: StowageVolumeSyncOverdue
                exp_alerts:
                  - exp_labels: {severity: warning, namespace: a, name: hourly, kind: DataVolume}
                    exp_annotations:
                      summary: "DataVolume a/hourly: not synced for two intervals of its schedule"
                      description: "No sync of the volume has succeeded for 2h 15m 0s, longer than twice its schedule's interval. Look at status.lastSync and the volume's events."
        """.write(toFile: tests, atomically: true, encoding: .utf8)
        let (tested, report) = try runMerged("/usr/bin/promtool", ["test", "rules", tests])
        #expect(tested == 0, "promtool test rules:\n\(report)")
    }
}

/// Debian's `prometheus` on a free loopback port, with its configuration, rules and data
/// under `directory`: scrapes one target every second and evaluates its rules every second.
final class PrometheusServer: @unchecked Sendable {
    let process: Process
    let base: String
    let logPath: String

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    private init(process: Process, base: String, logPath: String) {
        self.process = process
        self.base = base
        self.logPath = logPath
    }

    static func start(directory: String, target: String, rules: String) throws -> PrometheusServer {
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        try rules.write(toFile: directory + "/rules.yaml", atomically: true, encoding: .utf8)
        try """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
          evaluation_interval: 1s
        rule_files: [\(directory)/rules.yaml]
        scrape_configs:
          - job_name: stowage
            static_configs: [{targets: ["\(target)"]}]

        """.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        let port = try OperatorProcess.freePort()
        let logPath = directory + "/prometheus.log"
        let process = try startLogged("/usr/bin/prometheus", [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ], log: logPath)
        let server = PrometheusServer(process: process, base: "http://127.0.0.1:\(port)", logPath: logPath)
        // Ready: the TSDB is open and the API answers (a second or two).
        let deadline = Date().addingTimeInterval(30)
        while (try? run("/usr/bin/curl", ["-sf", server.base + "/-/ready"])) == nil {
            guard Date() < deadline, process.isRunning else {
                server.stop()
                throw CommandFailed(description: "prometheus did not become ready:\n\(server.log)")
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return server
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    struct Sample {
        var labels: [String: String]
        var value: Double
    }

    /// An instant query through `/api/v1/query`; throws naming the query when it fails.
    func query(_ expression: String) async throws -> [Sample] {
        let body = try run("/usr/bin/curl", ["-sf", "--get", "--data-urlencode", "query=\(expression)", base + "/api/v1/query"])
        guard let answer = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              answer["status"] as? String == "success", let data = answer["data"] as? [String: Any],
              let result = data["result"] as? [[String: Any]] else {
            throw CommandFailed(description: "query \(expression): \(body)")
        }
        return result.compactMap { series in
            guard let value = series["value"] as? [Any], value.count == 2, let text = value[1] as? String, let number = Double(text) else { return nil }
            return Sample(labels: series["metric"] as? [String: String] ?? [:], value: number)
        }
    }

    /// The one value `expression` yields, once a scrape has brought it (within 30 s).
    func value(_ expression: String) async throws -> Double {
        var last: [Sample] = []
        try await eventually("\(expression) has one value (last: \(last.map(\.value)))", timeout: .seconds(30)) {
            last = try await query(expression)
            return last.count == 1
        }
        return last[0].value
    }

    /// Waits (30 s at most) until `expression` yields exactly `expected`, naming what it
    /// yielded last when it does not.
    func expect(_ expression: String, _ expected: Double, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var last: [Sample] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            last = (try? await query(expression)) ?? []
            if last.count == 1, abs(last[0].value - expected) < 1e-6 { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("\(expression) is \(expected); Prometheus says \(last.map { "\($0.labels) \($0.value)" })", sourceLocation: sourceLocation)
    }

    /// The same for a vector, by the values of one label.
    func expect(_ expression: String, _ expected: [String: Double], by label: String,
                sourceLocation: SourceLocation = #_sourceLocation) async throws {
        var last: [String: Double] = [:]
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let samples = (try? await query(expression)) ?? []
            last = Dictionary(samples.map { ($0.labels[label] ?? "", $0.value) }, uniquingKeysWith: { a, _ in a })
            if last == expected { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        Issue.record("\(expression) by \(label) is \(expected); Prometheus says \(last)", sourceLocation: sourceLocation)
    }
}
