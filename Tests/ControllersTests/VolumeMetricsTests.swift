import Foundation
import KubeRuntime
import StowageAPI
import SyncContract
import Testing
@testable import Controllers

/// The per-volume series as `/metrics` renders them, without an API server.
@Suite struct VolumeMetricsTests {
    let end = Date(timeIntervalSince1970: 1_800_000_000)

    func status(_ direction: SyncDirection, _ result: SyncResult) -> VolumeStatus {
        var status = VolumeStatus(phase: .idle)
        status.lastSync = SyncRecord(direction: direction, result: result, start: end.addingTimeInterval(-5), end: end)
        return status
    }

    @Test func eachDirectionKeepsItsLastOutcomeAndOnlySuccessesMoveTheSuccessTime() throws {
        let registry = MetricsRegistry()
        let metrics = VolumeMetrics(registry: registry, kind: "DataVolume")
        metrics.observe(namespace: "ns", name: "home", status: status(.pull, .succeeded), schedule: nil, now: end)
        let failed = status(.push, .failed)
        metrics.finished(namespace: "ns", name: "home", failed.lastSync!)
        metrics.observe(namespace: "ns", name: "home", status: failed, schedule: nil, now: end)
        let text = registry.render()
        let pull = #"{direction="pull",kind="DataVolume",name="home",namespace="ns"}"#
        let push = #"{direction="push",kind="DataVolume",name="home",namespace="ns"}"#
        for line in ["stowage_volume_last_sync_succeeded\(pull) 1", "stowage_volume_last_sync_succeeded\(push) 0",
                     "stowage_volume_last_success_timestamp_seconds\(pull) 1800000000",
                     "stowage_volume_last_sync_timestamp_seconds\(push) 1800000000",
                     "stowage_volume_syncs_total\(push) 1", "stowage_volume_sync_failures_total\(push) 1"] {
            #expect(text.contains(line + "\n"), "\(line) in:\n\(text)")
        }
        #expect(!text.contains("stowage_volume_last_success_timestamp_seconds\(push)"), "a push never succeeded:\n\(text)")
        #expect(!text.contains("stowage_volume_sync_interval_seconds"), "no schedule, no interval")
    }

    @Test func aScheduleGivesItsIntervalAndAForgottenVolumeHasNoSeries() throws {
        let registry = MetricsRegistry()
        let metrics = VolumeMetrics(registry: registry, kind: "SharedVolume")
        let hourly = try CronSchedule(parsing: "0 * * * *")
        for name in ["a", "b"] {
            metrics.finished(namespace: "ns", name: name, status(.push, .succeeded).lastSync!)
            metrics.observe(namespace: "ns", name: name, status: status(.push, .succeeded), schedule: hourly, now: end)
        }
        #expect(registry.render().contains(#"stowage_volume_sync_interval_seconds{kind="SharedVolume",name="a",namespace="ns"} 3600"#))
        metrics.forget(namespace: "ns", name: "a")
        let text = registry.render()
        #expect(!text.contains(#"name="a""#), "a's series are gone:\n\(text)")
        #expect(text.contains(#"name="b""#))
        metrics.forgetAll()
        #expect(registry.render() == "", "nothing is left once the reconciler stops")
    }
}
