import SyncContract
import Testing

@Suite struct SyncArgumentsRenderingTests {
    @Test func anHTTPPullNamesTheDirectoryAloneAndEveryURL() {
        var arguments = SyncArguments(direction: .pull, source: .http(["https://a.example/x#path=x", "https://b.example/y"]),
                                      directory: "/data", mode: .readOnly)
        arguments.sequence = 2
        #expect(arguments.commandLine == ["sync", "pull", "/data", "--mode", "RO", "--http", "https://a.example/x#path=x",
                                          "--http", "https://b.example/y", "--sequence", "2"])
    }

    @Test func optionsAwayFromTheirDefaultsAreWritten() {
        var arguments = SyncArguments(direction: .push, source: .s3("s3://b/p"), directory: "/data", mode: .readWriteDelete)
        arguments.partChecksum = .md5
        arguments.concurrency = 4
        arguments.progressInterval = 15
        arguments.virtualHosted = true
        arguments.keepVersions = true
        let line = arguments.commandLine
        for (flag, value) in [(SyncArguments.Flag.partChecksum, "md5"), (.concurrency, "4"), (.progressInterval, "15")] {
            #expect(line.firstIndex(of: flag.option).map { line[$0 + 1] } == value, "\(flag)")
        }
        #expect(line.contains("--virtual-hosted") && line.contains("--keep-versions") && !line.contains("--dry-run"))
    }
}
