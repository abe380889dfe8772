/// A JSON number as written: an integer that fits `Int64` (nearly every number Kubernetes
/// sends: counts, sizes, generations, ports) is kept as that integer, any other number as its
/// literal text, so that parsing and writing again gives back the same bytes (`2^53 + 1`,
/// `1e400`, `0.1`, `-0`) and integers are read exactly.
///
/// Two numbers are equal when they denote the same decimal value (`1e3` equals `1000`,
/// `0.30000000000000001` does not equal `0.3`), whatever their text.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    enum Storage: Sendable {
        case integer(Int64)
        /// Valid JSON number text (from the parser or from a finite `Double`), never an
        /// integer that fits `Int64` except `-0`.
        case literal(String)
    }

    let storage: Storage

    public init(_ value: some BinaryInteger) {
        if let i = Int64(exactly: value) { storage = .integer(i) } else { storage = .literal(String(value)) }
    }

    /// The shortest text that reads back as `value`; integral values that fit `Int64` as
    /// integers. Not finite: `null`, as JSON has no such number (written as `null`).
    public init(_ value: Double) {
        if let i = Int64(exactly: value), !(value == 0 && value.sign == .minus) { storage = .integer(i) }
        else if value.isFinite { storage = .literal("\(value)") }
        else { storage = .literal("null") }
    }

    /// `text` is JSON number text, as checked by the parser.
    init(literal text: String) { storage = .literal(text) }

    /// The number's JSON text.
    public var text: String {
        switch storage {
        case .integer(let i): String(i)
        case .literal(let s): s
        }
    }

    public var description: String { text }

    /// The nearest `Double` (infinite beyond its range, as `1e400`).
    public var double: Double {
        switch storage {
        case .integer(let i): Double(i)
        case .literal(let s): Double(s) ?? .nan
        }
    }

    /// The number as an `Int64`, exactly, or nil when it is not an integer in its range.
    public var int64: Int64? { exactly(Int64.self) }

    /// The number as `I`, exactly (`1e3` and `1000.0` are 1000), or nil when it is not an
    /// integer in `I`'s range.
    public func exactly<I: FixedWidthInteger>(_ type: I.Type) -> I? {
        switch storage {
        case .integer(let i): return I(exactly: i)
        case .literal(let s):
            guard let d = DecimalValue(s) else { return nil }
            if d.digits.isEmpty { return 0 }
            guard d.exponent >= 0, d.digits.count + d.exponent <= 20 else { return nil }
            var value: I = 0
            for digit in d.digits + Array(repeating: 0, count: d.exponent) {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (next, o2) = d.negative ? times10.subtractingReportingOverflow(I(digit)) : times10.addingReportingOverflow(I(digit))
                guard !o1, !o2 else { return nil }
                value = next
            }
            return value
        }
    }

    public static func == (a: JSONNumber, b: JSONNumber) -> Bool {
        switch (a.storage, b.storage) {
        case (.integer(let x), .integer(let y)): return x == y
        case (.literal(let x), .literal(let y)) where x == y: return true
        default: return DecimalValue(a.text) == DecimalValue(b.text)
        }
    }

    /// By the nearest `Double`: equal decimal values round to the same one.
    public func hash(into hasher: inout Hasher) { hasher.combine(double) }

    /// A number's decimal value: sign, significant digits without trailing zeros, and the
    /// power of ten they are multiplied by. Zero has no digits (and no sign).
    struct DecimalValue: Equatable {
        var negative: Bool
        var digits: [UInt8]
        var exponent: Int

        /// Of JSON number text (nil for anything else, as `null`).
        init?(_ text: String) {
            var negative = false, digits: [UInt8] = [], exponent = 0, fraction = 0
            var bytes = Substring(text).utf8[...]
            if bytes.first == UInt8(ascii: "-") { negative = true; bytes = bytes.dropFirst() }
            var seenDigit = false, inFraction = false
            while let b = bytes.first {
                if b &- UInt8(ascii: "0") < 10 {
                    seenDigit = true
                    // Leading zeros carry no value.
                    if !(digits.isEmpty && b == UInt8(ascii: "0")) { digits.append(b - UInt8(ascii: "0")) }
                    if inFraction { fraction += 1 }
                } else if b == UInt8(ascii: "."), !inFraction {
                    inFraction = true
                } else {
                    break
                }
                bytes = bytes.dropFirst()
            }
            guard seenDigit else { return nil }
            if let e = bytes.first, e | 0x20 == UInt8(ascii: "e") {
                bytes = bytes.dropFirst()
                var exponentNegative = false
                if bytes.first == UInt8(ascii: "+") || bytes.first == UInt8(ascii: "-") {
                    exponentNegative = bytes.first == UInt8(ascii: "-")
                    bytes = bytes.dropFirst()
                }
                guard !bytes.isEmpty else { return nil }
                for b in bytes {
                    guard b &- UInt8(ascii: "0") < 10 else { return nil }
                    // Saturated: an exponent past a billion is no number anyone writes.
                    exponent = min(exponent * 10 + Int(b - UInt8(ascii: "0")), 1_000_000_000)
                }
                if exponentNegative { exponent = -exponent }
            } else if !bytes.isEmpty {
                return nil
            }
            // A fraction's leading zeros were dropped above as if they led the integer part:
            // the exponent still counts every fraction digit, which is what places them.
            exponent -= fraction
            while digits.last == 0 { digits.removeLast(); exponent += 1 }
            if digits.isEmpty { negative = false; exponent = 0 }
            self.negative = negative
            self.digits = digits
            self.exponent = exponent
        }
    }
}

extension JSONNumber: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    public init(integerLiteral value: Int64) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }
}
