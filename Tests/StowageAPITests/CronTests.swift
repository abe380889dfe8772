import Foundation
import Testing
@testable import StowageAPI

@Suite struct CronTests {
    /// `2024-03-15T10:07:30Z`, a Friday.
    static let friday = date("2024-03-15T10:07:30Z")

    static func date(_ text: String) -> Date {
        (try? Date.ISO8601FormatStyle().parse(text)) ?? Date(timeIntervalSince1970: 0)
    }

    func next(_ expr: String, after: Date = friday) throws -> String? {
        try CronSchedule(parsing: expr).next(after: after)?.formatted(Date.ISO8601FormatStyle())
    }

    @Test(arguments: [
        ("* * * * *", "2024-03-15T10:08:00Z"),
        ("*/15 * * * *", "2024-03-15T10:15:00Z"),
        ("0 * * * *", "2024-03-15T11:00:00Z"),
        ("@hourly", "2024-03-15T11:00:00Z"),
        ("@daily", "2024-03-16T00:00:00Z"),
        ("@midnight", "2024-03-16T00:00:00Z"),
        ("@weekly", "2024-03-17T00:00:00Z"),
        ("@monthly", "2024-04-01T00:00:00Z"),
        ("@yearly", "2025-01-01T00:00:00Z"),
        ("30 9 * * *", "2024-03-16T09:30:00Z"),
        ("0 9-17/4 * * *", "2024-03-15T13:00:00Z"),
        ("5,35 10 * * *", "2024-03-15T10:35:00Z"),
        ("0 0 * * mon-fri", "2024-03-18T00:00:00Z"),
        ("0 0 * * 7", "2024-03-17T00:00:00Z"),
        ("0 0 1 jan,jul *", "2024-07-01T00:00:00Z"),
        ("0 0 29 2 *", "2028-02-29T00:00:00Z"),
        ("0 0 13 * 5", "2024-03-22T00:00:00Z"),     // either day field matches (Friday)
        ("10/20 * * * *", "2024-03-15T10:10:00Z"),
        ("0 0 31 * *", "2024-03-31T00:00:00Z"),
    ])
    func nextFiring(expr: String, expected: String) throws {
        #expect(try next(expr) == expected)
    }

    @Test func leapDayFromALeapYear() throws {
        #expect(try next("0 0 29 2 *", after: Self.date("2024-01-01T00:00:00Z")) == "2024-02-29T00:00:00Z")
    }

    @Test func neverFiring() throws {
        #expect(try CronSchedule(parsing: "0 0 30 2 *").next(after: Self.friday) == nil)
    }

    @Test func nextIsStrictlyAfter() throws {
        let exact = Self.date("2024-03-15T11:00:00Z")
        #expect(try next("0 * * * *", after: exact) == "2024-03-15T12:00:00Z")
    }

    @Test(arguments: [
        ("", "expected 5 fields (minute hour day-of-month month day-of-week), found 0"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), found 4"),
        ("60 * * * *", "minute field: 60 is outside 0-59"),
        ("* 24 * * *", "hour field: 24 is outside 0-23"),
        ("* * 0 * *", "day-of-month field: 0 is outside 1-31"),
        ("* * * 13 *", "month field: 13 is outside 1-12"),
        ("* * * * 8", "day-of-week field: 8 is outside 0-7"),
        ("*/0 * * * *", "minute field: step \"0\" must be a positive integer"),
        ("5-1 * * * *", "minute field: range \"5-1\" runs backwards"),
        ("x * * * *", "minute field: \"x\" is not a number"),
        ("* * * foo *", "month field: \"foo\" is not a number or a name"),
        ("@often", "unknown macro \"@often\" (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)"),
        ("1,,2 * * * *", "minute field: \"\" is not a number"),
    ])
    func rejects(expr: String, message: String) {
        #expect(throws: CronError(message)) { try CronSchedule(parsing: expr) }
    }

    @Test func civilCalendar() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CronSchedule.civil(fromDays: days)
            #expect(CronSchedule.days(fromCivil: y, m, d) == days)
        }
        #expect(CronSchedule.weekday(days: 0) == 4)
    }
}
