import Synchronization

/// The operator's Prometheus metrics: counters, gauges and histograms that the controllers,
/// the work queue and the watcher update, rendered for `/metrics` in the text exposition
/// format 0.0.4.
///
/// Instruments are looked up by name and labels: asking twice for the same pair returns the
/// same instrument, so callers may either keep a reference (hot paths) or ask each time.
/// Names and label names must be valid Prometheus identifiers, and one name keeps one type
/// (and, for histograms, one set of buckets); breaking that is a programming error.
///
/// Hand-written, not swift-prometheus, by measurement (`bench/metrics.sh`, issue 18,
/// 2026-12-02, release build, one thread's CPU, the series of N volumes as `VolumeMetrics`
/// makes them, 11 each): swift-prometheus 2.4.1 copies a family's table of series for every
/// series it adds or removes, so making and dropping them grows with the square of the
/// volumes (1,000 volumes: 213 ms to make them, 176 ms to drop them; 10,000: over 96 s,
/// unfinished). Here: 52 and 8 ms for 1,000, 583 and 137 ms for 10,000. A scrape writes
/// each series' labels as they were written when the series was made (`Series`): 10.5 ms
/// for 1,000 volumes (the library: 1.5), 146 ms for 10,000 (before: 324 ms and 3.3 s).
public final class MetricsRegistry: Sendable {
    /// Seconds, from 5 ms to 10 s: the client libraries' default, apt for reconcile and
    /// request durations.
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    private let families = Mutex<[String: Family]>([:])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String: String] = [:]) -> Counter {
        guard case .counter(let c) = instrument(name, help: help, kind: .counter, labels: labels, make: { .counter(Counter()) }) else {
            preconditionFailure("metric \(name) is not a counter")
        }
        return c
    }

    public func gauge(_ name: String, help: String, labels: [String: String] = [:]) -> Gauge {
        guard case .gauge(let g) = instrument(name, help: help, kind: .gauge, labels: labels, make: { .gauge(Gauge()) }) else {
            preconditionFailure("metric \(name) is not a gauge")
        }
        return g
    }

    /// A histogram of `buckets` (upper bounds, ascending; `+Inf` is implied).
    public func histogram(_ name: String, help: String, labels: [String: String] = [:], buckets: [Double] = MetricsRegistry.defaultBuckets) -> Histogram {
        let bounds = buckets.filter { $0.isFinite }.sorted()
        precondition(labels["le"] == nil, "histogram \(name) cannot have a label named le")
        guard case .histogram(let h) = instrument(name, help: help, kind: .histogram(bounds), labels: labels, make: { .histogram(Histogram(bounds: bounds)) }) else {
            preconditionFailure("metric \(name) is not a histogram")
        }
        return h
    }

    /// Drops the series of `name` with exactly `labels`, so it is no longer exposed (the
    /// object it described is gone); Prometheus marks it stale at the next scrape. A family
    /// left without series is dropped too. Removing what is not there does nothing.
    public func remove(_ name: String, labels: [String: String]) {
        let key = LabelSet(labels: labels)
        families.withLock { families in
            guard families[name]?.series.removeValue(forKey: key) != nil, families[name]?.series.isEmpty == true else { return }
            families[name] = nil
        }
    }

    /// Every series, families sorted by name and series by labels, in the Prometheus text
    /// exposition format 0.0.4.
    public func render() -> String {
        let snapshot = families.withLock { $0 }
        var out = ""
        for name in snapshot.keys.sorted() {
            let family = snapshot[name]!
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n"
            out += "# TYPE \(name) \(family.kind.typeName)\n"
            // Each series' labels were written once, when it was made.
            for series in family.series.values.sorted(by: { $0.sortKey < $1.sortKey }) {
                let labels = series.labels
                switch series.instrument {
                case .counter(let c):
                    out += "\(name)\(Self.braces(labels)) \(Self.format(c.value))\n"
                case .gauge(let g):
                    out += "\(name)\(Self.braces(labels)) \(Self.format(g.value))\n"
                case .histogram(let h):
                    let s = h.snapshot()
                    let comma = labels.isEmpty ? "" : ","
                    var cumulative: UInt64 = 0
                    for (bound, count) in zip(h.bounds, s.counts) {
                        cumulative += count
                        out += "\(name)_bucket{\(labels)\(comma)le=\"\(Self.format(bound))\"} \(cumulative)\n"
                    }
                    out += "\(name)_bucket{\(labels)\(comma)le=\"+Inf\"} \(s.count)\n"
                    out += "\(name)_sum\(Self.braces(labels)) \(Self.format(s.sum))\n"
                    out += "\(name)_count\(Self.braces(labels)) \(s.count)\n"
                }
            }
        }
        return out
    }

    /// `{a="x",b="y"}` of a series' written labels, or nothing for none.
    static func braces(_ labels: String) -> String { labels.isEmpty ? "" : "{" + labels + "}" }

    // MARK: internals

    enum Kind: Equatable {
        case counter, gauge
        case histogram([Double])

        var typeName: String {
            switch self {
            case .counter: "counter"
            case .gauge: "gauge"
            case .histogram: "histogram"
            }
        }
    }

    enum Instrument: Sendable {
        case counter(Counter)
        case gauge(Gauge)
        case histogram(Histogram)
    }

    struct Family: Sendable {
        var help: String
        var kind: Kind
        var series: [LabelSet: Series]
    }

    /// One series: its instrument, and its labels as the exposition writes them and sorts
    /// them, made once (a scrape of 10,000 volumes' series wrote them anew each time: 3.3 s).
    struct Series: Sendable {
        var instrument: Instrument
        var sortKey: String
        /// `a="x",b="y"`, names in order, values escaped.
        var labels: String

        init(_ instrument: Instrument, _ set: LabelSet) {
            self.instrument = instrument
            let pairs = set.sorted
            sortKey = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "\u{0}")
            labels = pairs.map { "\($0.0)=\"\(MetricsRegistry.escapeLabelValue($0.1))\"" }.joined(separator: ",")
        }
    }

    struct LabelSet: Hashable, Sendable {
        var labels: [String: String]

        /// Labels in name order, so a series always renders (and sorts) the same way.
        var sorted: [(String, String)] { labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    }

    private func instrument(_ name: String, help: String, kind: Kind, labels: [String: String], make: () -> Instrument) -> Instrument {
        precondition(Self.isValidName(name, colons: true), "invalid metric name \(name)")
        for key in labels.keys {
            precondition(Self.isValidName(key, colons: false) && !key.hasPrefix("__"), "invalid label name \(key) of \(name)")
        }
        let key = LabelSet(labels: labels)
        return families.withLock { families in
            if let family = families[name] {
                precondition(family.kind == kind, "metric \(name) registered as \(family.kind), asked for as \(kind)")
                if let existing = family.series[key] { return existing.instrument }
                let new = make()
                families[name]!.series[key] = Series(new, key)
                return new
            }
            let new = make()
            families[name] = Family(help: help, kind: kind, series: [key: Series(new, key)])
            return new
        }
    }

    static func isValidName(_ name: String, colons: Bool) -> Bool {
        guard let first = name.unicodeScalars.first else { return false }
        func letter(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("A"..."Z").contains(c) || c == "_" || (colons && c == ":") }
        return letter(first) && name.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) }
    }

    /// HELP text escapes backslash and newline (format 0.0.4).
    static func escapeHelp(_ text: String) -> String {
        text.replacingAll("\\", with: "\\\\").replacingAll("\n", with: "\\n")
    }

    /// Label values escape backslash, double quote and newline (format 0.0.4).
    static func escapeLabelValue(_ text: String) -> String {
        text.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n")
    }

    /// Sample values as Go's `strconv.ParseFloat` reads them: integers without a fraction,
    /// and `+Inf`, `-Inf`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

extension String {
    fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
        guard contains(target) else { return self }
        var out = ""
        out.reserveCapacity(count)
        for c in self {
            if c == target { out += replacement } else { out.append(c) }
        }
        return out
    }
}

/// A value that only goes up (events, reconciles, errors), reset only by a restart.
public final class Counter: Sendable {
    // A Double kept as its bit pattern: lock-free on the hot path.
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    init() {}

    public func increment(by amount: Double = 1) {
        precondition(amount >= 0, "a counter cannot go down")
        atomicUpdate(bits) { $0 + amount }
    }

    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

/// A value that goes up and down (queue depth, leadership, objects in a cache).
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(0.0.bitPattern)

    init() {}

    public func set(_ value: Double) { bits.store(value.bitPattern, ordering: .relaxed) }
    public func add(_ delta: Double) { atomicUpdate(bits) { $0 + delta } }
    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

/// The distribution of durations (in seconds) or sizes, as cumulative buckets, a sum and a
/// count.
public final class Histogram: Sendable {
    let bounds: [Double]
    private let state: Mutex<Snapshot>

    struct Snapshot: Sendable {
        /// Per bucket, not cumulative; the `+Inf` bucket is `count`.
        var counts: [UInt64]
        var sum: Double = 0
        var count: UInt64 = 0
    }

    init(bounds: [Double]) {
        self.bounds = bounds
        state = Mutex(Snapshot(counts: Array(repeating: 0, count: bounds.count)))
    }

    public func observe(_ value: Double) {
        // The first bucket whose upper bound holds the value; past the last one only +Inf does.
        let index = bounds.firstIndex { value <= $0 }
        state.withLock { s in
            if let index { s.counts[index] += 1 }
            s.sum += value
            s.count += 1
        }
    }

    /// Observes a duration in seconds.
    public func observe(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        observe(Double(seconds) + Double(attoseconds) / 1e18)
    }

    func snapshot() -> Snapshot { state.withLock { $0 } }
}

private func atomicUpdate(_ bits: borrowing Atomic<UInt64>, _ change: (Double) -> Double) {
    var old = bits.load(ordering: .relaxed)
    while true {
        let new = change(Double(bitPattern: old)).bitPattern
        let (exchanged, current) = bits.compareExchange(expected: old, desired: new, ordering: .relaxed)
        if exchanged { return }
        old = current
    }
}
