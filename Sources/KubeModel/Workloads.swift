import Foundation

/// A core/v1 Pod, typed for what Stowage reads and injects: volumes, mounts, init containers,
/// security contexts and status. Everything else survives updates through `original`.
public struct Pod: HasStatus {
    public static let apiVersion = "v1"
    public static let kind = "Pod"
    public static let plural = "pods"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?
    public var original = Original()

    public init(metadata: ObjectMeta, spec: PodSpec) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct PodSpec: Codable, Sendable, Hashable {
    public var containers: [Container]
    public var initContainers: [Container]?
    public var volumes: [Volume]?
    public var restartPolicy: String?
    public var serviceAccountName: String?
    public var securityContext: PodSecurityContext?
    public var nodeName: String?
    public var automountServiceAccountToken: Bool?
    public var affinity: JSONValue?
    public var terminationGracePeriodSeconds: Int64?

    public init(containers: [Container], initContainers: [Container]? = nil, volumes: [Volume]? = nil, restartPolicy: String? = nil) {
        self.containers = containers
        self.initContainers = initContainers
        self.volumes = volumes
        self.restartPolicy = restartPolicy
    }
}

public struct Container: Codable, Sendable, Hashable {
    public var name: String
    public var image: String?
    public var command: [String]?
    public var args: [String]?
    public var env: [EnvVar]?
    public var volumeMounts: [VolumeMount]?
    public var securityContext: SecurityContext?
    public var resources: ResourceRequirements?
    public var terminationMessagePath: String?
    /// `File` or `FallbackToLogsOnError`.
    public var terminationMessagePolicy: String?
    /// `Always`, `IfNotPresent` or `Never`.
    public var imagePullPolicy: String?

    public init(name: String, image: String? = nil, command: [String]? = nil, args: [String]? = nil) {
        self.name = name
        self.image = image
        self.command = command
        self.args = args
    }
}

public struct EnvVar: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: Source?

    public struct Source: Codable, Sendable, Hashable {
        public var secretKeyRef: SecretKeySelector?
        public init(secretKeyRef: SecretKeySelector?) { self.secretKeyRef = secretKeyRef }
    }

    public init(name: String, value: String?, valueFrom: Source? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }

    public init(name: String, secret: SecretKeySelector) {
        self.name = name
        valueFrom = Source(secretKeyRef: secret)
    }
}

public struct VolumeMount: Codable, Sendable, Hashable {
    public var name: String
    public var mountPath: String
    public var readOnly: Bool?
    public var subPath: String?

    public init(name: String, mountPath: String, readOnly: Bool? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
    }
}

public struct Volume: Codable, Sendable, Hashable {
    public var name: String
    public var persistentVolumeClaim: PVCSource?
    public var secret: JSONValue?
    public var configMap: JSONValue?
    public var emptyDir: JSONValue?

    public struct PVCSource: Codable, Sendable, Hashable {
        public var claimName: String
        public var readOnly: Bool?
        public init(claimName: String, readOnly: Bool? = nil) {
            self.claimName = claimName
            self.readOnly = readOnly
        }
    }

    public init(name: String, claimName: String, readOnly: Bool? = nil) {
        self.name = name
        persistentVolumeClaim = PVCSource(claimName: claimName, readOnly: readOnly)
    }

    /// A volume with only a claim source, or none.
    public init(name: String, persistentVolumeClaim: PVCSource?) {
        self.name = name
        self.persistentVolumeClaim = persistentVolumeClaim
    }

    /// A Secret volume projecting `items` (key to path), or every key when empty.
    public init(name: String, secretName: String, items: [String: String] = [:]) {
        self.name = name
        var source: [String: JSONValue] = ["secretName": .string(secretName)]
        if !items.isEmpty {
            source["items"] = .array(items.sorted { $0.key < $1.key }.map { ["key": .string($0.key), "path": .string($0.value)] })
        }
        secret = .object(source)
    }
}

public struct PodSecurityContext: Codable, Sendable, Hashable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var fsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var seccompProfile: SeccompProfile?
    public init() {}
}

public struct SecurityContext: Codable, Sendable, Hashable {
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var allowPrivilegeEscalation: Bool?
    public var privileged: Bool?
    public var readOnlyRootFilesystem: Bool?
    public var capabilities: Capabilities?
    public var seccompProfile: SeccompProfile?
    public init() {}

    public struct Capabilities: Codable, Sendable, Hashable {
        public var add: [String]?
        public var drop: [String]?
        public init(drop: [String]) { self.drop = drop }
    }
}

public struct SeccompProfile: Codable, Sendable, Hashable {
    public var type: String
    public init(type: String) { self.type = type }
}

public struct ResourceRequirements: Codable, Sendable, Hashable {
    public var requests: [String: String]?
    public var limits: [String: String]?
    public init(requests: [String: String]? = nil, limits: [String: String]? = nil) {
        self.requests = requests
        self.limits = limits
    }
}

public struct PodStatus: Codable, Sendable, Hashable {
    /// Pending, Running, Succeeded, Failed, Unknown.
    public var phase: String?
    public var message: String?
    public var reason: String?
    public var conditions: [JSONValue]?
    public var containerStatuses: [JSONValue]?
    public var initContainerStatuses: [JSONValue]?
    public var startTime: Date?
    public init(phase: String? = nil) { self.phase = phase }
}

/// A core/v1 PersistentVolumeClaim.
public struct PersistentVolumeClaim: HasStatus {
    public static let apiVersion = "v1"
    public static let kind = "PersistentVolumeClaim"
    public static let plural = "persistentvolumeclaims"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
    public var original = Original()

    public struct Spec: Codable, Sendable, Hashable {
        public var accessModes: [String]?
        public var storageClassName: String?
        public var resources: ResourceRequirements?
        public var volumeName: String?
        public init(accessModes: [String], storage: String, storageClassName: String? = nil) {
            self.accessModes = accessModes
            self.storageClassName = storageClassName
            resources = ResourceRequirements(requests: ["storage": storage])
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
        public var capacity: [String: String]?
        public var accessModes: [String]?
        public init() {}
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// A batch/v1 Job, as sync jobs use it.
public struct Job: HasStatus {
    public static let apiVersion = "batch/v1"
    public static let kind = "Job"
    public static let plural = "jobs"
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
    public var original = Original()

    public struct Spec: Codable, Sendable, Hashable {
        public var backoffLimit: Int?
        public var activeDeadlineSeconds: Int64?
        public var ttlSecondsAfterFinished: Int?
        public var template: PodTemplate
        public init(template: PodTemplate, backoffLimit: Int? = nil) {
            self.template = template
            self.backoffLimit = backoffLimit
        }
    }

    public struct PodTemplate: Codable, Sendable, Hashable {
        public var metadata: ObjectMeta?
        public var spec: PodSpec
        public init(metadata: ObjectMeta? = nil, spec: PodSpec) {
            self.metadata = metadata
            self.spec = spec
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var active: Int?
        public var succeeded: Int?
        public var failed: Int?
        public var startTime: Date?
        public var completionTime: Date?
        public var conditions: [JSONValue]?
    }

    public init(metadata: ObjectMeta, spec: Spec) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// A core/v1 PersistentVolume (cluster-scoped), as far as Stowage and its tests read it.
public struct PersistentVolume: HasStatus {
    public static let apiVersion = "v1"
    public static let kind = "PersistentVolume"
    public static let plural = "persistentvolumes"
    public static var namespaced: Bool { false }
    public var apiVersion = Self.apiVersion
    public var kind = Self.kind
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?
    public var original = Original()

    public struct Spec: Codable, Sendable, Hashable {
        public var capacity: [String: String]?
        public var accessModes: [String]?
        public var storageClassName: String?
        public var hostPath: HostPath?
        public var persistentVolumeReclaimPolicy: String?
    }

    public struct HostPath: Codable, Sendable, Hashable {
        public var path: String
    }

    public struct Status: Codable, Sendable, Hashable {
        public var phase: String?
    }
}
