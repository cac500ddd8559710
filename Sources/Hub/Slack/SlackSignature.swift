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

        /// 413 for bodies over the limit, 401 for everything else.
        public var status: Int { self == .tooLarge ? 413 : 401 }

        public var description: String {
            switch self {
            case .missingHeaders: "missing X-Slack-Request-Timestamp or X-Slack-Signature"
            case .malformedTimestamp: "X-Slack-Request-Timestamp is not a number"
            case .staleTimestamp: "X-Slack-Request-Timestamp is more than 5 minutes from now"
            case .badSignature: "X-Slack-Signature does not match"
            case .replayed: "this signed request was already received"
            case .tooLarge: "request body larger than 64 KiB"
            }
        }
    }

    public static let maximumBodySize = 64 << 10
    public static let window: TimeInterval = 300

    private let secrets: [Data]
    private let seen = Mutex<[String: Date]>([:])

    public init(secrets: [String]) {
        self.secrets = secrets.map { Data($0.utf8) }
    }

    /// `v0=<hex>` for `body` sent at `timestamp` (seconds since 1970), as Slack signs it.
    public static func signature(secret: String, timestamp: String, body: Data) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("v0:\(timestamp):".utf8) + body, using: SymmetricKey(data: Data(secret.utf8)))
        return "v0=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Checks a request before anything reads it.
    public func verify(timestamp: String?, signature: String?, body: Data, now: Date) throws(Rejection) {
        guard body.count <= Self.maximumBodySize else { throw .tooLarge }
        guard let timestamp, let signature, !timestamp.isEmpty, !signature.isEmpty else { throw .missingHeaders }
        guard let seconds = TimeInterval(timestamp) else { throw .malformedTimestamp }
        guard abs(now.timeIntervalSince1970 - seconds) <= Self.window else { throw .staleTimestamp }
        guard signature.hasPrefix("v0="), let expected = Self.hexBytes(signature.dropFirst(3)) else { throw .badSignature }
        let signed = Data("v0:\(timestamp):".utf8) + body
        // isValidAuthenticationCode compares in constant time.
        let valid = secrets.contains { secret in
            HMAC<SHA256>.isValidAuthenticationCode(expected, authenticating: signed, using: SymmetricKey(data: secret))
        }
        guard valid else { throw .badSignature }
        let replay = seen.withLock { seen -> Bool in
            seen = seen.filter { now.timeIntervalSince($0.value) <= Self.window * 2 }
            if seen[signature] != nil { return true }
            seen[signature] = now
            return false
        }
        if replay { throw .replayed }
    }

    private static func hexBytes(_ text: Substring) -> Data? {
        guard text.count == 64 else { return nil }
        var bytes = Data(capacity: 32)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
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
