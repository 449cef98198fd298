using System.Net.Sockets;

namespace Tether.Gateway.Http1;

/// <summary>The engine's side of <see cref="KestrelHandoff"/>: which connections it gives to Kestrel, and when.</summary>
internal sealed partial class Http1Engine
{
    /// <summary>
    /// The Kestrel server this listener hands connections to: null on a cleartext "http1" listener (the engine
    /// serves every connection). Set once, before <see cref="Start"/>.
    /// </summary>
    public KestrelHandoff? Handoff { get; init; }

    /// <summary>
    /// TLS or cleartext "http2": every connection is Kestrel's, and Kestrel's pipeline counts and caps it (as on a
    /// Kestrel listener), so the engine hands it over before it counts anything. Returns false if the engine serves it.
    /// </summary>
    private bool HandedOverUncounted(Socket socket)
    {
        if (Handoff is not { CountedByEngine: false } handoff)
        {
            return false;
        }

        handoff.HandOver(socket);
        return true;
    }

    /// <summary>
    /// Cleartext "http1AndHttp2": after the engine has counted and capped <paramref name="connection"/>, peeks at its
    /// first bytes (the engine has read its PROXY header, if any, and nothing past it). True: HTTP/1.1, the engine serves it. False: it is done here, Kestrel having served it as h2c (the
    /// engine's slots and counts stay held until Kestrel is done), or it closed before saying what it is.
    /// </summary>
    private async ValueTask<bool> ServesHttp1Async(Socket socket, Http1ServerConnection connection, Http1Preface? preface)
    {
        if (Handoff is not { } handoff)
        {
            return true;
        }

        // While it peeks the connection is idle to a drain, which shuts its socket down and so ends the peek.
        var route = await H2cPrefacePeek.PeekAsync(socket, this).ConfigureAwait(false);
        if (route == PrefaceRoute.Http1)
        {
            return true;
        }

        // Not the engine's to drain: Kestrel sends GOAWAY to its HTTP/2 connections and waits for their streams.
        _connections.TryRemove(connection, out _);
        if (_stopping && _connections.IsEmpty)
        {
            _allClosed.TrySetResult();
        }

        if (route == PrefaceRoute.Http2)
        {
            await handoff.ServeAsync(socket, connection.Client, TrustedProxies.Contains(connection.Client), preface).ConfigureAwait(false);
        }
        else
        {
            socket.Dispose();
        }

        return false;
    }
}
