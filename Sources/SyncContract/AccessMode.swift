/// The sync mode of a volume with a source (the OVHcloud AI Training model).
public enum AccessMode: String, Codable, Sendable, Hashable, CaseIterable {
    /// Pulled before use, mounted read-only, never pushed back.
    case readOnly = "RO"
    /// Pulled before use; new and changed files are pushed back; deletions are not.
    case readWrite = "RW"
    /// As RW, and deletions are mirrored to object storage (guarded by `maxDeletes`).
    case readWriteDelete = "RWD"

    public static let `default` = AccessMode.readWrite

    /// Whether sync ever writes to object storage.
    public var pushes: Bool { self != .readOnly }
    /// Whether files deleted locally are deleted remotely.
    public var propagatesDeletes: Bool { self == .readWriteDelete }
}

/// The checksum on each part of a multipart upload (`stowage sync --part-checksum`).
public enum S3PartChecksum: String, Codable, Sendable, Hashable, CaseIterable {
    /// `x-amz-checksum-crc32c`: S3's flexible checksums, cheap to compute.
    case crc32c
    /// `Content-MD5`: for servers that do not know flexible checksums.
    case md5
}
