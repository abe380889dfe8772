import CCurl
import Foundation
import Synchronization

/// A thread that owns one libcurl multi handle and drives every transfer on it.
///
/// libcurl's calls block (poll, DNS, TLS handshakes), so none of them run on Swift's
/// cooperative pool: async callers hand transfers over through `submit` and are resumed
/// from here. The multi handle keeps a pool of connections, which is what gives reuse.
final class CurlLoop: @unchecked Sendable {
    enum Command {
        case add(Transfer)
        case cancel(Transfer)
        case resume(Transfer)
        case shutdown
    }

    private let multi: UnsafeMutableRawPointer
    private let inbox = Mutex<[Command]>([])
    /// Transfers added to the multi handle; touched only on the loop thread.
    private var active: [ObjectIdentifier: Transfer] = [:]
    private let load = Atomic<Int>(0)

    /// How many transfers this loop carries (to spread new ones across loops).
    var activeCount: Int { load.load(ordering: .relaxed) }

    init(name: String, maxConnectionsPerHost: Int) {
        CurlGlobal.initialise()
        multi = curl_multi_init()
        if maxConnectionsPerHost > 0 {
            _ = ccurl_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, maxConnectionsPerHost)
        }
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func submit(_ command: Command) {
        inbox.withLock { $0.append(command) }
        curl_multi_wakeup(multi)
    }

    private func run() {
        var stopping = false
        while true {
            for command in inbox.withLock({ inbox in defer { inbox.removeAll() }; return inbox }) {
                switch command {
                case .add(let t): add(t, refuse: stopping)
                case .cancel(let t): if active[ObjectIdentifier(t)] != nil { finish(t, CURLE_ABORTED_BY_CALLBACK) }
                case .resume(let t): if active[ObjectIdentifier(t)] != nil { curl_easy_pause(t.easy, CCURL_PAUSE_CONT) }
                case .shutdown:
                    stopping = true
                    for t in active.values { t.requestCancel(); finish(t, CURLE_ABORTED_BY_CALLBACK) }
                }
            }
            if stopping && active.isEmpty { break }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var queued: Int32 = 0
            while let message = curl_multi_info_read(multi, &queued) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                var pointer: UnsafeMutableRawPointer?
                ccurl_getinfo_ptr(easy, CURLINFO_PRIVATE, &pointer)
                guard let pointer else { continue }
                finish(Unmanaged<Transfer>.fromOpaque(pointer).takeUnretainedValue(), ccurl_msg_result(message))
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
        curl_multi_cleanup(multi)
    }

    private func add(_ transfer: Transfer, refuse: Bool) {
        if transfer.cancelRequested || refuse {
            transfer.requestCancel()
            transfer.complete(CURLE_ABORTED_BY_CALLBACK)
            transfer.release()
            return
        }
        let rc = curl_multi_add_handle(multi, transfer.easy)
        guard rc == CURLM_OK else {
            transfer.complete(CURLE_FAILED_INIT)
            transfer.release()
            return
        }
        active[ObjectIdentifier(transfer)] = transfer
        load.add(1, ordering: .relaxed)
    }

    private func finish(_ transfer: Transfer, _ code: CURLcode) {
        guard active.removeValue(forKey: ObjectIdentifier(transfer)) != nil else { return }
        load.subtract(1, ordering: .relaxed)
        curl_multi_remove_handle(multi, transfer.easy)
        transfer.complete(code)
        transfer.release()
    }
}

/// `curl_global_init` must run once, before any other libcurl call.
enum CurlGlobal {
    private static let done: Bool = {
        curl_global_init(Int(CURL_GLOBAL_ALL))
        return true
    }()

    static func initialise() { _ = done }

    /// libcurl's version string, for `stowage version`.
    static var version: String {
        initialise()
        return String(cString: curl_version())
    }
}
