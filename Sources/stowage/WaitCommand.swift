import ArgumentParser
import DataSync
import Foundation
import StowageAPI
#if canImport(Glibc)
import Glibc
import SyncContract
#endif

/// `stowage wait`: the init container the webhook adds while a volume's data is not in
/// place, or is to be refreshed for the pod. It returns once each volume's sync manifest
/// (`.stowage/manifest.json`, which a sync writes last, after every file is in place) says
/// the awaited sync completed, so the notebook never starts on a half-pulled volume, nor on
/// the previous session's data while the refresh for this one is still running.
///
/// `--path PATH` waits for any completed sync; `--path PATH:N` for a pull numbered above N
/// (the operator numbers every sync of a volume; the webhook passes the count it saw when
/// the pod was admitted). Kubernetes mount paths cannot contain `:`.
///
/// It waits on inotify events rather than polling; a slow re-check every few seconds
/// covers file systems that do not deliver inotify events for changes made elsewhere
/// (network file systems written by the sync pod on another node).
struct WaitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wait",
        abstract: "Block until a volume's data is in place (its sync manifest records the awaited sync).",
        discussion: "Exit codes: 0 the data is in place, 1 timed out, 64 invalid command line."
    )

    @Option(help: "A volume's mount path, or PATH:N to wait for a pull numbered above N; repeat it for several volumes.")
    var path: [Awaited]

    @Option(help: "Seconds to wait before giving up (0 waits forever).")
    var timeout = 600

    @Option(help: "Seconds between re-checks when no inotify event arrives.")
    var recheck = 5

    func validate() throws {
        guard !path.isEmpty else { throw ValidationError("give at least one --path") }
    }

    func run() throws {
        let deadline = timeout > 0 ? Date().addingTimeInterval(TimeInterval(timeout)) : Date.distantFuture
        for awaited in path { try wait(for: awaited, until: deadline) }
        FileHandle.standardError.write(Data("stowage wait: the data is in place\n".utf8))
    }

    /// One volume and the sync it waits for.
    typealias Awaited = StowageWait.Awaited

    private func what(_ awaited: Awaited) -> String {
        awaited.pullAfter.map { "a pull numbered above \($0) in \(awaited.path)" } ?? "a completed sync in \(awaited.path)"
    }

    private func wait(for awaited: Awaited, until deadline: Date) throws {
        let path = awaited.path
        let watcher = InotifyWatcher(directories: [path, path + "/" + Manifest.directory])
        defer { watcher.close() }
        FileHandle.standardError.write(Data("stowage wait: waiting for \(what(awaited))\n".utf8))
        while !awaited.isSatisfied(byLastSync: Manifest.lastCompleted(root: path).map { ($0.direction == .pull, $0.sequence) }) {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else {
                FileHandle.standardError.write(Data("stowage wait: timed out after \(timeout) s waiting for \(what(awaited)); the volume's data is not in place\n".utf8))
                throw ExitCode(1)
            }
            watcher.waitForEvent(seconds: min(left, Double(recheck)))
            // The manifest's directory may have appeared since: watch it too.
            watcher.add(path + "/" + Manifest.directory)
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

extension StowageWait.Awaited: ExpressibleByArgument {}
