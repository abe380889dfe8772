import Foundation

/// Why a sync stopped, with the report of what it did up to then.
///
/// A struct wrapping a `Code` so callers (the CLI's exit codes, the operator's condition
/// reasons) can switch on kinds that may grow.
public struct SyncError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// RWD or mirror refused: too many deletions, or an empty side would wipe the other.
        public static let deletionGuard = Code(rawValue: "DeletionGuard")
        /// Some transfers failed; nothing was deleted.
        public static let transfersFailed = Code(rawValue: "TransfersFailed")
        /// The request makes no sense (e.g. pushing a read-only volume).
        public static let invalidRequest = Code(rawValue: "InvalidRequest")
        /// The local volume could not be read or written.
        public static let localIO = Code(rawValue: "LocalIO")
        /// A pinned version cannot be pulled exactly: it does not exist, its manifest was
        /// altered, or its objects changed on a bucket that keeps no older versions.
        public static let versionUnavailable = Code(rawValue: "VersionUnavailable")

        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var report: SyncReport?

    public init(_ code: Code, _ message: String, report: SyncReport? = nil) {
        self.code = code
        self.message = message
        self.report = report
    }

    public var description: String { "\(code): \(message)" }
}
