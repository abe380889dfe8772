import DataSync
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KubeModel
import StowageAPI

/// The outcome as the operator records it in `status.lastSync`, from the termination
/// message of the sync pod (which Kubernetes caps at 4096 bytes).
enum SyncSummary {
    static func record(_ result: Result<SyncReport, any Error>, direction: DataSync.SyncDirection, start: Date, end: Date) -> StowageAPI.SyncRecord {
        let report: SyncReport?
        var message: String?
        switch result {
        case .success(let r): report = r
        case .failure(let error):
            report = (error as? SyncError)?.report
            message = "\(error)"
        }
        let changed = (report?.changedSinceLastSync.changes ?? [])
            .map { ChangedInput(path: $0.path, previousSHA256: $0.previousSHA256, sha256: $0.sha256) }
        return StowageAPI.SyncRecord(
            direction: direction == .pull ? .pull : .push, result: message == nil ? .succeeded : .failed,
            start: start, end: end,
            files: report.map { $0.uploaded + $0.downloaded }, bytes: report?.bytesTransferred,
            deleted: report.map { $0.deletedRemote + $0.deletedLocal }, manifestDigest: report?.manifestDigest, version: report?.version,
            message: message, changedInputs: changed.isEmpty ? nil : changed)
    }

    /// Writes `text` into the file at `path` in place: truncated and rewritten, never replaced.
    /// A pod's termination-message file is a bind mount the kubelet made, which a rename
    /// (as `FileManager.createFile` and `Data.write(options: .atomic)` do) cannot replace: the
    /// message would be lost while the sync succeeded.
    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            bytes = bytes.dropFirst(n)
        }
    }

    /// JSON of at most 4096 bytes: the list of changed inputs is cut first, then the message.
    static func encode(_ record: StowageAPI.SyncRecord, limit: Int = 4096) -> String {
        var record = record
        func json() -> String { (try? String(decoding: JSONEncoder.kube.encode(record), as: UTF8.self)) ?? "{}" }
        while json().utf8.count > limit, let inputs = record.changedInputs, !inputs.isEmpty {
            record.changedInputs = Array(inputs.prefix(inputs.count / 2))
        }
        if json().utf8.count > limit, let message = record.message { record.message = String(message.prefix(2000)) }
        return json()
    }
}
