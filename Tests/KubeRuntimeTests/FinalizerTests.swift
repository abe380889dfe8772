import Foundation
import KubeClient
import KubeModel
import KubeTesting
import Testing
@testable import KubeRuntime

@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct FinalizerTests {
    static let name = "test.stowage.io/cleanup"

    struct CleanupFailed: Error {}

    @Test func addsItselfRunsApplyAndCleansUpBeforeTheObjectGoes() async throws {
        let cluster = try await RuntimeTestCluster("fin")
        let configMaps = cluster.resource(ConfigMap.self)
        let created = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "root"), data: ["a": "1"]))
        #expect(created.metadata.finalizers == nil)

        var applied: [ConfigMap] = []
        let first = try await finalizer(configMaps, name: Self.name, object: created,
                                        apply: { applied.append($0); return .done },
                                        cleanup: { _ in Issue.record("cleanup of a live object"); return .done })
        #expect(first == .done)
        #expect(applied.count == 1)
        #expect(applied.first?.metadata.finalizers == [Self.name], "apply sees the object with the finalizer")
        #expect(try await configMaps.get("root").metadata.finalizers == [Self.name])

        // Again: idempotent, no second entry.
        let fresh = try await configMaps.get("root")
        _ = try await finalizer(configMaps, name: Self.name, object: fresh, apply: { applied.append($0); return .requeue(after: .seconds(5)) },
                                cleanup: { _ in .done })
        #expect(applied.count == 2)
        #expect(try await configMaps.get("root").metadata.finalizers == [Self.name])

        // Delete: the object stays, marked, until cleanup is done.
        try await configMaps.delete("root")
        let deleting = try await configMaps.get("root")
        #expect(deleting.metadata.deletionTimestamp != nil)
        var cleaned = 0
        let last = try await finalizer(configMaps, name: Self.name, object: deleting,
                                       apply: { _ in Issue.record("apply while deleting"); return .done },
                                       cleanup: { _ in cleaned += 1; return .done })
        #expect(last == .done)
        #expect(cleaned == 1)
        await #expect { try await configMaps.get("root") } throws: { ($0 as? KubeClientError)?.apiCode == .notFound }
    }

    @Test func aFailingCleanupKeepsTheObject() async throws {
        let cluster = try await RuntimeTestCluster("fin-fail")
        let configMaps = cluster.resource(ConfigMap.self)
        let created = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "root")))
        _ = try await finalizer(configMaps, name: Self.name, object: created, apply: { _ in .done }, cleanup: { _ in .done })
        try await configMaps.delete("root")

        await #expect(throws: CleanupFailed.self) {
            _ = try await finalizer(configMaps, name: Self.name, object: try await configMaps.get("root"),
                                    apply: { _ in .done }, cleanup: { _ in throw CleanupFailed() })
        }
        #expect(try await configMaps.get("root").metadata.finalizers == [Self.name])

        // Not finished yet (waiting for a sync, say): still kept.
        let later = try await finalizer(configMaps, name: Self.name, object: try await configMaps.get("root"),
                                        apply: { _ in .done }, cleanup: { _ in .requeue(after: .seconds(1)) })
        #expect(later == .requeue(after: .seconds(1)))
        #expect(try await configMaps.get("root").metadata.finalizers == [Self.name])

        _ = try await finalizer(configMaps, name: Self.name, object: try await configMaps.get("root"),
                                apply: { _ in .done }, cleanup: { _ in .done })
        await #expect { try await configMaps.get("root") } throws: { ($0 as? KubeClientError)?.apiCode == .notFound }
    }

    @Test func concurrentEditsOfTheListConflictInsteadOfBeingLost() async throws {
        let cluster = try await RuntimeTestCluster("fin-race")
        let configMaps = cluster.resource(ConfigMap.self)
        let stale = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "root")))
        // Someone else adds their finalizer after we read the object.
        _ = try await configMaps.patch("root", .merge, ["metadata": ["finalizers": ["other.io/keep"]]])

        await #expect(throws: KubeClientError.self) {
            _ = try await finalizer(configMaps, name: Self.name, object: stale, apply: { _ in .done }, cleanup: { _ in .done })
        }
        #expect(try await configMaps.get("root").metadata.finalizers == ["other.io/keep"], "the other finalizer survives")

        // From a fresh read it appends, keeping the other one.
        _ = try await finalizer(configMaps, name: Self.name, object: try await configMaps.get("root"), apply: { _ in .done }, cleanup: { _ in .done })
        #expect(try await configMaps.get("root").metadata.finalizers == ["other.io/keep", Self.name])

        // Deleting: ours goes, theirs stays (and so does the object, for them).
        try await configMaps.delete("root")
        _ = try await finalizer(configMaps, name: Self.name, object: try await configMaps.get("root"), apply: { _ in .done }, cleanup: { _ in .done })
        let left = try await configMaps.get("root")
        #expect(left.metadata.finalizers == ["other.io/keep"])
        // Ours is gone: nothing more to do.
        #expect(try await finalizer(configMaps, name: Self.name, object: left, apply: { _ in .done }, cleanup: { _ in Issue.record("cleanup twice"); return .done }) == .done)
        _ = try await configMaps.patch("root", .merge, ["metadata": ["finalizers": nil]])
    }
}
