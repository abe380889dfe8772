import Foundation

/// A CA and a serving certificate, made with openssl: what an admission webhook needs to be
/// called by the API server. For 127.0.0.1 (a webhook on this machine) unless given the
/// subject alternative names of a Service (`DNS:NAME.NAMESPACE.svc`, a webhook in a pod).
public struct TLSMaterial: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var certificate: String { directory + "/tls.crt" }
    public var key: String { directory + "/tls.key" }

    public let subjectAltNames: [String]

    public static func make(subjectAltNames: [String] = ["IP:127.0.0.1"]) throws -> TLSMaterial {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stowage-webhook-tls-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/ca.key", "-out", dir + "/ca.crt",
                                     "-days", "2", "-subj", "/CN=stowage-test-webhook-ca"])
        let material = TLSMaterial(directory: dir, subjectAltNames: subjectAltNames)
        try material.issue(commonName: "stowage-webhook", into: material.certificate, key: material.key)
        return material
    }

    /// A new serving certificate signed by the CA, written to `certificate` and `key`
    /// (each through a rename, as a Secret volume update would swap them).
    public func issue(commonName: String, into certificate: String, key: String) throws {
        let stem = directory + "/" + commonName
        try "subjectAltName=\(subjectAltNames.joined(separator: ","))\nextendedKeyUsage=serverAuth\n".write(toFile: stem + ".ext", atomically: true, encoding: .utf8)
        try run("/usr/bin/openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", stem + ".key", "-out", stem + ".csr",
                                     "-subj", "/CN=\(commonName)"])
        try run("/usr/bin/openssl", ["x509", "-req", "-in", stem + ".csr", "-CA", caCertificate, "-CAkey", directory + "/ca.key",
                                     "-CAcreateserial", "-out", stem + ".crt", "-days", "2", "-extfile", stem + ".ext"])
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = rename(stem + ".key", key)
        _ = rename(stem + ".crt", certificate)
    }

    /// The subject of the certificate a new TLS connection to `port` is served.
    public func servedSubject(port: Int) throws -> String {
        let pem = try run("/usr/bin/openssl", ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", caCertificate], input: "")
        return try run("/usr/bin/openssl", ["x509", "-noout", "-subject"], input: pem)
    }

    public var caBundle: String { (try? Data(contentsOf: URL(fileURLWithPath: caCertificate)).base64EncodedString()) ?? "" }

    public func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// Runs a command and returns its standard output; throws with its output when it fails.
@discardableResult
public func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CommandFailed(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

public struct CommandFailed: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}
