import Foundation

/// Kubernetes resource quantities (`10Gi`, `500M`, `1.5T`, `1e9`), as `spec.size` holds them.
public enum Quantity {
    private static let binary: [String: Double] = [
        "Ki": 0x1p10, "Mi": 0x1p20, "Gi": 0x1p30, "Ti": 0x1p40, "Pi": 0x1p50, "Ei": 0x1p60,
    ]
    private static let decimal: [String: Double] = [
        "n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
    ]

    /// The value in base units (bytes for sizes), or nil when `text` is not a quantity in
    /// the Kubernetes grammar (`<signed number><Ki|Mi|...|m|k|M|...|e<exponent>>`).
    public static func value(_ text: String) -> Double? {
        var s = Substring(text)
        var sign = 1.0
        if let first = s.first, first == "+" || first == "-" {
            sign = first == "-" ? -1 : 1
            s = s.dropFirst()
        }
        let number = s.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        guard isDecimal(number), let magnitude = Double(number) else { return nil }
        let suffix = String(s.dropFirst(number.count))
        if let factor = binary[suffix] ?? decimal[suffix] { return sign * magnitude * factor }
        if let first = suffix.first, first == "e" || first == "E" {
            var exponent = Substring(suffix.dropFirst())
            var exponentSign = 1.0
            if let f = exponent.first, f == "+" || f == "-" {
                exponentSign = f == "-" ? -1 : 1
                exponent = exponent.dropFirst()
            }
            guard isDecimal(exponent), let e = Double(exponent) else { return nil }
            return sign * magnitude * pow(10, exponentSign * e)
        }
        return nil
    }

    /// `1`, `1.`, `1.5`, `.5`; not `.` or `1.2.3`.
    private static func isDecimal(_ s: Substring) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { return false }
        return parts.contains { !$0.isEmpty }
    }

    /// The pattern the CRD schemas use for sizes: a quantity without a sign.
    public static let sizePattern = #"^(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"#
}
