import Foundation
import ObjectStore
import SyncContract

/// A pull pinned to one version manifest (`stowage sync pull --version ID`,
/// `spec.source.version`): the files it lists, each read as the version it recorded.
///
/// On a bucket with versioning every entry names its object version, and the pull reads
/// exactly that (`GetObject ?versionId=`), whatever was pushed or deleted since. An entry
/// without one (a bucket without versioning) can only be read as the current object, so
/// that object must still have the recorded ETag and size; if one the pull needs does not,
/// the pin fails before anything is downloaded, naming the files (a volume that already
/// holds the version exactly needs none of them). Every download is checked against the
/// manifest's SHA-256, and the engine stages them all and puts them in place only once every
/// one succeeded (`DownloadCommitter(staged:)`), so a failed pinned pull leaves the volume
/// as it was.
struct PinnedVersion: Sendable {
    /// What `--version` takes besides an identifier: the newest version of the prefix.
    static let latest = "latest"

    var key: VersionKey
    var manifest: VersionManifest
    /// The manifest's files as the planner sees remote files, `versionID` set where recorded.
    var remote: [RemoteFile]
    /// The manifest's entries by path: what each download is checked against.
    var recorded: [String: ManifestEntry]
    /// Files with no recorded object version whose current object is not the one recorded:
    /// `path (changed)` or `path (deleted)`, by path.
    var changed: [String: String]

    /// Whether `text` is a version's identifier (64 lowercase hex digits) or `latest`.
    static func isValid(_ text: String) -> Bool {
        text == latest || (text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })
    }

    /// Finds the pinned version among the prefix's `versions`, reads its manifest (checked
    /// against its identifier) and decides how each file is read; `objects` is the prefix's
    /// listing, the current objects.
    static func resolve(_ pin: String, versions: VersionListing, objects: [S3Object], client: S3Client, bucket: String,
                        keyPrefix: String) async throws -> PinnedVersion {
        let place = "s3://\(bucket)/\(keyPrefix)"
        let found = pin == latest ? versions.latest : versions.keys.last(where: { $0.id == pin })
        guard let found else {
            let known = versions.latest.map { "it has \(versions.keys.count) versions, the latest \($0.id) (`stowage versions` lists them)" }
                ?? "it has none: nothing was pushed there with version manifests"
            throw SyncError(.versionUnavailable, "version \(pin) is not under \(place): \(known)")
        }
        let manifestKey = VersionListing.key(found, keyPrefix: keyPrefix)
        let bytes = try await client.getObject(bucket: bucket, key: manifestKey)
        guard VersionManifest.id(of: bytes) == found.id else {
            throw SyncError(.versionUnavailable, "the manifest \(manifestKey) does not hash to its identifier \(found.id): it was altered; refusing to pull it")
        }
        let manifest: VersionManifest
        do { manifest = try VersionManifest.decode(bytes) } catch {
            throw SyncError(.versionUnavailable, "the manifest \(manifestKey) cannot be read: \(error)")
        }

        let current = Dictionary(objects.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var remote: [RemoteFile] = []
        var changed: [String: String] = [:]
        for entry in manifest.entries {
            guard LocalTree.isSafe(entry.path) else {
                throw SyncError(.versionUnavailable, "the manifest \(manifestKey) lists \(entry.path), which cannot be a file in the volume")
            }
            let key = keyPrefix + entry.path
            var file = RemoteFile(path: entry.path, key: key, size: entry.size, etag: entry.etag,
                                  lastModified: Date(timeIntervalSince1970: Double(entry.mtime) / 1e9))
            if let version = entry.versionID {
                file.versionID = version
            } else if let object = current[key] {
                if object.etag != entry.etag || object.size != entry.size { changed[entry.path] = "\(entry.path) (changed)" }
            } else {
                changed[entry.path] = "\(entry.path) (deleted)"
            }
            remote.append(file)
        }
        return PinnedVersion(key: found, manifest: manifest, remote: remote,
                             recorded: Dictionary(manifest.entries.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a }), changed: changed)
    }

    /// Fails, naming them, if any of `downloads` can no longer be read as recorded.
    func requireAvailable(_ downloads: [RemoteFile]) throws {
        let lost = downloads.compactMap { changed[$0.path] }.sorted()
        guard !lost.isEmpty else { return }
        let shown = lost.prefix(20).joined(separator: ", ") + (lost.count > 20 ? " and \(lost.count - 20) more" : "")
        throw SyncError(.versionUnavailable,
                        "version \(key.id) cannot be pulled exactly: \(lost.count) of its files changed since it was pushed, and the bucket keeps no older versions of them: \(shown); nothing was pulled (pushes with keepVersions, to a bucket with versioning, keep every version)")
    }
}

extension SyncEngine {
    /// The pinned version of a pull with `options.version`, nil without one.
    func pinnedVersion(_ versions: VersionListing, objects: [S3Object]) async throws -> PinnedVersion? {
        guard options.direction == .pull, let pin = options.version else { return nil }
        guard PinnedVersion.isValid(pin) else {
            throw SyncError(.invalidRequest, "--version \(pin) is neither a version identifier (64 hex digits, as `stowage versions` prints them) nor latest")
        }
        guard options.mode == .readOnly else {
            throw SyncError(.invalidRequest, "a pinned version is a read-only input: pull it with --mode RO (a pushed volume makes new versions)")
        }
        return try await PinnedVersion.resolve(pin, versions: versions, objects: objects, client: client, bucket: options.bucket, keyPrefix: options.keyPrefix)
    }

    /// A file the planner found in sync is so for a pinned pull only if the volume's manifest
    /// recorded the version's SHA-256 for it: the same ETag could name other bytes of a
    /// hand-written object, and the pin promises the version's bytes. Others are downloaded.
    static func requireRecordedContent(_ plan: inout SyncPlan, _ pinned: PinnedVersion) {
        let stale = Set(plan.unchanged.filter { pinned.recorded[$0.path]?.sha256 != $0.sha256 }.map(\.path))
        guard !stale.isEmpty else { return }
        plan.unchanged.removeAll { stale.contains($0.path) }
        plan.downloads += pinned.remote.filter { stale.contains($0.path) }
    }

    /// With keepVersions, files in sync whose entry names no object version (pushed before
    /// the bucket had versioning) are uploaded again, so that every entry of the version
    /// manifest names a version a later push cannot replace.
    static func uploadUnversioned(_ plan: inout SyncPlan, local: [LocalFile]) {
        let unversioned = Set(plan.unchanged.filter { $0.versionID == nil }.map(\.path))
        guard !unversioned.isEmpty else { return }
        plan.unchanged.removeAll { unversioned.contains($0.path) }
        plan.uploads += local.filter { unversioned.contains($0.path) }
    }

    /// keepVersions' precondition: the bucket has versioning enabled, else the push is
    /// refused (in one line) before anything moves.
    func requireVersioning() async throws {
        let state = try await client.bucketVersioning(options.bucket)
        guard state != .enabled else { return }
        let bucket = options.bucket
        throw SyncError(.invalidRequest,
                        "keepVersions needs object versioning on bucket \(bucket), whose versioning is \(state == .off ? "off" : "suspended"): enable it (aws s3api put-bucket-versioning --bucket \(bucket) --versioning-configuration Status=Enabled) or push without keepVersions; nothing was pushed")
    }
}
