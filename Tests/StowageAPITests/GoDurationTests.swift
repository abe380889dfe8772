import Testing
@testable import StowageAPI

@Suite struct GoDurationTests {
    @Test(arguments: [
        ("0", Duration.zero),
        ("45s", .seconds(45)),
        ("30m", .seconds(1800)),
        ("2h", .seconds(7200)),
        ("1h30m", .seconds(5400)),
        ("1.5h", .seconds(5400)),
        ("300ms", .milliseconds(300)),
        ("1h0m0s", .seconds(3600)),
        ("2m3.25s", .milliseconds(123_250)),
        (".5s", .milliseconds(500)),
        ("1us", .microseconds(1)),
        ("1µs", .microseconds(1)),
        ("7ns", .nanoseconds(7)),
        ("-1m", .seconds(-60)),
        ("+5s", .seconds(5)),
        ("0.000000001s", .nanoseconds(1)),
        ("1.0000000001s", .seconds(1)),
        ("2562047h", .seconds(2562047 * 3600)),
    ])
    func parses(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "1", "h", "1d", "1 h", "1h30", ".s", "1..5s", "-", "3 days", "1e3s", "9999999999999h", "2562048h"])
    func rejects(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }
}
