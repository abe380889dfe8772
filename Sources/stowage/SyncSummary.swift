import DataSync
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import SyncContract

/// The outcome as the operator records it in `status.lastSync`, from the termination
/// message of the sync pod (which Kubernetes caps at 4096 bytes).
enum SyncSummary {
    static func record(_ result: Result<SyncReport, any Error>, direction: SyncDirection, start: Date, end: Date) -> SyncRecord {
        let report: SyncReport?
        var message: String?, reason: String?
        switch result {
        case .success(let r): report = r
        case .failure(let error):
            report = (error as? SyncError)?.report
            message = "\(error)"
            reason = SyncExit.exitCode(for: error).reason
        }
        let changed = (report?.changedSinceLastSync.changes ?? [])
            .map { ChangedInput(path: $0.path, previousSHA256: $0.previousSHA256, sha256: $0.sha256) }
        return SyncRecord(
            direction: direction, result: message == nil ? .succeeded : .failed,
            start: start, end: end,
            files: report.map { $0.uploaded + $0.downloaded }, bytes: report?.bytesTransferred,
            deleted: report.map { $0.deletedRemote + $0.deletedLocal }, manifestDigest: report?.manifestDigest, version: report?.version,
            message: message, reason: reason, changedInputs: changed.isEmpty ? nil : changed)
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
}
