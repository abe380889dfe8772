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
        var args = ["sync", SyncDirection.pull.rawValue, settings.mountPath,
                    "--mode", AccessMode.readOnly.rawValue,
                    "--summary-file", terminationMessagePath,
                    "--sequence", String(request.number),
                    "--progress-interval", String(settings.progressIntervalSeconds)]
        for file in http.urls { args += ["--http", file.argument] }

        return job(request, args: args, env: nil, caBundle: http.caBundleSecretRef, settings: settings)
    }
}
