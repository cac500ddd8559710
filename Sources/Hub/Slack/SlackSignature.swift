import Crypto
import Foundation
import Synchronization

/// Slack's request signing: `X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:<timestamp>:<raw body>")>`,
/// with `X-Slack-Request-Timestamp` within five minutes of now. Several secrets are accepted at
/// once (rotation); a signature seen within the window is a replay.
public final class SlackVerifier: Sendable {
    public enum Rejection: Error, Sendable, Equatable, CustomStringConvertible {
        case missingHeaders
        case malformedTimestamp
        case staleTimestamp
        case badSignature
        case replayed
        case tooLarge
        /// More signed requests within the window than the replay memory holds.
        case overloaded

        /// 413 for bodies over the limit, 429 when overloaded, 401 for everything else.
        public var status: Int {
            switch self {
            case .tooLarge: 413
            case .overloaded: 429
            default: 401
            }
        }

        /// A short name for metrics.
        public var code: String {
            switch self {
            case .missingHeaders: "missing_headers"
            case .malformedTimestamp: "malformed_timestamp"
            case .staleTimestamp: "stale_timestamp"
            case .badSignature: "bad_signature"
            case .replayed: "replayed"
            case .tooLarge: "too_large"
            case .overloaded: "overloaded"
            }
        }

        public var description: String {
            switch self {
            case .missingHeaders: "missing X-Slack-Request-Timestamp or X-Slack-Signature"
            case .malformedTimestamp: "X-Slack-Request-Timestamp is not a number"
            case .staleTimestamp: "X-Slack-Request-Timestamp is more than 5 minutes from now"
            case .badSignature: "X-Slack-Signature does not match"
            case .replayed: "this signed request was already received"
            case .tooLarge: "request body larger than 64 KiB"
            case .overloaded: "too many signed requests within 5 minutes; try again shortly"
            }
        }
    }

    public static let maximumBodySize = 64 << 10
    public static let window: TimeInterval = 300
    /// Signed requests remembered at most (a few MiB), far above what Slack sends in 5 minutes.
    public static let replayCapacity = 100_000

    private let secrets: [Data]
    private let seen: Mutex<ReplayMemory>

    public init(secrets: [String], replayCapacity: Int = SlackVerifier.replayCapacity) {
        self.secrets = secrets.map { Data($0.utf8) }
        self.seen = Mutex(ReplayMemory(capacity: replayCapacity))
    }

    /// How many signed requests are remembered now.
    var remembered: Int { seen.withLock { $0.count } }

    /// `v0=<hex>` for `body` sent at `timestamp` (seconds since 1970), as Slack signs it.
    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("v0:\(timestamp):".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "v0=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a request before anything reads it. The signature must be written exactly as Slack
    /// writes it (and its SDKs compare it): `v0=` and 64 lower-case hex digits. A request is
    /// recognised as a replay by its decoded MAC, so no other spelling of a captured signature
    /// gets it in twice.
    public func verify(timestamp: String?, signature: String?, body: Data, now: Date) throws(Rejection) {
        guard body.count <= Self.maximumBodySize else { throw .tooLarge }
        guard let timestamp, let signature, !timestamp.isEmpty, !signature.isEmpty else { throw .missingHeaders }
        guard let seconds = Self.seconds(timestamp) else { throw .malformedTimestamp }
        let current = Int64(now.timeIntervalSince1970.rounded(.down))
        guard abs(current - seconds) <= Int64(Self.window) else { throw .staleTimestamp }
        guard let expected = Self.macBytes(signature), let mac = ReplayMemory.MAC(expected) else { throw .badSignature }
        let signed = Data("v0:\(timestamp):".utf8) + body
        // isValidAuthenticationCode compares in constant time.
        let valid = secrets.contains { secret in
            HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: signed, using: SymmetricKey(data: secret))
        }
        guard valid else { throw .badSignature }
        // A copy is refused as stale once its timestamp leaves the window: remember it until then.
        switch seen.withLock({ $0.insert(mac, expiry: seconds + Int64(Self.window), now: current) }) {
        case .fresh: return
        case .replayed: throw .replayed
        case .full: throw .overloaded
        }
    }

    /// Whole seconds since 1970, as Slack sends them: digits only.
    private static func seconds(_ text: String) -> Int64? {
        guard (1...12).contains(text.utf8.count), text.utf8.allSatisfy({ (48...57).contains($0) }) else { return nil }
        return Int64(text)
    }

    /// The 32 bytes of `v0=<64 lower-case hex digits>`, nil for any other spelling.
    private static func macBytes(_ signature: String) -> [UInt8]? {
        let characters = Array(signature.utf8)
        guard characters.count == 67, characters.starts(with: "v0=".utf8) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 3
        while index < characters.count {
            guard let high = hexDigit(characters[index]), let low = hexDigit(characters[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexDigit(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

/// `application/x-www-form-urlencoded` bodies, as Slack posts them.
public enum FormBody {
    public static func decode(_ body: Data) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(text) }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    public static func encode(_ fields: [(String, String)]) -> Data {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        let text = fields.map { key, value in
            "\(key.addingPercentEncoding(withAllowedCharacters: allowed) ?? key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
        }.joined(separator: "&")
        return Data(text.utf8)
    }
}
