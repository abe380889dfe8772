import SyncContract
import Testing

@Suite struct SyncExitCodeTests {
    @Test func theHelpTableListsEveryCodeOnceWithItsMeaning() {
        let lines = SyncExitCode.table.split(separator: "\n").map(String.init)
        #expect(lines.count == SyncExitCode.allCases.count)
        for (line, code) in zip(lines, SyncExitCode.allCases) {
            #expect(line.hasPrefix("  \(code.rawValue) "), "\(line)")
            #expect(line.hasSuffix(code.meaning))
        }
        // The operator reads a guard refusal back from the pod's exit status.
        #expect(SyncExitCode(rawValue: 3) == .guardRefused)
    }
}
