@testable import Controllers
import Foundation
import KubeModel
import StowageAPI
import SyncContract
import Testing

/// The spawn-progress decisions without a cluster: one Event per waiting pod for all its
/// volumes, at most one per interval while pulls run, at once for a failure and for the
/// end, nothing after the end; and the wait container's contract read back from a pod.
@Suite struct SpawnProgressTests {
    let t0 = Date(timeIntervalSince1970: 1_000_000)
    let pod = (key: "ns/jupyter-alice", volumes: ["dv/home-alice", "dv/thesis", "shv/team-a"])

    func line(_ files: Int, of total: Int) -> SyncProgressLine {
        SyncProgressLine(filesDone: files, filesTotal: total, bytesDone: Int64(files) << 20, bytesTotal: Int64(total) << 20, bytesPerSecond: 1_048_576)
    }

    @Test func oneEventSpeaksForEveryVolumeOfThePod() throws {
        let progress = SpawnProgress(interval: .seconds(15))
        let first = progress.report(volume: "dv/thesis", .pulling(nil), pods: [pod], now: t0)
        let note = try #require(first[pod.key])
        #expect(note.reason == SpawnProgress.pullingReason && !note.warning)
        #expect(note.message == "Stowage: waiting for 3 of 3 volumes: dv/home-alice not reported yet; dv/thesis pulling; shv/team-a not reported yet")
    }

    @Test func whilePullsRunANewEventIsWrittenAtMostOncePerInterval() throws {
        let progress = SpawnProgress(interval: .seconds(15))
        #expect(progress.report(volume: "dv/thesis", .pulling(line(1, of: 10)), pods: [pod], now: t0).count == 1)
        // Other volumes' news and more progress, within the interval: nothing new yet.
        #expect(progress.report(volume: "shv/team-a", .ready, pods: [pod], now: t0 + 3).isEmpty)
        #expect(progress.report(volume: "dv/thesis", .pulling(line(4, of: 10)), pods: [pod], now: t0 + 10).isEmpty)
        // A pass that did not read the log (nil) keeps the progress known.
        #expect(progress.report(volume: "dv/thesis", .pulling(nil), pods: [pod], now: t0 + 14).isEmpty)
        let later = try #require(progress.report(volume: "dv/home-alice", .pulling(line(2, of: 8)), pods: [pod], now: t0 + 15)[pod.key])
        #expect(later.message == "Stowage: waiting for 2 of 3 volumes: dv/home-alice pulling 2/8 files, 2.0/8.0 MiB; "
            + "dv/thesis pulling 4/10 files, 4.0/10.0 MiB; shv/team-a ready")
        // The same message again, after the interval: not repeated.
        #expect(progress.report(volume: "dv/thesis", .pulling(nil), pods: [pod], now: t0 + 40).isEmpty)
    }

    @Test func theEndIsSaidAtOnceAndNothingAfterIt() throws {
        let progress = SpawnProgress(interval: .seconds(15))
        let single = (key: "ns/jupyter-bob", volumes: ["dv/home-bob"])
        #expect(!progress.isReporting(pod: single.key), "never told it waits")
        #expect(progress.report(volume: "dv/home-bob", .pulling(line(1, of: 3)), pods: [single], now: t0).count == 1)
        // Told it waits: a pod that has started since is still owed the end of its report.
        #expect(progress.isReporting(pod: single.key))
        let end = try #require(progress.report(volume: "dv/home-bob", .ready, pods: [single], now: t0 + 1)[single.key])
        #expect(!progress.isReporting(pod: single.key))
        #expect(end.reason == SpawnProgress.readyReason)
        #expect(end.message == "Stowage: volume ready (dv/home-bob); the notebook starts")
        // A pass that still sees the pod waiting (its wait container has not noticed yet).
        #expect(progress.report(volume: "dv/home-bob", .ready, pods: [single], now: t0 + 30).isEmpty)
        #expect(progress.report(volume: "dv/home-bob", .pulling(line(2, of: 3)), pods: [single], now: t0 + 60).isEmpty)
    }

    @Test func aFailedVolumeIsAWarningAtOnce() throws {
        let progress = SpawnProgress(interval: .seconds(15))
        #expect(progress.report(volume: "dv/thesis", .pulling(nil), pods: [pod], now: t0).count == 1)
        let failed = try #require(progress.report(volume: "dv/thesis", .failed("AccessDenied: the bucket refused the credentials"),
                                                  pods: [pod], now: t0 + 1)[pod.key])
        #expect(failed.warning && failed.reason == SpawnProgress.failedReason)
        #expect(failed.message == "Stowage: the notebook cannot start: dv/thesis: AccessDenied: the bucket refused the credentials")
    }

    @Test func theSyncPodsProgressLineIsReadBack() throws {
        let written = line(120, of: 500)
        let log = "listing s3://b/p\n" + SyncProgressLine.prefix + line(3, of: 500).text + "\n"
            + SyncProgressLine.prefix + written.text + "\nsome other line\n"
        #expect(SyncProgressLine.last(inLog: log) == SyncProgressLine(parsing: Substring(written.text)))
        #expect(SyncProgressLine.last(inLog: log)?.done == "120/500 files, 120.0/500.0 MiB")
        #expect(SyncProgressLine.last(inLog: "listing s3://b/p\n") == nil)
        #expect(SyncProgressLine(parsing: "12 files, 1.0 MiB") == nil)
    }

    @Test func theWaitContainersArgumentsAreReadBackFromThePod() throws {
        var wait = Container(name: StowageWait.containerName, image: "stowage", command: ["stowage"],
                             args: ["wait", "--path", "/home/jovyan:3", "--path", "/data/iris", "--timeout", "600"])
        wait.volumeMounts = [VolumeMount(name: "home", mountPath: "/home/jovyan"), VolumeMount(name: "iris", mountPath: "/data/iris")]
        var spec = PodSpec(containers: [Container(name: "notebook", image: "nb")],
                           volumes: [Volume(name: "home", claimName: "dv-home-alice"), Volume(name: "iris", claimName: "dv-iris")])
        spec.initContainers = [wait]
        let awaited = StowageWait.awaited(in: Pod(metadata: ObjectMeta(name: "p"), spec: spec))
        #expect(awaited == ["dv-home-alice": .init(path: "/home/jovyan", pullAfter: 3), "dv-iris": .init(path: "/data/iris", pullAfter: nil)])
        let home = try #require(awaited["dv-home-alice"])
        #expect(!home.isSatisfied(byLastSync: nil))
        #expect(!home.isSatisfied(byLastSync: (isPull: true, sequence: 3)))
        #expect(!home.isSatisfied(byLastSync: (isPull: false, sequence: 4)))
        #expect(home.isSatisfied(byLastSync: (isPull: true, sequence: 4)))
        #expect(awaited["dv-iris"]?.isSatisfied(byLastSync: (isPull: false, sequence: 1)) == true)
        #expect(StowageWait.Awaited(path: "/home/jovyan", arrival: .pull(after: 3)).argument == "/home/jovyan:3")
        #expect(StowageWait.Awaited(path: "/data", arrival: .anyCompletedSync).argument == "/data")
    }
}
