import Foundation
import SyncContract
import Testing

@Suite struct SyncRecordTests {
    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func aRecordComesBackFromItsTerminationMessage() throws {
        let record = SyncRecord(direction: .push, result: .failed, start: Self.start, end: Self.start + 12, files: 3, bytes: 4096,
                                deleted: 0, message: "refused: 9 deletions exceed --max-deletes 7",
                                reason: SyncExitCode.guardRefused.reason,
                                changedInputs: [ChangedInput(path: "a.csv", previousSHA256: "0f", sha256: "1e")])
        let message = record.terminationMessage()
        #expect(SyncRecord(terminationMessage: message) == record)
        #expect(message.contains(#""reason":"DeleteGuard""#))
        // A pod that died before writing one leaves its last log lines instead.
        #expect(SyncRecord(terminationMessage: "panic: out of memory\n") == nil)
    }

    @Test func aLongRecordIsCutToTheLimitInputsFirstThenTheMessage() throws {
        let inputs = (0..<500).map { ChangedInput(path: "data/file-\($0).csv", previousSHA256: String(repeating: "a", count: 64),
                                                   sha256: String(repeating: "b", count: 64)) }
        var record = SyncRecord(direction: .pull, result: .succeeded, start: Self.start, end: Self.start, changedInputs: inputs)
        let cut = try #require(SyncRecord(terminationMessage: record.terminationMessage()))
        #expect(record.terminationMessage().utf8.count <= SyncRecord.terminationMessageLimit)
        let kept = try #require(cut.changedInputs)
        #expect(!kept.isEmpty && kept.count < inputs.count && Array(inputs.prefix(kept.count)) == kept)

        record.changedInputs = nil
        record.result = .failed
        record.message = String(repeating: "x", count: 10_000)
        let short = try #require(SyncRecord(terminationMessage: record.terminationMessage()))
        #expect(short.message?.count == 2000 && short.result == .failed)
        #expect(record.terminationMessage(limit: 100_000).utf8.count > 10_000, "nothing is cut below the limit")
    }
}
