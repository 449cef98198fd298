using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Tether.Doctor.Http;

/// <summary>
/// One client connection the doctor controls fully: which socket a request goes on, when it sits idle, and
/// when the server's FIN arrives. HTTP/1.1 over a raw <see cref="Socket"/>, optionally inside an <see cref="SslStream"/>.
/// </summary>
public sealed class ProbeConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly ReceiveBuffer _receive;
    private readonly TimeProvider _timeProvider;

    private ProbeConnection(
        ProbeTarget target, Socket socket, Stream stream, TimeProvider timeProvider, ConnectTimings timings,
        TlsDetails? tls, IReadOnlyList<IPAddress> addresses)
    {
        Target = target;
        _socket = socket;
        _stream = stream;
        _timeProvider = timeProvider;
        _receive = new ReceiveBuffer(stream, timeProvider);
        Timings = timings;
        Tls = tls;
        Addresses = addresses;
        IdleSinceTimestamp = timeProvider.GetTimestamp();
    }

    public ProbeTarget Target { get; }

    public ConnectTimings Timings { get; }

    public TlsDetails? Tls { get; }

    /// <summary>The resolved addresses, so further connections skip DNS.</summary>
    public IReadOnlyList<IPAddress> Addresses { get; }

    public IPEndPoint? RemoteEndPoint => _socket.RemoteEndPoint as IPEndPoint;

    /// <summary>When the connection last became idle: the end of the last response (TimeProvider timestamp).</summary>
    public long IdleSinceTimestamp { get; private set; }

    public TimeSpan IdleAge => _timeProvider.GetElapsedTime(IdleSinceTimestamp);

    /// <summary>The server has closed (or reset) the connection.</summary>
    public bool Ended => _receive.Ended;

    public bool PeerReset => _receive.PeerReset;

    /// <summary>The raw byte stream (after TLS), for the HTTP/2 preface exchange.</summary>
    internal Stream Stream => _stream;

    internal ReceiveBuffer Receive => _receive;

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "Ownership passes to the connection, or disposed on failure.")]
    public static async Task<ProbeConnection> OpenAsync(
        ProbeTarget target, ConnectOptions options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);

        var started = timeProvider.GetTimestamp();
        var addresses = options.Addresses ?? await ResolveAsync(target.Host, timeout.Token).ConfigureAwait(false);
        var dns = timeProvider.GetElapsedTime(started);

        started = timeProvider.GetTimestamp();
        var socket = await ConnectAsync(addresses, target.Port, timeout.Token).ConfigureAwait(false);
        var connect = timeProvider.GetElapsedTime(started);
        Stream stream = new NetworkStream(socket, ownsSocket: true);
        try
        {
            if (!target.UseTls)
            {
                return new ProbeConnection(target, socket, stream, timeProvider, new ConnectTimings(dns, connect, null), null, addresses);
            }

            started = timeProvider.GetTimestamp();
            var (ssl, tls) = await AuthenticateAsync(target, options, stream, timeout.Token).ConfigureAwait(false);
            stream = ssl;
            var timings = new ConnectTimings(dns, connect, timeProvider.GetElapsedTime(started));
            return new ProbeConnection(target, socket, stream, timeProvider, timings, tls, addresses);
        }
        catch
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Sends a request and reads the whole response; the connection is then idle from the last byte.</summary>
    public async Task<ProbeResponse> SendAsync(string method, CancellationToken cancellationToken)
    {
        var request = Http1Request.Format(method, Target);
        try
        {
            await _stream.WriteAsync(request, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException exception)
        {
            throw new ConnectionClosedException("the server closed the connection before the request could be written", exception);
        }

        var sent = _timeProvider.GetTimestamp();
        var response = await Http1ResponseReader.ReadAsync(_receive, method == "HEAD", sent, _timeProvider, cancellationToken).ConfigureAwait(false);
        IdleSinceTimestamp = _timeProvider.GetTimestamp();
        return response;
    }

    /// <summary>
    /// Lets the connection sit idle until it has been idle for <paramref name="idleAge"/> or
    /// <paramref name="cancellationToken"/> fires, watching for the server's FIN with a pending read.
    /// </summary>
    /// <returns>The idle age at which the server closed, or null if it is still open.</returns>
    public async Task<TimeSpan?> WatchIdleAsync(TimeSpan idleAge, CancellationToken cancellationToken)
    {
        var read = _receive.StartRead();
        var remaining = idleAge - IdleAge;
        if (!read.IsCompleted && remaining > TimeSpan.Zero && !cancellationToken.IsCancellationRequested)
        {
            using var stopDelay = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            // "Until the round ends" arrives as a huge idle age; Task.Delay takes at most ~49 days.
            var delay = Task.Delay(remaining > TimeSpan.FromDays(1) ? Timeout.InfiniteTimeSpan : remaining, _timeProvider, stopDelay.Token);
            await Task.WhenAny(read, delay).ConfigureAwait(false);
            await stopDelay.CancelAsync().ConfigureAwait(false);
        }

        if (!read.IsCompleted)
        {
            return null;
        }

        // The read completed while idle: either the FIN (0 bytes) or bytes the server sent unasked (a 408
        // before closing). Either way the server is ending the connection; the close time is when that began.
        var closedAt = _timeProvider.GetElapsedTime(IdleSinceTimestamp, _receive.LastReadTimestamp);
        while (await _receive.FillAsync(cancellationToken).ConfigureAwait(false) > 0)
        {
            _receive.Consume(_receive.Count);
        }

        return closedAt;
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }

    private static async Task<IReadOnlyList<IPAddress>> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host, out var literal))
        {
            return [literal];
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        if (addresses.Length == 0)
        {
            throw new SocketException((int)SocketError.HostNotFound);
        }

        return addresses;
    }

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "Returned to the caller or disposed on failure.")]
    private static async Task<Socket> ConnectAsync(IReadOnlyList<IPAddress> addresses, int port, CancellationToken cancellationToken)
    {
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), cancellationToken).ConfigureAwait(false);
                return socket;
            }
            catch (SocketException exception)
            {
                last = exception;
                socket.Dispose();
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        throw last ?? new SocketException((int)SocketError.HostNotFound);
    }

    [SuppressMessage("Reliability", "CA2000:Dispose objects before losing scope", Justification = "The SslStream is returned and owns the recorder.")]
    private static async Task<(SslStream Stream, TlsDetails Details)> AuthenticateAsync(
        ProbeTarget target, ConnectOptions options, Stream network, CancellationToken cancellationToken)
    {
        var recorder = new HandshakeRecordingStream(network);
        var ssl = new SslStream(recorder, leaveInnerStreamOpen: false);
        string? certificateError = null;
        var sslOptions = new SslClientAuthenticationOptions
        {
            TargetHost = target.Host,
            ApplicationProtocols = [.. options.ApplicationProtocols],
            RemoteCertificateValidationCallback = (_, _, _, errors) =>
            {
                if (errors != SslPolicyErrors.None)
                {
                    certificateError = errors.ToString();
                }

                return options.Insecure || errors == SslPolicyErrors.None;
            },
        };
        await ssl.AuthenticateAsClientAsync(sslOptions, cancellationToken).ConfigureAwait(false);
        recorder.StopRecording();
        var resumed = TlsHelloInspector.WasResumed(recorder.WrittenBytes.Span, recorder.ReadBytes.Span);
        var alpn = ssl.NegotiatedApplicationProtocol.Protocol.IsEmpty ? "" : ssl.NegotiatedApplicationProtocol.ToString();
        return (ssl, new TlsDetails(ssl.SslProtocol, ssl.NegotiatedCipherSuite, alpn, resumed, certificateError));
    }
}
