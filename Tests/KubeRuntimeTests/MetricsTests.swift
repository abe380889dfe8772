import Foundation
import Testing
@testable import KubeRuntime

@Suite struct MetricsTests {
    @Test func counterAndGaugeExposition() {
        let registry = MetricsRegistry()
        let ok = registry.counter("stowage_reconcile_total", help: "Reconcile passes.", labels: ["controller": "dv", "result": "success"])
        ok.increment()
        ok.increment(by: 2)
        registry.counter("stowage_reconcile_total", help: "Reconcile passes.", labels: ["result": "error", "controller": "dv"]).increment()
        let depth = registry.gauge("stowage_queue_depth", help: "Keys waiting.")
        depth.set(5)
        depth.add(-1.5)

        #expect(registry.render() == """
        # HELP stowage_queue_depth Keys waiting.
        # TYPE stowage_queue_depth gauge
        stowage_queue_depth 3.5
        # HELP stowage_reconcile_total Reconcile passes.
        # TYPE stowage_reconcile_total counter
        stowage_reconcile_total{controller="dv",result="error"} 1
        stowage_reconcile_total{controller="dv",result="success"} 3

        """)
    }

    @Test func sameNameAndLabelsGiveTheSameInstrument() {
        let registry = MetricsRegistry()
        let a = registry.counter("c_total", help: "h", labels: ["x": "1", "y": "2"])
        let b = registry.counter("c_total", help: "h", labels: ["y": "2", "x": "1"])
        let other = registry.counter("c_total", help: "h", labels: ["x": "2"])
        #expect(a === b)
        #expect(a !== other)
        #expect(registry.histogram("h_seconds", help: "h") === registry.histogram("h_seconds", help: "h"))
    }

    @Test func aRemovedSeriesIsNoLongerExposedAndItsEmptyFamilyGoes() {
        let registry = MetricsRegistry()
        registry.gauge("v", help: "h", labels: ["name": "a"]).set(1)
        registry.gauge("v", help: "h", labels: ["name": "b"]).set(2)
        registry.remove("v", labels: ["name": "a"])
        registry.remove("v", labels: ["name": "never"])
        #expect(registry.render() == "# HELP v h\n# TYPE v gauge\nv{name=\"b\"} 2\n")
        registry.remove("v", labels: ["name": "b"])
        #expect(registry.render() == "", "no family is rendered without a series")
        // Asked for again, it starts afresh.
        #expect(registry.gauge("v", help: "h", labels: ["name": "a"]).value == 0)
    }

    @Test func histogramBucketsAreCumulative() {
        let registry = MetricsRegistry()
        let h = registry.histogram("stowage_reconcile_duration_seconds", help: "Time per pass.", labels: ["controller": "dv"], buckets: [0.1, 1, 0.5])
        for v in [0.05, 0.1, 0.3, 0.7, 3.0] { h.observe(v) }
        h.observe(.milliseconds(250))

        #expect(registry.render() == """
        # HELP stowage_reconcile_duration_seconds Time per pass.
        # TYPE stowage_reconcile_duration_seconds histogram
        stowage_reconcile_duration_seconds_bucket{controller="dv",le="0.1"} 2
        stowage_reconcile_duration_seconds_bucket{controller="dv",le="0.5"} 4
        stowage_reconcile_duration_seconds_bucket{controller="dv",le="1"} 5
        stowage_reconcile_duration_seconds_bucket{controller="dv",le="+Inf"} 6
        stowage_reconcile_duration_seconds_sum{controller="dv"} 4.4
        stowage_reconcile_duration_seconds_count{controller="dv"} 6

        """)
    }

    @Test func defaultBucketsAreThePrometheusOnes() {
        let registry = MetricsRegistry()
        registry.histogram("d_seconds", help: "h").observe(0.004)
        let text = registry.render()
        #expect(text.contains(#"d_seconds_bucket{le="0.005"} 1"#))
        #expect(text.contains(#"d_seconds_bucket{le="10"} 1"#))
        #expect(text.contains(#"d_seconds_bucket{le="+Inf"} 1"#))
        #expect(text.components(separatedBy: "d_seconds_bucket").count - 1 == 12)
    }

    @Test func escaping() {
        let registry = MetricsRegistry()
        registry.gauge("g", help: "a \\ backslash\nand a newline", labels: ["path": "C:\\dir \"quoted\"\nnext"]).set(1)
        #expect(registry.render() == """
        # HELP g a \\\\ backslash\\nand a newline
        # TYPE g gauge
        g{path="C:\\\\dir \\"quoted\\"\\nnext"} 1

        """)
    }

    @Test func specialValues() {
        #expect(MetricsRegistry.format(.infinity) == "+Inf")
        #expect(MetricsRegistry.format(-.infinity) == "-Inf")
        #expect(MetricsRegistry.format(.nan) == "NaN")
        #expect(MetricsRegistry.format(2) == "2")
        #expect(MetricsRegistry.format(0.25) == "0.25")
        #expect(MetricsRegistry.format(1e20) == "1e+20")
    }

    @Test func names() {
        #expect(MetricsRegistry.isValidName("stowage:rate_5m", colons: true))
        #expect(!MetricsRegistry.isValidName("9lives", colons: true))
        #expect(!MetricsRegistry.isValidName("a-b", colons: true))
        #expect(!MetricsRegistry.isValidName("a:b", colons: false))
        #expect(!MetricsRegistry.isValidName("", colons: true))
    }

    @Test func concurrentUpdatesAreNotLost() async {
        let registry = MetricsRegistry()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<10_000 {
                        registry.counter("n_total", help: "h").increment()
                        registry.gauge("g", help: "h").add(1)
                        registry.histogram("h_seconds", help: "h").observe(0.01)
                    }
                }
            }
        }
        #expect(registry.counter("n_total", help: "h").value == 80_000)
        #expect(registry.gauge("g", help: "h").value == 80_000)
        #expect(registry.render().contains("h_seconds_count 80000\n"))
    }
}
