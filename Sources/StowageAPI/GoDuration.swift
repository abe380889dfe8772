/// Go's `time.ParseDuration` syntax (`30m`, `2h`, `1h30m`, `1.5h`, `45s`, `300ms`), which
/// Kubernetes users already write in other operators' specs.
public enum GoDuration {
    /// Nanoseconds per unit, longest unit names first so `ms` wins over `m`.
    private static let units: [(String, Int64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000),
        ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    /// The duration `text` denotes, or nil when it is not a Go duration or overflows
    /// (Go's limit, about 292 years). A bare `0` is allowed; other numbers need a unit.
    public static func parse(_ text: String) -> Duration? {
        nanoseconds(text).map { .nanoseconds($0) }
    }

    static func nanoseconds(_ text: String) -> Int64? {
        var s = Substring(text)
        var negative = false
        if let first = s.first, first == "-" || first == "+" {
            negative = first == "-"
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        var total: Int64 = 0
        while !s.isEmpty {
            let whole = s.prefix { $0.isASCII && $0.isNumber }
            s = s.dropFirst(whole.count)
            var fraction = Substring("")
            if s.first == "." {
                s = s.dropFirst()
                fraction = s.prefix { $0.isASCII && $0.isNumber }
                s = s.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            guard let (unit, scale) = units.first(where: { s.hasPrefix($0.0) }) else { return nil }
            s = s.dropFirst(unit.count)
            guard let value = component(whole: whole, fraction: fraction, scale: scale) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(value)
            guard !overflow else { return nil }
            total = sum
        }
        return negative ? -total : total
    }

    /// `whole.fraction` units in nanoseconds, truncating below a nanosecond as Go does.
    private static func component(whole: Substring, fraction: Substring, scale: Int64) -> Int64? {
        var value: Int64 = 0
        for digit in whole {
            guard let d = digit.wholeNumberValue else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = times10.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = next
        }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        var part: UInt64 = 0
        var divisor: UInt64 = 1
        // Digits beyond the 18th cannot change a nanosecond count, and 18 keep UInt64 safe.
        for digit in fraction.prefix(18) {
            guard let d = digit.wholeNumberValue else { return nil }
            part = part * 10 + UInt64(d)
            divisor *= 10
        }
        // part / divisor < 1, so part * scale / divisor < scale: exact in integers, no rounding.
        let product = part.multipliedFullWidth(by: UInt64(scale))
        let fractional = Int64(divisor.dividingFullWidth(product).quotient)
        let (sum, o3) = scaled.addingReportingOverflow(fractional)
        return o3 ? nil : sum
    }
}
