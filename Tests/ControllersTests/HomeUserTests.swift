import KubeModel
import StowageAPI
import Testing
@testable import Controllers

/// Which pods call for a home: only those whose identity the webhook established.
@Suite("Homes: whose pod")
struct HomeUserTests {
    let spawners = SpawnerConfig(trusted: ["system:serviceaccount:jhub:hub"])

    func pod(annotations: [String: String]?, labels: [String: String]? = nil) -> Pod {
        Pod(metadata: ObjectMeta(name: "jupyter-x", namespace: "jhub", labels: labels, annotations: annotations),
            spec: PodSpec(containers: [Container(name: "c")]))
    }

    @Test func theWebhooksIdentityCallsForAHome() {
        let established = ["hub.jupyter.org/username": "Zoë.Smith@example.org", StowageKeys.user: "Zoë.Smith@example.org"]
        #expect(HomeController.homeUser(of: pod(annotations: established), spawners: spawners) == "Zoë.Smith@example.org")
    }

    @Test func anythingElseDoesNot() {
        // The annotation alone (the webhook sets it together with the spawner's), one that
        // disagrees with the spawner's, an empty one, and the operator's own pods.
        #expect(HomeController.homeUser(of: pod(annotations: [StowageKeys.user: "victim"]), spawners: spawners) == nil)
        #expect(HomeController.homeUser(of: pod(annotations: ["hub.jupyter.org/username": "alice", StowageKeys.user: "victim"]),
                                        spawners: spawners) == nil)
        #expect(HomeController.homeUser(of: pod(annotations: ["hub.jupyter.org/username": "", StowageKeys.user: ""]), spawners: spawners) == nil)
        #expect(HomeController.homeUser(of: pod(annotations: ["hub.jupyter.org/username": "alice", StowageKeys.user: "alice"],
                                                labels: [StowageKeys.managedBy: "stowage"]), spawners: spawners) == nil)
        #expect(HomeController.homeUser(of: pod(annotations: nil), spawners: spawners) == nil)
        // A configuration naming another spawner annotation is followed.
        let custom = SpawnerConfig(trusted: [], userAnnotation: "example.org/user")
        #expect(HomeController.homeUser(of: pod(annotations: ["example.org/user": "alice", StowageKeys.user: "alice"]), spawners: custom) == "alice")
    }
}
