/// How `stowage sync` (and `versions`, `purge`) end, as its exit status: the one list the
/// command's help, the command and the operator, which reads a sync pod's exit code, share.
public enum SyncExitCode: Int32, Sendable, CaseIterable {
    case success = 0
    case unexpected = 1
    case transfersFailed = 2
    case guardRefused = 3
    case credentials = 4
    case noSuchBucket = 5
    case unreachable = 6
    case invalidRequest = 7
    case versionUnavailable = 8
    case usage = 64

    public var meaning: String {
        switch self {
        case .success: "success"
        case .unexpected: "unexpected error"
        case .transfersFailed: "some transfers or deletions failed (nothing was deleted if a transfer failed)"
        case .guardRefused: "refused by a deletion guard (--max-deletes, or an empty side would wipe the other)"
        case .credentials: "credentials missing or refused (InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied)"
        case .noSuchBucket: "the bucket does not exist"
        case .unreachable: "the endpoint is unreachable (connection, DNS, TLS or timeout)"
        case .invalidRequest: "invalid request (e.g. pushing an RO volume, bad URL, keepVersions on a bucket without versioning)"
        case .versionUnavailable: "the pinned --version cannot be pulled exactly (missing, or its objects changed on a bucket without versioning)"
        case .usage: "invalid command line"
        }
    }

    /// The code's meaning in one word, as `status.lastSync.reason` and condition reasons
    /// carry it.
    public var reason: String {
        switch self {
        case .success: "Succeeded"
        case .unexpected: "Unexpected"
        case .transfersFailed: "TransfersFailed"
        case .guardRefused: "DeleteGuard"
        case .credentials: "CredentialsRefused"
        case .noSuchBucket: "NoSuchBucket"
        case .unreachable: "EndpointUnreachable"
        case .invalidRequest: "InvalidRequest"
        case .versionUnavailable: "VersionUnavailable"
        case .usage: "InvalidCommandLine"
        }
    }

    /// The codes and their meanings, one per line, for a command's help.
    public static var table: String {
        allCases.map { code in
            let number = String(code.rawValue)
            return "  " + number + String(repeating: " ", count: 5 - number.count) + code.meaning
        }.joined(separator: "\n")
    }
}
