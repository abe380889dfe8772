import KubeModel
import SyncContract

/// Escapes user names into DNS-1123 label fragments without collisions, so two different
/// users can never be given one home volume.
///
/// Every byte of the UTF-8 form that is not `[a-z0-9]` becomes `-` and two lowercase hex
/// digits (KubeSpawner's "escapism" with `-` as the escape character, which it escapes
/// too). Kept characters never include `-` and every `-` starts exactly one 3-character
/// escape, so the text decodes one way only: the mapping is injective. `Alice` is
/// `-41lice`, `a.b` is `a-2eb`, `a-b` is `a-2db`.
public enum UserName {
    public static func escape(_ name: String) -> String {
        // Bytes, then one String: appending scalars to a String cost 400 instructions each,
        // and the webhook escapes a user's name several times a review.
        var out: [UInt8] = []
        out.reserveCapacity(name.utf8.count + 8)
        for byte in name.utf8 {
            if isKept(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "-"))
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The name `escaped` came from, or nil when it is not the output of `escape`.
    public static func unescape(_ escaped: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(escaped.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "-") {
                guard let hi = iterator.next(), let lo = iterator.next(),
                      let value = UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16),
                      hex(value) == String(decoding: [hi, lo], as: UTF8.self),
                      !isKept(value) else { return nil }
                bytes.append(value)
            } else if isKept(byte) {
                bytes.append(byte)
            } else {
                return nil
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// A label value naming `user`: `user-` and the escape (an escape may begin with `-`,
    /// which a label value may not), shortened with a hash past 63 characters.
    public static func labelValue(_ user: String) -> String {
        ChildNames.labelValue("user-" + escape(user))
    }

    /// The name of `user`'s home DataVolume: `home-` and the escaped name; nil for the empty
    /// name, which identifies nobody.
    ///
    /// When that exceeds 63 characters it becomes `home-`, a prefix of the escape cut at an
    /// escape boundary, `--` and the first 10 hex digits of SHA-256 of the user name. `--`
    /// never occurs in an escape, so a shortened name cannot equal a full one; two long
    /// names collide only if they share the prefix and 40 bits of SHA-256, so for them the
    /// mapping is collision-resistant rather than strictly injective.
    public static func homeName(for user: String) -> String? {
        guard !user.isEmpty else { return nil }
        let escaped = escape(user)
        let full = "home-" + escaped
        guard full.utf8.count > ChildNames.maxLength else { return full }
        let hash = String(sha256Hex(user).prefix(10))
        let room = ChildNames.maxLength - "home-".count - 2 - hash.count
        return "home-" + cutAtEscapeBoundary(escaped, maxLength: room) + "--" + hash
    }

    /// The longest prefix of an escaped name within `maxLength` that does not split an escape.
    private static func cutAtEscapeBoundary(_ escaped: String, maxLength: Int) -> String {
        let bytes = Array(escaped.utf8)
        var end = 0
        while end < bytes.count {
            let width = bytes[end] == UInt8(ascii: "-") ? 3 : 1
            guard end + width <= maxLength else { break }
            end += width
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    private static func isKept(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func hex(_ byte: UInt8) -> String {
        let s = String(byte, radix: 16)
        return s.count == 1 ? "0" + s : s
    }
}

/// Deterministic names of the objects the operator creates, so a stale cache produces
/// AlreadyExists instead of duplicates. Every name but the claim's is at most 63 characters
/// (Job names become pod label values, which are limited to 63).
public enum ChildNames {
    public static let maxLength = 63

    /// The kind a child belongs to, as its short name.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case dataVolume = "dv"
        case sharedVolume = "shv"
    }

    /// The longest claim name Kubernetes accepts (a DNS subdomain).
    public static let maxClaimLength = 253

    /// The PVC of a volume: exactly `dv-<name>` or `shv-<name>`, never shortened, so that the
    /// map goes both ways (`volume(ofClaim:)`) and the mutator, the validator and the
    /// reconcilers agree on it by construction. Names longer than `maxVolumeNameLength`
    /// have no claim; validation refuses them.
    public static func claimName(kind: Kind, name: String) -> String {
        "\(kind.rawValue)-\(name)"
    }

    /// The volume a claim name is reserved for: the inverse of `claimName(kind:name:)`, or
    /// nil for a name outside Stowage's `dv-` and `shv-` prefixes.
    public static func volume(ofClaim claim: String) -> (kind: Kind, name: String)? {
        for kind in Kind.allCases {
            let prefix = kind.rawValue + "-"
            if claim.hasPrefix(prefix), claim.utf8.count > prefix.utf8.count { return (kind, String(claim.dropFirst(prefix.count))) }
        }
        return nil
    }

    /// The longest volume name of `kind` whose claim is still a valid name: 250 for a
    /// DataVolume, 249 for a SharedVolume.
    public static func maxVolumeNameLength(kind: Kind) -> Int {
        maxClaimLength - kind.rawValue.utf8.count - 1
    }

    public static func claimName(for volume: DataVolume) -> String {
        claimName(kind: .dataVolume, name: volume.metadata.name ?? "")
    }

    public static func claimName(for volume: SharedVolume) -> String {
        claimName(kind: .sharedVolume, name: volume.metadata.name ?? "")
    }

    /// A sync Job: `stowage-<kind>-<name>-<pull|push>-<8 hex of SHA-256 of token>`. The
    /// token names the sync being asked for (say, uid and generation for an initial pull,
    /// or a counter of stops), so one request maps to one Job however often it is retried.
    public static func syncJobName(kind: Kind, name: String, direction: SyncDirection, token: String) -> String {
        let hash = String(sha256Hex(token).prefix(8))
        let suffix = "-\(direction.rawValue)-\(hash)"
        return fit("stowage-\(kind.rawValue)-\(name)", reserving: suffix) + suffix
    }

    /// The name of the volume the webhook adds to a pod: a DNS-1123 label (no dots),
    /// `dv-<name>` or `shv-<name>`, hashed when the name has dots or is too long.
    public static func podVolumeName(kind: Kind, name: String) -> String {
        let plain = "\(kind.rawValue)-\(name)"
        if plain.count <= maxLength, Validator.isDNSLabel(Substring(plain)) { return plain }
        let hash = String(sha256Hex(plain).prefix(10))
        let cleaned = String(plain.map { $0 == "." ? "-" : $0 }.prefix(maxLength - hash.count - 1))
        return trimmed(cleaned) + "-" + hash
    }

    /// A value for a label such as `stowage.io/datavolume`: the name itself when it fits in
    /// 63 characters, else a prefix and a hash of it.
    public static func labelValue(_ name: String) -> String { fit(name) }

    /// `name` when it fits, else a prefix, `-` and 10 hex of SHA-256 of `name`, so distinct
    /// long names stay distinct (with overwhelming probability).
    static func fit(_ name: String, reserving suffix: String = "") -> String {
        let room = maxLength - suffix.count
        guard name.count > room else { return name }
        let hash = String(sha256Hex(name).prefix(10))
        return trimmed(String(name.prefix(room - hash.count - 1))) + "-" + hash
    }

    /// Drops trailing `-` and `.` so the joined name stays a valid DNS name.
    private static func trimmed(_ s: String) -> String {
        var s = Substring(s)
        while let last = s.last, last == "-" || last == "." { s = s.dropLast() }
        return String(s)
    }
}
