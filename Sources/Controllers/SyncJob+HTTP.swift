import Foundation
import KubeModel
import StowageAPI

extension SyncJob {
    /// The sync Job of a volume whose files come from HTTP(S) URLs: `stowage sync pull DIR
    /// --mode RO --http URL...`, each value an `HTTPFile.argument` (the type `stowage sync`
    /// parses back). No credentials: the URLs are fetched as they are; a CA bundle Secret,
    /// when set, is mounted as for S3.
    static func buildHTTP(_ request: SyncJobRequest, settings: SyncPodSettings) -> Job {
        let http = request.http ?? HTTPSource(urls: [])
        var labels = request.labels
        labels[StowageKeys.managedBy] = StowageKeys.managedByValue
        labels[StowageKeys.syncDirection] = request.direction.rawValue

        var args = ["sync", SyncDirection.pull.rawValue, settings.mountPath,
                    "--mode", AccessMode.readOnly.rawValue,
                    "--summary-file", terminationMessagePath,
                    "--sequence", String(request.number),
                    "--progress-interval", String(settings.progressIntervalSeconds)]
        for file in http.urls { args += ["--http", file.argument] }

        var container = Container(name: containerName, image: settings.image, command: [settings.command], args: args)
        container.imagePullPolicy = settings.imagePullPolicy
        container.volumeMounts = [VolumeMount(name: "data", mountPath: settings.mountPath)]
        var volumes = [Volume(name: "data", claimName: request.claimName)]
        if let ca = http.caBundleSecretRef {
            container.volumeMounts?.append(VolumeMount(name: "ca", mountPath: caMountPath, readOnly: true))
            container.args? += ["--ca-bundle", "\(caMountPath)/\(ca.key)"]
            volumes.append(Volume(name: "ca", secretName: ca.name, items: [ca.key: ca.key]))
        }
        return job(request, container: container, volumes: volumes, labels: labels, settings: settings)
    }
}
