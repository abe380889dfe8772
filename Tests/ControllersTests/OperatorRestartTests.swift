import Controllers
import Foundation
import KubeClient
import KubeModel
import KubeTesting
import StowageAPI
import SyncContract
import Testing

/// `stowage operator` as a process: killed with SIGKILL while a volume is Finalizing, it
/// picks the final sync up after a restart; nothing is lost and nothing is pushed twice.
@Suite(.tags(.integration, .timing), .timeLimit(.minutes(15))) struct OperatorRestartTests {
    func startOperator(_ w: World) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: World.binary)
        process.arguments = ["operator", "--kubeconfig", w.env.kubeconfig, "--namespace", w.namespace,
                             "--watch-namespace", w.namespace, "--no-leader-elect", "--health-port", "0",
                             "--image", w.env.image, "--sync-backoff-limit", "0", "--log-level", "warning"]
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func aKilledOperatorCompletesTheFinalSyncAfterRestart() async throws {
        let w = try await World.make("restart")
        var op = try startOperator(w)
        defer {
            // Nodes are shared: never leave them cordoned.
            try? setSchedulable(w, true)
            if op.isRunning { kill(op.processIdentifier, SIGKILL) }
        }
        let claim = "dv-work"
        _ = try await w.dataVolumes.create(DataVolume(name: "work", spec: DataVolumeSpec(
            owner: "alice", size: "1Gi", source: w.source(prefix: "work"), access: .readWrite)))
        try await eventually("Ready") { try await w.dataVolumes.get("work").status?.phase == .ready }
        _ = try await w.pods.create(w.notebookPod(user: "alice", claims: [claim]))
        try await eventually("InUse") { try await w.dataVolumes.get("work").status?.phase == .inUse }
        try await w.write(claim, "thesis.tex", "chapter 1")

        // The notebook stops; the push Job is created but its pod cannot be scheduled yet
        // (every node cordoned; this suite runs alone, so no other test's pods wait).
        try setSchedulable(w, false)
        try await w.pods.delete("jupyter-alice")
        try await eventually("Finalizing") { try await w.dataVolumes.get("work").status?.phase == .finalizing }
        kill(op.processIdentifier, SIGKILL)
        op.waitUntilExit()
        #expect(op.terminationReason == .uncaughtSignal)

        // The sync pod runs while no operator is there; then the operator comes back.
        let pending = try await w.syncPods(.push)
        #expect(pending.count == 1 && pending.first?.spec?.nodeName == nil, "the push pod waits for a node")
        try setSchedulable(w, true)
        try await eventually("the push ran") { try await w.object("work/thesis.tex") == "chapter 1" }
        op = try startOperator(w)
        try await eventually("Idle after restart") { try await w.dataVolumes.get("work").status?.phase == .idle }
        #expect(try await w.object("work/thesis.tex") == "chapter 1")
        let status = try #require(try await w.dataVolumes.get("work").status)
        #expect(status.lastSync?.direction == .push && status.lastSync?.result == .succeeded)
        #expect(status.pendingPush == nil)
        try await Task.sleep(for: .seconds(2))
        #expect(try await w.syncsStarted(.push) == 1, "pushed once")
        kill(op.processIdentifier, SIGTERM)
        op.waitUntilExit()
        #expect(op.terminationStatus == 0, "SIGTERM drains and exits 0")
        await w.cleanUp()
    }
}

/// Cordons or uncordons every node of the environment, as an admin would with kubectl.
func setSchedulable(_ w: World, _ schedulable: Bool) throws {
    for node in w.env.nodes { try runKubectl(w.env, [schedulable ? "uncordon" : "cordon", node]) }
}
