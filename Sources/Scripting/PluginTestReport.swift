/// The outcome of `sandman plugins test`: every case, and the test files that could not run.
public struct PluginTestReport: Sendable {
    /// One test case.
    public struct Case: Sendable, Equatable {
        /// The test file, relative to the plugin directory.
        public var file: String
        public var name: String
        /// Why it failed; nil when it passed.
        public var failure: String?

        public var passed: Bool { failure == nil }
    }

    public var cases: [Case] = []
    /// Test files that could not be read, parsed or loaded; each counts as a failure.
    public var problems: [String] = []

    public var passedCount: Int { cases.filter(\.passed).count }
    public var failedCount: Int { cases.count - passedCount + problems.count }
    /// True when at least one case ran and nothing failed.
    public var succeeded: Bool { failedCount == 0 && !cases.isEmpty }
}
