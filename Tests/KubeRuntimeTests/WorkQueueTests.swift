import Testing
@testable import KubeRuntime

@Suite struct WorkQueueTests {
    @Test func deduplicatesWaitingKeys() async {
        let q = WorkQueue()
        for _ in 0..<100 { await q.add("a") }
        await q.add("b")
        #expect(await q.depth == 2)
        #expect(await q.next() == "a")
        #expect(await q.next() == "b")
    }

    @Test func aKeyIsNeverHandedOutTwiceAtOnce() async {
        let q = WorkQueue()
        await q.add("a")
        let first = await q.next()
        #expect(first == "a")
        await q.add("a") // changed while being processed
        #expect(await q.depth == 0, "held back until the worker is done")
        await q.done("a")
        #expect(await q.depth == 1)
        #expect(await q.next() == "a")
    }

    @Test func delayedAddsArriveAfterTheirDelay() async {
        let q = WorkQueue()
        let timers = Task { await q.runTimers() }
        defer { timers.cancel() }
        let start = ContinuousClock.now
        await q.add("late", after: .milliseconds(300))
        await q.add("soon", after: .milliseconds(50))
        #expect(await q.next() == "soon")
        #expect(await q.next() == "late")
        #expect(ContinuousClock.now - start >= .milliseconds(300))
    }

    @Test func failuresBackOffPerKeyAndForgetResets() async {
        let q = WorkQueue()
        await q.addRateLimited("k")
        await q.addRateLimited("k")
        await q.addRateLimited("k")
        #expect(await q.failureCount("k") == 3)
        await q.forget("k")
        #expect(await q.failureCount("k") == 0)
    }

    @Test func shutdownDrainsQueuedKeysThenEnds() async {
        let q = WorkQueue()
        await q.add("a")
        await q.add("b")
        await q.shutDown()
        await q.add("c") // refused after shutdown
        #expect(await q.next() == "a")
        #expect(await q.next() == "b")
        #expect(await q.next() == nil)
    }

    @Test func waitingWorkersAreReleasedAtShutdown() async {
        let q = WorkQueue()
        async let got = q.next()
        try? await Task.sleep(for: .milliseconds(50))
        await q.shutDown()
        #expect(await got == nil)
    }
}
