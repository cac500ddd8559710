import ArgumentParser
import Foundation

/// `sandman-bench`: measurements for docs/benchmarks.md. Build in release (`make bench`).
@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandman-bench",
        abstract: "Sandman's benchmarks; run them from a release build.",
        subcommands: [All.self, TransportBench.self, ScheduleBench.self, SleepBench.self, HubBench.self, ScaleBench.self, GitOpsBench.self, StoreBench.self, LuaBench.self, SlackBench.self],
        defaultSubcommand: All.self
    )

    struct All: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "all", abstract: "Every benchmark, one after the other.")

        func run() async throws {
            // Parsed from no arguments, so that each takes its options' defaults.
            try await TransportBench.parse([]).run()
            try await ScheduleBench.parse([]).run()
            try await SleepBench.parse([]).run()
            try await HubBench.parse([]).run()
            try await ScaleBench.parse([]).run()
            try await GitOpsBench.parse([]).run()
            try await StoreBench.parse([]).run()
            try await LuaBench.parse([]).run()
            try await SlackBench.parse([]).run()
        }
    }
}

/// Percentiles of a list of durations, in milliseconds.
struct Latencies {
    var samples: [Double] = []

    mutating func add(_ duration: Duration) {
        samples.append(Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15)
    }

    func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return 0 }
        let sorted = samples.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }

    var summary: String {
        String(format: "p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples)", percentile(0.5), percentile(0.99), samples.max() ?? 0, samples.count)
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func report(_ name: String, _ text: String) {
    print(name.padding(toLength: 36, withPad: " ", startingAt: 0) + text)
}
