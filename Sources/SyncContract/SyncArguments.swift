/// The command line of `stowage sync`: what the operator writes into a sync pod (`SyncJob`)
/// and what the command reads back (`SyncCommand.arguments`). One type for both ends, so
/// the compiler checks them; the flag names come from `Flag` on both sides, and a test
/// parses `commandLine` with the command's own parser and expects the same value back.
public struct SyncArguments: Sendable, Hashable {
    /// The subcommand's name: `stowage sync ...`.
    public static let command = "sync"
    public static let defaultConcurrency = 32
    public static let defaultProgressInterval = 10

    /// Every option's long name, as the command declares it and `commandLine` writes it.
    public enum Flag: String, Sendable, CaseIterable {
        case http
        case mode
        case endpoint
        case region
        case caBundle = "ca-bundle"
        case virtualHosted = "virtual-hosted"
        case partChecksum = "part-checksum"
        case dryRun = "dry-run"
        case checksum
        case maxDeletes = "max-deletes"
        case concurrency
        case progressInterval = "progress-interval"
        case summaryFile = "summary-file"
        case sequence
        case volume
        case version
        case keepVersions = "keep-versions"

        /// `--name`, as it stands on a command line.
        public var option: String { "--" + rawValue }
    }

    /// Where the files are, on the far side of the volume.
    public enum Source: Sendable, Hashable {
        /// An `s3://BUCKET/PREFIX` URL.
        case s3(String)
        /// Files at HTTP(S) URLs, each an `HTTPFile.argument` (RO pulls only).
        case http([String])
    }

    public var direction: SyncDirection
    public var source: Source
    /// The volume's directory.
    public var directory: String
    public var mode: AccessMode
    public var endpoint: String?
    public var region: String?
    /// A PEM file of CA certificates to trust for the endpoint or the URLs.
    public var caBundle: String?
    public var virtualHosted = false
    public var partChecksum = S3PartChecksum.crc32c
    public var dryRun = false
    /// Compare content hashes instead of size and modification time.
    public var checksum = false
    public var maxDeletes: Int?
    public var concurrency = SyncArguments.defaultConcurrency
    /// Seconds between progress lines when stderr is not a terminal.
    public var progressInterval = SyncArguments.defaultProgressInterval
    /// Where the sync leaves its `SyncRecord` (a sync pod: its termination-message file).
    public var summaryFile: String?
    /// Which sync of the volume this is.
    public var sequence: Int?
    /// The volume that pushes, as `KIND/NAMESPACE/NAME`.
    public var volume: String?
    /// The version a pull is pinned to.
    public var version: String?
    /// A push that never destroys earlier content.
    public var keepVersions = false

    public init(direction: SyncDirection, source: Source, directory: String, mode: AccessMode = .default) {
        self.direction = direction
        self.source = source
        self.directory = directory
        self.mode = mode
    }

    /// The arguments after the program's name: `sync pull s3://B/P DIR --mode RO ...`, or
    /// `sync pull DIR --mode RO --http URL ...`. Options at their defaults are left out.
    public var commandLine: [String] {
        var line = [Self.command, direction.rawValue]
        switch source {
        case .s3(let url): line += [url, directory]
        case .http: line.append(directory)
        }
        func add(_ flag: Flag, _ value: String?) {
            if let value { line += [flag.option, value] }
        }
        func add(_ flag: Flag, _ on: Bool) {
            if on { line.append(flag.option) }
        }
        add(.mode, mode.rawValue)
        if case .http(let urls) = source { for url in urls { add(.http, url) } }
        add(.endpoint, endpoint)
        add(.region, region)
        add(.caBundle, caBundle)
        add(.virtualHosted, virtualHosted)
        add(.partChecksum, partChecksum == .crc32c ? nil : partChecksum.rawValue)
        add(.dryRun, dryRun)
        add(.checksum, checksum)
        add(.maxDeletes, maxDeletes.map(String.init))
        add(.concurrency, concurrency == Self.defaultConcurrency ? nil : String(concurrency))
        add(.progressInterval, progressInterval == Self.defaultProgressInterval ? nil : String(progressInterval))
        add(.summaryFile, summaryFile)
        add(.sequence, sequence.map(String.init))
        add(.volume, volume)
        add(.version, version)
        add(.keepVersions, keepVersions)
        return line
    }
}
