using System.Net;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>What a PROXY protocol header says. <see cref="Source"/> is null for LOCAL (v2), UNKNOWN (v1) and
/// non-IP families: the connection is then the proxy's own and keeps its transport addresses.</summary>
internal readonly record struct ProxyHeader(int Version, IPEndPoint? Source, IPEndPoint? Destination);

internal enum ProxyParseStatus
{
    /// <summary>More bytes are needed to decide.</summary>
    Incomplete,

    /// <summary>The bytes are not a PROXY header (they are the client's first request bytes).</summary>
    NotProxy,

    Parsed,

    /// <summary>A PROXY header that breaks the specification, or is longer than Tether accepts.</summary>
    Invalid,
}
