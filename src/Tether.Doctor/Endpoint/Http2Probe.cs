using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Tether.Doctor.Http;

namespace Tether.Doctor.Endpoint;

/// <summary>
/// HTTP/2 detection on raw sockets (ALPN "h2" over TLS, or the prior-knowledge preface on cleartext, answered
/// by a SETTINGS frame), then multiplexing shown with HttpClient: N requests at once, counting the TCP
/// connections its ConnectCallback opens.
/// </summary>
public sealed class Http2Probe(TimeProvider timeProvider)
{
    private const byte SettingsFrame = 0x4;
    private const ushort MaxConcurrentStreamsSetting = 0x3;
    private static readonly byte[] Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray();

    // An empty SETTINGS frame: length 0, type 4, flags 0, stream 0.
    private static readonly byte[] EmptySettings = [0, 0, 0, SettingsFrame, 0, 0, 0, 0, 0];

    public async Task<Http2Result> RunAsync(ProbeTarget target, ConnectOptions options, int concurrentRequests, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        string how;
        long? maxStreams;
        var offerH2 = options with { ApplicationProtocols = [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] };
        await using (var connection = await ProbeConnection.OpenAsync(target, offerH2, timeProvider, cancellationToken).ConfigureAwait(false))
        {
            if (target.UseTls && connection.Tls?.ApplicationProtocol != "h2")
            {
                var chosen = string.IsNullOrEmpty(connection.Tls?.ApplicationProtocol) ? "no protocol" : connection.Tls.ApplicationProtocol;
                return new Http2Result(false, $"ALPN offered h2, server chose {chosen}", null, 0, 0, null) { Alpn = connection.Tls?.ApplicationProtocol };
            }

            how = target.UseTls ? "ALPN h2" : "prior knowledge (h2c)";
            (var settings, maxStreams) = await ExchangePrefaceAsync(connection, cancellationToken).ConfigureAwait(false);
            if (!settings)
            {
                return new Http2Result(false, "the server did not answer the HTTP/2 preface with SETTINGS (no h2c)", null, 0, 0, null);
            }
        }

        var (connections, error) = await SendConcurrentAsync(target, options, concurrentRequests, cancellationToken).ConfigureAwait(false);
        return new Http2Result(true, how, maxStreams, concurrentRequests, connections, error) { Alpn = target.UseTls ? "h2" : null };
    }

    private static async Task<(bool Settings, long? MaxConcurrentStreams)> ExchangePrefaceAsync(ProbeConnection connection, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await connection.Stream.WriteAsync(Preface, timeout.Token).ConfigureAwait(false);
        await connection.Stream.WriteAsync(EmptySettings, timeout.Token).ConfigureAwait(false);
        await connection.Stream.FlushAsync(timeout.Token).ConfigureAwait(false);
        var buffer = connection.Receive;
        try
        {
            while (buffer.Count < 9)
            {
                if (await buffer.FillAsync(timeout.Token).ConfigureAwait(false) == 0)
                {
                    return (false, null);
                }
            }

            var header = buffer.Data[..9];
            if (header[3] != SettingsFrame)
            {
                return (false, null);
            }

            var length = (header[0] << 16) | (header[1] << 8) | header[2];
            while (buffer.Count < 9 + length)
            {
                if (await buffer.FillAsync(timeout.Token).ConfigureAwait(false) == 0)
                {
                    return (true, null);
                }
            }

            long? maxStreams = null;
            var payload = buffer.Data.Slice(9, length);
            for (var i = 0; i + 6 <= payload.Length; i += 6)
            {
                if (BinaryPrimitives.ReadUInt16BigEndian(payload[i..]) == MaxConcurrentStreamsSetting)
                {
                    maxStreams = BinaryPrimitives.ReadUInt32BigEndian(payload[(i + 2)..]);
                }
            }

            return (true, maxStreams);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, null);
        }
    }

    private static async Task<(int Connections, string? Error)> SendConcurrentAsync(
        ProbeTarget target, ConnectOptions options, int count, CancellationToken cancellationToken)
    {
        var connections = 0;
        using var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            ConnectCallback = async (context, token) =>
            {
                Interlocked.Increment(ref connections);
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint, token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        if (options.Insecure)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, _, _, _) => true };
        }

        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };
        try
        {
            var requests = new Task<HttpResponseMessage>[count];
            for (var i = 0; i < count; i++)
            {
                var request = new HttpRequestMessage(HttpMethod.Get, target.Uri)
                {
                    Version = HttpVersion.Version20,
                    VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                };
                requests[i] = client.SendAsync(request, cancellationToken);
            }

            var responses = await Task.WhenAll(requests).ConfigureAwait(false);
            foreach (var response in responses)
            {
                response.Dispose();
            }

            return (connections, null);
        }
        catch (HttpRequestException exception)
        {
            return (connections, exception.Message);
        }
    }
}
