using System.Net.Security;
using System.Security.Authentication;

namespace Tether.Doctor.Http;

/// <summary>What one TLS handshake negotiated.</summary>
public sealed record TlsDetails(
    SslProtocols Protocol,
    TlsCipherSuite CipherSuite,
    string ApplicationProtocol,
    bool? Resumed,
    string? CertificateError);
