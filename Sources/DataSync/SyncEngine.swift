import Foundation
import ObjectStore
import SyncContract

/// Runs one sync between a volume directory and an S3 prefix: scan, list, plan, transfer
/// with bounded concurrency, then delete, then write the manifest.
///
/// Safety contract: downloads land in a temporary file next to their destination
/// (`LocalTree.partialPrefix`, skipped by scans and removed at the next start), are made
/// durable (in batches, see `DownloadCommitter`) and only then renamed into place;
/// uploads are whole or absent (multipart aborted on failure); deletions run only after
/// every transfer succeeded; each finished transfer is journaled, so a killed run's work
/// is not redone. Cancelling the calling task (SIGTERM in the CLI) stops new transfers,
/// aborts those in flight and leaves the journal consistent.
public struct SyncEngine: Sendable {
    public struct Options: Sendable {
        public var direction: SyncDirection
        public var mode: AccessMode
        public var bucket: String
        /// Key prefix; a non-empty prefix is treated as a folder (`/` appended).
        public var prefix: String
        /// The volume's root directory.
        public var root: String
        public var checksum = false
        public var dryRun = false
        public var maxDeletes: Int?
        /// Files transferred at once.
        public var concurrency = 16
        /// Which sync of the volume this is (the operator's Job number), recorded in the
        /// manifest so `stowage wait --after N` can tell this run's result from older ones.
        public var sequence: Int?
        /// The volume that pushes (`KIND/NAMESPACE/NAME`), recorded in the version manifest.
        public var volume: String?
        /// A pull of exactly this version (an identifier, or `latest`): see `PinnedVersion`.
        /// RO only.
        public var version: String?
        /// A push that never destroys earlier content: refused unless the bucket has
        /// versioning, so what it overwrites or deletes stays as noncurrent versions that
        /// the older version manifests name (see `stowage purge`).
        public var keepVersions = false

        public init(direction: SyncDirection, mode: AccessMode, bucket: String, prefix: String, root: String) {
            self.direction = direction
            self.mode = mode
            self.bucket = bucket
            self.prefix = prefix
            self.root = root
        }

        var keyPrefix: String { prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/" }
        var source: String { "s3://\(bucket)/\(keyPrefix)" }
    }

    public let client: S3Client
    public let options: Options
    public let progress: SyncProgress

    public init(client: S3Client, options: Options, progress: SyncProgress = SyncProgress()) {
        self.client = client
        self.options = options
        self.progress = progress
    }

    public func run() async throws -> SyncReport {
        let started = ContinuousClock.now
        var report = SyncReport(direction: options.direction, mode: options.mode, source: options.source, dryRun: options.dryRun)
        let root = options.root
        // Remote first: a wrong endpoint, key or bucket fails here, before the volume is touched.
        let objects = try await client.listObjects(bucket: options.bucket, prefix: options.keyPrefix)
        // The same listing holds the prefix's version manifests (`PREFIX/.stowage/`).
        let versions = VersionListing(objects: objects, keyPrefix: options.keyPrefix)
        if options.direction == .push && options.keepVersions { try await requireVersioning() }
        let pinned = try await pinnedVersion(versions, objects: objects)
        var remote: [RemoteFile] = pinned?.remote ?? []
        for object in objects where pinned == nil {
            let path = String(object.key.dropFirst(options.keyPrefix.count))
            if object.key.hasSuffix("/") && object.size == 0 { continue } // folder marker
            if path.hasPrefix(Manifest.directory + "/") { continue } // Stowage's own, never a file
            guard LocalTree.isSafe(path) else {
                report.warnings.append("skipped object \(object.key): its name cannot be a file in the volume")
                continue
            }
            remote.append(RemoteFile(path: path, key: object.key, size: object.size, etag: object.etag, lastModified: object.lastModified))
        }
        if options.direction == .pull && !options.dryRun {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        var scan = try LocalTree.scan(root: root)
        report.warnings += scan.warnings
        let remembered = try Manifest.loadPrevious(root: root)
        let previous = remembered.entries

        if options.checksum {
            try await addDigests(to: &scan.files, present: Set(remote.map(\.path)))
        }
        var plan = SyncPlanner.plan(local: scan.files, remote: remote, previous: previous,
                                    options: .init(direction: options.direction, mode: options.mode, checksum: options.checksum, maxDeletes: options.maxDeletes))
        if let pinned {
            Self.requireRecordedContent(&plan, pinned)
            try pinned.requireAvailable(plan.downloads)
        }
        if options.direction == .push && options.keepVersions { Self.uploadUnversioned(&plan, local: scan.files) }
        report.conflicts = plan.conflicts
        report.unchanged = plan.unchanged.count
        if let refusal = plan.refusal {
            report.seconds = (ContinuousClock.now - started) / .seconds(1)
            throw SyncError(options.mode == .readOnly && options.direction == .push ? .invalidRequest : .deletionGuard, refusal, report: report)
        }
        if options.dryRun {
            report.planned = plan.uploads.map { "upload \($0.path)" } + plan.downloads.map { "download \($0.path)" }
                + plan.remoteDeletes.map { "delete remote \($0.path)" } + plan.localDeletes.map { "delete local \($0.path)" }
            report.uploaded = plan.uploads.count
            report.downloaded = plan.downloads.count
            report.deletedRemote = plan.remoteDeletes.count
            report.deletedLocal = plan.localDeletes.count
            report.seconds = (ContinuousClock.now - started) / .seconds(1)
            return report
        }

        try prepareStateDirectory()
        // Leftovers of a killed run are partial downloads: never part of the volume.
        for partial in scan.partials { unlink(root + "/" + partial) }
        let journal = try Journal(root: root)
        progress.planned(files: plan.uploads.count + plan.downloads.count,
                         bytes: plan.uploads.reduce(0) { $0 + $1.size } + plan.downloads.reduce(0) { $0 + $1.size })
        // Pulls check each object against the latest version manifest that recorded it, or
        // against the pinned one.
        var recorded = pinned?.recorded ?? [:]
        if pinned == nil && options.direction == .pull && !plan.downloads.isEmpty {
            recorded = await recordedDigests(versions, warnings: &report.warnings)
        }
        let outcome = await transfer(plan, journal: journal, recorded: recorded, staged: pinned != nil)
        journal.sync()
        report.uploaded = outcome.entries.count { $0.0 == .push }
        report.downloaded = outcome.entries.count { $0.0 == .pull }
        report.bytesTransferred = outcome.entries.reduce(0) { $0 + $1.1.size }
        report.failures = outcome.failures
        report.warnings += outcome.warnings
        if outcome.cancelled { throw CancellationError() }
        guard outcome.failures.isEmpty else {
            report.seconds = (ContinuousClock.now - started) / .seconds(1)
            // A pinned pull names every file it could not read as recorded (up to 20).
            let failed = pinned == nil ? "first: \(outcome.failures[0]); nothing was deleted"
                : outcome.failures.sorted().prefix(20).joined(separator: "; ") + (outcome.failures.count > 20 ? "; and \(outcome.failures.count - 20) more" : "")
                    + "; nothing was pulled: the volume is as it was"
            throw SyncError(.transfersFailed, "\(outcome.failures.count) transfers failed, \(failed)", report: report)
        }

        // Every transfer succeeded: now, and only now, deletions.
        if !plan.remoteDeletes.isEmpty {
            let refused = try await client.deleteObjects(bucket: options.bucket, keys: plan.remoteDeletes.map(\.key))
            report.deletedRemote = plan.remoteDeletes.count - refused.count
            report.failures += refused.map { "delete \($0.key): \($0.error)" }
        }
        for file in plan.localDeletes {
            if unlink(root + "/" + file.path) == 0 || errno == ENOENT {
                report.deletedLocal += 1
                LocalTree.pruneEmptyParents(root: root, path: file.path)
            } else {
                report.failures.append("delete \(file.path): \(String(cString: strerror(errno)))")
            }
        }

        var entries = plan.unchanged + outcome.entries.map(\.1)
        if options.direction == .push && report.failures.isEmpty { entries = try await completeDigests(entries) }
        var manifest = Manifest(direction: options.direction, source: options.source, completed: Date(), entries: entries, deletedLocally: plan.retained)
        manifest.sequence = options.sequence
        try manifest.write(root: root)
        let retainedPaths = Set(plan.retained.map(\.path))
        report.manifestDigest = manifest.digest
        // Valohai's rule: inputs changed only if an earlier sync of this same source saw them
        // otherwise. A first pull, or the first of a new source, changed nothing.
        if remembered.source == options.source {
            report.changedSinceLastSync = SyncReport.changes(from: previous.filter { !retainedPaths.contains($0.key) }, to: manifest.entries)
        }
        if !report.failures.isEmpty {
            report.seconds = (ContinuousClock.now - started) / .seconds(1)
            throw SyncError(.transfersFailed, "\(report.failures.count) deletions failed, first: \(report.failures[0])", report: report)
        }
        if options.direction == .push {
            do {
                report.version = try await writeVersion(manifest.entries, latest: versions.latest)
            } catch {
                report.seconds = (ContinuousClock.now - started) / .seconds(1)
                throw SyncError(.transfersFailed, "every file was pushed, but the version manifest could not be written: \(error); the next push writes it", report: report)
            }
        }
        if let pinned { report.version = pinned.key.id }
        report.seconds = (ContinuousClock.now - started) / .seconds(1)
        return report
    }

    /// Writes the version manifest of a push that fully succeeded, in one PUT under a key
    /// of its own (never over another), and returns its identifier. When the latest version
    /// already has this identifier (a push that changed nothing), nothing is written.
    private func writeVersion(_ entries: [ManifestEntry], latest: VersionKey?) async throws -> String {
        let version = VersionManifest(source: options.source, volume: options.volume, entries: entries)
        let bytes = try version.encoded()
        let id = VersionManifest.id(of: bytes)
        guard latest?.id != id else { return id }
        var metadata = [VersionMetadata.files: String(version.files), VersionMetadata.bytes: String(version.bytes)]
        metadata[VersionMetadata.volume] = options.volume
        let key = VersionListing.key(VersionKey(time: Date(), id: id), keyPrefix: options.keyPrefix)
        try await client.putObject(bucket: options.bucket, key: key, data: bytes, metadata: metadata)
        return id
    }

    /// The digests the latest version manifest recorded, by path; empty (with a warning)
    /// when it cannot be read, and downloads are then checked against object metadata.
    private func recordedDigests(_ versions: VersionListing, warnings: inout [String]) async -> [String: ManifestEntry] {
        guard let latest = versions.latest else { return [:] }
        let key = VersionListing.key(latest, keyPrefix: options.keyPrefix)
        do {
            let manifest = try VersionManifest.decode(try await client.getObject(bucket: options.bucket, key: key))
            return Dictionary(manifest.entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        } catch {
            warnings.append("the version manifest \(key) is unreadable (\(error)); downloads are checked against object metadata")
            return [:]
        }
    }

    /// Entries of files synced before SHA-1 was recorded get their digests from the local
    /// file (once: the volume's manifest keeps them), so every version entry has all three.
    private func completeDigests(_ entries: [ManifestEntry]) async throws -> [ManifestEntry] {
        var completed = entries
        for (index, entry) in entries.enumerated() where entry.sha1 == nil || entry.md5.isEmpty {
            let path = options.root + "/" + entry.path
            let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw SyncError(.localIO, "cannot open \(path) to complete its digests: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let state = try Self.stat(fd, path)
            let digest = try await ContentDigest.of(file: fd, length: state.size)
            guard state == FileState(size: entry.size, mtime: entry.mtime), digest.sha256 == entry.sha256 else {
                throw SyncError(.transfersFailed, "\(entry.path) changed since it was synced; the next push uploads it and records its version")
            }
            completed[index] = ManifestEntry(path: entry.path, size: entry.size, mtime: entry.mtime, digest: digest, etag: entry.etag, versionID: entry.versionID)
        }
        return completed
    }

    private func prepareStateDirectory() throws {
        let state = options.root + "/" + Manifest.directory
        let temporary = options.root + "/" + Manifest.temporary
        // Leftovers of a killed run are partial downloads: never part of the volume.
        try? FileManager.default.removeItem(atPath: temporary)
        do {
            try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        } catch {
            throw SyncError(.localIO, "cannot create \(state): \(error)")
        }
    }

    private struct Outcome {
        var entries: [(SyncDirection, ManifestEntry)] = []
        var failures: [String] = []
        var warnings: [String] = []
        var cancelled = false
    }

    private enum Result: Sendable {
        case done(SyncDirection, ManifestEntry, warning: String?)
        /// A download is in its temporary file, waiting to be committed.
        case downloaded(DownloadCommitter.Item)
        case skipped(warning: String)
        case failed(String)
        case cancelled
    }

    /// Runs uploads and downloads, `concurrency` at a time; one failure does not stop the
    /// others (so a run makes as much progress as it can), cancellation stops all.
    /// Downloads are committed in batches (`DownloadCommitter`), also when cancelled: what
    /// was downloaded before the stop is kept.
    /// `staged` (a pinned pull) holds every download back until all succeeded, and then
    /// commits them as one batch; any failure or cancellation discards them all.
    private func transfer(_ plan: SyncPlan, journal: Journal, recorded: [String: ManifestEntry], staged: Bool) async -> Outcome {
        let committer = DownloadCommitter(root: options.root, journal: journal, staged: staged)
        enum Job: Sendable { case up(LocalFile), down(RemoteFile) }
        // Large files first, so the long transfers overlap the many small ones.
        let jobs = (plan.uploads.map { Job.up($0) } + plan.downloads.map { Job.down($0) }).sorted { a, b in
            func size(_ job: Job) -> Int64 { switch job { case .up(let l): l.size; case .down(let r): r.size } }
            return size(a) > size(b)
        }
        return await withTaskGroup(of: Result.self) { group in
            var outcome = Outcome()
            var next = 0
            func add() {
                let job = jobs[next]
                next += 1
                group.addTask {
                    do {
                        switch job {
                        case .up(let file): return try await upload(file, journal: journal)
                        case .down(let file): return try await download(file, recorded: recorded[file.path])
                        }
                    } catch is CancellationError {
                        return .cancelled
                    } catch {
                        if Task.isCancelled { return .cancelled }
                        let path = switch job { case .up(let l): l.path; case .down(let r): r.path }
                        return .failed("\(path): \(error)")
                    }
                }
            }
            while next < min(jobs.count, max(1, options.concurrency)) { add() }
            while let result = await group.next() {
                switch result {
                case .done(let direction, let entry, let warning):
                    outcome.entries.append((direction, entry))
                    if let warning { outcome.warnings.append(warning) }
                case .downloaded(let item): committer.add(item)
                case .skipped(let warning): outcome.warnings.append(warning)
                case .failed(let message): outcome.failures.append(message)
                case .cancelled: outcome.cancelled = true
                }
                if Task.isCancelled { outcome.cancelled = true }
                if next < jobs.count && !outcome.cancelled { add() }
            }
            let committed = await committer.finish(discard: staged && (outcome.cancelled || !outcome.failures.isEmpty))
            outcome.entries += committed.entries.map { (.pull, $0) }
            outcome.failures += committed.failures
            return outcome
        }
    }

    private func upload(_ file: LocalFile, journal: Journal) async throws -> Result {
        let path = options.root + "/" + file.path
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return .skipped(warning: "\(file.path) disappeared before upload") }
            throw SyncError(.localIO, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let before = try Self.stat(fd, path)
        // The upload hashes the file in the read it sends from (a multipart upload starts at
        // once, see `S3Client.upload`); checksum mode's digest saves a single PUT its read.
        let known = file.digest.flatMap { file.size == before.size && file.mtime == before.mtime ? $0 : nil }
        let key = options.keyPrefix + file.path
        let uploaded = try await client.upload(bucket: options.bucket, key: key, from: fd, length: before.size,
                                               metadata: [SyncMetadata.mtime: SyncMetadata.format(mtime: before.mtime)],
                                               digestMetadata: SyncMetadata.digests, digest: known,
                                               moved: { [progress] in progress.moved(bytes: $0) })
        let after = try Self.stat(fd, path)
        progress.finishedFile()
        guard after == before else {
            // The object may mix old and new bytes; leaving it out of the manifest makes
            // the next run upload it again.
            return .skipped(warning: "\(file.path) changed while it was uploaded; it will be uploaded again next run")
        }
        let entry = ManifestEntry(path: file.path, size: before.size, mtime: before.mtime, digest: uploaded.digest, etag: uploaded.etag, versionID: uploaded.versionID)
        journal.record(entry)
        return .done(.push, entry, warning: nil)
    }

    /// Downloads into a temporary file, hashed (as its parts complete, or once whole) and
    /// checked, with the mtime set; the committer then makes it durable, puts it in place
    /// and journals it.
    private func download(_ file: RemoteFile, recorded entry: ManifestEntry?) async throws -> Result {
        try LocalTree.prepareParent(root: options.root, path: file.path)
        // Not NSString.deletingLastPathComponent: Foundation's crashes on a one-character
        // path (an object named `a` at the top of the prefix).
        let parent = file.path.lastIndex(of: "/").map { String(file.path[..<$0]) } ?? ""
        let temp = options.root + "/" + (parent.isEmpty ? "" : parent + "/") + LocalTree.partialPrefix + UUID().uuidString
        let fd = open(temp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SyncError(.localIO, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var handedOver = false
        defer {
            close(fd)
            if !handedOver { unlink(temp) }
        }
        // Large files start their write-back as parts finish, so the commit's sync is short.
        // An object whose digests are recorded is hashed with SHA-256 only (see
        // `RecordedDigest`), and MD5 is most of the CPU of a pull. The version manifest
        // vouches for the object it recorded (same ETag and size), else its metadata may.
        let (etag, etagIsMD5) = (file.etag, file.etagIsMD5)
        let version = entry.flatMap { $0.etag == etag && $0.size == file.size ? RecordedDigest.version($0) : nil }
        let (info, computed) = try await client.downloadWithDigest(
            bucket: options.bucket, key: file.key, versionID: file.versionID, to: fd, size: file.size, etag: file.etag, writeBehind: file.size >= 8 << 20,
            algorithms: { head in RecordedDigest.algorithms(version ?? .metadata(head.metadata), etag: etag, etagIsMD5: etagIsMD5) },
            moved: { [progress] in progress.moved(bytes: $0) })
        let digest = try RecordedDigest.verify(computed, against: version ?? .metadata(info.metadata), etag: etag, etagIsMD5: etagIsMD5)
        let mtime = info.metadata[SyncMetadata.mtime].flatMap(SyncMetadata.parse(mtime:))
            ?? Int64(file.lastModified.timeIntervalSince1970) * 1_000_000_000
        // (1 << 30) - 2 is UTIME_OMIT (leave atime alone), a macro Swift does not import.
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2),
                     timespec(tv_sec: Int(mtime.quotientAndRemainder(dividingBy: 1_000_000_000).quotient), tv_nsec: Int(mtime % 1_000_000_000))]
        guard futimens(fd, &times) == 0 else {
            throw SyncError(.localIO, "cannot finish \(file.path): \(String(cString: strerror(errno)))")
        }
        handedOver = true
        progress.finishedFile()
        let entry = ManifestEntry(path: file.path, size: info.size, mtime: mtime, digest: digest, etag: file.etag, versionID: info.versionID ?? file.versionID)
        return .downloaded(DownloadCommitter.Item(temporary: temp, entry: entry))
    }

    /// Hashes, `concurrency` at a time, the local files that also exist remotely.
    private func addDigests(to files: inout [LocalFile], present: Set<String>) async throws {
        let root = options.root
        let indices = files.indices.filter { present.contains(files[$0].path) }
        let snapshot = files
        let digests = try await withThrowingTaskGroup(of: (Int, ContentDigest?).self) { group in
            var results: [(Int, ContentDigest?)] = []
            var next = 0
            func add() {
                let index = indices[next]
                next += 1
                group.addTask {
                    let fd = open(root + "/" + snapshot[index].path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
                    guard fd >= 0 else { return (index, nil) }
                    defer { close(fd) }
                    return (index, try await ContentDigest.of(file: fd, length: snapshot[index].size))
                }
            }
            while next < min(indices.count, max(1, options.concurrency)) { add() }
            while let result = try await group.next() {
                results.append(result)
                if next < indices.count { add() }
            }
            return results
        }
        for (index, digest) in digests { files[index].digest = digest }
    }

    private struct FileState: Equatable {
        var size: Int64
        var mtime: Int64
    }

    private static func stat(_ fd: Int32, _ path: String) throws -> FileState {
        var st = Foundation.stat()
        guard fstat(fd, &st) == 0 else { throw SyncError(.localIO, "cannot stat \(path): \(String(cString: strerror(errno)))") }
        return FileState(size: Int64(st.st_size), mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }
}
