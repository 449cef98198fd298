using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A raw HTTP/2 (h2c prior knowledge) backend on 127.0.0.1:0 driven by a per-connection script, for what no real
/// server does on demand: GOAWAY at a chosen point, PINGs never answered. Built on <see cref="RawOrigin"/>'s
/// accept loop (its Accepted count, close after the script). Request header blocks are not decoded: a script
/// learns a request's stream id and that the request ended, which is all these tests need.
/// </summary>
internal static class RawHttp2Origin
{
    public static RawOrigin Start(Func<Http2OriginConnection, Task> script) =>
        RawOrigin.Start(connection => script(new Http2OriginConnection(connection)));
}

/// <summary>One accepted HTTP/2 connection, as a script sees it.</summary>
internal sealed class Http2OriginConnection
{
    private static readonly TimeSpan s_readTimeout = TimeSpan.FromSeconds(30);
    private readonly OriginConnection _connection;
    private readonly NetworkStream _stream;
    private readonly Http2FrameReader _reader;
    private int _pings;

    internal Http2OriginConnection(OriginConnection connection)
    {
        _connection = connection;
        _stream = new NetworkStream(connection.Socket, ownsSocket: false);
        _reader = new Http2FrameReader(_stream);
    }

    /// <summary>Accept order, from 1.</summary>
    public int Index => _connection.Index;

    /// <summary>PING frames (not acks) received from Tether.</summary>
    public int PingsReceived => Volatile.Read(ref _pings);

    /// <summary>Reads the client preface and sends this server's SETTINGS (SETTINGS_MAX_CONCURRENT_STREAMS 100).</summary>
    public async Task AcceptPrefaceAsync()
    {
        using var cts = Timeout();
        var preface = await _reader.ReadBytesAsync(Http2Frame.Preface.Length, cts.Token);
        if (preface is null || !preface.AsSpan().SequenceEqual(Http2Frame.Preface))
        {
            throw new InvalidDataException("not an HTTP/2 connection preface: " + (preface is null ? "closed" : Encoding.Latin1.GetString(preface)));
        }

        await WriteAsync(Http2Frame.Build(Http2Frame.Settings, 0, 0, [0, 3, 0, 0, 0, 100]));
    }

    /// <summary>
    /// Reads frames until a request ends (END_STREAM on its HEADERS or DATA) and returns its stream id; null if
    /// Tether closed the connection first. SETTINGS are acknowledged; PINGs are counted and, if
    /// <paramref name="answerPings"/>, acknowledged.
    /// </summary>
    public async Task<int?> NextRequestAsync(bool answerPings = true)
    {
        using var cts = Timeout();
        while (await _reader.ReadAsync(cts.Token) is { } frame)
        {
            switch (frame.Type)
            {
                case Http2Frame.Settings when (frame.Flags & Http2Frame.Ack) == 0:
                    await WriteAsync(Http2Frame.Build(Http2Frame.Settings, Http2Frame.Ack, 0, []));
                    break;
                case Http2Frame.Ping when (frame.Flags & Http2Frame.Ack) == 0:
                    Interlocked.Increment(ref _pings);
                    if (answerPings)
                    {
                        await WriteAsync(Http2Frame.Build(Http2Frame.Ping, Http2Frame.Ack, 0, frame.Payload));
                    }

                    break;
                case Http2Frame.Headers or Http2Frame.Data when (frame.Flags & Http2Frame.EndStream) != 0:
                    return frame.StreamId;
            }
        }

        return null;
    }

    /// <summary>A response's frames: HEADERS (:status, content-length) and one DATA frame with END_STREAM.</summary>
    public static byte[] Response(int streamId, int status, string body)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var block = new List<byte>();
        if (status == 200)
        {
            block.Add(0x88); // indexed :status 200 (static table 8)
        }
        else
        {
            block.Add(0x08); // literal without indexing, name :status (static table 8)
            Http2Frame.WriteString(block, Encoding.ASCII.GetBytes(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        block.AddRange([0x0F, 0x0D]); // literal without indexing, name content-length (static table 28 = 15 + 13)
        Http2Frame.WriteString(block, Encoding.ASCII.GetBytes(bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return [.. Http2Frame.Build(Http2Frame.Headers, Http2Frame.EndHeaders, streamId, [.. block]), .. Http2Frame.Build(Http2Frame.Data, Http2Frame.EndStream, streamId, bytes)];
    }

    public async Task WriteAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes, _connection.Stopping);
        await _stream.FlushAsync(_connection.Stopping);
    }

    /// <summary>
    /// Reads and ignores everything (PINGs counted, nothing answered) until Tether closes the connection; true
    /// then, false if it is still open after <paramref name="timeout"/>.
    /// </summary>
    public async Task<bool> IgnoreUntilClosedAsync(TimeSpan timeout)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_connection.Stopping);
        cts.CancelAfter(timeout);
        try
        {
            while (await _reader.ReadAsync(cts.Token) is { } frame)
            {
                if (frame.Type == Http2Frame.Ping && (frame.Flags & Http2Frame.Ack) == 0)
                {
                    Interlocked.Increment(ref _pings);
                }
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>FIN on this side (what a server does after its GOAWAY), the connection kept open for reading.</summary>
    public void ShutdownSend()
    {
        try
        {
            _connection.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    private CancellationTokenSource Timeout()
    {
        var cts = CancellationTokenSource.CreateLinkedTokenSource(_connection.Stopping);
        cts.CancelAfter(s_readTimeout);
        return cts;
    }
}
