using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>
/// Parses a PROXY protocol header, v1 (text) or v2 (binary), at the start of a connection
/// (haproxy.org/download/2.9/doc/proxy-protocol.txt). Pure: bytes in, a verdict and a length out.
/// </summary>
internal static class ProxyHeaderParser
{
    /// <summary>The specification's bound for a v1 line, CRLF included.</summary>
    public const int MaxV1Bytes = 107;

    /// <summary>Our bound for a v2 header: the 16-byte preamble, the addresses, and TLVs. Load balancers send a
    /// few hundred bytes at most; 64 KiB would be legal but only useful to an attacker.</summary>
    public const int MaxV2Bytes = 4096;

    private const int V2PreambleBytes = 16;

    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static ReadOnlySpan<byte> V1Prefix => "PROXY "u8;

    public static ProxyParseStatus TryParse(in ReadOnlySequence<byte> buffer, out ProxyHeader header, out long consumed, out string error)
    {
        header = default;
        consumed = 0;
        error = "";
        if (buffer.IsEmpty)
        {
            return ProxyParseStatus.Incomplete;
        }

        Span<byte> start = stackalloc byte[MaxV1Bytes];
        var available = (int)Math.Min(buffer.Length, MaxV1Bytes);
        buffer.Slice(0, available).CopyTo(start);
        start = start[..available];

        if (start[0] == V2Signature[0])
        {
            return ParseV2(buffer, start, out header, out consumed, out error);
        }

        if (start[0] == V1Prefix[0])
        {
            return ParseV1(start, out header, out consumed, out error);
        }

        return ProxyParseStatus.NotProxy;
    }

    private static ProxyParseStatus ParseV1(ReadOnlySpan<byte> start, out ProxyHeader header, out long consumed, out string error)
    {
        header = default;
        consumed = 0;
        error = "";
        var prefix = Math.Min(start.Length, V1Prefix.Length);
        if (!start[..prefix].SequenceEqual(V1Prefix[..prefix]))
        {
            return ProxyParseStatus.NotProxy;
        }

        var lf = start.IndexOf((byte)'\n');
        if (lf < 0)
        {
            if (start.Length >= MaxV1Bytes)
            {
                error = $"v1 header longer than {MaxV1Bytes} bytes";
                return ProxyParseStatus.Invalid;
            }

            return ProxyParseStatus.Incomplete;
        }

        if (lf == 0 || start[lf - 1] != '\r')
        {
            error = "v1 header does not end with CRLF";
            return ProxyParseStatus.Invalid;
        }

        consumed = lf + 1;
        var line = start[V1Prefix.Length..(lf - 1)];
        Span<Range> parts = stackalloc Range[6];
        var count = 0;
        foreach (var part in line.Split((byte)' '))
        {
            if (count == parts.Length)
            {
                error = "v1 header has too many fields";
                return ProxyParseStatus.Invalid;
            }

            parts[count++] = part;
        }

        var protocol = line[parts[0]];
        if (protocol.SequenceEqual("UNKNOWN"u8))
        {
            // The sender could not tell the client's address (e.g. a health check): keep the connection's own.
            header = new ProxyHeader(1, null, null);
            return ProxyParseStatus.Parsed;
        }

        var family = protocol.SequenceEqual("TCP4"u8) ? System.Net.Sockets.AddressFamily.InterNetwork
            : protocol.SequenceEqual("TCP6"u8) ? System.Net.Sockets.AddressFamily.InterNetworkV6
            : System.Net.Sockets.AddressFamily.Unknown;
        if (family == System.Net.Sockets.AddressFamily.Unknown)
        {
            error = "v1 protocol must be TCP4, TCP6 or UNKNOWN";
            return ProxyParseStatus.Invalid;
        }

        if (count != 5
            || !TryAddress(line[parts[1]], family, out var source)
            || !TryAddress(line[parts[2]], family, out var destination)
            || !TryPort(line[parts[3]], out var sourcePort)
            || !TryPort(line[parts[4]], out var destinationPort))
        {
            error = "v1 header must be 'PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>'";
            return ProxyParseStatus.Invalid;
        }

        header = new ProxyHeader(1, new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort));
        return ProxyParseStatus.Parsed;
    }

    private static ProxyParseStatus ParseV2(in ReadOnlySequence<byte> buffer, ReadOnlySpan<byte> start, out ProxyHeader header, out long consumed, out string error)
    {
        header = default;
        consumed = 0;
        error = "";
        var prefix = Math.Min(start.Length, V2Signature.Length);
        if (!start[..prefix].SequenceEqual(V2Signature[..prefix]))
        {
            return ProxyParseStatus.NotProxy;
        }

        if (start.Length < V2PreambleBytes)
        {
            return ProxyParseStatus.Incomplete;
        }

        var versionCommand = start[12];
        if (versionCommand >> 4 != 2)
        {
            error = "v2 header has an unknown version";
            return ProxyParseStatus.Invalid;
        }

        var command = versionCommand & 0x0F;
        if (command > 1)
        {
            error = "v2 command must be LOCAL or PROXY";
            return ProxyParseStatus.Invalid;
        }

        var familyProtocol = start[13];
        var length = BinaryPrimitives.ReadUInt16BigEndian(start[14..16]);
        var total = V2PreambleBytes + length;
        if (total > MaxV2Bytes)
        {
            error = $"v2 header of {total} bytes is longer than the {MaxV2Bytes} accepted";
            return ProxyParseStatus.Invalid;
        }

        if (buffer.Length < total)
        {
            return ProxyParseStatus.Incomplete;
        }

        consumed = total;
        var addressBytes = familyProtocol switch
        {
            0x11 or 0x12 => 12, // TCP or UDP over IPv4
            0x21 or 0x22 => 36, // TCP or UDP over IPv6
            0x31 or 0x32 => 216, // UNIX stream or datagram
            0x00 => 0, // UNSPEC
            _ => -1,
        };
        if (addressBytes < 0)
        {
            error = "v2 header has an unknown address family";
            return ProxyParseStatus.Invalid;
        }

        if (length < addressBytes)
        {
            error = "v2 header is shorter than its addresses";
            return ProxyParseStatus.Invalid;
        }

        if (command == 0 || addressBytes is 0 or 216)
        {
            // LOCAL (the proxy's own health check), UNSPEC or a UNIX socket: no client IP to take over.
            header = new ProxyHeader(2, null, null);
            return ProxyParseStatus.Parsed;
        }

        Span<byte> addresses = stackalloc byte[36];
        buffer.Slice(V2PreambleBytes, addressBytes).CopyTo(addresses);
        var ipBytes = addressBytes == 12 ? 4 : 16;
        var source = new IPAddress(addresses[..ipBytes]);
        var destination = new IPAddress(addresses.Slice(ipBytes, ipBytes));
        var ports = addresses[(2 * ipBytes)..];
        header = new ProxyHeader(
            2,
            new IPEndPoint(source, BinaryPrimitives.ReadUInt16BigEndian(ports)),
            new IPEndPoint(destination, BinaryPrimitives.ReadUInt16BigEndian(ports[2..])));
        return ProxyParseStatus.Parsed;
    }

    private static bool TryAddress(ReadOnlySpan<byte> text, System.Net.Sockets.AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        Span<char> chars = stackalloc char[text.Length];
        if (text.Length == 0 || Encoding.ASCII.GetChars(text, chars) != text.Length || !IPAddress.TryParse(chars, out var parsed) || parsed.AddressFamily != family)
        {
            return false;
        }

        // IPAddress.TryParse accepts "1" or "0x7f.1" as IPv4; the specification wants dotted quads.
        if (family == System.Net.Sockets.AddressFamily.InterNetwork && text.Count((byte)'.') != 3)
        {
            return false;
        }

        address = parsed;
        return true;
    }

    private static bool TryPort(ReadOnlySpan<byte> text, out int port)
    {
        port = 0;
        if (text.Length is 0 or > 5 || (text.Length > 1 && text[0] == '0'))
        {
            return false;
        }

        foreach (var b in text)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            port = (port * 10) + (b - '0');
        }

        return port <= IPEndPoint.MaxPort;
    }
}
