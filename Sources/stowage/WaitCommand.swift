import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `stowage wait`: the init container the webhook adds while a volume's data is not in
/// place. It returns once the volume holds a sync manifest (`.stowage/manifest.json`, which
/// a sync writes last, after every file is in place), so the notebook never starts on a
/// half-pulled volume.
///
/// It waits on inotify events rather than polling; a slow re-check every few seconds
/// covers file systems that do not deliver inotify events for changes made elsewhere
/// (network file systems written by the sync pod on another node).
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Block until a volume's data is in place (its sync manifest exists).",
        discussion: "Exit codes: 0 the data is in place, 1 timed out, 64 invalid command line."
    )

    @Option(help: "A volume's mount path; repeat it to wait for several volumes.")
    var path: [String]

    @Option(help: "Seconds to wait before giving up (0 waits forever).")
    var timeout = 600

    @Option(help: "Seconds between re-checks when no inotify event arrives.")
    var recheck = 5

    func validate() throws {
        guard !path.isEmpty else { throw ValidationError("give at least one --path") }
    }

    func run() throws {
        let deadline = timeout > 0 ? Date().addingTimeInterval(TimeInterval(timeout)) : Date.distantFuture
        for path in path { try wait(for: path, until: deadline) }
        FileHandle.standardError.write(Data("stowage wait: the data is in place\n".utf8))
    }

    private func wait(for path: String, until deadline: Date) throws {
        let marker = path + "/.stowage/manifest.json"
        let watcher = InotifyWatcher(directories: [path, path + "/.stowage"])
        defer { watcher.close() }
        FileHandle.standardError.write(Data("stowage wait: waiting for \(marker)\n".utf8))
        while !FileManager.default.fileExists(atPath: marker) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                FileHandle.standardError.write(Data("stowage wait: timed out after \(timeout) s; the volume's data is not in place\n".utf8))
                throw ExitCode(1)
            }
            watcher.waitForEvent(seconds: min(left, Double(recheck)))
            // `.stowage` may have appeared since: watch it too.
            watcher.add(path + "/.stowage")
        }
    }
}

/// A thin inotify handle: wakes on any creation or rename in the watched directories.
final class InotifyWatcher {
    private let fd: Int32
    private var watched = Set<String>()

    init(directories: [String]) {
        fd = inotify_init1(Int32(IN_CLOEXEC))
        for directory in directories { add(directory) }
    }

    func add(_ directory: String) {
        guard fd >= 0, !watched.contains(directory), FileManager.default.fileExists(atPath: directory) else { return }
        if inotify_add_watch(fd, directory, UInt32(IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE)) >= 0 { watched.insert(directory) }
    }

    /// Returns after an event or `seconds`, whichever comes first (events are drained).
    func waitForEvent(seconds: Double) {
        guard fd >= 0 else {
            Thread.sleep(forTimeInterval: seconds)
            return
        }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, Int32(seconds * 1000)) > 0 {
            var buffer = [UInt8](repeating: 0, count: 4096)
            _ = read(fd, &buffer, buffer.count)
        }
    }

    func close() { if fd >= 0 { Glibc.close(fd) } }
}
