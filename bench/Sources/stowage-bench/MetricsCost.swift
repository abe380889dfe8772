// `stowage-bench metrics-cost BACKEND [VOLUMES] [SCRAPES]`: what the operator's Prometheus
// registry costs with the series of VOLUMES volumes (bench/metrics.sh runs it per backend).
//
// BACKEND is `handwritten` (KubeRuntime's MetricsRegistry) or `prometheus` (swift-prometheus's
// PrometheusCollectorRegistry, label dictionaries sorted into pairs as a caller would). The series are the operator's: per volume and direction the
// five of VolumeMetrics, per volume its schedule's interval, and the series of two
// controllers and the webhook. BENCH_METRICS_DUMP=FILE writes one exposition to FILE (for
// `promtool check metrics`). Times are this thread's CPU (single-threaded, so a loaded
// machine moves them less than wall time); one JSON line on stdout.
import Foundation
import KubeRuntime
import Prometheus

/// The handful of operations the operator does on a registry.
protocol MetricsBackend {
    associatedtype C
    associatedtype G
    associatedtype H
    init()
    func counter(_ name: String, help: String, labels: [String: String]) -> C
    func gauge(_ name: String, help: String, labels: [String: String]) -> G
    func histogram(_ name: String, help: String, labels: [String: String], buckets: [Double]) -> H
    func increment(_ counter: C)
    func set(_ gauge: G, _ value: Double)
    func observe(_ histogram: H, _ value: Double)
    /// Drops a series: the hand-written registry by name and labels, swift-prometheus by the
    /// instrument it handed out.
    func remove(counter: C, _ name: String, labels: [String: String])
    func remove(gauge: G, _ name: String, labels: [String: String])
    /// The exposition's size in bytes.
    func render() -> Int
    /// The exposition itself, for `promtool check metrics` (BENCH_METRICS_DUMP).
    func text() -> String
}

struct HandWrittenBackend: MetricsBackend {
    let r = MetricsRegistry()
    func counter(_ name: String, help: String, labels: [String: String]) -> KubeRuntime.Counter { r.counter(name, help: help, labels: labels) }
    func gauge(_ name: String, help: String, labels: [String: String]) -> KubeRuntime.Gauge { r.gauge(name, help: help, labels: labels) }
    func histogram(_ name: String, help: String, labels: [String: String], buckets: [Double]) -> KubeRuntime.Histogram {
        r.histogram(name, help: help, labels: labels, buckets: buckets)
    }
    func increment(_ counter: KubeRuntime.Counter) { counter.increment() }
    func set(_ gauge: KubeRuntime.Gauge, _ value: Double) { gauge.set(value) }
    func observe(_ histogram: KubeRuntime.Histogram, _ value: Double) { histogram.observe(value) }
    func remove(counter: KubeRuntime.Counter, _ name: String, labels: [String: String]) { r.remove(name, labels: labels) }
    func remove(gauge: KubeRuntime.Gauge, _ name: String, labels: [String: String]) { r.remove(name, labels: labels) }
    func render() -> Int { r.render().utf8.count }
    func text() -> String { r.render() }
}

struct PrometheusBackend: MetricsBackend {
    let r = PrometheusCollectorRegistry()
    static func pairs(_ labels: [String: String]) -> [(String, String)] { labels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) } }
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
    func counter(_ name: String, help: String, labels: [String: String]) -> Prometheus.Counter {
        r.makeCounter(descriptor: Self.descriptor(name, help), labels: Self.pairs(labels))
    }
    func gauge(_ name: String, help: String, labels: [String: String]) -> Prometheus.Gauge {
        r.makeGauge(descriptor: Self.descriptor(name, help), labels: Self.pairs(labels))
    }
    func histogram(_ name: String, help: String, labels: [String: String], buckets: [Double]) -> ValueHistogram {
        r.makeValueHistogram(descriptor: Self.descriptor(name, help), labels: Self.pairs(labels), buckets: buckets)
    }
    func increment(_ counter: Prometheus.Counter) { counter.increment() }
    func set(_ gauge: Prometheus.Gauge, _ value: Double) { gauge.set(to: value) }
    func observe(_ histogram: ValueHistogram, _ value: Double) { histogram.record(value) }
    func remove(counter: Prometheus.Counter, _ name: String, labels: [String: String]) { r.unregisterCounter(counter) }
    func remove(gauge: Prometheus.Gauge, _ name: String, labels: [String: String]) { r.unregisterGauge(gauge) }
    func render() -> Int {
        var buffer: [UInt8] = []
        r.emit(into: &buffer)
        return buffer.count
    }
    func text() -> String { r.emitToString() }
}

private func threadCPU() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

private func cpu<T>(_ body: () -> T) -> (T, Double) {
    let start = threadCPU()
    let result = body()
    return (result, threadCPU() - start)
}

private func residentMiB() -> Double {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
          let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

private let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
private let webhookBuckets: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5]
private let perDirection: [(name: String, help: String, counter: Bool)] = [
    ("stowage_volume_last_sync_succeeded", "1 if the volume's last sync in this direction succeeded, 0 if it failed.", false),
    ("stowage_volume_last_sync_timestamp_seconds", "When the volume's last sync in this direction ended (Unix seconds).", false),
    ("stowage_volume_last_success_timestamp_seconds", "When the volume's last successful sync in this direction ended (Unix seconds).", false),
    ("stowage_volume_syncs_total", "Finished syncs of the volume in this direction, recorded by this process.", true),
    ("stowage_volume_sync_failures_total", "Failed syncs of the volume in this direction, recorded by this process.", true),
]
private let interval = ("stowage_volume_sync_interval_seconds", "Seconds between the next two scheduled syncs of the volume (spec.sync.schedule).")

/// One volume's instruments, as a caller that removes by instrument keeps them.
private struct VolumeSeries<B: MetricsBackend> {
    var gauges: [(B.G, String, [String: String])] = []
    var counters: [(B.C, String, [String: String])] = []
}

private func volumeLabels(_ i: Int) -> [String: String] {
    ["namespace": "team-\(i % 100)", "name": String(format: "dv-%05d", i), "kind": "DataVolume"]
}

private func run<B: MetricsBackend>(_: B.Type, volumes: Int, scrapes: Int) -> String {
    let b = B()
    let rssBefore = residentMiB()
    // The controllers' and the webhook's series.
    let (held, setupSeconds) = cpu { () -> (B.C, B.H) in
        for controller in ["datavolumes", "sharedvolumes"] {
            for result in ["success", "error", "terminal_error"] {
                b.increment(b.counter("stowage_reconcile_total", help: "Reconcile passes by result.", labels: ["controller": controller, "result": result]))
            }
            b.increment(b.counter("stowage_reconcile_errors_total", help: "Reconcile passes that failed.", labels: ["controller": controller]))
            b.observe(b.histogram("stowage_reconcile_duration_seconds", help: "Time per reconcile pass.", labels: ["controller": controller], buckets: defaultBuckets), 0.02)
            b.observe(b.histogram("stowage_workqueue_queue_duration_seconds", help: "Time a key waited in the queue.", labels: ["controller": controller], buckets: defaultBuckets), 0.001)
            b.set(b.gauge("stowage_workqueue_depth", help: "Keys waiting in the queue.", labels: ["controller": controller]), 3)
            for kind in ["DataVolume", "Pod"] {
                b.increment(b.counter("stowage_watch_restarts_total", help: "Watches restarted, by kind and reason.", labels: ["controller": controller, "kind": kind, "reason": "gone"]))
            }
        }
        for path in ["/mutate-pods", "/validate-pods", "/validate-volumes"] {
            b.increment(b.counter("stowage_webhook_requests_total", help: "Admission requests by path and HTTP status.", labels: ["path": path, "code": "200"]))
            b.observe(b.histogram("stowage_webhook_request_duration_seconds", help: "Time to decide one admission request.", labels: ["path": path], buckets: webhookBuckets), 0.0007)
        }
        return (b.counter("stowage_reconcile_total", help: "Reconcile passes by result.", labels: ["controller": "datavolumes", "result": "success"]),
                b.histogram("stowage_reconcile_duration_seconds", help: "Time per reconcile pass.", labels: ["controller": "datavolumes"], buckets: defaultBuckets))
    }

    // Every volume's first pass: its series are made and set.
    let now = 1_764_000_000.0
    let (series, populateSeconds) = cpu { () -> [VolumeSeries<B>] in
        (0..<volumes).map { i in
            var s = VolumeSeries<B>()
            let volume = volumeLabels(i)
            for direction in ["pull", "push"] {
                var labels = volume
                labels["direction"] = direction
                for metric in perDirection {
                    if metric.counter {
                        let c = b.counter(metric.name, help: metric.help, labels: labels)
                        b.increment(c)
                        s.counters.append((c, metric.name, labels))
                    } else {
                        let g = b.gauge(metric.name, help: metric.help, labels: labels)
                        b.set(g, metric.name.hasSuffix("succeeded") ? 1 : now + Double(i) + 0.25)
                        s.gauges.append((g, metric.name, labels))
                    }
                }
            }
            let g = b.gauge(interval.0, help: interval.1, labels: volume)
            b.set(g, 3600)
            s.gauges.append((g, interval.0, volume))
            return s
        }
    }
    let rssPopulated = residentMiB()

    // Scrapes: the median of SCRAPES.
    var bytes = 0
    var scrapeTimes: [Double] = []
    for _ in 0..<scrapes {
        let (n, t) = cpu { b.render() }
        bytes = n
        scrapeTimes.append(t)
    }
    scrapeTimes.sort()
    if let path = ProcessInfo.processInfo.environment["BENCH_METRICS_DUMP"] {
        FileManager.default.createFile(atPath: path, contents: Data(b.text().utf8))
    }

    // Hot paths: an increment and an observation on instruments the caller holds, and the
    // controller's lookup-then-increment of every pass.
    let ops = 5_000_000
    let (_, incrementSeconds) = cpu { for _ in 0..<ops { b.increment(held.0) } }
    let (_, observeSeconds) = cpu { for i in 0..<ops { b.observe(held.1, Double(i & 1023) / 1000) } }
    let lookups = 500_000
    let (_, lookupSeconds) = cpu {
        for _ in 0..<lookups {
            b.increment(b.counter("stowage_reconcile_total", help: "Reconcile passes by result.", labels: ["controller": "datavolumes", "result": "success"]))
        }
    }
    // A volume's later pass as VolumeMetrics makes it: its gauges looked up and set.
    let passes = min(volumes, 10_000)
    let (_, passSeconds) = cpu {
        for i in 0..<passes {
            let volume = volumeLabels(i)
            var labels = volume
            labels["direction"] = "push"
            for metric in perDirection where !metric.counter {
                b.set(b.gauge(metric.name, help: metric.help, labels: labels), now + Double(i))
            }
            b.set(b.gauge(interval.0, help: interval.1, labels: volume), 3600)
        }
    }

    // Volumes deleted: the first 1 % one by one in a full registry, then the rest (the
    // reconciler stopping: forgetAll).
    func forget(_ s: VolumeSeries<B>) {
        for (g, name, labels) in s.gauges { b.remove(gauge: g, name, labels: labels) }
        for (c, name, labels) in s.counters { b.remove(counter: c, name, labels: labels) }
    }
    let few = max(1, volumes / 100)
    let (_, forgetFewSeconds) = cpu { for s in series.prefix(few) { forget(s) } }
    let (_, forgetRestSeconds) = cpu { for s in series.dropFirst(few) { forget(s) } }
    let emptyBytes = b.render()

    let seriesCount = volumes * 11
    func ms(_ s: Double) -> String { String(format: "%.3f", s * 1000) }
    func ns(_ s: Double, _ n: Int) -> String { String(format: "%.1f", s * 1e9 / Double(n)) }
    return #"{"command":"metrics-cost","backend":"\#(B.self)","volumes":\#(volumes),"volumeSeries":\#(seriesCount),"#
        + #""setupMs":\#(ms(setupSeconds)),"populateMs":\#(ms(populateSeconds)),"rssPopulatedMiB":\#(String(format: "%.1f", rssPopulated - rssBefore)),"#
        + #""scrapeMsMedian":\#(ms(scrapeTimes[scrapeTimes.count / 2])),"scrapeMsMin":\#(ms(scrapeTimes.first ?? 0)),"scrapeBytes":\#(bytes),"#
        + #""incrementNs":\#(ns(incrementSeconds, ops)),"observeNs":\#(ns(observeSeconds, ops)),"lookupIncrementNs":\#(ns(lookupSeconds, lookups)),"#
        + #""volumePassUs":\#(String(format: "%.2f", passSeconds * 1e6 / Double(passes))),"#
        + #""forgetOneVolumeMs":\#(String(format: "%.4f", forgetFewSeconds * 1000 / Double(few))),"forgetAllRestMs":\#(ms(forgetRestSeconds)),"bytesAfterForget":\#(emptyBytes)}"#
}

func metricsCost(backend: String, volumes: Int, scrapes: Int) {
    switch backend {
    case "handwritten": print(run(HandWrittenBackend.self, volumes: volumes, scrapes: scrapes))
    case "prometheus": print(run(PrometheusBackend.self, volumes: volumes, scrapes: scrapes))
    default: fail("metrics-cost: BACKEND is handwritten or prometheus")
    }
}
