import Synchronization

/// Counters a running sync updates and a progress reporter reads, from any thread.
public final class SyncProgress: Sendable {
    private let filesDoneCounter = Atomic<Int>(0)
    private let bytesDoneCounter = Atomic<Int64>(0)
    private let filesTotalCounter = Atomic<Int>(0)
    private let bytesTotalCounter = Atomic<Int64>(0)

    public init() {}

    public var filesDone: Int { filesDoneCounter.load(ordering: .relaxed) }
    public var bytesDone: Int64 { bytesDoneCounter.load(ordering: .relaxed) }
    public var filesTotal: Int { filesTotalCounter.load(ordering: .relaxed) }
    public var bytesTotal: Int64 { bytesTotalCounter.load(ordering: .relaxed) }

    func planned(files: Int, bytes: Int64) {
        filesTotalCounter.store(files, ordering: .relaxed)
        bytesTotalCounter.store(bytes, ordering: .relaxed)
    }

    /// More bytes to move than planned: an HTTP download's size is known only from its
    /// response.
    func expect(bytes: Int64) {
        bytesTotalCounter.add(bytes, ordering: .relaxed)
    }

    /// Bytes that reached their destination: every part of a large transfer as it
    /// finishes, so a progress line moves during a 1 GiB file, not only after it.
    func moved(bytes: Int64) {
        bytesDoneCounter.add(bytes, ordering: .relaxed)
    }

    func finishedFile() {
        filesDoneCounter.add(1, ordering: .relaxed)
    }
}
