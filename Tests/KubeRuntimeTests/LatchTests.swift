import Testing
@testable import KubeRuntime

@Suite struct LatchTests {
    @Test func answersAtOnceWhenTheAnswerIsThere() async throws {
        let latch = Latch(3)
        let got = try await latch.wait { $0 > 2 ? $0 : nil }
        #expect(got == 3)
    }

    @Test func aChangeWakesWaitersWithTheStateOfThatChange() async throws {
        let latch = Latch(0)
        let waiter = Task { try await latch.wait { $0 >= 2 ? $0 * 10 : nil } }
        await untilWaiting(latch, 1)
        latch.withLock { $0 = 1 }
        #expect(latch.waiting == 1, "1 does not answer it")
        latch.withLock { $0 = 2 }
        latch.withLock { $0 = 3 }
        #expect(try await waiter.value == 20, "answered under the lock of the change to 2")
    }

    @Test func anAnswerMayConsumeTheState() async throws {
        // Two waiters on one wake-up flag: each wake-up releases exactly one of them.
        let flag = Latch(false)
        let consume: @Sendable (inout Bool) -> Int? = { woken in
            guard woken else { return nil }
            woken = false
            return 1
        }
        let released = Latch(0)
        let waiters = (0..<2).map { _ in
            Task {
                _ = try await flag.wait(for: consume)
                released.withLock { $0 += 1 }
            }
        }
        await untilWaiting(flag, 2)
        flag.withLock { $0 = true }
        try await released.wait { $0 >= 1 ? () : nil }
        #expect(flag.value == false, "the flag was consumed by the one released")
        #expect(released.value == 1)
        flag.withLock { $0 = true }
        try await released.wait { $0 == 2 ? () : nil }
        for waiter in waiters { try await waiter.value }
    }

    @Test func cancellingAWaiterEndsItsWaitWithCancellationError() async throws {
        let latch = Latch(false)
        let waiter = Task { try await latch.wait { $0 ? () : nil } }
        await untilWaiting(latch, 1)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        #expect(latch.waiting == 0, "the cancelled waiter is gone")
        latch.withLock { $0 = true }

        // Cancelled before it waits: it never registers.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await Latch(false).wait { $0 ? () : nil }
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }

    @Test func anErrorFromTheAnswerEndsTheWait() async throws {
        struct Refused: Error {}
        let port = Latch<Result<Int, any Error>?>(nil)
        let waiter = Task { try await port.result() as Int }
        port.resolve(.failure(Refused()))
        port.resolve(.success(8080)) // the first result stays
        await #expect(throws: Refused.self) { try await waiter.value }
        await #expect(throws: Refused.self) { try await port.result() as Int }
    }

    @Test func aResultComesOnceToEveryWaiter() async throws {
        let port = Latch<Result<Int, any Error>?>(nil)
        let waiters = (0..<3).map { _ in Task { try await port.result() as Int } }
        port.resolve(.success(8443))
        for waiter in waiters { #expect(try await waiter.value == 8443) }
    }

    /// Returns once `count` tasks are parked on `latch`.
    private func untilWaiting<S>(_ latch: Latch<S>, _ count: Int) async {
        while latch.waiting < count { await Task.yield() }
    }
}
