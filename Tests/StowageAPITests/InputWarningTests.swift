import SyncContract
import Testing
@testable import StowageAPI

/// `status.warning` after a pull names each changed input with both digests (issue 15, item 3).
@Suite struct InputWarningTests {
    let a = ChangedInput(path: "data/a.csv", previousSHA256: "11", sha256: "22")

    @Test func aPullNamesEachChangedFileWithBothDigests() {
        let record = SyncRecord(direction: .pull, result: .succeeded, changedInputs: [
            a, ChangedInput(path: "new.csv", previousSHA256: nil, sha256: "33"), ChangedInput(path: "old.csv", previousSHA256: "44", sha256: nil),
        ])
        #expect(record.inputWarning == "inputs changed since the previous sync of this source: data/a.csv sha256:11 -> sha256:22; new.csv added sha256:33; old.csv removed (was sha256:44)")
    }

    @Test func longListsAreSummarised() {
        let many = (0..<8).map { ChangedInput(path: "f\($0)", previousSHA256: "0", sha256: "1") }
        let warning = SyncRecord(direction: .pull, result: .succeeded, changedInputs: many).inputWarning
        #expect(warning?.hasSuffix("f4 sha256:0 -> sha256:1; and 3 more") == true, "\(warning ?? "nil")")
    }

    @Test func nothingChangedOrNoPullSaysNothing() {
        #expect(SyncRecord(direction: .pull, result: .succeeded).inputWarning == nil)
        #expect(SyncRecord(direction: .pull, result: .succeeded, changedInputs: []).inputWarning == nil)
        #expect(SyncRecord(direction: .push, result: .succeeded, changedInputs: [a]).inputWarning == nil)
        #expect(SyncRecord(direction: .pull, result: .failed, changedInputs: [a]).inputWarning == nil)
    }
}
