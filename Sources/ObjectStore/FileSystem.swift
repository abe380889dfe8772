import Foundation

/// Linux file system calls Swift's Glibc module does not import (`syncfs`,
/// `sync_file_range`), looked up once at run time; where they are missing the callers fall
/// back to what POSIX has.
public enum FileSystem {
    private typealias SyncFS = @convention(c) (Int32) -> Int32
    private typealias SyncFileRange = @convention(c) (Int32, Int64, Int64, UInt32) -> Int32

    private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
        // RTLD_DEFAULT is a null handle in glibc: search every loaded object.
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: type)
    }

    private static let syncfsCall = symbol("syncfs", as: SyncFS.self)
    private static let syncFileRangeCall = symbol("sync_file_range", as: SyncFileRange.self)

    /// Whether `syncFilesystem` can work (Linux); callers fsync file by file otherwise.
    public static var canSyncFilesystem: Bool { syncfsCall != nil }

    /// Flushes every dirty page and metadata change of the file system holding
    /// `descriptor` to stable storage, in one journal commit (`syncfs`). False if it
    /// failed or is not available.
    public static func syncFilesystem(_ descriptor: Int32) -> Bool {
        guard let call = syncfsCall else { return false }
        return call(descriptor) == 0
    }

    /// Asks the kernel to start writing `length` bytes from `offset` to disk now, without
    /// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`). Only a head start for a later
    /// fsync, never a durability guarantee; a no-op where unavailable.
    public static func startWriteback(_ descriptor: Int32, offset: Int64, length: Int64) {
        guard let call = syncFileRangeCall, length > 0 else { return }
        _ = call(descriptor, offset, length, 2 /* SYNC_FILE_RANGE_WRITE */)
    }
}
