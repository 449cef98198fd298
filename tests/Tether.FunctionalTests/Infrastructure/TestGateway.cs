using System.Net;
using System.Net.Sockets;
using Tether.Configuration;
using Tether.Gateway;
using Tether.Upstream.Destinations;
using Tether.Upstream.Http1;
using Tether.Upstream.Pooling;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A real <see cref="TetherGateway"/> on 127.0.0.1:0 (listener and admin) in front of the given destinations,
/// with its logs collected. One route, any host and path, to cluster "app" unless a config is given whole.
/// </summary>
internal sealed class TestGateway : IAsyncDisposable
{
    public const string Cluster = "app";

    private TestGateway(TetherGateway gateway, TestLoggerProvider logs)
    {
        Gateway = gateway;
        Logs = logs;
    }

    public TetherGateway Gateway { get; }

    public TestLoggerProvider Logs { get; }

    /// <summary>The (first) proxy listener.</summary>
    public Uri Url => Gateway.ListenerUrls[0];

    public Uri AdminUrl => Gateway.AdminUrl!;

    /// <summary>Starts a gateway with one cluster "app" over <paramref name="destinations"/>, shaped by the optional edits.</summary>
    public static Task<TestGateway> StartAsync(
        string destination,
        Func<ClusterConfig, ClusterConfig>? cluster = null,
        Func<DownstreamConfig, DownstreamConfig>? downstream = null,
        TimeProvider? timeProvider = null,
        TimeSpan? sweepInterval = null,
        ITestOutputHelper? output = null)
    {
        var config = ConfigFor(destination);
        var clusterConfig = config.Clusters[Cluster];
        config = config with
        {
            Clusters = new Dictionary<string, ClusterConfig> { [Cluster] = cluster?.Invoke(clusterConfig) ?? clusterConfig },
            Downstream = downstream?.Invoke(config.Downstream) ?? config.Downstream,
        };
        return StartAsync(config, timeProvider, sweepInterval, output);
    }

    public static async Task<TestGateway> StartAsync(
        TetherConfig config, TimeProvider? timeProvider = null, TimeSpan? sweepInterval = null, ITestOutputHelper? output = null,
        Func<GatewayOptions, GatewayOptions>? options = null)
    {
        var logs = new TestLoggerProvider(output);
        var gatewayOptions = new GatewayOptions
        {
            LoggerFactory = logs.CreateFactory(),
            TimeProvider = timeProvider ?? TimeProvider.System,
            SweepInterval = sweepInterval ?? TimeSpan.FromSeconds(1),
        };
        var gateway = await TetherGateway.StartAsync(Tether.Testing.TestEngine.Apply(config), Tether.Testing.TestEngine.Apply(options?.Invoke(gatewayOptions) ?? gatewayOptions));
        return new TestGateway(gateway, logs);
    }

    /// <summary>Listener and admin on 127.0.0.1:0; every route to cluster "app" over the destinations.</summary>
    public static TetherConfig ConfigFor(params string[] destinations) => new()
    {
        Listeners = [new ListenerConfig { Address = "127.0.0.1:0", Protocols = ListenerProtocols.Http1 }],
        Admin = new AdminConfig { Address = "127.0.0.1:0" },
        Routes = [new RouteConfig { Cluster = Cluster }],
        Clusters = new Dictionary<string, ClusterConfig> { [Cluster] = ClusterFor(destinations) },
    };

    public static ClusterConfig ClusterFor(params string[] destinations) => new()
    {
        Destinations = [.. destinations.Select(Destination)],
    };

    public static DestinationConfig Destination(string address)
    {
        Assert.True(AddressParser.TryParseDestination(address, 1, out var destination, out var error), error);
        return destination;
    }

    public DestinationState DestinationState(int index = 0, string cluster = Cluster) => Gateway.Model.Clusters[cluster].Destinations[index];

    public ConnectionPool<Http1Connection> Pool(int index = 0, string cluster = Cluster) => DestinationState(index, cluster).Pool;

    public PoolStatistics PoolStatistics(int index = 0, string cluster = Cluster) => Pool(index, cluster).Statistics;

    public Task<RawClient> ConnectAsync() => RawClient.ConnectAsync(Url);

    public async ValueTask DisposeAsync() => await Gateway.DisposeAsync();
}

/// <summary>A loopback port that refuses connections: bound (so nobody else takes it) but not listening.</summary>
internal sealed class RefusingPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public RefusingPort()
    {
        _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        Port = ((IPEndPoint)_socket.LocalEndPoint!).Port;
    }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    public void Dispose() => _socket.Dispose();
}
