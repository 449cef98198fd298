using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>What came back on one HTTP/2 stream: a response, or a RST_STREAM, or a GOAWAY for the connection.</summary>
internal sealed record Http2Outcome(int? Status, string Body, int? ResetCode, int? GoAwayCode)
{
    public override string ToString() =>
        Status is { } status ? $"{status} {Body}" : ResetCode is { } reset ? $"RST_STREAM {reset}" : $"GOAWAY {GoAwayCode}";
}

/// <summary>
/// An HTTP/2 client written on raw frames (h2c prior knowledge or TLS with ALPN h2), so a test can send what
/// no real client library would: header names carrying CR, LF or ':', a ':path' with spaces or bytes above
/// 0x7F. Header blocks are HPACK literals without indexing, no Huffman; the server is told to keep no dynamic
/// table (SETTINGS_HEADER_TABLE_SIZE 0), so its responses decode without one.
/// </summary>
internal sealed class RawHttp2Client : IAsyncDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);

    // HPACK static table entries 8-14 are ":status" with these values (RFC 7541 Appendix A).
    private static readonly int[] s_staticStatus = [200, 204, 206, 304, 400, 404, 500];

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Http2FrameReader _reader;
    private readonly Dictionary<int, StreamState> _streams = [];
    private int? _goAway;

    private RawHttp2Client(Socket socket, Stream stream, string scheme)
    {
        _socket = socket;
        _stream = stream;
        _reader = new Http2FrameReader(stream);
        Scheme = scheme;
    }

    /// <summary>"https" over TLS, else "http": what ':scheme' must say (Kestrel resets a stream whose scheme differs).</summary>
    public string Scheme { get; }

    public static async Task<RawHttp2Client> ConnectAsync(Uri url, bool tls = false)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(url.Host), url.Port));
        Stream stream = new NetworkStream(socket, ownsSocket: false);
        if (tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
                ApplicationProtocols = [SslApplicationProtocol.Http2],
            });
            Assert.Equal(SslApplicationProtocol.Http2, ssl.NegotiatedApplicationProtocol);
            stream = ssl;
        }

        var client = new RawHttp2Client(socket, stream, tls ? "https" : "http");
        var preface = new List<byte>(Http2Frame.Preface.ToArray());
        preface.AddRange(Http2Frame.Build(Http2Frame.Settings, 0, 0, [0, 1, 0, 0, 0, 0])); // SETTINGS_HEADER_TABLE_SIZE = 0
        await client.WriteAsync([.. preface]);
        return client;
    }

    /// <summary>Sends one request: <paramref name="headers"/> in order (pseudo-headers included), names and
    /// values as Latin-1 bytes exactly as given, then <paramref name="body"/> as one DATA frame if not null.</summary>
    public async Task SendAsync(int streamId, IEnumerable<(string Name, string Value)> headers, byte[]? body = null)
    {
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            block.Add(0x00); // literal header field without indexing, new name
            Http2Frame.WriteString(block, Encoding.Latin1.GetBytes(name));
            Http2Frame.WriteString(block, Encoding.Latin1.GetBytes(value));
        }

        var frames = new List<byte>(Http2Frame.Build(Http2Frame.Headers, (byte)(Http2Frame.EndHeaders | (body is null ? Http2Frame.EndStream : 0)), streamId, [.. block]));
        if (body is not null)
        {
            frames.AddRange(Http2Frame.Build(Http2Frame.Data, Http2Frame.EndStream, streamId, body));
        }

        _streams[streamId] = new StreamState();
        await WriteAsync([.. frames]);
    }

    /// <summary>A GET with the usual pseudo-headers and <paramref name="extra"/> headers after them.</summary>
    public Task GetAsync(int streamId, string path, params (string Name, string Value)[] extra) =>
        SendAsync(streamId, [(":method", "GET"), (":scheme", Scheme), (":authority", "tether.test"), (":path", path), .. extra]);

    /// <summary>Reads frames until stream <paramref name="streamId"/> ends (END_STREAM or RST_STREAM) or the
    /// connection does (GOAWAY, or the server closes).</summary>
    public async Task<Http2Outcome> ReadOutcomeAsync(int streamId)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        var state = _streams[streamId];
        while (!state.Ended && _goAway is null)
        {
            if (await _reader.ReadAsync(cts.Token) is not { } frame)
            {
                break;
            }

            var (type, flags, id, payload) = frame;
            switch (type)
            {
                case Http2Frame.Settings when (flags & Http2Frame.Ack) == 0:
                    await WriteAsync(Http2Frame.Build(Http2Frame.Settings, Http2Frame.Ack, 0, []));
                    break;
                case Http2Frame.Ping when (flags & Http2Frame.Ack) == 0:
                    await WriteAsync(Http2Frame.Build(Http2Frame.Ping, Http2Frame.Ack, 0, payload));
                    break;
                case Http2Frame.GoAway:
                    _goAway = BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4));
                    break;
                case Http2Frame.Headers or Http2Frame.Continuation when _streams.TryGetValue(id, out var s):
                    s.Status ??= DecodeStatus(payload, flags, type);
                    s.Ended |= (flags & Http2Frame.EndStream) != 0;
                    break;
                case Http2Frame.Data when _streams.TryGetValue(id, out var s):
                    s.Body.Append(Encoding.UTF8.GetString(payload));
                    s.Ended |= (flags & Http2Frame.EndStream) != 0;
                    break;
                case Http2Frame.RstStream when _streams.TryGetValue(id, out var s):
                    s.ResetCode = BinaryPrimitives.ReadInt32BigEndian(payload);
                    s.Ended = true;
                    break;
            }
        }

        return new Http2Outcome(state.Status, state.Body.ToString(), state.ResetCode, state.Ended ? null : _goAway ?? -1);
    }

    /// <summary>Makes <see cref="ReadOutcomeAsync"/> follow a stream whose request went out through <see cref="SendRawAsync"/>.</summary>
    public void Expect(int streamId) => _streams[streamId] = new StreamState();

    /// <summary>Writes <paramref name="frames"/> as they are (frames built with <see cref="Http2Frame.Build"/>).</summary>
    public Task SendRawAsync(byte[] frames) => WriteAsync(frames);

    /// <summary>
    /// Reads until the server sends GOAWAY (its error code) or closes the connection (null); answers SETTINGS and
    /// PING on the way. A write that fails because the server has gone counts as a close.
    /// </summary>
    public async Task<int?> ReadUntilGoAwayAsync()
    {
        using var cts = new CancellationTokenSource(s_timeout);
        while (_goAway is null)
        {
            if (await _reader.ReadAsync(cts.Token) is not { } frame)
            {
                return null;
            }

            var (type, _, _, payload) = frame;
            if (type == Http2Frame.GoAway)
            {
                _goAway = BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(4));
            }
        }

        return _goAway;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _socket.Dispose();
    }

    private static int? DecodeStatus(byte[] payload, byte flags, byte type)
    {
        var i = 0;
        if (type == Http2Frame.Headers && (flags & 0x20) != 0)
        {
            i += 5; // PRIORITY
        }

        while (i < payload.Length)
        {
            var b = payload[i];
            if ((b & 0x80) != 0)
            {
                var index = ReadInt(payload, ref i, 7);
                if (index is >= 8 and <= 14)
                {
                    return s_staticStatus[index - 8];
                }

                continue;
            }

            if ((b & 0xE0) == 0x20)
            {
                ReadInt(payload, ref i, 5); // dynamic table size update
                continue;
            }

            var nameIndex = ReadInt(payload, ref i, (b & 0xC0) == 0x40 ? 6 : 4);
            if (nameIndex == 0)
            {
                ReadString(payload, ref i);
            }

            var value = ReadString(payload, ref i);
            if (nameIndex is >= 8 and <= 14)
            {
                return int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    private static int ReadInt(byte[] data, ref int i, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = data[i++] & max;
        if (value < max)
        {
            return value;
        }

        var shift = 0;
        byte next;
        do
        {
            next = data[i++];
            value += (next & 0x7F) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);
        return value;
    }

    private static string ReadString(byte[] data, ref int i)
    {
        Assert.True((data[i] & 0x80) == 0, "a Huffman-coded string in the server's header block (this client does not decode those)");
        var length = ReadInt(data, ref i, 7);
        var text = Encoding.Latin1.GetString(data, i, length);
        i += length;
        return text;
    }

    private async Task WriteAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    private sealed class StreamState
    {
        public int? Status { get; set; }

        public StringBuilder Body { get; } = new();

        public int? ResetCode { get; set; }

        public bool Ended { get; set; }
    }
}
