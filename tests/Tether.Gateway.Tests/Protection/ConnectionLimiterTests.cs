using System.Net;
using Tether.Gateway.Protection;

namespace Tether.Gateway.Tests.Protection;

public class ConnectionLimiterTests
{
    private static readonly IPAddress _a = IPAddress.Parse("192.0.2.1");
    private static readonly IPAddress _b = IPAddress.Parse("192.0.2.2");

    [Fact]
    public void Global_cap_refuses_the_connection_past_it_and_frees_a_slot_on_release()
    {
        var limiter = new ConnectionLimiter(maxConnections: 2, maxConnectionsPerClient: 0);
        Assert.True(limiter.TryAcquire());
        Assert.True(limiter.TryAcquire());
        Assert.False(limiter.TryAcquire());
        Assert.Equal(2, limiter.Total);
        limiter.Release();
        Assert.True(limiter.TryAcquire());
    }

    [Fact]
    public void Per_client_cap_counts_each_address_apart()
    {
        var limiter = new ConnectionLimiter(maxConnections: 0, maxConnectionsPerClient: 2);
        Assert.True(limiter.TryAcquireClient(_a));
        Assert.True(limiter.TryAcquireClient(_a));
        Assert.False(limiter.TryAcquireClient(_a));
        Assert.True(limiter.TryAcquireClient(_b));
        Assert.Equal(2, limiter.ClientCount(_a));
        limiter.ReleaseClient(_a);
        Assert.True(limiter.TryAcquireClient(_a));
    }

    [Fact]
    public void An_address_leaves_the_table_with_its_last_connection()
    {
        var limiter = new ConnectionLimiter(0, 5);
        limiter.TryAcquireClient(_a);
        limiter.ReleaseClient(_a);
        limiter.ReleaseClient(_a); // a stray release must not go negative
        Assert.Equal(0, limiter.ClientCount(_a));
        Assert.True(limiter.TryAcquireClient(_a));
        Assert.Equal(1, limiter.ClientCount(_a));
    }

    [Fact]
    public void A_burst_from_many_threads_never_overshoots_the_global_cap()
    {
        var limiter = new ConnectionLimiter(maxConnections: 100, maxConnectionsPerClient: 0);
        var granted = 0;
        Parallel.For(0, 1000, _ =>
        {
            if (limiter.TryAcquire())
            {
                Interlocked.Increment(ref granted);
            }
        });
        Assert.Equal(100, granted);
    }

    [Theory]
    [InlineData("request_headers_timeout", ProtectionCloseReason.SlowHeaders)]
    [InlineData("min_request_body_data_rate", ProtectionCloseReason.SlowBody)]
    [InlineData("min_response_data_rate", ProtectionCloseReason.SlowRead)]
    [InlineData("tls_handshake_failed", ProtectionCloseReason.TlsHandshake)]
    public void Kestrel_end_reasons_map_to_ours(string errorType, ProtectionCloseReason reason) =>
        Assert.Equal(reason, KestrelCloseReasons.Map(errorType));

    [Theory]
    [InlineData("keep_alive_timeout")]
    [InlineData("connection_reset")]
    [InlineData(null)]
    public void Other_end_reasons_are_not_protections(string? errorType) => Assert.Null(KestrelCloseReasons.Map(errorType));
}
