import Crypto
import Foundation
import HTTP
import ObjectStore
import SyncContract
import Synchronization

/// One file of an HTTP pull: where it comes from, where it goes, what it must hash to.
public struct HTTPPullFile: Sendable, Hashable {
    public var url: String
    /// Relative to the volume's root.
    public var path: String
    public var checksum: Checksum?

    public init(url: String, path: String, checksum: Checksum? = nil) {
        self.url = url
        self.path = path
        self.checksum = checksum
    }

    /// A digest the download must have.
    public struct Checksum: Sendable, Hashable, CustomStringConvertible {
        public enum Algorithm: String, Sendable, Hashable, CaseIterable {
            case sha256, sha1, md5
        }
        public var algorithm: Algorithm
        /// Lowercase hex.
        public var hex: String

        public init(algorithm: Algorithm, hex: String) {
            self.algorithm = algorithm
            self.hex = hex.lowercased()
        }

        /// The same algorithm's digest of the content.
        func of(_ digest: ContentDigest) -> String {
            switch algorithm {
            case .sha256: digest.sha256
            case .sha1: digest.sha1
            case .md5: digest.md5
            }
        }

        public var description: String { "\(algorithm.rawValue):\(hex)" }
    }
}

/// Pulls files from HTTP(S) URLs into a volume directory, as an RO mirror: the volume ends
/// up holding exactly the listed files, with the same manifest, journal and staging as an
/// S3 pull (`SyncEngine`), so `stowage wait`, phases and input-change warnings work alike.
///
/// Each file is fetched with one GET. A file the last pull left intact (same URL, size and
/// mtime as its manifest entry) is asked for conditionally (`If-None-Match` with its ETag,
/// `If-Modified-Since` with its Last-Modified): `304` keeps it. Bytes are staged in
/// `.stowage/partial/` under a name derived from the URL and path, beside a note of the response's
/// validators, and survive a failed or killed run: the next attempt (in the same run after a
/// broken connection, or the next run) asks for the rest with `Range` and `If-Range`, so it
/// either appends to bytes of the very same representation (`206`) or starts over (`200`).
/// A whole download is hashed (MD5, SHA-1, SHA-256), checked against its checksum when it
/// has one, and only then committed into place; one that fails its checksum is deleted.
/// Files of the volume that are not listed are deleted, after every download succeeded.
public struct HTTPPullEngine: Sendable {
    public struct Options: Sendable {
        public var files: [HTTPPullFile]
        /// The volume's root directory.
        public var root: String
        public var dryRun = false
        /// Files downloaded at once.
        public var concurrency = 4
        /// Which sync of the volume this is (recorded in the manifest, for `stowage wait`).
        public var sequence: Int?
        /// Attempts after the first, per file, when a connection breaks or the server answers
        /// 408, 429 or 5xx; each resumes where the bytes stopped.
        public var retries = 3
        /// The wait before the first retry, doubled for each next one.
        public var retryDelay: Duration = .seconds(1)
        /// Redirects followed per request.
        public var maxRedirects = 10

        public init(files: [HTTPPullFile], root: String) {
            self.files = files
            self.root = root
        }

        /// What the manifest and report name as the source: the URLs, sorted, each once.
        public var source: String { Set(files.map(\.url)).sorted().joined(separator: " ") }
    }

    public let client: HTTPClient
    public let options: Options
    public let progress: SyncProgress

    public init(client: HTTPClient, options: Options, progress: SyncProgress = SyncProgress()) {
        self.client = client
        self.options = options
        self.progress = progress
    }

    /// A client for downloads: no total time limit (a large file takes what it takes), but a
    /// transfer that moves nothing for `stall` is abandoned (and resumed by a retry).
    public static func client(caBundle: String? = nil, stall: Duration = .seconds(60)) -> HTTPClient {
        var configuration = HTTPClientConfiguration()
        configuration.requestTimeout = nil
        configuration.lowSpeedTime = stall
        configuration.lowSpeedLimit = 1
        if let caBundle { configuration.tls.trustRoots = .file(caBundle) }
        return HTTPClient(configuration: configuration)
    }

    static let partialDirectory = ".stowage/partial"

    public func run() async throws -> SyncReport {
        let started = ContinuousClock.now
        let root = options.root
        var report = SyncReport(direction: .pull, mode: .readOnly, source: options.source, dryRun: options.dryRun)
        func finish() { report.seconds = (ContinuousClock.now - started) / .seconds(1) }
        var seen = Set<String>()
        for file in options.files {
            guard LocalTree.isSafe(file.path) else { throw SyncError(.invalidRequest, "\(file.url): \(file.path) cannot be a file in the volume") }
            guard seen.insert(file.path).inserted else { throw SyncError(.invalidRequest, "two URLs give the file \(file.path)") }
        }

        if !options.dryRun { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) }
        let scan = try LocalTree.scan(root: root)
        report.warnings += scan.warnings
        let known = try Manifest.loadPrevious(root: root).entries
        let completed = Self.completedEntries(root: root)
        let local = Dictionary(scan.files.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        let wanted = Set(options.files.map(\.path))
        let deletions = scan.files.filter { !wanted.contains($0.path) }.sorted { $0.path < $1.path }
        if options.dryRun {
            report.planned = options.files.map { "download \($0.url) to \($0.path) (unless unchanged)" } + deletions.map { "delete local \($0.path)" }
            report.deletedLocal = deletions.count
            finish()
            return report
        }

        // Stowage's state: the manifest's temporary files start afresh, partial downloads stay.
        try? FileManager.default.removeItem(atPath: root + "/" + Manifest.temporary)
        do {
            try FileManager.default.createDirectory(atPath: root + "/" + Manifest.temporary, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/" + Self.partialDirectory, withIntermediateDirectories: true)
        } catch {
            throw SyncError(.localIO, "cannot create \(root)/\(Manifest.directory): \(error)")
        }
        for partial in scan.partials { unlink(root + "/" + partial) }
        let journal = try Journal(root: root)
        progress.planned(files: options.files.count, bytes: 0)

        let outcome = await fetchAll(local: local, known: known, journal: journal)
        journal.sync()
        report.unchanged = outcome.unchanged.count
        report.downloaded = outcome.downloaded.count
        report.bytesTransferred = progress.bytesDone
        report.failures = outcome.failures
        if outcome.cancelled { throw CancellationError() }
        guard outcome.failures.isEmpty else {
            finish()
            throw SyncError(.transfersFailed, "\(outcome.failures.count) downloads failed, first: \(outcome.failures[0]); nothing was deleted", report: report)
        }

        for file in deletions {
            if unlink(root + "/" + file.path) == 0 || errno == ENOENT {
                report.deletedLocal += 1
                LocalTree.pruneEmptyParents(root: root, path: file.path)
            } else {
                report.failures.append("delete \(file.path): \(String(cString: strerror(errno)))")
            }
        }
        var manifest = Manifest(direction: .pull, source: options.source, completed: Date(), entries: outcome.unchanged + outcome.downloaded)
        manifest.sequence = options.sequence
        try manifest.write(root: root)
        report.manifestDigest = manifest.digest
        report.changedSinceLastSync = Self.changes(from: completed, to: manifest.entries)
        clearPartials()
        finish()
        if !report.failures.isEmpty {
            throw SyncError(.transfersFailed, "\(report.failures.count) deletions failed, first: \(report.failures[0])", report: report)
        }
        return report
    }

    /// Inputs changed in the Valohai sense: a file whose URL the last completed pull also
    /// fetched, now with other content. A URL added to or removed from the list is the
    /// spec's change, not the input's, and a first pull has nothing to compare with.
    static func changes(from completed: [String: ManifestEntry], to entries: [ManifestEntry]) -> SyncReport.ChangedInputs {
        var changes = SyncReport.ChangedInputs()
        for entry in entries {
            guard let old = completed[entry.path], old.url != nil, old.url == entry.url, old.sha256 != entry.sha256 else { continue }
            changes.modified.append(entry.path)
            changes.changes.append(SyncReport.Change(path: entry.path, previousSHA256: old.sha256, sha256: entry.sha256))
        }
        return changes
    }

    /// The entries of the last completed run alone (no journal): what inputs are compared with.
    static func completedEntries(root: String) -> [String: ManifestEntry] {
        struct Entries: Decodable { var entries: [ManifestEntry] }
        guard let data = FileManager.default.contents(atPath: root + "/" + Manifest.file),
              let manifest = try? JSONDecoder().decode(Entries.self, from: data) else { return [:] }
        return Dictionary(manifest.entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    }

    private struct Outcome {
        var unchanged: [ManifestEntry] = []
        var downloaded: [ManifestEntry] = []
        var failures: [String] = []
        var cancelled = false
    }

    private enum Fetched: Sendable {
        case unchanged(ManifestEntry)
        case downloaded(DownloadCommitter.Item)
        case failed(String)
        case cancelled
    }

    private func fetchAll(local: [String: LocalFile], known: [String: ManifestEntry], journal: Journal) async -> Outcome {
        let committer = DownloadCommitter(root: options.root, journal: journal)
        let files = options.files
        return await withTaskGroup(of: Fetched.self) { group in
            var outcome = Outcome()
            var next = 0
            func add() {
                let file = files[next]
                next += 1
                // Intact since the last pull: asked for only if it changed.
                let previous = known[file.path]
                var conditional = previous.flatMap { p in
                    local[file.path].flatMap { $0.size == p.size && $0.mtime == p.mtime && p.url == file.url ? p : nil }
                }
                // A file that does not match the checksum now asked for is fetched whole.
                if let checksum = file.checksum, let p = conditional,
                   checksum.of(ContentDigest(md5: p.md5, sha1: p.sha1 ?? "", sha256: p.sha256)) != checksum.hex {
                    conditional = nil
                }
                group.addTask {
                    do {
                        return try await fetch(file, conditional: conditional)
                    } catch is CancellationError {
                        return .cancelled
                    } catch {
                        if Task.isCancelled { return .cancelled }
                        return .failed("\(file.path): \(error)")
                    }
                }
            }
            while next < min(files.count, max(1, options.concurrency)) { add() }
            while let result = await group.next() {
                switch result {
                case .unchanged(let entry):
                    outcome.unchanged.append(entry)
                    progress.finishedFile()
                case .downloaded(let item): committer.add(item)
                case .failed(let message): outcome.failures.append(message)
                case .cancelled: outcome.cancelled = true
                }
                if Task.isCancelled { outcome.cancelled = true }
                if next < files.count && !outcome.cancelled { add() }
            }
            let committed = await committer.finish()
            outcome.downloaded = committed.entries
            outcome.failures += committed.failures
            return outcome
        }
    }

    /// What a partial download's response said about its representation: what `If-Range`
    /// needs to resume it, kept beside its bytes.
    struct PartialNote: Codable, Equatable {
        var url: String
        var etag: String?
        var lastModified: String?

        /// The `If-Range` value: a strong ETag, else the Last-Modified date; nil when the
        /// server gave neither, and the bytes cannot be resumed safely.
        var validator: String? {
            if let etag, !etag.hasPrefix("W/"), !etag.isEmpty { return etag }
            return lastModified
        }
    }

    /// The head of the response a transfer wrote its body for, set on the transfer thread.
    private final class HeadBox: Sendable {
        let head = Mutex<HTTPResponseHead?>(nil)
    }

    /// One file: a conditional or resumed GET, retried where it broke, then hashed, checked
    /// and handed to the committer; or the previous entry when the server says `304`.
    private func fetch(_ file: HTTPPullFile, conditional: ManifestEntry?) async throws -> Fetched {
        // Named by URL and path: one URL may be listed twice, as two files.
        let key = SHA256.hash(data: Data((file.url + "\n" + file.path).utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
        let staged = options.root + "/" + Self.partialDirectory + "/" + key
        let notePath = staged + ".json"
        let fd = open(staged, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SyncError(.localIO, "cannot create \(staged): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        func discard() {
            unlink(staged)
            unlink(notePath)
        }
        var note = (FileManager.default.contents(atPath: notePath)).flatMap { try? JSONDecoder().decode(PartialNote.self, from: $0) }
        if note?.url != file.url { note = nil }

        var attempt = 0
        var lastProblem = ""
        while true {
            try Task.checkCancellation()
            if attempt > 0 {
                try await Task.sleep(for: options.retryDelay * (1 << min(attempt - 1, 6)))
            }
            attempt += 1
            var have = try Self.size(fd, staged)
            let resumeWith = have > 0 ? note?.validator : nil
            if have > 0 && resumeWith == nil {
                // Bytes of a representation no validator names: they cannot be trusted to fit.
                guard ftruncate(fd, 0) == 0 else { throw SyncError(.localIO, "cannot truncate \(staged): \(String(cString: strerror(errno)))") }
                have = 0
            }

            var request = HTTPRequest(url: file.url)
            request.maxRedirects = options.maxRedirects
            request.bufferSize = 256 << 10
            request.headers["User-Agent"] = "stowage"
            if let conditional {
                if !conditional.etag.isEmpty { request.headers["If-None-Match"] = conditional.etag }
                if let date = conditional.lastModified { request.headers["If-Modified-Since"] = date }
            }
            if let resumeWith {
                request.headers["Range"] = "bytes=\(have)-"
                request.headers["If-Range"] = resumeWith
            }
            let box = HeadBox()
            let start = have
            let progress = self.progress
            let place: @Sendable (HTTPResponseHead) -> HTTPBodyPlacement = { head in
                box.head.withLock { $0 = head }
                let placement: HTTPBodyPlacement
                switch head.status {
                case 206 where Self.contentRange(head.headers["Content-Range"])?.start == start:
                    placement = .at(start)
                case 200:
                    placement = ftruncate(fd, 0) == 0 ? .at(0) : .discard
                default:
                    return .discard
                }
                // Noted before the first byte lands, so a killed run's bytes can be resumed.
                let validators = PartialNote(url: file.url, etag: head.headers["ETag"], lastModified: head.headers["Last-Modified"])
                if let data = try? JSONEncoder().encode(validators) { try? data.write(to: URL(fileURLWithPath: notePath)) }
                if let length = head.headers["Content-Length"].flatMap(Int64.init) { progress.expect(bytes: length) }
                return placement
            }

            let response: HTTPResponse
            do {
                response = try await client.download(request, to: fd, placing: place, received: { progress.moved(bytes: Int64($0)) })
            } catch let error as HTTPError where error.isTransient {
                lastProblem = "\(error)"
                if let head = box.head.withLock({ $0 }) {
                    note = PartialNote(url: file.url, etag: head.headers["ETag"], lastModified: head.headers["Last-Modified"])
                }
                if attempt <= options.retries { continue }
                let kept = try Self.size(fd, staged)
                let resumable = kept > 0 && note?.validator != nil ? "; the \(kept) bytes received are kept, and the next pull resumes from there" : ""
                throw SyncError(.transfersFailed, "GET \(file.url): \(lastProblem) (after \(attempt) attempts\(resumable))")
            }
            let head = response.head
            note = PartialNote(url: file.url, etag: head.headers["ETag"], lastModified: head.headers["Last-Modified"])
            switch head.status {
            case 304 where conditional != nil:
                discard()
                return .unchanged(conditional!)
            case 200, 206:
                if head.status == 206 && Self.contentRange(head.headers["Content-Range"])?.start != start {
                    // A range other than the one asked for: start over.
                    _ = ftruncate(fd, 0)
                    note = nil
                    lastProblem = "the server answered \(head.headers["Content-Range"] ?? "206 without Content-Range") to bytes=\(start)-"
                    if attempt <= options.retries { continue }
                    throw SyncError(.transfersFailed, "GET \(file.url): \(lastProblem)")
                }
                let size = try Self.size(fd, staged)
                let total = head.status == 206 ? Self.contentRange(head.headers["Content-Range"])?.total : head.headers["Content-Length"].flatMap(Int64.init)
                if let total, total != size {
                    lastProblem = "the body ended after \(size) of \(total) bytes"
                    if attempt <= options.retries { continue }
                    throw SyncError(.transfersFailed, "GET \(file.url): \(lastProblem)")
                }
                return .downloaded(try await finish(file, fd: fd, staged: staged, note: notePath, size: size, head: head, discard: discard))
            case 416 where start > 0:
                // More bytes staged than the file has now: it changed; start over.
                _ = ftruncate(fd, 0)
                note = nil
                lastProblem = "HTTP 416 for bytes=\(start)-"
                if attempt <= options.retries { continue }
                throw SyncError(.transfersFailed, "GET \(file.url): \(lastProblem)")
            case 408, 429, 500...599:
                lastProblem = "HTTP \(head.status)"
                if attempt <= options.retries { continue }
                throw SyncError(.transfersFailed, "GET \(file.url): HTTP \(head.status) (after \(attempt) attempts)")
            default:
                discard()
                throw SyncError(.transfersFailed, "GET \(file.url): HTTP \(head.status)")
            }
        }
    }

    /// Hashes a whole download, checks its checksum, sets its mtime and makes it the
    /// committer's. A download that fails its checksum is deleted with its note.
    private func finish(_ file: HTTPPullFile, fd: Int32, staged: String, note: String, size: Int64, head: HTTPResponseHead,
                        discard: () -> Void) async throws -> DownloadCommitter.Item {
        let digest = try await ContentDigest.of(file: fd, length: size)
        if let checksum = file.checksum, checksum.of(digest) != checksum.hex {
            discard()
            throw SyncError(.transfersFailed, "the download from \(file.url) has \(checksum.algorithm.rawValue):\(checksum.of(digest)), but its checksum is \(checksum); it was deleted and nothing was put in the volume")
        }
        let lastModified = head.headers["Last-Modified"]
        let modified = lastModified.flatMap(Self.httpDate) ?? Date()
        let mtime = Int64(modified.timeIntervalSince1970) * 1_000_000_000
        // (1 << 30) - 2 is UTIME_OMIT (leave atime alone), a macro Swift does not import.
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2), timespec(tv_sec: Int(mtime / 1_000_000_000), tv_nsec: 0)]
        guard futimens(fd, &times) == 0 else { throw SyncError(.localIO, "cannot finish \(file.path): \(String(cString: strerror(errno)))") }
        unlink(note)
        progress.finishedFile()
        var entry = ManifestEntry(path: file.path, size: size, mtime: mtime, digest: digest, etag: head.headers["ETag"] ?? "")
        entry.url = file.url
        entry.lastModified = lastModified
        return DownloadCommitter.Item(temporary: staged, entry: entry)
    }

    /// After a pull that succeeded, every listed file is in place: what is left in the
    /// staging directory belongs to URLs no longer listed.
    private func clearPartials() {
        let directory = options.root + "/" + Self.partialDirectory
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for name in names { unlink(directory + "/" + name) }
    }

    /// `bytes START-END/TOTAL` (TOTAL may be `*`).
    static func contentRange(_ value: String?) -> (start: Int64, total: Int64?)? {
        guard let value, value.hasPrefix("bytes ") else { return nil }
        let spec = value.dropFirst(6)
        let parts = spec.split(separator: "/", maxSplits: 1)
        guard let range = parts.first, let dash = range.firstIndex(of: "-"), let start = Int64(range[..<dash]) else { return nil }
        return (start, parts.count == 2 ? Int64(parts[1]) : nil)
    }

    /// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110's preferred format).
    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    private static func size(_ fd: Int32, _ path: String) throws -> Int64 {
        var st = Foundation.stat()
        guard fstat(fd, &st) == 0 else { throw SyncError(.localIO, "cannot stat \(path): \(String(cString: strerror(errno)))") }
        return Int64(st.st_size)
    }
}

/// A sync `stowage sync` runs next to its progress reporter and signal watcher: from S3
/// (`SyncEngine`) or from HTTP(S) URLs (`HTTPPullEngine`).
public protocol SyncRunning: Sendable {
    var progress: SyncProgress { get }
    func run() async throws -> SyncReport
}

extension SyncEngine: SyncRunning {}
extension HTTPPullEngine: SyncRunning {}
