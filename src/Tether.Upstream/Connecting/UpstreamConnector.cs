using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Tether.Configuration;

namespace Tether.Upstream.Connecting;

/// <summary>
/// The one place a connection to a destination is opened: TCP connect with the cluster's socket options, the
/// PROXY protocol header, then TLS for an https:// destination. HTTP/1.1 and HTTP/2 pools, tunnels (they start as
/// HTTP/1.1 connections) and active health probes all connect through it. connectTimeout covers the TCP connect
/// and the TLS handshake (as nginx's proxy_connect_timeout does).
/// </summary>
public sealed class UpstreamConnector
{
    private readonly TcpKeepAliveConfig? _keepAlive;
    private readonly TimeSpan? _userTimeout;

    public UpstreamConnector(
        EndPoint endPoint, string host, TimeSpan connectTimeout, TcpKeepAliveConfig? keepAlive, UpstreamTlsClient? tls, TimeSpan? userTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        EndPoint = endPoint;
        Host = host;
        ConnectTimeout = connectTimeout;
        _keepAlive = keepAlive;
        _userTimeout = userTimeout;
        Tls = tls;
    }

    public EndPoint EndPoint { get; }

    /// <summary>The destination's host as written (the default TLS server name).</summary>
    public string Host { get; }

    public TimeSpan ConnectTimeout { get; }

    /// <summary>Null for a cleartext (http://) destination.</summary>
    public UpstreamTlsClient? Tls { get; }

    /// <summary>Opens a connection. Failures are <see cref="UpstreamException"/>s in phase Connect or Tls.</summary>
    public async ValueTask<UpstreamTransport> ConnectAsync(ConnectData data, AlpnOffer alpn, CancellationToken cancellationToken)
    {
        var socket = EndPoint is DnsEndPoint
            ? new Socket(SocketType.Stream, ProtocolType.Tcp)
            : new Socket(EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        NetworkStream? network = null;
        try
        {
            socket.NoDelay = true;
            if (_keepAlive is not null)
            {
                SocketOptions.SetTcpKeepAlive(socket, _keepAlive);
            }

            if (_userTimeout is { } userTimeout)
            {
                SocketOptions.SetTcpUserTimeout(socket, userTimeout);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(EndPoint, timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Timeout, $"connect timed out after {ConnectTimeout.TotalMilliseconds:0}ms");
            }
            catch (SocketException ex)
            {
                throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Refused, $"connect failed: {ex.SocketErrorCode}", ex);
            }

            if (!data.ProxyHeader.IsEmpty)
            {
                try
                {
                    await socket.SendAsync(data.ProxyHeader, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    throw new UpstreamException(UpstreamPhase.Connect, UpstreamErrorKind.Reset, $"sending the PROXY protocol header failed: {ex.SocketErrorCode}", ex);
                }
            }

            network = new NetworkStream(socket, ownsSocket: false);
            SslStream? tls = null;
            if (Tls is not null)
            {
                tls = await Tls.AuthenticateAsync(network, Host, alpn, timeout, cancellationToken).ConfigureAwait(false);
            }

            return new UpstreamTransport(socket, network, tls);
        }
        catch
        {
            network?.Dispose();
            socket.Dispose();
            throw;
        }
    }
}
