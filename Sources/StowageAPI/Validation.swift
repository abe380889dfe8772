import Foundation
import KubeModel
import SyncContract

/// One reason a spec is invalid, naming the field as a JSON path so users (and the
/// validating webhook's `Status.details.causes`) can find it.
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `spec.source.s3.bucket`, `spec.members[2]`.
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

extension [FieldError] {
    /// All errors on one line each, for condition messages and webhook denials.
    public var summary: String { map(\.description).joined(separator: "; ") }
}

extension DataVolume {
    /// Every problem with the spec, empty when it is valid. Depends on nothing but the
    /// object, so the webhook and the controller give the same answer.
    public func validate() -> [FieldError] {
        var v = Validator()
        v.name(metadata.name, kind: .dataVolume)
        let spec = self.spec
        if let owner = spec.owner, owner.isEmpty { v.fail("spec.owner", "must not be empty when set") }
        v.size(spec.size, at: "spec.size")
        v.storageClass(spec.storageClassName, at: "spec.storageClassName")
        if let modes = spec.accessModes {
            if modes.isEmpty { v.fail("spec.accessModes", "must list at least one access mode when set") }
            for (i, mode) in modes.enumerated() where !Validator.pvcAccessModes.contains(mode) {
                v.fail("spec.accessModes[\(i)]", "unknown access mode \"\(mode)\" (expected ReadWriteOnce, ReadOnlyMany or ReadWriteMany)")
            }
        }
        v.source(spec.source, at: "spec.source")
        if spec.effectiveAccess == .readWriteDelete && spec.source == nil {
            v.fail("spec.access", "RWD mirrors deletions to object storage and requires spec.source")
        }
        v.httpAccess(spec.source, spec.effectiveAccess, at: "spec.access")
        v.versions(spec.source, spec.sync, access: spec.effectiveAccess)
        v.mount(spec.mount, at: "spec.mount")
        if let attach = spec.attachTo {
            for (i, user) in (attach.users ?? []).enumerated() where user.isEmpty {
                v.fail("spec.attachTo.users[\(i)]", "must not be empty")
            }
            v.selector(attach.podSelector, at: "spec.attachTo.podSelector")
        }
        v.sync(spec.sync, at: "spec.sync")
        if let ttl = spec.cache?.ttlAfterIdle {
            if let d = GoDuration.parse(ttl) {
                if d < .zero { v.fail("spec.cache.ttlAfterIdle", "must not be negative") }
            } else {
                v.fail("spec.cache.ttlAfterIdle", "\"\(ttl)\" is not a duration (expected e.g. 45s, 30m, 2h or 1h30m)")
            }
        }
        return v.errors
    }
}

extension SharedVolume {
    /// Every problem with the spec that the object alone shows (whether the level exists is
    /// the access-level configuration's business: `StowageConfig.validate(_:)`).
    public func validate() -> [FieldError] {
        var v = Validator()
        v.name(metadata.name, kind: .sharedVolume)
        let spec = self.spec
        v.size(spec.size, at: "spec.size")
        v.storageClass(spec.storageClassName, at: "spec.storageClassName")
        if spec.accessLevel.isEmpty { v.fail("spec.accessLevel", "must name an access level") }
        for (i, member) in (spec.members ?? []).enumerated() {
            let at = "spec.members[\(i)]"
            switch (member.user, member.group) {
            case (nil, nil), (.some, .some): v.fail(at, "must set exactly one of user and group")
            case (let user?, nil) where user.isEmpty: v.fail(at + ".user", "must not be empty")
            case (nil, let group?) where group.isEmpty: v.fail(at + ".group", "must not be empty")
            default: break
            }
        }
        v.source(spec.source, at: "spec.source")
        if spec.effectiveAccess == .readWriteDelete && spec.source == nil {
            v.fail("spec.access", "RWD mirrors deletions to object storage and requires spec.source")
        }
        v.httpAccess(spec.source, spec.effectiveAccess, at: "spec.access")
        v.versions(spec.source, spec.sync, access: spec.effectiveAccess)
        v.mount(spec.mount, at: "spec.mount")
        v.sync(spec.sync, at: "spec.sync")
        return v.errors
    }
}

extension DataVolume {
    /// What an update may not do, given the object it replaces: the claim only grows
    /// (`spec.size`), and its class and access modes stay those it was created with, as a
    /// claim's do.
    public func validateUpdate(from old: DataVolume) -> [FieldError] {
        var v = Validator()
        v.growth(from: old.spec.size, to: spec.size, at: "spec.size")
        v.unchanged(old.spec.storageClassName, spec.storageClassName, at: "spec.storageClassName")
        v.unchanged(old.spec.accessModes, spec.accessModes, at: "spec.accessModes")
        return v.errors
    }
}

extension SharedVolume {
    /// As for a DataVolume: the claim only grows and keeps its class.
    public func validateUpdate(from old: SharedVolume) -> [FieldError] {
        var v = Validator()
        v.growth(from: old.spec.size, to: spec.size, at: "spec.size")
        v.unchanged(old.spec.storageClassName, spec.storageClassName, at: "spec.storageClassName")
        return v.errors
    }
}

/// Collects field errors; the rules shared by both kinds live here.
struct Validator {
    var errors: [FieldError] = []

    static let pvcAccessModes: Set = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"]

    mutating func fail(_ field: String, _ message: String) { errors.append(FieldError(field, message)) }

    /// A volume name must leave room for its claim's prefix (`ChildNames.claimName`).
    mutating func name(_ name: String?, kind: ChildNames.Kind) {
        guard let name else { return }
        let limit = ChildNames.maxVolumeNameLength(kind: kind)
        if name.utf8.count > limit {
            fail("metadata.name", "must be at most \(limit) characters (this one has \(name.utf8.count)), so that the claim \(kind.rawValue)-<name> is a valid name of at most \(ChildNames.maxClaimLength)")
        }
    }

    mutating func size(_ size: String, at field: String) {
        guard let bytes = Quantity.value(size) else {
            fail(field, "\"\(size)\" is not a Kubernetes quantity (expected e.g. 10Gi or 500M)")
            return
        }
        if bytes < 1 { fail(field, "must be at least one byte") }
    }

    mutating func growth(from old: String, to new: String, at field: String) {
        guard let was = Quantity.value(old), let now = Quantity.value(new), now < was else { return }
        fail(field, "cannot shrink from \(old) to \(new): a claim only grows (set \(old) or more)")
    }

    mutating func unchanged<T: Equatable>(_ old: T?, _ new: T?, at field: String) {
        guard old != new else { return }
        fail(field, "cannot change once the claim exists (was \(old.map { "\($0)" } ?? "unset"), now \(new.map { "\($0)" } ?? "unset")); create a new volume instead")
    }

    mutating func storageClass(_ name: String?, at field: String) {
        guard let name else { return }
        if !Self.isDNSSubdomain(name) { fail(field, "\"\(name)\" is not a valid storage class name (lowercase DNS subdomain)") }
    }

    mutating func source(_ source: DataSource?, at field: String) {
        guard let source else { return }
        guard source.providers.count == 1 else {
            fail(field, source.providers.isEmpty ? "must set exactly one provider (s3 or http)"
                 : "must set exactly one provider, not \(source.providers.joined(separator: " and "))")
            return
        }
        if let http = source.http { self.http(http, at: field) }
        guard let s3 = source.s3 else { return }
        let at = field + ".s3"
        if !Self.isHTTPURL(s3.endpoint) {
            fail(at + ".endpoint", "\"\(s3.endpoint)\" is not an http:// or https:// URL with a host")
        }
        if let region = s3.region, region.isEmpty { fail(at + ".region", "must not be empty when set") }
        if let problem = Self.bucketProblem(s3.bucket) { fail(at + ".bucket", problem) }
        if let prefix = s3.prefix {
            if prefix.hasPrefix("/") { fail(at + ".prefix", "must not start with /") }
            if prefix.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
                fail(at + ".prefix", "must not contain . or .. segments")
            }
        }
        if !Self.isDNSSubdomain(s3.credentialsSecretRef.name) {
            fail(at + ".credentialsSecretRef.name", "\"\(s3.credentialsSecretRef.name)\" is not a valid Secret name")
        }
        if let ca = s3.caBundleSecretRef {
            if !Self.isDNSSubdomain(ca.name) { fail(at + ".caBundleSecretRef.name", "\"\(ca.name)\" is not a valid Secret name") }
            if ca.key.isEmpty { fail(at + ".caBundleSecretRef.key", "must not be empty") }
        }
    }

    /// `spec.source.version` pins a read-only input; `spec.sync.keepVersions` is about pushes.
    mutating func versions(_ source: DataSource?, _ sync: SyncPolicy?, access: AccessMode) {
        if let version = source?.version {
            if !(version == "latest" || (version.utf8.count == 64 && version.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) })) {
                fail("spec.source.version", "\"\(version)\" is neither a version identifier (64 lowercase hex digits, as `stowage versions` prints them) nor latest")
            }
            if source?.s3 == nil { fail("spec.source.version", "pins a version of an S3 prefix and needs spec.source.s3") }
            if access != .readOnly { fail("spec.source.version", "a pinned version is a read-only input: set spec.access: RO (pushes of an RW or RWD volume make new versions)") }
        }
        if sync?.keepVersions == true {
            if source == nil { fail("spec.sync.keepVersions", "keeps what pushes replace and needs spec.source") }
            else if access == .readOnly { fail("spec.sync.keepVersions", "an RO volume is never pushed; set spec.access: RW or RWD, or unset keepVersions") }
        }
    }

    mutating func mount(_ mount: Mount?, at field: String) {
        guard let path = mount?.path else { return }
        let at = field + ".path"
        if !path.hasPrefix("/") { fail(at, "must be an absolute path") }
        else if path.split(separator: "/").isEmpty { fail(at, "must not be /") }
        if path.split(separator: "/").contains("..") { fail(at, "must not contain .. segments") }
        if path.contains(":") { fail(at, "must not contain :") }
    }

    mutating func selector(_ selector: LabelSelector?, at field: String) {
        guard let selector else { return }
        if selector.isEmpty { fail(field, "must have at least one term (an empty selector would match every pod)") }
        for key in (selector.matchLabels ?? [:]).keys.sorted() where !Self.isLabelKey(key) {
            fail(field + ".matchLabels", "\"\(key)\" is not a valid label key")
        }
        for (i, requirement) in (selector.matchExpressions ?? []).enumerated() {
            let at = field + ".matchExpressions[\(i)]"
            if !Self.isLabelKey(requirement.key) { fail(at + ".key", "\"\(requirement.key)\" is not a valid label key") }
            let count = requirement.values?.count ?? 0
            switch requirement.operator {
            case .in, .notIn:
                if count == 0 { fail(at + ".values", "must not be empty for operator \(requirement.operator.rawValue)") }
            case .exists, .doesNotExist:
                if count > 0 { fail(at + ".values", "must be empty for operator \(requirement.operator.rawValue)") }
            }
        }
    }

    mutating func sync(_ sync: SyncPolicy?, at field: String) {
        guard let sync else { return }
        if let schedule = sync.schedule {
            do throws(CronError) { _ = try CronSchedule(parsing: schedule) } catch {
                fail(field + ".schedule", "\"\(schedule)\" is not a cron schedule: \(error.message)")
            }
        }
        if let max = sync.maxDeletes, max < 0 { fail(field + ".maxDeletes", "must be 0 or more") }
        if let uid = sync.runAsUser, uid < 0 { fail(field + ".runAsUser", "must be 0 or more") }
        if let gid = sync.runAsGroup, gid < 0 { fail(field + ".runAsGroup", "must be 0 or more") }
    }

    // MARK: name rules

    /// S3 bucket naming rules (the AWS general-purpose rules, which other servers accept).
    static func bucketProblem(_ bucket: String) -> String? {
        guard (3...63).contains(bucket.count) else {
            return "must be 3-63 characters long (\"\(bucket)\" has \(bucket.count))"
        }
        guard bucket.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }) else {
            return "\"\(bucket)\" may contain only lowercase letters, digits, dots and hyphens"
        }
        guard let first = bucket.first, let last = bucket.last, first.isLetter || first.isNumber, last.isLetter || last.isNumber else {
            return "\"\(bucket)\" must begin and end with a letter or digit"
        }
        if bucket.contains("..") { return "\"\(bucket)\" must not contain two adjacent dots" }
        let parts = bucket.split(separator: ".")
        if parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) { return "\"\(bucket)\" must not be an IP address" }
        return nil
    }

    static func isHTTPURL(_ text: String) -> Bool {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else { return false }
        return url.query == nil && url.fragment == nil && url.user == nil
    }

    /// RFC 1123 label: 1-63 of `[a-z0-9-]`, alphanumeric at both ends.
    static func isDNSLabel(_ s: Substring) -> Bool {
        // By bytes: every character allowed is one ASCII byte, and Character's Unicode
        // properties cost more than the mutating webhook's whole decision.
        let bytes = s.utf8
        guard (1...63).contains(bytes.count), let first = bytes.first, let last = bytes.last else { return false }
        let alnum = { (b: UInt8) in (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(b) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
        return alnum(first) && alnum(last) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }

    /// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
    static func isDNSSubdomain(_ s: String) -> Bool {
        guard (1...253).contains(s.count) else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isDNSLabel)
    }

    /// `[prefix/]name`: an optional DNS-subdomain prefix, and a name of 1-63 alphanumerics,
    /// `-`, `_`, `.`, alphanumeric at both ends.
    static func isLabelKey(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let name = parts.last else { return false }
        if parts.count == 2, !isDNSSubdomain(String(parts[0])) { return false }
        guard (1...63).contains(name.count), let first = name.first, let last = name.last else { return false }
        let alnum = { (c: Character) in c.isASCII && (c.isLetter || c.isNumber) }
        return alnum(first) && alnum(last) && name.allSatisfy { alnum($0) || "-_.".contains($0) }
    }
}
