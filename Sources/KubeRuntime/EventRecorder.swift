import Foundation
import KubeClient
import KubeModel
import Logging
import ServiceLifecycle
import Synchronization

/// Whether an Event reports normal progress or something a person should look at.
public enum EventType: String, Sendable {
    case normal = "Normal"
    case warning = "Warning"
}

/// Writes core/v1 Events about objects, so that `kubectl describe` explains what the
/// operator did and why something failed.
///
/// Repeats of one (object, type, reason, message) aggregate into one Event whose `count`
/// and `lastTimestamp` grow, instead of flooding the namespace. Each such Event has a
/// deterministic name derived from the object and a hash of type, reason and message, so
/// a restarted operator continues the same Event. Recording never throws: an Event is
/// commentary, and failing to write one must not fail a reconcile (failures are logged).
/// Counts are best effort when two replicas record the same Event at the same moment.
///
/// `post` hands an Event to the recorder's own service (`run`), which writes posted Events
/// one at a time, in order, from a bounded buffer; it must run (once) wherever `post` is
/// used. `record` writes at once and needs no service.
public final class EventRecorder: Service, Sendable {
    let client: KubeClient
    let component: String
    let instance: String
    let logger: Logger
    /// How long a remembered count is trusted before the Event is read again.
    let window: Duration
    private let seen = Mutex<[String: Seen]>([:])
    private let posted: AsyncStream<Posted>
    private let postings: AsyncStream<Posted>.Continuation
    /// Posted events not yet written (or given up on), for `flush`.
    private let pending = Latch(0)
    /// Posted events not yet written beyond which `post` drops new ones (client-go's
    /// broadcaster keeps a buffer of 1,000 and drops too).
    public static var maxPending: Int { 1000 }

    /// An Event posted, as the write that records it.
    private typealias Posted = @Sendable () async -> Void

    private struct Seen {
        var count: Int
        var at: ContinuousClock.Instant
    }

    public init(client: KubeClient, component: String, instance: String,
                window: Duration = .seconds(600), logger: Logger = Logger(label: "stowage.events")) {
        self.client = client
        self.component = component
        self.instance = instance
        self.window = window
        self.logger = logger
        (posted, postings) = AsyncStream.makeStream(of: Posted.self, bufferingPolicy: .bufferingOldest(Self.maxPending))
    }

    /// Records in the background and returns at once, as client-go's recorder does: a
    /// reconcile pass never waits for commentary. `flush` waits for what is posted.
    public func post<R: KubeResource>(_ object: R, type: EventType, reason: String, message: String) {
        pending.withLock { $0 += 1 }
        switch postings.yield({ [self] in await record(object, type: type, reason: reason, message: message) }) {
        case .enqueued:
            break
        case .dropped:
            pending.withLock { $0 -= 1 }
            logger.warning("event dropped: too many events waiting to be written", metadata: ["event.reason": "\(reason)"])
        case .terminated:
            pending.withLock { $0 -= 1 }
            logger.info("event dropped: the recorder has stopped", metadata: ["event.reason": "\(reason)"])
        @unknown default:
            pending.withLock { $0 -= 1 }
        }
    }

    /// Writes posted Events until cancelled, or, on graceful shutdown, until those already
    /// posted are written. Events posted after it returns are dropped (and logged).
    public func run() async {
        await withGracefulShutdownHandler {
            for await write in posted {
                await write()
                pending.withLock { $0 -= 1 }
            }
        } onGracefulShutdown: { [postings] in
            postings.finish()
        }
        postings.finish()
        // Cancelled with events still buffered: they will never be written.
        let dropped = pending.withLock { count in
            defer { count = 0 }
            return count
        }
        if dropped > 0 { logger.info("events dropped at shutdown", metadata: ["events": "\(dropped)"]) }
    }

    /// Returns once every posted event is written (or given up on), or when the waiting
    /// task is cancelled.
    public func flush() async {
        _ = try? await pending.wait { $0 == 0 ? () : nil }
    }

    /// Records and returns once the Event is written.
    public func record<R: KubeResource>(_ object: R, type: EventType, reason: String, message: String) async {
        let namespace = object.metadata.namespace ?? "default"
        let name = Self.eventName(for: object, type: type, reason: reason, message: message)
        let events = client.resource(Event.self, namespace: namespace)
        let now = Date()
        let logger = logger.with(["event.name": "\(namespace)/\(name)", "event.reason": "\(reason)"])

        // Reserve the next count under the lock, so records in one process never reuse one.
        let known: Int? = seen.withLock { seen in
            guard let s = seen[name], ContinuousClock.now - s.at < window else { return nil }
            seen[name] = Seen(count: s.count + 1, at: .now)
            return s.count + 1
        }
        do {
            if let count = known {
                do {
                    try await bump(events, name, to: count, at: now)
                    return
                } catch let error as KubeClientError where error.apiCode == .notFound {
                    // Expired (event TTL) or deleted: start again.
                }
            }
            var event = Event(metadata: ObjectMeta(name: name, namespace: namespace), involvedObject: ObjectReference(object))
            event.type = type.rawValue
            event.reason = reason
            event.message = message
            event.count = 1
            event.firstTimestamp = now
            event.lastTimestamp = now
            event.source = Event.Source(component: component)
            event.reportingComponent = component
            event.reportingInstance = instance
            do {
                _ = try await events.create(event)
                remember(name, count: 1)
            } catch let error as KubeClientError where error.apiCode == .alreadyExists {
                // Written before this process knew of it (a restart, another replica): continue it.
                let existing = try await events.get(name)
                let count = (existing.count ?? 1) + 1
                try await bump(events, name, to: count, at: now)
                remember(name, count: count)
            }
        } catch {
            seen.withLock { _ = $0.removeValue(forKey: name) }
            logger.info("cannot record event", metadata: ["error": "\(error)"])
        }
    }

    private func bump(_ events: ResourceClient<Event>, _ name: String, to count: Int, at time: Date) async throws {
        _ = try await events.patch(name, .merge, [
            "count": .number(JSONNumber(count)),
            "lastTimestamp": .string(time.formatted(Date.ISO8601FormatStyle())),
        ])
    }

    private func remember(_ name: String, count: Int) {
        seen.withLock { seen in
            seen[name] = Seen(count: max(count, seen[name]?.count ?? 0), at: .now)
            // Bounded memory: forget what the window no longer covers.
            if seen.count > 4096 {
                let now = ContinuousClock.now
                seen = seen.filter { now - $0.value.at < window }
            }
        }
    }

    /// `<object name>.<16 hex digits>`: stable across restarts for one object (by UID),
    /// type, reason and message.
    static func eventName<R: KubeResource>(for object: R, type: EventType, reason: String, message: String) -> String {
        let key = [R.apiVersion, R.kind, object.metadata.uid ?? object.metadata.name ?? "", type.rawValue, reason, message]
            .joined(separator: "\u{0}")
        // FNV-1a: a stable hash (Swift's Hasher is seeded per process).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        let prefix = String((object.metadata.name ?? "object").prefix(200))
        return prefix + "." + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension Logger {
    fileprivate func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (k, v) in metadata { copy[metadataKey: k] = v }
        return copy
    }
}
