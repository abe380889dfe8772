import Foundation
import KubeClient
import KubeModel
import ServiceLifecycleTestKit
import KubeTesting
import Testing
@testable import KubeRuntime

@Suite(.tags(.integration), .timeLimit(.minutes(15))) struct EventRecorderTests {
    @Test func repeatsAggregateIntoOneEvent() async throws {
        let cluster = try await RuntimeTestCluster("events")
        let object = try await cluster.resource(ConfigMap.self).create(ConfigMap(metadata: ObjectMeta(name: "subject")))
        let recorder = EventRecorder(client: cluster.client, component: "stowage", instance: "test-1")

        for _ in 0..<5 {
            await recorder.record(object, type: .warning, reason: "SyncFailed", message: "bucket not found")
        }
        await recorder.record(object, type: .warning, reason: "SyncFailed", message: "access denied")

        let events = try await cluster.resource(Event.self).list().items.filter { $0.involvedObject.uid == object.metadata.uid }
        #expect(events.count == 2)
        let repeated = try #require(events.first { $0.message == "bucket not found" })
        #expect(repeated.count == 5)
        #expect(repeated.type == "Warning")
        #expect(repeated.reason == "SyncFailed")
        #expect(repeated.involvedObject.kind == "ConfigMap")
        #expect(repeated.involvedObject.name == "subject")
        #expect(repeated.reportingComponent == "stowage")
        #expect(repeated.reportingInstance == "test-1")
        #expect(repeated.source?.component == "stowage")
        #expect(try #require(repeated.lastTimestamp) >= (try #require(repeated.firstTimestamp)))
        #expect(events.first { $0.message == "access denied" }?.count == 1)

        // A restarted operator (a new recorder, nothing remembered) continues the same Event.
        let restarted = EventRecorder(client: cluster.client, component: "stowage", instance: "test-2")
        await restarted.record(object, type: .warning, reason: "SyncFailed", message: "bucket not found")
        let after = try await cluster.resource(Event.self).get(repeated.metadata.name!)
        #expect(after.count == 6)
    }

    @Test func postedEventsAreWrittenByTheTimeFlushReturns() async throws {
        let cluster = try await RuntimeTestCluster("events-post")
        let object = try await cluster.resource(ConfigMap.self).create(ConfigMap(metadata: ObjectMeta(name: "subject")))
        let recorder = EventRecorder(client: cluster.client, component: "stowage", instance: "test-1")
        // Posted before the recorder's service runs: buffered, then written in order.
        for i in 0..<20 { recorder.post(object, type: .normal, reason: "Step", message: "step \(i)") }
        let service = Task { await recorder.run() }
        defer { service.cancel() }
        await recorder.flush()
        let events = try await cluster.resource(Event.self).list().items.filter { $0.involvedObject.uid == object.metadata.uid }
        #expect(Set(events.compactMap(\.message)) == Set((0..<20).map { "step \($0)" }))
        let first = try #require(events.first { $0.message == "step 0" }?.firstTimestamp)
        let last = try #require(events.first { $0.message == "step 19" }?.firstTimestamp)
        #expect(first <= last, "written in the order posted")
        await recorder.flush() // nothing pending: returns at once
    }

    @Test func gracefulShutdownWritesWhatIsPostedThenDropsTheRest() async throws {
        let cluster = try await RuntimeTestCluster("events-drain")
        let object = try await cluster.resource(ConfigMap.self).create(ConfigMap(metadata: ObjectMeta(name: "subject")))
        let recorder = EventRecorder(client: cluster.client, component: "stowage", instance: "test-1")
        for i in 0..<10 { recorder.post(object, type: .normal, reason: "Step", message: "step \(i)") }
        await testGracefulShutdown { trigger in
            trigger.triggerGracefulShutdown()
            await recorder.run()
        }
        let events = try await cluster.resource(Event.self).list().items.filter { $0.involvedObject.uid == object.metadata.uid }
        #expect(Set(events.compactMap(\.message)) == Set((0..<10).map { "step \($0)" }), "everything posted before shutdown is written")
        // Posted after the service stopped: dropped, and flush does not wait for it.
        recorder.post(object, type: .normal, reason: "Step", message: "late")
        await recorder.flush()
        let after = try await cluster.resource(Event.self).list().items.filter { $0.involvedObject.uid == object.metadata.uid }
        #expect(after.count == 10)
    }

    @Test func failuresAreNotThrown() async throws {
        let cluster = try await RuntimeTestCluster("events-fail")
        let recorder = EventRecorder(client: cluster.client, component: "stowage", instance: "test")
        // A namespace that does not exist: the create fails, and record returns quietly.
        var ghost = ConfigMap(metadata: ObjectMeta(name: "ghost", namespace: "no-such-namespace-\(UInt32.random(in: 0...UInt32.max))"))
        ghost.metadata.uid = UUID().uuidString
        await recorder.record(ghost, type: .normal, reason: "Test", message: "nowhere")
        // The same recorder goes on working: a real object's Event is written, with a count
        // of 1 (the failed one left nothing remembered behind)...
        let object = try await cluster.resource(ConfigMap.self).create(ConfigMap(metadata: ObjectMeta(name: "subject")))
        await recorder.record(object, type: .normal, reason: "Test", message: "here")
        let written = try await cluster.resource(Event.self).list().items.filter { $0.involvedObject.uid == object.metadata.uid }
        #expect(written.map(\.count) == [1])
        // ...and the ghost's Event exists nowhere.
        let name = EventRecorder.eventName(for: ghost, type: .normal, reason: "Test", message: "nowhere")
        let everywhere = try await cluster.client.resource(Event.self, namespace: nil).list().items
        #expect(!everywhere.isEmpty && !everywhere.contains { $0.metadata.name == name })
    }

    @Test func namesAreStableAndDistinct() {
        var a = ConfigMap(metadata: ObjectMeta(name: "x", namespace: "ns"))
        a.metadata.uid = "uid-1"
        let n1 = EventRecorder.eventName(for: a, type: .normal, reason: "R", message: "m")
        #expect(n1 == EventRecorder.eventName(for: a, type: .normal, reason: "R", message: "m"))
        #expect(n1.hasPrefix("x.") && n1.count == 2 + 16)
        #expect(n1 != EventRecorder.eventName(for: a, type: .warning, reason: "R", message: "m"))
        #expect(n1 != EventRecorder.eventName(for: a, type: .normal, reason: "R", message: "m2"))
        var recreated = a
        recreated.metadata.uid = "uid-2"
        #expect(n1 != EventRecorder.eventName(for: recreated, type: .normal, reason: "R", message: "m"), "a new object of the same name gets new Events")
    }
}
