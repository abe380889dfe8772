import Foundation

/// A 5-field cron schedule (`minute hour day-of-month month day-of-week`, evaluated in UTC)
/// for `spec.sync.schedule`, with the syntax Kubernetes CronJobs accept: `*`, lists (`1,15`),
/// ranges (`1-5`), steps (`*/15`, `0-30/10`, `5/20`), month and weekday names (`jan`, `mon`),
/// weekday 7 as Sunday, and the macros `@hourly`, `@daily`/`@midnight`, `@weekly`,
/// `@monthly`, `@yearly`/`@annually`.
///
/// As in Vixie cron, when both day fields are restricted a day matches if either does.
public struct CronSchedule: Sendable, Hashable, CustomStringConvertible {
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let daysOfMonth: Set<Int>
    public let months: Set<Int>
    /// 0 is Sunday.
    public let daysOfWeek: Set<Int>
    /// The text it was parsed from.
    public let description: String
    private let dayOfMonthRestricted: Bool
    private let dayOfWeekRestricted: Bool

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
        "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    private static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let dayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(parsing text: String) throws(CronError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expanded: String
        if trimmed.hasPrefix("@") {
            guard let macro = Self.macros[trimmed.lowercased()] else {
                throw CronError("unknown macro \"\(trimmed)\" (expected @hourly, @daily, @midnight, @weekly, @monthly, @yearly or @annually)")
            }
            expanded = macro
        } else {
            expanded = trimmed
        }
        let fields = expanded.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw CronError("expected 5 fields (minute hour day-of-month month day-of-week), found \(fields.count)")
        }
        minutes = try Self.field(fields[0], name: "minute", range: 0...59, names: [])
        hours = try Self.field(fields[1], name: "hour", range: 0...23, names: [])
        daysOfMonth = try Self.field(fields[2], name: "day-of-month", range: 1...31, names: [])
        months = try Self.field(fields[3], name: "month", range: 1...12, names: Self.monthNames, firstName: 1)
        // 7 is accepted as Sunday, then folded onto 0.
        daysOfWeek = Set(try Self.field(fields[4], name: "day-of-week", range: 0...7, names: Self.dayNames).map { $0 % 7 })
        dayOfMonthRestricted = !fields[2].hasPrefix("*")
        dayOfWeekRestricted = !fields[4].hasPrefix("*")
        description = text
    }

    /// The first time strictly after `date` (to the minute) the schedule fires, or nil when it
    /// never does within eight years (`0 0 30 2 *`).
    public func next(after date: Date) -> Date? {
        // Whole minutes since the epoch, then the next minute.
        let start = Int64((date.timeIntervalSince1970 / 60).rounded(.down)) + 1
        var day = Self.floorDiv(start, 1440)
        var (year, month, dayOfMonth) = Self.civil(fromDays: day)
        var hour = Int((start - day * 1440) / 60)
        var minute = Int((start - day * 1440) % 60)
        let lastYear = year + 8
        while year <= lastYear {
            if !months.contains(month) {
                (year, month) = month == 12 ? (year + 1, 1) : (year, month + 1)
                dayOfMonth = 1; hour = 0; minute = 0
                day = Self.days(fromCivil: year, month, 1)
                continue
            }
            if !dayMatches(dayOfMonth: dayOfMonth, weekday: Self.weekday(days: day)) {
                day += 1
                let next = Self.civil(fromDays: day)
                (year, month, dayOfMonth) = next
                hour = 0; minute = 0
                continue
            }
            if !hours.contains(hour) {
                hour += 1; minute = 0
                if hour == 24 {
                    day += 1; hour = 0
                    (year, month, dayOfMonth) = Self.civil(fromDays: day)
                }
                continue
            }
            if !minutes.contains(minute) {
                minute += 1
                if minute == 60 {
                    minute = 0; hour += 1
                    if hour == 24 {
                        day += 1; hour = 0
                        (year, month, dayOfMonth) = Self.civil(fromDays: day)
                    }
                }
                continue
            }
            let minutesSinceEpoch = day * 1440 + Int64(hour * 60 + minute)
            return Date(timeIntervalSince1970: TimeInterval(minutesSinceEpoch * 60))
        }
        return nil
    }

    private func dayMatches(dayOfMonth: Int, weekday: Int) -> Bool {
        let domOK = daysOfMonth.contains(dayOfMonth)
        let dowOK = daysOfWeek.contains(weekday)
        if dayOfMonthRestricted && dayOfWeekRestricted { return domOK || dowOK }
        return domOK && dowOK
    }

    // MARK: parsing

    private static func field(_ text: String, name: String, range: ClosedRange<Int>, names: [String], firstName: Int = 0) throws(CronError) -> Set<Int> {
        var values = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw CronError("\(name) field: \"\(item)\" has more than one step") }
            var step = 1
            if parts.count == 2 {
                guard let s = Int(parts[1]), s > 0 else { throw CronError("\(name) field: step \"\(parts[1])\" must be a positive integer") }
                step = s
            }
            let base = parts[0]
            var low: Int, high: Int
            if base == "*" {
                (low, high) = (range.lowerBound, range.upperBound)
            } else {
                let bounds = base.split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw CronError("\(name) field: \"\(base)\" is not a value or a range") }
                low = try value(bounds[0], name: name, range: range, names: names, firstName: firstName)
                // `5/20` means from 5 to the end in steps of 20.
                high = bounds.count == 2 ? try value(bounds[1], name: name, range: range, names: names, firstName: firstName)
                    : (parts.count == 2 ? range.upperBound : low)
                guard low <= high else { throw CronError("\(name) field: range \"\(base)\" runs backwards") }
            }
            values.formUnion(stride(from: low, through: high, by: step))
        }
        return values
    }

    private static func value(_ text: Substring, name: String, range: ClosedRange<Int>, names: [String], firstName: Int) throws(CronError) -> Int {
        if let n = Int(text), text.allSatisfy(\.isNumber) {
            guard range.contains(n) else { throw CronError("\(name) field: \(n) is outside \(range.lowerBound)-\(range.upperBound)") }
            return n
        }
        if let i = names.firstIndex(of: text.lowercased()) { return i + firstName }
        throw CronError("\(name) field: \"\(text)\" is not a number\(names.isEmpty ? "" : " or a name")")
    }

    // MARK: civil calendar (proleptic Gregorian, UTC), after Howard Hinnant's algorithms

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : (a - b + 1) / b }

    static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }

    /// 0 is Sunday; 1970-01-01 was a Thursday.
    static func weekday(days: Int64) -> Int {
        let w = (days + 4) % 7
        return Int(w < 0 ? w + 7 : w)
    }
}

/// Why a cron expression was refused.
public struct CronError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
