import Foundation

/// The progress line `stowage sync` prints on stderr when it is not a terminal (a sync pod's
/// log), and that the operator reads back to tell a waiting notebook's user how far its pull
/// is: `progress: 120/500 files, 1.2/50.0 MiB, 3.1 MiB/s`. One definition for both ends.
public struct SyncProgressLine: Sendable, Hashable {
    public static let prefix = "progress: "

    public var filesDone: Int
    public var filesTotal: Int
    public var mibDone: Double
    public var mibTotal: Double
    public var mibPerSecond: Double

    public init(filesDone: Int, filesTotal: Int, bytesDone: Int64, bytesTotal: Int64, bytesPerSecond: Double) {
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        mibDone = Double(bytesDone) / 1_048_576
        mibTotal = Double(bytesTotal) / 1_048_576
        mibPerSecond = bytesPerSecond / 1_048_576
    }

    /// The line without its prefix (what a terminal shows).
    public var text: String {
        String(format: "%d/%d files, %.1f/%.1f MiB, %.1f MiB/s", filesDone, filesTotal, mibDone, mibTotal, mibPerSecond)
    }

    /// How far, for people: `120/500 files, 1.2/50.0 MiB`.
    public var done: String {
        String(format: "%d/%d files, %.1f/%.1f MiB", filesDone, filesTotal, mibDone, mibTotal)
    }

    /// The last progress line in a sync container's log; nil when it printed none yet.
    public static func last(inLog log: String) -> SyncProgressLine? {
        for line in log.split(separator: "\n").reversed() where line.hasPrefix(prefix) {
            if let progress = SyncProgressLine(parsing: line.dropFirst(prefix.count)) { return progress }
        }
        return nil
    }

    /// Reads `text`'s form back.
    public init?(parsing text: Substring) {
        let fields = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count == 3, fields[0].hasSuffix(" files"), fields[1].hasSuffix(" MiB"), fields[2].hasSuffix(" MiB/s") else { return nil }
        let files = fields[0].dropLast(" files".count).split(separator: "/")
        let mib = fields[1].dropLast(" MiB".count).split(separator: "/")
        guard files.count == 2, mib.count == 2, let fd = Int(files[0]), let ft = Int(files[1]),
              let md = Double(mib[0]), let mt = Double(mib[1]), let rate = Double(fields[2].dropLast(" MiB/s".count)) else { return nil }
        filesDone = fd
        filesTotal = ft
        mibDone = md
        mibTotal = mt
        mibPerSecond = rate
    }
}
