import Foundation

/// An access key pair (and session token) that signs S3 requests.
///
/// `description` never shows the secret, so credentials can sit in logged values.
public struct S3Credentials: Sendable, Hashable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String { "S3Credentials(\(accessKeyID), secret redacted)" }

    /// Credentials found the way the AWS CLI finds them: `AWS_ACCESS_KEY_ID` /
    /// `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, then the profile (`AWS_PROFILE`, else
    /// `default`) of `AWS_SHARED_CREDENTIALS_FILE` (else `~/.aws/credentials`), then of
    /// `AWS_CONFIG_FILE` (else `~/.aws/config`). Nil when none is found.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> S3Credentials? {
        if let key = environment["AWS_ACCESS_KEY_ID"], let secret = environment["AWS_SECRET_ACCESS_KEY"], !key.isEmpty {
            return S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let profile = environment["AWS_PROFILE"] ?? "default"
        let files = [
            (environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials", profile),
            // In the config file, profiles other than default are written "profile NAME".
            (environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config", profile == "default" ? "default" : "profile \(profile)"),
        ]
        for (path, section) in files {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let values = parseINI(text)[section] ?? [:]
            if let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] {
                return S3Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: values["aws_session_token"])
            }
        }
        return nil
    }

    /// The region the AWS CLI would use: `AWS_REGION`, `AWS_DEFAULT_REGION`, then the
    /// profile's `region` in the config file.
    public static func regionFromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"], !region.isEmpty { return region }
        let home = environment["HOME"] ?? NSHomeDirectory()
        let profile = environment["AWS_PROFILE"] ?? "default"
        guard let text = try? String(contentsOfFile: environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config", encoding: .utf8) else { return nil }
        return parseINI(text)[profile == "default" ? "default" : "profile \(profile)"]?["region"]
    }

    /// Sections of an AWS INI file: `[name]` then `key = value` lines; `#` and `;` comment.
    static func parseINI(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: [:]][key] = value
        }
        return sections
    }
}
