using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;

namespace Tether.Gateway.ProxyProtocol;

/// <summary>Builds the PROXY header Tether sends at the start of a backend connection (HAProxy send-proxy / send-proxy-v2).</summary>
internal static class ProxyHeaderWriter
{
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    public static byte[] Write(ProxyProtocolVersion version, IPEndPoint? source, IPEndPoint? destination) => version switch
    {
        ProxyProtocolVersion.V1 => WriteV1(source, destination),
        ProxyProtocolVersion.V2 => WriteV2(source, destination),
        _ => [],
    };

    /// <summary>"PROXY TCP4 src dst sport dport\r\n", or "PROXY UNKNOWN\r\n" when the addresses are unknown or
    /// of different families.</summary>
    public static byte[] WriteV1(IPEndPoint? source, IPEndPoint? destination)
    {
        if (!TryPair(source, destination, out var s, out var d))
        {
            return "PROXY UNKNOWN\r\n"u8.ToArray();
        }

        var family = s.AddressFamily == AddressFamily.InterNetwork ? "TCP4" : "TCP6";
        return Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"PROXY {family} {s.Address} {d.Address} {s.Port} {d.Port}\r\n"));
    }

    /// <summary>The binary form: PROXY command over TCP with both addresses, or LOCAL when they are unknown.</summary>
    public static byte[] WriteV2(IPEndPoint? source, IPEndPoint? destination)
    {
        if (!TryPair(source, destination, out var s, out var d))
        {
            var local = new byte[16];
            V2Signature.CopyTo(local);
            local[12] = 0x20; // version 2, LOCAL
            return local;
        }

        var v4 = s.AddressFamily == AddressFamily.InterNetwork;
        var ipBytes = v4 ? 4 : 16;
        var length = (2 * ipBytes) + 4;
        var header = new byte[16 + length];
        V2Signature.CopyTo(header);
        header[12] = 0x21; // version 2, PROXY
        header[13] = v4 ? (byte)0x11 : (byte)0x21; // TCP over IPv4 / IPv6
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(14), (ushort)length);
        s.Address.TryWriteBytes(header.AsSpan(16, ipBytes), out _);
        d.Address.TryWriteBytes(header.AsSpan(16 + ipBytes, ipBytes), out _);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16 + (2 * ipBytes)), (ushort)s.Port);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(18 + (2 * ipBytes)), (ushort)d.Port);
        return header;
    }

    // Both addresses in one family; an IPv4 client on a dual-stack socket (::ffff:a.b.c.d) is written as IPv4.
    private static bool TryPair(IPEndPoint? source, IPEndPoint? destination, out IPEndPoint s, out IPEndPoint d)
    {
        s = d = null!;
        if (source is null || destination is null)
        {
            return false;
        }

        s = Normalize(source);
        d = Normalize(destination);
        if (s.AddressFamily != d.AddressFamily)
        {
            // A v4 client reached a v6 listener address: write both as v6 (v4-mapped), which is still exact.
            s = new IPEndPoint(s.Address.MapToIPv6(), s.Port);
            d = new IPEndPoint(d.Address.MapToIPv6(), d.Port);
        }

        return true;
    }

    private static IPEndPoint Normalize(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;
}
