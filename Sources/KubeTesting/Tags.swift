import Testing

/// The test tiers. A suite without a tag is a unit test: no network, no processes, runs
/// anywhere in milliseconds.
extension Tag {
    /// Needs the real cluster and S3 servers of `scripts/testenv` (`TestEnvironment.shared()`
    /// or an environment of its own).
    @Tag public static var integration: Self
    /// Measures time (a deadline, a hand-over, a kill in the middle of a transfer), or tells
    /// a whole user story through the real hub, Helm or a notebook whose steps the load of
    /// the other suites on two cores stretched past their deadlines: `scripts/test` runs
    /// these suites one at a time, before the others.
    @Tag public static var timing: Self
    /// Talks to S3: `scripts/test` runs these suites again against the second S3 server
    /// (moto_server).
    @Tag public static var s3: Self
}
