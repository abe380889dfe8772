import Foundation
import KubeModel
import SyncContract

/// Files pulled from plain HTTP(S) addresses (`spec.source.http`): public datasets, release
/// assets, anything a URL names. Read-only: such a volume is pulled, never pushed.
///
/// Every URL becomes one file of the volume; a checksum, when given, is what the file must
/// hash to (as KubeVirt CDI's `source.http.checksum`), and the server's ETag and
/// Last-Modified are recorded so that a later pull notices a changed file.
public struct HTTPSource: Codable, Sendable, Hashable {
    public var urls: [HTTPFile]
    /// A PEM bundle to trust for the servers' TLS certificates (else the system's roots).
    public var caBundleSecretRef: SecretKeySelector?

    public init(urls: [HTTPFile], caBundleSecretRef: SecretKeySelector? = nil) {
        self.urls = urls
        self.caBundleSecretRef = caBundleSecretRef
    }
}

/// One URL of an HTTP source and the file it becomes.
public struct HTTPFile: Codable, Sendable, Hashable {
    /// `https://host/path/file.csv`; a query is allowed, credentials and a fragment are not.
    public var url: String
    /// `sha256:<64 hex>`, `sha1:<40 hex>` or `md5:<32 hex>`: the download must hash to it.
    public var checksum: String?
    /// The file's path in the volume; default the URL's last path segment.
    public var path: String?

    public init(url: String, checksum: String? = nil, path: String? = nil) {
        self.url = url
        self.checksum = checksum
        self.path = path
    }

    /// `path`, else the URL's last path segment (percent-decoded); nil when the URL's path
    /// names no file (`https://host/`), which validation reports.
    public var effectivePath: String? {
        if let path { return path }
        guard let components = URLComponents(string: url) else { return nil }
        let segment = components.percentEncodedPath.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let name = segment.removingPercentEncoding ?? segment
        return name.isEmpty || name == "." || name == ".." || name.contains("/") ? nil : name
    }

    // MARK: the sync pod's argument

    /// The file as one `stowage sync pull --http` value: the URL, with the checksum and path
    /// in its fragment (`URL#checksum=sha256:HEX&path=NAME`). A fragment is never sent to a
    /// server, and a source's URLs have none of their own (validation refuses them).
    public var argument: String {
        var items: [String] = []
        if let checksum { items.append("checksum=" + Self.escape(checksum)) }
        if let path { items.append("path=" + Self.escape(path)) }
        return items.isEmpty ? url : url + "#" + items.joined(separator: "&")
    }

    /// Reads an `argument`; throws when its fragment holds anything but those two keys.
    public init(argument: String) throws(HTTPFileArgumentError) {
        guard let hash = argument.firstIndex(of: "#") else {
            self.init(url: argument)
            return
        }
        self.init(url: String(argument[..<hash]))
        for item in argument[argument.index(after: hash)...].split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1)
            let value = pair.count == 2 ? String(pair[1]).removingPercentEncoding : nil
            switch (pair.first, value) {
            case ("checksum", let value?): checksum = value
            case ("path", let value?): path = value
            default:
                throw HTTPFileArgumentError(message: "\"\(item)\" in \(argument): expected checksum=ALGORITHM:HEX or path=NAME after #")
            }
        }
    }

    private static func escape(_ value: String) -> String {
        var allowed = CharacterSet.urlFragmentAllowed
        allowed.remove(charactersIn: "&=#%")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }
}

public struct HTTPFileArgumentError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// A parsed `ALGORITHM:HEX` checksum.
public struct HTTPChecksum: Sendable, Hashable, CustomStringConvertible {
    public enum Algorithm: String, Sendable, Hashable, CaseIterable {
        case sha256, sha1, md5

        /// Hex digits of a digest.
        public var length: Int {
            switch self {
            case .sha256: 64
            case .sha1: 40
            case .md5: 32
            }
        }
    }

    public var algorithm: Algorithm
    /// Lowercase hex.
    public var hex: String

    /// `sha256:<hex>` (any case); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let algorithm = Algorithm(rawValue: parts[0].lowercased()) else { return nil }
        let hex = parts[1].lowercased()
        guard hex.utf8.count == algorithm.length, hex.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else { return nil }
        self.algorithm = algorithm
        self.hex = hex
    }

    public var description: String { "\(algorithm.rawValue):\(hex)" }

    static let expected = "expected sha256:<64 hex digits>, sha1:<40 hex digits> or md5:<32 hex digits>"
}

extension HTTPSource {
    /// The source's problems alone, its fields under `field` (`stowage sync --http` checks
    /// its values with the rules the webhook applies to `spec.source.http`).
    public func validate(at field: String) -> [FieldError] {
        var v = Validator()
        v.http(self, at: field)
        return v.errors
    }
}

extension Validator {
    /// `spec.source.http`: URLs a sync pod can fetch, well-formed checksums, and one file per
    /// path. Whether the access mode allows it is `httpAccess`'s.
    mutating func http(_ http: HTTPSource, at field: String) {
        let at = field + ".http"
        if http.urls.isEmpty { fail(at + ".urls", "must list at least one URL") }
        var owners: [String: Int] = [:]
        for (i, file) in http.urls.enumerated() {
            let here = at + ".urls[\(i)]"
            if let problem = Self.sourceURLProblem(file.url) { fail(here + ".url", problem) }
            if let checksum = file.checksum, HTTPChecksum(checksum) == nil {
                fail(here + ".checksum", "\"\(checksum)\" is not a checksum (\(HTTPChecksum.expected))")
            }
            guard let path = file.effectivePath else {
                fail(here + ".path", "\(file.url) names no file (its path has no last segment): set path")
                continue
            }
            if let problem = Self.volumePathProblem(path) {
                fail(here + ".path", problem)
                continue
            }
            // Two files at one path, or a file where another needs a directory.
            let segments = path.split(separator: "/")
            let parents = segments.indices.dropLast().map { segments[...$0].joined(separator: "/") }
            let clash = ([path] + parents).lazy.compactMap { owners[$0] }.first
                ?? owners.first { $0.key.hasPrefix(path + "/") }?.value
            if let other = clash {
                fail(here + ".path", "\"\(path)\" collides with the file of \(at).urls[\(other)] (\(http.urls[other].effectivePath ?? "")); set path on one of them")
            } else {
                owners[path] = i
            }
        }
        if let ca = http.caBundleSecretRef {
            if !Self.isDNSSubdomain(ca.name) { fail(at + ".caBundleSecretRef.name", "\"\(ca.name)\" is not a valid Secret name") }
            if ca.key.isEmpty { fail(at + ".caBundleSecretRef.key", "must not be empty") }
        }
    }

    /// An HTTP source is pulled and never pushed: only RO fits it.
    mutating func httpAccess(_ source: DataSource?, _ access: AccessMode, at field: String) {
        guard source?.http != nil, access != .readOnly else { return }
        fail(field, "\(access.rawValue) pushes back, and an http source cannot be written to: set access: RO (the default is RW)")
    }

    /// Why `text` cannot be a source URL, or nil.
    static func sourceURLProblem(_ text: String) -> String? {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            return "\"\(text)\" is not an http:// or https:// URL with a host"
        }
        if url.user != nil || url.password != nil { return "must not carry credentials (user:password@)" }
        if url.fragment != nil { return "must not have a #fragment (it is never sent to the server)" }
        return nil
    }

    /// Why `path` cannot name a file of the volume, or nil.
    static func volumePathProblem(_ path: String) -> String? {
        if path.hasPrefix("/") { return "\"\(path)\" must be relative to the volume" }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "\"\(path)\" must not have empty, . or .. segments"
        }
        if segments.first == ".stowage" { return "\"\(path)\" is inside .stowage/, which is Stowage's own" }
        if path.contains("\0") { return "\"\(path)\" must not contain NUL" }
        return nil
    }
}
