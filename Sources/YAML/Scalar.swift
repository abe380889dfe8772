import Foundation

/// What a plain scalar means under the YAML 1.1 rules Kubernetes manifests are written
/// against (go-yaml v2, which `kubectl` and `sigs.k8s.io/yaml` use).
public enum ResolvedScalar: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
}

extension YAMLNode.Scalar {
    /// The typed value: quoted and block scalars are strings; plain ones resolve by text.
    public var resolved: ResolvedScalar {
        switch tag {
        case "tag:yaml.org,2002:str": return .string(value)
        case "tag:yaml.org,2002:null": return .null
        case "tag:yaml.org,2002:bool": return YAMLScalarRules.bool(value).map(ResolvedScalar.bool) ?? .string(value)
        case "tag:yaml.org,2002:int": return YAMLScalarRules.int(value).map(ResolvedScalar.int) ?? .string(value)
        case "tag:yaml.org,2002:float": return YAMLScalarRules.double(value).map(ResolvedScalar.double) ?? .string(value)
        default: break
        }
        guard isPlain else { return .string(value) }
        return YAMLScalarRules.resolvePlain(value)
    }
}

/// The resolution rules, kept apart so the decoder can apply one rule when it knows the
/// type it wants.
enum YAMLScalarRules {
    static func resolvePlain(_ text: String) -> ResolvedScalar {
        if isNull(text) { return .null }
        if let b = bool(text) { return .bool(b) }
        if let i = int(text) { return .int(i) }
        if let d = double(text) { return .double(d) }
        return .string(text)
    }

    static func isNull(_ text: String) -> Bool {
        switch text {
        case "", "~", "null", "Null", "NULL": true
        default: false
        }
    }

    /// YAML 1.1 booleans: `y`, `yes`, `on`, `true` and their negatives, in the three cases
    /// the spec allows (lower, Capitalised, UPPER).
    static func bool(_ text: String) -> Bool? {
        switch text {
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": true
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": false
        default: nil
        }
    }

    /// Decimal, `0x` hex, `0o` and leading-zero octal, `0b` binary, with `_` separators.
    static func int(_ text: String) -> Int64? {
        var s = Substring(text)
        guard !s.isEmpty else { return nil }
        var negative = false
        if s.first == "-" || s.first == "+" {
            negative = s.first == "-"
            s = s.dropFirst()
        }
        guard let first = s.first, first.isASCII, first.isNumber else { return nil }
        let digits = s.filter { $0 != "_" }
        var radix = 10
        var body = Substring(digits)
        if digits.hasPrefix("0x") { radix = 16; body = body.dropFirst(2) }
        else if digits.hasPrefix("0o") { radix = 8; body = body.dropFirst(2) }
        else if digits.hasPrefix("0b") { radix = 2; body = body.dropFirst(2) }
        else if digits.count > 1 && digits.hasPrefix("0") { radix = 8; body = body.dropFirst() }
        guard !body.isEmpty, let magnitude = UInt64(body, radix: radix) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func double(_ text: String) -> Double? {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // A float needs a digit and only the characters of a number: this keeps words like
        // "infinity" or "nan" (which Double(String) would accept) as strings.
        guard text.contains(where: { $0.isASCII && $0.isNumber }),
              text.allSatisfy({ "0123456789+-.eE_".contains($0) }) else { return nil }
        return Double(text.replacingOccurrences(of: "_", with: ""))
    }
}
