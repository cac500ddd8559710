import Foundation
import Logging

/// One version of a plugin file and everything needed to start it in a fresh state: the text,
/// its limits, and the host's logger and clock.
struct PluginSource: Sendable {
    /// Limits of each state and call.
    struct Limits: Sendable {
        var callTimeout: Duration = .milliseconds(50)
        var loadTimeout: Duration = .seconds(1)
        var memoryBytes: Int = 32 << 20
        var instructions: Int = 10_000_000
        /// How long past its deadline a load or call may still be running before the plugin is
        /// disabled as stuck.
        var grace: Duration = PluginHost.Configuration.defaultDeadlineGrace
    }

    var file: String
    var kind: PluginKind
    var text: String
    var limits: Limits
    var logger: Logger
    var clock: @Sendable () -> Date

    /// A short content hash (FNV-1a, 64 bits, hexadecimal) naming this version.
    var version: String { Self.hash(text) }

    static func hash(_ text: String) -> String {
        var value: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            value ^= UInt64(byte)
            value &*= 0x0000_0100_0000_01b3
        }
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
