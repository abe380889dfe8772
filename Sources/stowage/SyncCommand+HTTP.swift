import ArgumentParser
import DataSync
import Foundation
import HTTP
import StowageAPI
import SyncContract

/// `stowage sync pull DIR --http URL[#checksum=ALGORITHM:HEX&path=NAME] ...`: an RO pull from
/// HTTP(S) URLs (`HTTPPullEngine`), what sync pods of a volume with `spec.source.http` run.
/// Each value is an `HTTPFile.argument`, the type the operator builds the command line from.
extension SyncCommand {
    /// Which source the command line names, and that the rest of it fits that source.
    func validateSources() throws {
        guard !http.isEmpty else {
            if dir == nil { throw ValidationError("missing the volume directory: stowage sync \(direction.rawValue) s3://BUCKET/PREFIX DIR") }
            return
        }
        guard direction == .pull else { throw ValidationError("--http sources are only pulled: a URL cannot be pushed to") }
        guard mode == .readOnly else { throw ValidationError("--http sources are read-only: pass --mode RO") }
        guard version == nil else { throw ValidationError("--version pins a version of an S3 prefix, not of --http URLs") }
        guard dir == nil else {
            throw ValidationError("with --http, give the volume directory alone: stowage sync pull DIR --mode RO --http URL")
        }
        _ = try Self.httpFiles(http)
    }

    /// The files of the `--http` values, each checked by the rules of `spec.source.http`.
    static func httpFiles(_ values: [String]) throws -> [HTTPPullFile] {
        try values.map { value in
            let file: HTTPFile
            do throws(HTTPFileArgumentError) { file = try HTTPFile(argument: value) } catch {
                throw ValidationError("--http \(error)")
            }
            if let problem = HTTPSource(urls: [file]).validate(at: "http").first {
                throw ValidationError("--http \(value): \(problem.message)")
            }
            guard let path = file.effectivePath else { throw ValidationError("--http \(value): the URL names no file: add #path=NAME") }
            let checksum = file.checksum.flatMap(HTTPChecksum.init).map {
                HTTPPullFile.Checksum(algorithm: HTTPPullFile.Checksum.Algorithm(rawValue: $0.algorithm.rawValue) ?? .sha256, hex: $0.hex)
            }
            return HTTPPullFile(url: file.url, path: path, checksum: checksum)
        }
    }

    func httpEngine(_ arguments: SyncArguments) throws -> HTTPPullEngine {
        guard case .http(let urls) = arguments.source else { throw ValidationError("no --http URLs") }
        var options = HTTPPullEngine.Options(files: try Self.httpFiles(urls), root: arguments.directory)
        options.dryRun = arguments.dryRun
        options.concurrency = min(arguments.concurrency, 8)
        options.sequence = arguments.sequence
        return HTTPPullEngine(client: HTTPPullEngine.client(caBundle: arguments.caBundle), options: options)
    }
}
