import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import StowageAPI
import Testing

/// `stowage operator` as a process: killed with SIGKILL while a volume is Finalizing, it
/// picks the final sync up after a restart; nothing is lost and nothing is pushed twice.
@Suite struct OperatorRestartTests {
    func startOperator(_ w: World) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: World.binary)
        process.arguments = ["operator", "--kubeconfig", w.env.kubeconfig, "--namespace", w.namespace,
                             "--watch-namespace", w.namespace, "--no-leader-elect", "--health-port", "0",
                             "--image", "stowage:test", "--sync-backoff-limit", "0", "--log-level", "warning"]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func aKilledOperatorCompletesTheFinalSyncAfterRestart() async throws {
        let w = try await World.make("restart")
        let kubelet = Task { try await w.kubelet.run() }
        var op = try startOperator(w)
        defer {
            kubelet.cancel()
            if op.isRunning { kill(op.processIdentifier, SIGKILL) }
        }
        let claim = "dv-work"
        _ = try await w.dataVolumes.create(DataVolume(name: "work", spec: DataVolumeSpec(
            owner: "alice", size: "1Gi", source: w.source(prefix: "work"), access: .readWrite)))
        try await eventually("Ready") { try await w.dataVolumes.get("work").status?.phase == .ready }
        _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
        try await eventually("InUse") { try await w.dataVolumes.get("work").status?.phase == .inUse }
        try w.write(claim, "thesis.tex", "chapter 1")

        // The notebook stops; the push Job is created but its pod does not run yet.
        w.kubelet.pause(true)
        try await w.pods.delete("jupyter-alice")
        try await eventually("Finalizing") { try await w.dataVolumes.get("work").status?.phase == .finalizing }
        kill(op.processIdentifier, SIGKILL)
        op.waitUntilExit()
        #expect(op.terminationReason == .uncaughtSignal)

        // The sync pod runs while no operator is there; then the operator comes back.
        w.kubelet.pause(false)
        try await eventually("the push ran") { w.kubelet.podsRun.contains { $0.contains("-push-") } }
        op = try startOperator(w)
        try await eventually("Idle after restart") { try await w.dataVolumes.get("work").status?.phase == .idle }
        #expect(try await w.object("work/thesis.tex") == "chapter 1")
        let status = try #require(try await w.dataVolumes.get("work").status)
        #expect(status.lastSync?.direction == .push && status.lastSync?.result == .succeeded)
        #expect(status.pendingPush == nil)
        try await Task.sleep(for: .seconds(2))
        #expect(w.kubelet.podsRun.filter { $0.contains("-push-") }.count == 1, "pushed once: \(w.kubelet.podsRun)")
        kill(op.processIdentifier, SIGTERM)
        op.waitUntilExit()
        #expect(op.terminationStatus == 0, "SIGTERM drains and exits 0")
        await w.cleanUp()
    }
}
