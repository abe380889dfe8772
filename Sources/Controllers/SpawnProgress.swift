import Foundation
import StowageAPI
import SyncContract
import Synchronization

/// What a notebook user sees on JupyterHub's spawn page while `stowage-wait` holds the pod.
///
/// KubeSpawner shows the Events of the pod it created, so the operator writes Events on each
/// waiting notebook pod: which of its volumes are still being pulled and how far. One Event
/// speaks for all of the pod's Stowage volumes (its DataVolumes, SharedVolumes and home,
/// each reported by its own reconciler), and a new one is written at most once per
/// `interval`, so a long pull shows a few lines a minute rather than one per volume and
/// pass. A volume that fails is said at once, and so is the end: when every volume is ready
/// the last Event says so, and nothing more is written for that pod.
///
/// Events are commentary: the state here is memory only, lost with a restart (a restarted
/// operator starts each waiting pod's report again).
public final class SpawnProgress: Sendable {
    /// How one volume stands, for one waiting pod.
    public enum VolumeState: Sendable, Hashable {
        case waiting(String)
        /// A pull runs; its last progress line once the sync pod has printed one.
        case pulling(SyncProgressLine?)
        case ready
        case failed(String)
    }

    /// An Event to write on a pod.
    public struct Note: Sendable, Hashable {
        public var warning: Bool
        public var reason: String
        public var message: String
    }

    public static let pullingReason = "StowagePulling"
    public static let readyReason = "StowageReady"
    public static let failedReason = "StowageVolumeFailed"

    /// A waiting pod's report.
    struct Report {
        /// The pod's Stowage volumes, by display name, in the order the pod names them.
        var volumes: [String]
        var states: [String: VolumeState] = [:]
        var lastMessage: String?
        var lastPosted: Date?
        var finished = false
        var touched: Date
    }

    public let interval: Duration
    private let reports = Mutex<[String: Report]>([:])
    private let progressRead = Mutex<[String: Date]>([:])

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Whether a running pull's progress should be read from its sync pod's log now (at most
    /// once per interval for each volume).
    public func progressDue(volume: String, now: Date) -> Bool {
        progressRead.withLock { read in
            // Volumes whose pulls ended long ago are forgotten.
            read = read.filter { now.timeIntervalSince($0.value) < 600 }
            if let last = read[volume], now.timeIntervalSince(last) < interval / .seconds(1) { return false }
            read[volume] = now
            return true
        }
    }

    /// Whether `pod` has a report that has not ended: it was told it waits, and not yet that
    /// its volumes are ready (or that one failed).
    public func isReporting(pod: String) -> Bool {
        reports.withLock { $0[pod].map { !$0.finished } ?? false }
    }

    /// Records how `volume` stands for each waiting pod (key, and the display names of all
    /// its Stowage volumes) and returns the Events to write now, by pod key.
    public func report(volume: String, _ state: VolumeState, pods: [(key: String, volumes: [String])], now: Date) -> [String: Note] {
        reports.withLock { reports in
            // Pods that stopped waiting (started, or deleted) are no longer reported.
            reports = reports.filter { now.timeIntervalSince($0.value.touched) < 600 }
            var notes: [String: Note] = [:]
            for pod in pods {
                var report = reports[pod.key] ?? Report(volumes: pod.volumes, touched: now)
                report.volumes = pod.volumes
                // A pass that did not read the log keeps the progress known.
                if case .pulling(nil) = state, case .pulling(_?)? = report.states[volume] {} else { report.states[volume] = state }
                report.touched = now
                if let note = Self.next(&report, now: now, interval: (interval / .seconds(1))) { notes[pod.key] = note }
                reports[pod.key] = report
            }
            return notes
        }
    }

    /// The pure decision: the Event a report calls for now, if any, marking it posted.
    static func next(_ report: inout Report, now: Date, interval: TimeInterval) -> Note? {
        guard !report.finished else { return nil }
        let states = report.volumes.map { (name: $0, state: report.states[$0] ?? .waiting("not reported yet")) }
        let note = Self.note(states)
        guard note.message != report.lastMessage else { return nil }
        let urgent = note.reason != pullingReason
        if !urgent, let last = report.lastPosted, now.timeIntervalSince(last) < interval { return nil }
        report.lastMessage = note.message
        report.lastPosted = now
        report.finished = note.reason == readyReason
        return note
    }

    /// One line for all of a pod's volumes.
    static func note(_ volumes: [(name: String, state: VolumeState)]) -> Note {
        let failed = volumes.compactMap { v -> String? in
            if case .failed(let why) = v.state { return "\(v.name): \(why)" }
            return nil
        }
        if !failed.isEmpty {
            return Note(warning: true, reason: failedReason,
                        message: "Stowage: the notebook cannot start: " + failed.joined(separator: "; "))
        }
        let notReady = volumes.filter { $0.state != .ready }
        if notReady.isEmpty {
            let names = volumes.map(\.name).joined(separator: ", ")
            return Note(warning: false, reason: readyReason,
                        message: "Stowage: \(volumes.count == 1 ? "volume" : "all \(volumes.count) volumes") ready (\(names)); the notebook starts")
        }
        let parts = volumes.map { v -> String in
            switch v.state {
            case .ready: "\(v.name) ready"
            case .waiting(let why): "\(v.name) \(why)"
            case .failed(let why): "\(v.name) failed: \(why)"
            case .pulling(nil): "\(v.name) pulling"
            case .pulling(let p?): "\(v.name) pulling \(p.done)"
            }
        }
        return Note(warning: false, reason: pullingReason,
                    message: "Stowage: waiting for \(notReady.count) of \(volumes.count) volumes: " + parts.joined(separator: "; "))
    }
}
