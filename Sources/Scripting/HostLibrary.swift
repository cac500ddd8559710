import Foundation
import JSON
import Logging
import Scheduling

/// The Swift side of `sandman.*` and `print` for one Lua state: logging with the plugin's name,
/// JSON, durations and time zones. Nothing here reaches the network or the file system.
final class HostLibrary {
    /// Text longer than this is refused by `sandman.json.decode` (host code is not memory-capped).
    static let maximumDecodedLength = 1 << 20
    /// Log messages are cut after this many bytes, so that a plugin cannot flood the hub's log.
    static let maximumLogMessage = 8 << 10
    /// Longest `sandman.time.format` pattern, as for `os.date`: each conversion costs a
    /// microsecond of host code, which no deadline interrupts.
    static let maximumPattern = 256

    private let plugin: String
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private var timeZones: [String: TimeZone] = [:]
    /// Per zone, a span of time with one UTC offset, so that consecutive calls for nearby
    /// instants skip the time zone database.
    private var offsetSpans: [String: OffsetSpan] = [:]

    private struct OffsetSpan {
        var from: Double
        var until: Double
        var offset: Int
        var isDaylightSaving: Bool
    }

    init(plugin: String, logger: Logger, clock: @escaping @Sendable () -> Date) {
        self.plugin = plugin
        self.logger = logger
        self.clock = clock
    }

    /// The primitives handed to the sandbox bootstrap as `host.<name>`.
    var functions: [String: LuaState.HostFunction] {
        [
            "log": { arguments throws(HostFunctionError) in try self.log(arguments) },
            "encode": { arguments throws(HostFunctionError) in [.string(arguments.first?.serialized() ?? "null")] },
            "decode": { arguments throws(HostFunctionError) in try Self.decode(arguments) },
            "parse_duration": { arguments throws(HostFunctionError) in try Self.parseDuration(arguments) },
            "format": { arguments throws(HostFunctionError) in try self.format(arguments) },
            "local_parts": { arguments throws(HostFunctionError) in try self.localParts(arguments) },
            "now": { _ throws(HostFunctionError) in [.int(Int64(self.clock().timeIntervalSince1970.rounded(.down)))] },
        ]
    }

    // MARK: - Logging

    private func log(_ arguments: [JSONValue]) throws(HostFunctionError) -> [JSONValue] {
        let level: Logger.Level
        switch arguments.first?.string {
        case "debug": level = .debug
        case "warn": level = .warning
        case "error": level = .error
        default: level = .info
        }
        var metadata: Logger.Metadata = [:]
        if arguments.count > 2, case .object(let fields) = arguments[2] {
            for (key, value) in fields { metadata[key] = Self.metadataValue(value) }
        }
        metadata["plugin"] = .string(plugin)
        let message = arguments.count > 1 ? arguments[1].string ?? "" : ""
        logger.log(level: level, "\(Self.cut(message))", metadata: metadata)
        return []
    }

    private static func cut(_ message: String) -> String {
        let bytes = message.utf8.count
        guard bytes > maximumLogMessage else { return message }
        let kept = String(decoding: message.utf8.prefix(maximumLogMessage), as: UTF8.self)
        return kept + "... (\(bytes - maximumLogMessage) more bytes)"
    }

    private static func metadataValue(_ value: JSONValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(text)
        case .array(let elements): .array(elements.map(metadataValue))
        case .object(let members): .dictionary(members.mapValues(metadataValue))
        default: .string(value.serialized())
        }
    }

    // MARK: - JSON and durations

    private static func decode(_ arguments: [JSONValue]) throws(HostFunctionError) -> [JSONValue] {
        guard let text = arguments.first?.string else { throw HostFunctionError("bad argument #1 to 'decode' (string expected)") }
        guard text.utf8.count <= maximumDecodedLength else {
            return [.null, .string("JSON text longer than \(maximumDecodedLength) bytes")]
        }
        do {
            let value = try JSONValue(parsing: text)
            return value == .null ? [.null] : [value]
        } catch {
            return [.null, .string("\(error)")]
        }
    }

    private static func parseDuration(_ arguments: [JSONValue]) throws(HostFunctionError) -> [JSONValue] {
        guard let text = arguments.first?.string else { throw HostFunctionError("bad argument #1 to 'parse_duration' (string expected)") }
        do {
            let duration = try DurationText.parse(text)
            let (seconds, attoseconds) = duration.components
            if attoseconds == 0 { return [.int(seconds)] }
            return [.double(Double(seconds) + Double(attoseconds) / 1e18)]
        } catch {
            return [.null, .string("\(error)")]
        }
    }

    // MARK: - Time

    /// The epoch seconds of argument #1, within ±1e15 (thirty million years): larger values
    /// would overflow the calendar arithmetic.
    private static func epoch(_ arguments: [JSONValue], function: String) throws(HostFunctionError) -> Double {
        guard let epoch = arguments.first?.double else { throw HostFunctionError("bad argument #1 to '\(function)' (epoch seconds expected)") }
        guard abs(epoch) < 1e15 else { throw HostFunctionError("bad argument #1 to '\(function)' (epoch seconds out of range)") }
        return epoch
    }

    private func format(_ arguments: [JSONValue]) throws(HostFunctionError) -> [JSONValue] {
        let epoch = try Self.epoch(arguments, function: "format")
        let pattern = arguments.count > 1 ? arguments[1].string ?? TimeFormat.defaultPattern : TimeFormat.defaultPattern
        guard pattern.utf8.count <= Self.maximumPattern else {
            throw HostFunctionError("bad argument #2 to 'format' (pattern longer than \(Self.maximumPattern) bytes)")
        }
        let zone = try timeZone(arguments.count > 2 ? arguments[2] : .null, function: "format")
        do {
            return [.string(try TimeFormat.format(epoch: epoch, pattern: pattern, in: zone))]
        } catch {
            throw HostFunctionError(error.description)
        }
    }

    private func localParts(_ arguments: [JSONValue]) throws(HostFunctionError) -> [JSONValue] {
        let epoch = try Self.epoch(arguments, function: "local_parts")
        let name = arguments.count > 1 ? arguments[1] : .null
        let zone = try timeZone(name, function: "local_parts")
        let parts = localParts(epoch: epoch, zone: zone, name: name.string ?? "UTC")
        return [[
            "year": .int(Int64(parts.year)), "month": .int(Int64(parts.month)), "day": .int(Int64(parts.day)),
            "hour": .int(Int64(parts.hour)), "min": .int(Int64(parts.minute)), "sec": .int(Int64(parts.second)),
            "wday": .int(Int64(parts.weekday)), "yday": .int(Int64(parts.dayOfYear)), "isdst": .bool(parts.isDaylightSaving),
            "offset": .int(Int64(parts.offsetSeconds)),
        ]]
    }

    private func localParts(epoch: Double, zone: TimeZone, name: String) -> TimeFormat.LocalParts {
        if let span = offsetSpans[name], epoch >= span.from, epoch < span.until {
            return TimeFormat.LocalParts(epoch: epoch, offsetSeconds: span.offset, isDaylightSaving: span.isDaylightSaving)
        }
        let date = Date(timeIntervalSince1970: epoch)
        let span = OffsetSpan(
            from: epoch,
            until: zone.nextDaylightSavingTimeTransition(after: date)?.timeIntervalSince1970 ?? epoch + 86_400,
            offset: zone.secondsFromGMT(for: date),
            isDaylightSaving: zone.isDaylightSavingTime(for: date)
        )
        offsetSpans[name] = span
        return TimeFormat.LocalParts(epoch: epoch, offsetSeconds: span.offset, isDaylightSaving: span.isDaylightSaving)
    }

    /// The time zone named by `value` (`UTC` when nil), cached per state.
    private func timeZone(_ value: JSONValue, function: String) throws(HostFunctionError) -> TimeZone {
        let name: String
        switch value {
        case .null: name = "UTC"
        case .string(let text): name = text
        default: throw HostFunctionError("bad time zone argument to '\(function)' (an IANA name such as Europe/Rome expected)")
        }
        if let zone = timeZones[name] { return zone }
        guard let zone = TimeZone(identifier: name) else {
            throw HostFunctionError("unknown time zone '\(name)' (an IANA name such as Europe/Rome expected)")
        }
        timeZones[name] = zone
        return zone
    }
}
