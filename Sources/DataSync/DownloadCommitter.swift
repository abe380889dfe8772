import Dispatch
import Foundation
import ObjectStore
import Synchronization

/// Makes finished downloads durable and visible in batches instead of one by one.
///
/// A download is written to a temporary file next to its destination
/// (`LocalTree.partialPrefix`) and handed over here. A
/// batch is committed in four steps, in this order, on one serial queue (so it never
/// holds up the transfers, which go on filling the next batch):
/// 1. the data of every temporary file reaches the disk: one `syncfs` of the volume's file
///    system, or an fsync per file where `syncfs` is missing or fails;
/// 2. each file is renamed into place (a file in the volume is therefore always whole);
/// 3. the renames reach the disk: `syncfs` again, or an fsync per parent directory;
/// 4. the files are journaled: only a durable, visible file is ever recorded as done.
///
/// On ext4 an fsync of a file and of its directory costs a journal commit each (about
/// 5 ms together here), which made a pull of 10,000 small files wait on 20,000 commits;
/// a batch costs two commits. A run killed before a batch is committed leaves only
/// temporary files (skipped by the scan, removed at the next start) and redoes those
/// downloads.
///
/// A `staged` committer (a pinned pull) commits nothing until `finish`, and then either all
/// of it as one batch or, told to discard, none: the volume gets the whole version or
/// stays as it was.
final class DownloadCommitter: Sendable {
    struct Item: Sendable {
        /// The temporary file, complete and closed.
        var temporary: String
        var entry: ManifestEntry
    }

    /// A batch is committed once it holds this many files or bytes, or its oldest file has
    /// waited this long (checked as files arrive) and at the end of the run.
    static let batchFiles = 512
    static let batchBytes: Int64 = 256 << 20
    static let batchAge: Duration = .milliseconds(500)

    private struct State {
        var pending: [Item] = []
        var pendingBytes: Int64 = 0
        var oldest: ContinuousClock.Instant?
        var committed: [ManifestEntry] = []
        var failures: [String] = []

        mutating func take() -> [Item] {
            defer { pending = []; pendingBytes = 0; oldest = nil }
            return pending
        }
    }

    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "stowage-commit")
    private let root: String
    private let journal: Journal
    private let staged: Bool

    init(root: String, journal: Journal, staged: Bool = false) {
        self.root = root
        self.journal = journal
        self.staged = staged
    }

    /// Queues a finished download; starts committing the batch when it is full or old.
    func add(_ item: Item) {
        let batch: [Item]? = state.withLock { s in
            s.pending.append(item)
            s.pendingBytes += item.entry.size
            let now = ContinuousClock.now
            if s.oldest == nil { s.oldest = now }
            guard !staged, s.pending.count >= Self.batchFiles || s.pendingBytes >= Self.batchBytes || now - s.oldest! >= Self.batchAge else { return nil }
            return s.take()
        }
        if let batch { queue.async { self.commit(batch) } }
    }

    /// Commits what is still pending (or, with `discard`, removes it), waits for every
    /// batch, and returns the files now in place (journaled) and those that could not be put there.
    func finish(discard: Bool = false) async -> (entries: [ManifestEntry], failures: [String]) {
        let batch = state.withLock { $0.take() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                if discard {
                    for item in batch { unlink(item.temporary) }
                } else if !batch.isEmpty {
                    self.commit(batch)
                }
                done.resume()
            }
        }
        return state.withLock { ($0.committed, $0.failures) }
    }

    private func commit(_ batch: [Item]) {
        var failures: [String] = []
        let rootDescriptor = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if rootDescriptor >= 0 { close(rootDescriptor) } }

        // 1. Data on disk before any rename.
        var ready = batch
        if !(rootDescriptor >= 0 && FileSystem.syncFilesystem(rootDescriptor)) {
            ready = batch.filter { item in
                let fd = open(item.temporary, O_RDONLY | O_CLOEXEC)
                let synced = fd >= 0 && fsync(fd) == 0
                let reason = String(cString: strerror(errno))
                if fd >= 0 { close(fd) }
                if !synced {
                    failures.append("\(item.entry.path): cannot fsync the download: \(reason)")
                    unlink(item.temporary)
                }
                return synced
            }
        }

        // 2. Into place.
        var placed: [ManifestEntry] = []
        var parents = Set<String>()
        for item in ready {
            do {
                let destination = try place(item)
                placed.append(item.entry)
                parents.insert((destination as NSString).deletingLastPathComponent)
            } catch {
                failures.append("\(item.entry.path): \(error)")
                unlink(item.temporary)
            }
        }

        // 3. The renames on disk before they are journaled.
        if !(rootDescriptor >= 0 && FileSystem.syncFilesystem(rootDescriptor)) {
            for parent in parents { DurableFile.syncDirectory(parent) }
        }

        // 4. Journaled: a killed run's next run takes these as done.
        for entry in placed { journal.record(entry) }
        state.withLock { s in
            s.committed += placed
            s.failures += failures
        }
    }

    private func place(_ item: Item) throws -> String {
        let path = item.entry.path
        try LocalTree.prepareParent(root: root, path: path)
        let destination = root + "/" + path
        var st = Foundation.stat()
        if lstat(destination, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR {
            throw SyncError(.localIO, "\(path) is a directory in the volume and a file in object storage")
        }
        guard rename(item.temporary, destination) == 0 else {
            throw SyncError(.localIO, "cannot move \(path) into place: \(String(cString: strerror(errno)))")
        }
        return destination
    }
}
