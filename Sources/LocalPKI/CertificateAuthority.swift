import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority for simulated clusters, the demo and tests: it issues
/// server certificates for loopback names and client certificates whose subject carries a
/// Kubernetes user (CN) and groups (O), as kube-apiserver reads them.
public struct CertificateAuthority: Sendable {
    /// A PEM certificate and its PEM (PKCS#8) private key.
    public struct Identity: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
    }

    public let certificatePEM: String
    private let certificate: Certificate
    private let key: Certificate.PrivateKey

    public init(commonName: String = "sandman-local-ca", validity: TimeInterval = 365 * 86_400) throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + validity,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        self.key = .init(key)
        self.certificate = certificate
        self.certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// A server certificate valid for `dnsNames` and `ipAddresses` (dotted IPv4 or IPv6 text).
    public func issueServerCertificate(
        commonName: String = "localhost",
        dnsNames: [String] = ["localhost"],
        ipAddresses: [String] = ["127.0.0.1", "::1"]
    ) throws -> Identity {
        var names: [GeneralName] = dnsNames.map { .dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.addressBytes(address) else {
                throw CertificateError.invalidAddress(address)
            }
            names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        return try issue(
            subject: DistinguishedName { CommonName(commonName) },
            extendedUsage: .serverAuth,
            alternativeNames: names
        )
    }

    /// A client certificate for Kubernetes user `user` in `groups`.
    public func issueClientCertificate(user: String, groups: [String] = []) throws -> Identity {
        let subject = try DistinguishedName {
            for group in groups { OrganizationName(group) }
            CommonName(user)
        }
        return try issue(subject: subject, extendedUsage: .clientAuth, alternativeNames: [])
    }

    private func issue(subject: DistinguishedName, extendedUsage: ExtendedKeyUsage.Usage, alternativeNames: [GeneralName]) throws -> Identity {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(leafKey.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: certificate.notValidAfter,
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([extendedUsage])
                if !alternativeNames.isEmpty {
                    SubjectAlternativeNames(alternativeNames)
                }
            },
            issuerPrivateKey: key
        )
        return Identity(certificatePEM: try leaf.serializeAsPEM().pemString, privateKeyPEM: leafKey.pemRepresentation)
    }

    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

public enum CertificateError: Error, CustomStringConvertible {
    case invalidAddress(String)

    public var description: String {
        switch self {
        case .invalidAddress(let text): "not an IP address: \(text)"
        }
    }
}

extension Certificate {
    /// The subject's common name and organizations: a Kubernetes user and its groups.
    public var kubernetesIdentity: (user: String, groups: [String])? {
        var user: String?
        var groups: [String] = []
        for rdn in subject {
            for attribute in rdn {
                if attribute.type == .RDNAttributeType.commonName { user = attribute.value.description }
                if attribute.type == .RDNAttributeType.organizationName { groups.append(attribute.value.description) }
            }
        }
        return user.map { ($0, groups) }
    }
}
