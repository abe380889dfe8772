import ArgumentParser
import DataSync
import Foundation
import HTTP
import ObjectStore
import SyncContract
import UnixSignals

/// `stowage sync`: what sync pods run, and what users can run by hand. Its command line is
/// `SyncArguments`, the type the operator writes sync pods' command lines from: the option
/// names come from `SyncArguments.Flag`, and the command runs what `arguments` says.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: SyncArguments.command,
        abstract: "Sync a volume directory with an S3 prefix (pull or push; RO, RW or RWD), or pull files from HTTP(S) URLs (--http).",
        discussion: """
        Prints warnings and progress on stderr and a JSON summary on stdout.
        Exit codes:
        \(SyncExitCode.table)
          130  stopped by SIGINT, 143 stopped by SIGTERM (finished transfers are kept and not redone)
        """
    )

    @Argument(help: "pull (object storage into DIR) or push (DIR into object storage).")
    var direction: SyncDirection

    @Argument(help: "s3://BUCKET/PREFIX (with --http: the volume directory, the only argument)")
    var url: String

    @Argument(help: "The volume directory.")
    var dir: String?

    @Option(name: .sync(.http), help: ArgumentHelp("Pull this URL instead of S3 (repeat for more; RO pulls only). A checksum and the file's path go in the fragment: URL#checksum=sha256:HEX&path=NAME.", valueName: "url"))
    var http: [String] = []

    @Option(name: .sync(.mode), help: "RO: pull only, exact mirror. RW: push new and changed, never delete. RWD: RW plus deletions.")
    var mode = AccessMode.default

    @OptionGroup var s3: S3Options

    @Flag(name: .sync(.dryRun), help: "Print the plan and change nothing.")
    var dryRun = false

    @Flag(name: .sync(.checksum), help: "Compare content hashes instead of size and modification time.")
    var checksum = false

    @Option(name: .sync(.maxDeletes), help: "Refuse to run when the plan deletes more than N files.")
    var maxDeletes: Int?

    @Option(name: .sync(.concurrency), help: "Files transferred at once.")
    var concurrency = SyncArguments.defaultConcurrency

    @Option(name: .sync(.progressInterval), help: "Seconds between progress lines when stderr is not a terminal.")
    var progressInterval = SyncArguments.defaultProgressInterval

    @Option(name: .sync(.summaryFile), help: "Also write a short JSON record of the outcome here (sync pods: /dev/termination-log).")
    var summaryFile: String?

    @Option(name: .sync(.sequence), help: "Which sync of the volume this is, recorded in the manifest (sync pods: the Job's number).")
    var sequence: Int?

    @Option(name: .sync(.volume), help: "The volume that pushes, as KIND/NAMESPACE/NAME: recorded in the version manifest (sync pods: the operator's volume).")
    var volume: String?

    @Option(name: .sync(.version), help: "Pull exactly this version (an identifier from `stowage versions`, or latest), every file checked against its SHA-256; with --mode RO.")
    var version: String?

    @Flag(name: .sync(.keepVersions), help: "Push without destroying earlier content: refused unless the bucket has versioning (what is replaced stays as noncurrent versions).")
    var keepVersions = false

    /// The command line as the contract's type, what `run` carries out.
    var arguments: SyncArguments {
        let source: SyncArguments.Source = http.isEmpty ? .s3(url) : .http(http)
        var arguments = SyncArguments(direction: direction, source: source, directory: http.isEmpty ? dir ?? "" : url, mode: mode)
        arguments.endpoint = s3.endpoint
        arguments.region = s3.region
        arguments.caBundle = s3.caBundle
        arguments.virtualHosted = s3.virtualHosted
        arguments.partChecksum = s3.partChecksum
        arguments.dryRun = dryRun
        arguments.checksum = checksum
        arguments.maxDeletes = maxDeletes
        arguments.concurrency = concurrency
        arguments.progressInterval = progressInterval
        arguments.summaryFile = summaryFile
        arguments.sequence = sequence
        arguments.volume = volume
        arguments.version = version
        arguments.keepVersions = keepVersions
        return arguments
    }

    func validate() throws {
        try validateSources()
        if version != nil && direction != .pull { throw ValidationError("--version applies to pulls") }
        if keepVersions && direction != .push { throw ValidationError("--keep-versions applies to pushes") }
        if let volume, volume.isEmpty || !volume.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            throw ValidationError("--volume must be printable ASCII without spaces, like datavolume/team-a/results")
        }
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        if let maxDeletes, maxDeletes < 0 { throw ValidationError("--max-deletes cannot be negative") }
    }

    func run() async throws {
        let arguments = self.arguments
        guard case .s3(let url) = arguments.source else { return try await execute(httpEngine(arguments), arguments) }
        let target: S3URL
        let client: S3Client
        do {
            target = try S3URL(url)
            client = try s3.client()
        } catch {
            FileHandle.standardError.write(Data("stowage sync: \(error)\n".utf8))
            throw ExitCode(SyncExit.code(for: error))
        }
        var options = SyncEngine.Options(direction: arguments.direction, mode: arguments.mode, bucket: target.bucket, prefix: target.key,
                                         root: arguments.directory)
        options.checksum = arguments.checksum
        options.dryRun = arguments.dryRun
        options.maxDeletes = arguments.maxDeletes
        options.concurrency = arguments.concurrency
        options.sequence = arguments.sequence
        options.volume = arguments.volume
        options.version = arguments.version
        options.keepVersions = arguments.keepVersions
        let engine = SyncEngine(client: client, options: options)
        try await execute(engine, arguments)
    }

    /// Runs the sync, reports it on stderr, stdout and in the summary file, and exits with
    /// its code.
    func execute(_ engine: some SyncRunning, _ arguments: SyncArguments) async throws {
        let started = Date()
        let (result, signal) = await SyncRunner.run(engine, progressInterval: .seconds(arguments.progressInterval))
        if let summaryFile = arguments.summaryFile {
            let record = SyncSummary.record(result, direction: arguments.direction, start: started, end: Date())
            do {
                try SyncSummary.write(record.terminationMessage(), to: summaryFile)
            } catch {
                FileHandle.standardError.write(Data("stowage sync: cannot write the summary to \(summaryFile): \(error)\n".utf8))
            }
        }
        switch result {
        case .success(let report):
            for warning in report.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
            for conflict in report.conflicts { FileHandle.standardError.write(Data("conflict: \(conflict)\n".utf8)) }
            if let digest = report.manifestDigest { FileHandle.standardError.write(Data("manifest \(digest)\n".utf8)) }
            if let version = report.version { FileHandle.standardError.write(Data("version \(version)\n".utf8)) }
            let changes = report.changedSinceLastSync
            if !changes.isEmpty && !arguments.dryRun {
                FileHandle.standardError.write(Data("inputs changed since the last sync: \(changes.added.count) added, \(changes.modified.count) modified, \(changes.removed.count) removed\n".utf8))
            }
            print(report.json())
        case .failure(let error):
            if let report = (error as? SyncError)?.report {
                for warning in report.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
                print(report.json())
            }
            if let signal {
                FileHandle.standardError.write(Data("stowage sync: stopped by signal \(signal); finished transfers are kept\n".utf8))
                throw ExitCode(128 + signal)
            }
            FileHandle.standardError.write(Data("stowage sync: \(error)\n".utf8))
            throw ExitCode(SyncExit.code(for: error))
        }
    }
}

extension SyncDirection: ExpressibleByArgument {}
extension AccessMode: ExpressibleByArgument {}
extension S3PartChecksum: ExpressibleByArgument {}

extension NameSpecification {
    /// The long name `SyncArguments` writes for `flag`.
    static func sync(_ flag: SyncArguments.Flag) -> NameSpecification { .customLong(flag.rawValue) }
}

/// Connection options shared by the commands that talk to S3.
struct S3Options: ParsableArguments {
    @Option(name: .sync(.endpoint), help: "S3 endpoint URL, e.g. https://s3.example.com (default: $AWS_ENDPOINT_URL).")
    var endpoint: String?

    @Option(name: .sync(.region), help: "Region (default: $AWS_REGION, the AWS config file, then us-east-1).")
    var region: String?

    @Option(name: .sync(.caBundle), help: "PEM file of CA certificates to trust for the endpoint.")
    var caBundle: String?

    @Flag(name: .sync(.virtualHosted), help: "Address buckets as BUCKET.endpoint instead of endpoint/BUCKET.")
    var virtualHosted = false

    @Option(name: .sync(.partChecksum), help: "Checksum each uploaded part carries: crc32c (S3 flexible checksums) or md5 (Content-MD5, for servers without them).")
    var partChecksum = S3PartChecksum.crc32c

    func client() throws -> S3Client {
        let environment = ProcessInfo.processInfo.environment
        guard let endpoint = endpoint ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"] else {
            throw ValidationError("no endpoint: pass --endpoint or set AWS_ENDPOINT_URL")
        }
        guard let credentials = S3Credentials.fromEnvironment() else {
            throw S3Error(.invalidAccessKeyId, "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure ~/.aws/credentials", operation: "configure")
        }
        var config = S3Configuration(endpoint: endpoint, region: region ?? S3Credentials.regionFromEnvironment() ?? "us-east-1",
                                     credentials: credentials, addressing: virtualHosted ? .virtualHosted : .path, caBundle: caBundle)
        config.transferThreads = 2
        config.partChecksum = switch partChecksum {
        case .crc32c: .crc32c
        case .md5: .md5
        }
        return try S3Client(configuration: config)
    }
}

/// An `s3://BUCKET/KEY` address.
struct S3URL {
    var bucket: String
    var key: String

    init(_ text: String) throws {
        guard text.hasPrefix("s3://") else { throw SyncError(.invalidRequest, "\(text) is not an s3://BUCKET/PREFIX URL") }
        let rest = text.dropFirst(5)
        let slash = rest.firstIndex(of: "/")
        bucket = String(rest[..<(slash ?? rest.endIndex)])
        key = slash.map { String(rest[rest.index(after: $0)...]) } ?? ""
        guard bucket.count >= 3 else { throw SyncError(.invalidRequest, "\(text) has no valid bucket name") }
    }
}

/// The exit code of each kind of failure, as `stowage sync --help` documents them.
enum SyncExit {
    static func code(for error: any Error) -> Int32 { exitCode(for: error).rawValue }

    static func exitCode(for error: any Error) -> SyncExitCode {
        switch error {
        case let error as SyncError:
            switch error.code {
            case .deletionGuard: .guardRefused
            case .transfersFailed: .transfersFailed
            case .invalidRequest: .invalidRequest
            case .versionUnavailable: .versionUnavailable
            default: .unexpected
            }
        case let error as S3Error:
            if error.code.isAuthorization { .credentials }
            else if error.code == .noSuchBucket { .noSuchBucket }
            else if error.code == .invalidEndpoint { .invalidRequest }
            else { .unexpected }
        case let error as HTTPError:
            [.connectFailed, .resolveFailed, .timedOut, .tls, .connectionLost].contains(error.code) ? .unreachable : .unexpected
        case is ValidationError: .usage
        default: .unexpected
        }
    }
}

/// Runs a sync next to its progress reporter and a SIGTERM/SIGINT watcher, in one task
/// group: a signal cancels the sync, which stops starting transfers, aborts those in flight
/// (multipart uploads included) and returns once everything is consistent.
enum SyncRunner {
    enum Event: Sendable {
        case finished(Result<SyncReport, any Error>)
        case signal(Int32)
        case idle
    }

    static func run(_ engine: some SyncRunning, progressInterval: Duration) async -> (Result<SyncReport, any Error>, Int32?) {
        // Trapped (ignored by default) before the sync starts, for as long as it runs.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return await withTaskGroup(of: Event.self) { group in
            group.addTask {
                do { return .finished(.success(try await engine.run())) } catch { return .finished(.failure(error)) }
            }
            group.addTask {
                for await signal in signals { return .signal(signal.rawValue) }
                return .idle
            }
            group.addTask {
                await reportProgress(engine.progress, interval: progressInterval)
                return .idle
            }
            var result: Result<SyncReport, any Error> = .failure(CancellationError())
            var received: Int32?
            while let event = await group.next() {
                switch event {
                case .finished(let outcome):
                    result = outcome
                    group.cancelAll()
                case .signal(let signal):
                    received = signal
                    group.cancelAll()
                case .idle:
                    break
                }
            }
            return (result, received)
        }
    }

    /// A `\r`-updated line on a terminal, else one line every `interval` (pod logs).
    static func reportProgress(_ progress: SyncProgress, interval: Duration) async {
        let terminal = isatty(STDERR_FILENO) == 1
        let clock = ContinuousClock()
        let start = clock.now
        while !Task.isCancelled {
            do { try await Task.sleep(for: terminal ? .milliseconds(500) : interval) } catch { break }
            let seconds = (clock.now - start).components.seconds
            let rate = seconds > 0 ? Double(progress.bytesDone) / Double(seconds) : 0
            let line = SyncProgressLine(filesDone: progress.filesDone, filesTotal: progress.filesTotal,
                                        bytesDone: progress.bytesDone, bytesTotal: progress.bytesTotal, bytesPerSecond: rate)
            FileHandle.standardError.write(Data((terminal ? "\r\u{1B}[K" + line.text : SyncProgressLine.prefix + line.text + "\n").utf8))
        }
        if terminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
