import Crypto
import Foundation

/// Signs S3 requests with AWS Signature Version 4, as headers or as a pre-signed URL.
///
/// The signer works on the canonical parts of a request (method, encoded path, query,
/// headers, payload hash) so the exact bytes that are signed are the bytes that are sent:
/// callers build the URL with the same `SigV4Signer.encode` the signer uses.
public struct SigV4Signer: Sendable {
    public var credentials: S3Credentials
    public var region: String
    public var service: String

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The payload hash S3 accepts when the body is not hashed into the signature.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string, the payload hash of bodiless requests.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Adds `x-amz-date`, `x-amz-content-sha256`, the session token if any, and
    /// `Authorization` to `headers`. `headers` must already hold `host`.
    public func sign(method: String, path: String, query: [(String, String)], headers: inout [(String, String)], payloadHash: String, date: Date) {
        let stamp = AmzDate(date)
        headers.append(("x-amz-date", stamp.full))
        headers.append(("x-amz-content-sha256", payloadHash))
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        headers.append(("Authorization", authorization(method: method, path: path, query: query, headers: headers, payloadHash: payloadHash, date: date)))
    }

    /// The `Authorization` value for a request whose headers are exactly `headers` (all of
    /// them signed).
    func authorization(method: String, path: String, query: [(String, String)], headers: [(String, String)], payloadHash: String, date: Date) -> String {
        let stamp = AmzDate(date)
        let (canonicalHeaders, signedHeaders) = Self.canonicalHeaders(headers)
        let canonical = [method, path, Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        let signature = self.signature(canonicalRequest: canonical, stamp: stamp)
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(stamp)), SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    /// The query of a pre-signed URL for `method` on `path` at `host`, valid `expires`
    /// seconds from `date` (at most seven days, as S3 allows). Only `host` is signed.
    public func presignedQuery(method: String, path: String, host: String, query: [(String, String)] = [], expires: Int, date: Date) -> String {
        let stamp = AmzDate(date)
        var all = query
        all.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        all.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(stamp))"))
        all.append(("X-Amz-Date", stamp.full))
        all.append(("X-Amz-Expires", String(expires)))
        if let token = credentials.sessionToken { all.append(("X-Amz-Security-Token", token)) }
        all.append(("X-Amz-SignedHeaders", "host"))
        let canonical = [method, path, Self.canonicalQuery(all), "host:\(host)\n", "host", Self.unsignedPayload].joined(separator: "\n")
        let signature = self.signature(canonicalRequest: canonical, stamp: stamp)
        return Self.canonicalQuery(all) + "&X-Amz-Signature=" + signature
    }

    private func scope(_ stamp: AmzDate) -> String { "\(stamp.day)/\(region)/\(service)/aws4_request" }

    func signature(canonicalRequest: String, stamp: AmzDate) -> String {
        let stringToSign = ["AWS4-HMAC-SHA256", stamp.full, scope(stamp), Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [stamp.day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
    }

    /// Header names lowercased and sorted, values trimmed with inner runs of spaces
    /// collapsed, repeated names joined with commas.
    static func canonicalHeaders(_ headers: [(String, String)]) -> (String, String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.trimmingCharacters(in: .whitespaces).split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            merged[name.lowercased(), default: []].append(trimmed)
        }
        let names = merged.keys.sorted()
        let canonical = names.map { "\($0):\(merged[$0]!.joined(separator: ","))\n" }.joined()
        return (canonical, names.joined(separator: ";"))
    }

    /// Names and values encoded, sorted by encoded name then value.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (encode($0.0, keepSlash: false), encode($0.1, keepSlash: false)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// RFC 3986 percent-encoding of every byte but the unreserved ones (and `/` in paths),
    /// the one encoding SigV4 accepts.
    public static func encode(_ string: String, keepSlash: Bool) -> String {
        var out = [UInt8]()
        out.reserveCapacity(string.utf8.count)
        let hexDigits = Array("0123456789ABCDEF".utf8)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A request time in the two forms SigV4 uses: `20130524T000000Z` and `20130524`.
struct AmzDate {
    let full: String
    let day: String

    init(_ date: Date) {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        day = String(format: "%04d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        full = day + String(format: "T%02d%02d%02dZ", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
