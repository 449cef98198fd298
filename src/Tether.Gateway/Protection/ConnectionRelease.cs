using Microsoft.AspNetCore.Connections;

namespace Tether.Gateway.Protection;

/// <summary>
/// Runs the rest of a connection's pipeline and then a release (a connection slot, a counter), once: when the
/// pipeline returns or when the transport reports the connection closed, whichever comes first.
/// </summary>
/// <remarks>
/// A <c>finally</c> after <c>await next(connection)</c> is not enough. Kestrel (.NET 10) can abandon an HTTP/2
/// connection's pipeline: a Rapid Reset flood that overflows the connection's output queue gets GOAWAY
/// INTERNAL_ERROR and the socket is closed, but Kestrel's connection task then waits for a stream that never
/// completes; nothing roots it, it is collected, and Kestrel logs "application never completed". One attacking
/// connection in seven to eleven did (Rapid Reset and MadeYouReset, acceptance/h2-attacks.sh), and each held a
/// maxConnections slot, a per-client slot and an "active" count until the process stopped. The transport
/// still fires ConnectionClosed when its socket is done, so that releases too.
/// </remarks>
internal static class ConnectionRelease
{
    public static async Task RunAsync(ConnectionDelegate next, ConnectionContext connection, Action release)
    {
        var once = new Once(release);
        var registration = connection.ConnectionClosed.Register(static state => ((Once)state!).Run(), once);
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        finally
        {
            registration.Dispose();
            once.Run();
        }
    }

    private sealed class Once(Action release)
    {
        private int _done;

        public void Run()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                release();
            }
        }
    }
}
