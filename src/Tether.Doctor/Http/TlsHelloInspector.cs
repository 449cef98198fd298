using System.Buffers.Binary;

namespace Tether.Doctor.Http;

/// <summary>
/// Tells from the recorded ClientHello and ServerHello whether the server resumed a session:
/// TLS 1.3 — the ServerHello carries pre_shared_key (extension 41); TLS 1.2 — the ServerHello echoes the
/// non-empty session id the client offered (RFC 5246 §7.4.1.3, also how OpenSSL resumes from a ticket).
/// </summary>
internal static class TlsHelloInspector
{
    private const byte HandshakeRecord = 22;
    private const byte ClientHello = 1;
    private const byte ServerHello = 2;
    private const ushort PreSharedKeyExtension = 41;
    private const ushort SupportedVersionsExtension = 43;

    /// <returns>Null when the hellos could not be read.</returns>
    public static bool? WasResumed(ReadOnlySpan<byte> clientBytes, ReadOnlySpan<byte> serverBytes)
    {
        var client = ParseHello(HandshakePayload(clientBytes), ClientHello);
        var server = ParseHello(HandshakePayload(serverBytes), ServerHello);
        if (client is null || server is null)
        {
            return null;
        }

        if (server.Extensions.Contains(PreSharedKeyExtension))
        {
            return true;
        }

        if (server.Extensions.Contains(SupportedVersionsExtension))
        {
            return false;
        }

        return server.SessionId.Length > 0 && server.SessionId.AsSpan().SequenceEqual(client.SessionId);
    }

    /// <summary>Concatenates the payloads of the leading handshake records (a message may span records).</summary>
    private static byte[] HandshakePayload(ReadOnlySpan<byte> records)
    {
        var payload = new List<byte>();
        while (records.Length >= 5)
        {
            var length = BinaryPrimitives.ReadUInt16BigEndian(records[3..]);
            if (records.Length < 5 + length)
            {
                break;
            }

            if (records[0] == HandshakeRecord)
            {
                payload.AddRange(records.Slice(5, length));
            }

            records = records[(5 + length)..];
        }

        return [.. payload];
    }

    private static Hello? ParseHello(ReadOnlySpan<byte> message, byte expectedType)
    {
        try
        {
            if (message.Length < 4 || message[0] != expectedType)
            {
                return null;
            }

            var body = message[4..];
            var position = 2 + 32; // legacy_version, random
            var sessionIdLength = body[position];
            var sessionId = body.Slice(position + 1, sessionIdLength).ToArray();
            position += 1 + sessionIdLength;
            if (expectedType == ClientHello)
            {
                position += 2 + BinaryPrimitives.ReadUInt16BigEndian(body[position..]); // cipher_suites
                position += 1 + body[position]; // compression_methods
            }
            else
            {
                position += 2 + 1; // cipher_suite, compression_method
            }

            var extensions = new HashSet<ushort>();
            if (position + 2 <= body.Length)
            {
                var end = position + 2 + BinaryPrimitives.ReadUInt16BigEndian(body[position..]);
                position += 2;
                while (position + 4 <= end)
                {
                    extensions.Add(BinaryPrimitives.ReadUInt16BigEndian(body[position..]));
                    position += 4 + BinaryPrimitives.ReadUInt16BigEndian(body[(position + 2)..]);
                }
            }

            return new Hello(sessionId, extensions);
        }
        catch (ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    private sealed record Hello(byte[] SessionId, HashSet<ushort> Extensions);
}
