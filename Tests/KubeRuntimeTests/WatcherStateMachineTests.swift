import Testing
@testable import KubeRuntime

@Suite struct WatcherStateMachineTests {
    @Test func listThenWatchThenResume() {
        var m = WatcherStateMachine()
        #expect(m.on(.start) == .list(after: .zero))
        #expect(m.on(.listed(resourceVersion: "10")) == .watch(from: "10", after: .zero))
        #expect(m.on(.progressed(resourceVersion: "15")) == .none)
        // A server-side watch timeout resumes from the last version, without a re-list.
        #expect(m.on(.watchEnded(healthyFor: .seconds(290))) == .watch(from: "15", after: .zero))
    }

    @Test func goneReListsAtOnceThenBacksOff() {
        var m = WatcherStateMachine()
        _ = m.on(.start)
        _ = m.on(.listed(resourceVersion: "10"))
        #expect(m.on(.watchExpired) == .list(after: .zero))
        #expect(m.on(.watchExpired) == .list(after: .milliseconds(1600)))
        #expect(m.resourceVersion == nil)
        _ = m.on(.listed(resourceVersion: "20"))
        m.resetBackoff()
        #expect(m.on(.watchExpired) == .list(after: .zero))
    }

    @Test func failuresBackOffFrom800msTo30sAndResetAfterAQuietPeriod() {
        var m = WatcherStateMachine()
        _ = m.on(.start)
        _ = m.on(.listed(resourceVersion: "1"))
        var delays: [Duration] = []
        for _ in 0..<8 {
            if case .watch(_, let d) = m.on(.watchFailed(healthyFor: .milliseconds(10))) { delays.append(d) }
        }
        #expect(delays == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                           .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)])
        // A watch that stayed healthy for the quiet period resets the backoff.
        #expect(m.on(.watchFailed(healthyFor: .seconds(300))) == .watch(from: "1", after: .milliseconds(800)))
        #expect(m.on(.listFailed) == .list(after: .milliseconds(1600)))
    }
}
