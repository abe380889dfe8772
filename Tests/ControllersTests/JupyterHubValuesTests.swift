import Foundation
import KubeTesting
import Testing

/// The Zero to JupyterHub values the admin guide gives are the file the hub of the tests is
/// configured from (JupyterHubTests), word for word, so an admin pastes what was tested.
@Suite struct JupyterHubValuesTests {
    @Test func theAdminGuidesValuesAreTheTestedFile() throws {
        let root = TestEnvironment.packageRoot
        let values = try String(contentsOfFile: root + "/deploy/jupyterhub/values.yaml", encoding: .utf8)
        let guide = try String(contentsOfFile: root + "/docs/admin-guide.md", encoding: .utf8)
        let blocks = guide.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        #expect(blocks.contains(values), "docs/admin-guide.md has deploy/jupyterhub/values.yaml as a yaml block")
        #expect(values.contains("storage:\n    type: none") && values.contains("fsGid: 100") && values.contains("allowNamedServers: true"))
    }
}
