#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOSSL
import Synchronization

/// Why the webhook could not start or load its certificate.
public struct WebhookError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        fileprivate let name: String
        /// The certificate or key file is missing, unreadable or not PEM, or they do not match.
        public static let certificate = Code(name: "certificate")
        public static let bind = Code(name: "bind")
        public var description: String { name }
    }

    public var code: Code
    public var message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}

/// The TLS context for new connections, rebuilt when the certificate or key file changes.
///
/// Each new connection asks for the context; that costs two `stat` calls, and a reload only
/// when the device, inode, size or modification/change time of either file differs from the
/// last look. So a connection opened after a rotation sees the new certificate while open
/// connections finish with the old one. Secret volumes rotate by swapping a symlink, which
/// `stat` follows. A pair that fails to load (say, the certificate written but not yet the
/// key) keeps the previous context and is retried when either file changes again.
final class CertificateReloader: Sendable {
    let certificatePath: String
    let keyPath: String
    private let logger: Logger
    private let state: Mutex<State>

    struct Stamp: Equatable, Sendable {
        var certificate: [Int]
        var key: [Int]
    }

    private struct State {
        var stamp: Stamp
        var context: NIOSSLContext
        /// The stamp of a pair that failed to load, so it is not retried on every connection.
        var failed: Stamp?
        var reloads = 0
    }

    init(certificatePath: String, keyPath: String, logger: Logger) throws(WebhookError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.logger = logger
        let stamp = Self.stamp(certificatePath, keyPath)
        let context = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        state = Mutex(State(stamp: stamp, context: context))
    }

    /// How many times a changed pair was loaded since start.
    var reloads: Int { state.withLock { $0.reloads } }

    /// The context a new connection should use.
    func context() -> NIOSSLContext {
        let now = Self.stamp(certificatePath, keyPath)
        return state.withLock { s in
            guard now != s.stamp, now != s.failed else { return s.context }
            do {
                s.context = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
                s.stamp = now
                s.failed = nil
                s.reloads += 1
                logger.info("webhook certificate reloaded", metadata: ["tls.cert": "\(certificatePath)"])
            } catch {
                s.failed = now
                logger.warning("webhook certificate changed but does not load; keeping the previous one",
                               metadata: ["tls.cert": "\(certificatePath)", "error": "\(error)"])
            }
            return s.context
        }
    }

    static func load(certificatePath: String, keyPath: String) throws(WebhookError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            guard !chain.isEmpty else { throw WebhookError(.certificate, "\(certificatePath) holds no PEM certificate") }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            return try NIOSSLContext(configuration: configuration)
        } catch let error as WebhookError {
            throw error
        } catch {
            throw WebhookError(.certificate, "cannot load \(certificatePath) and \(keyPath): \(error)")
        }
    }

    static func stamp(_ certificatePath: String, _ keyPath: String) -> Stamp {
        Stamp(certificate: fileStamp(certificatePath), key: fileStamp(keyPath))
    }

    private static func fileStamp(_ path: String) -> [Int] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [-1, Int(errno)] }
        #if canImport(Darwin)
        let (modified, changed) = (info.st_mtimespec, info.st_ctimespec)
        #else
        let (modified, changed) = (info.st_mtim, info.st_ctim)
        #endif
        return [Int(info.st_dev), Int(info.st_ino), Int(info.st_size),
                Int(modified.tv_sec), Int(modified.tv_nsec), Int(changed.tv_sec), Int(changed.tv_nsec)]
    }
}
