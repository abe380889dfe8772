import Foundation

extension TestEnvironment {
    /// Runs `kubectl` against this environment, as an admin would; returns its output and
    /// throws `KubectlError` (with that output) when it fails.
    @discardableResult
    public func kubectl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/kubectl")
        process.arguments = ["--kubeconfig", kubeconfig] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw KubectlError(output: output) }
        return output
    }

    /// Applies Stowage's CRDs (`crds/`) once per test process and waits until both are served.
    public func installStowageCRDs() async throws {
        try await CRDInstall.shared.run {
            try kubectl(["apply", "--server-side", "--force-conflicts", "-k", Self.packageRoot + "/crds"])
            try kubectl(["wait", "--for", "condition=established", "--timeout=60s",
                         "crd/datavolumes.stowage.io", "crd/sharedvolumes.stowage.io"])
        }
    }
}

public struct KubectlError: Error, CustomStringConvertible {
    public var output: String
    public init(output: String) { self.output = output }
    public var description: String { "kubectl failed: \(output)" }
}

/// Runs a body once per process; later callers wait for the first to finish.
actor CRDInstall {
    static let shared = CRDInstall()
    private var done = false
    func run(_ body: () async throws -> Void) async throws {
        guard !done else { return }
        try await body()
        done = true
    }
}
