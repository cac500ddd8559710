import Foundation

/// How a client checks the server and proves who it is. Verification is on unless `verifyPeer` is
/// set to false explicitly.
public struct TLSConfiguration: Sendable, Equatable {
    /// PEM bundle of trusted certificate authorities; nil trusts the system bundle.
    public var trustRoots: Data?
    /// PEM client certificate (chain) presented to the server.
    public var clientCertificate: Data?
    /// PEM private key of `clientCertificate`.
    public var clientKey: Data?
    public var verifyPeer: Bool
    /// The name the server certificate must carry and the SNI sent, when it differs from the URL host.
    public var serverName: String?

    public init(trustRoots: Data? = nil, clientCertificate: Data? = nil, clientKey: Data? = nil, verifyPeer: Bool = true, serverName: String? = nil) {
        self.trustRoots = trustRoots
        self.clientCertificate = clientCertificate
        self.clientKey = clientKey
        self.verifyPeer = verifyPeer
        self.serverName = serverName
    }
}
