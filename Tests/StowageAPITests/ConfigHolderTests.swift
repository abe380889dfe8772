import KubeModel
import Testing
@testable import StowageAPI

/// One holder per process: the webhook's watch and the operator's config controller both
/// take versions; the controller reports what changed since it last reported, whoever took
/// the versions first.
@Suite struct ConfigHolderTests {
    static func map(_ version: String, _ yaml: String) -> ConfigMap {
        var metadata = ObjectMeta(name: StowageConfig.configMapName)
        metadata.resourceVersion = version
        return ConfigMap(metadata: metadata, data: [StowageConfig.configMapKey: yaml])
    }

    static let one = "levels:\n  public: {read: [\"*\"], write: []}\n"
    static let two = "levels:\n  public: {read: [\"*\"], write: []}\n  private: {read: [members], write: []}\n"
    static let broken = "levels:\n  public: {read: [\"evryone\"]}\n"

    @Test func theReporterSaysWhatChangedWhoeverTookItFirst() {
        let holder = ConfigHolder(namespace: "stowage-system")
        // The webhook's watch takes the first version: the webhook reads it at once.
        #expect(holder.take(Self.map("1", Self.one)) == .applied)
        #expect(holder.current.levels.keys.sorted() == ["public"])
        // The controller, later, still reports it, once.
        #expect(holder.takeForReport(Self.map("1", Self.one)) == [.applied])
        #expect(holder.takeForReport(Self.map("1", Self.one)) == [])

        // A refused version the webhook took first: reported once; the levels stay.
        guard case .refused = holder.take(Self.map("2", Self.broken)) else {
            Issue.record("the broken version is refused")
            return
        }
        let reports = holder.takeForReport(Self.map("2", Self.broken))
        #expect(reports.count == 1)
        if case .refused(let error)? = reports.first { #expect(error.line == 2) } else { Issue.record("\(reports)") }
        #expect(holder.takeForReport(Self.map("2", Self.broken)) == [])
        #expect(holder.current.levels.keys.sorted() == ["public"])

        // Two edits the webhook took before the controller looked: a change then its
        // undoing is no change of what is in force, so nothing is reported.
        #expect(holder.take(Self.map("3", Self.two)) == .applied)
        #expect(holder.take(Self.map("4", Self.one)) == .applied)
        #expect(holder.takeForReport(Self.map("4", Self.one)) == [])
        // A new version only the controller sees is taken and reported.
        #expect(holder.takeForReport(Self.map("5", Self.two)) == [.applied])
        #expect(holder.current.levels.keys.sorted() == ["private", "public"])
    }

    @Test func aRefusalThatIsNoLongerTheNewestIsNotReported() {
        let holder = ConfigHolder(namespace: "stowage-system")
        #expect(holder.takeForReport(Self.map("1", Self.one)) == [.applied])
        _ = holder.take(Self.map("2", Self.broken))
        _ = holder.take(Self.map("3", Self.two))
        #expect(holder.takeForReport(Self.map("3", Self.two)) == [.applied])
    }

    @Test func anEmptyConfigMapAtStartIsNoChange() {
        let holder = ConfigHolder(namespace: "stowage-system")
        #expect(holder.takeForReport(Self.map("1", "")) == [])
        #expect(holder.current == .empty)
    }
}
