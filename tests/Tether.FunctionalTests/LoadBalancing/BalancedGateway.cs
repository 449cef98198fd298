using System.Net;
using System.Net.Sockets;
using Tether.Configuration;
using Tether.Gateway;
using Tether.Upstream.Destinations;
using Tether.Upstream.Discovery;

namespace Tether.FunctionalTests.LoadBalancing;

/// <summary>A real gateway on 127.0.0.1:0 with one cluster "app" written as JSON, and a client to it.</summary>
internal sealed class BalancedGateway : IAsyncDisposable
{
    private BalancedGateway(TetherGateway gateway)
    {
        Gateway = gateway;
        Client = new HttpClient { BaseAddress = gateway.ListenerUrls[0], Timeout = TimeSpan.FromSeconds(10) };
    }

    public TetherGateway Gateway { get; }

    public HttpClient Client { get; }

    public ClusterState Cluster => Gateway.Model.Clusters["app"];

    public static async Task<BalancedGateway> StartAsync(string clusterJson, IHostResolver? resolver = null)
    {
        var json = $$"""
            {
              "listeners": [{ "address": "127.0.0.1:0", "protocols": "http1" }],
              "admin": { "address": "" },
              "routes": [{ "cluster": "app" }],
              "clusters": { "app": {{clusterJson}} }
            }
            """;
        var result = ConfigLoader.Parse(json);
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        var options = new GatewayOptions { HostResolver = resolver ?? SystemHostResolver.Instance };
        return new BalancedGateway(await TetherGateway.StartAsync(Tether.Testing.TestEngine.Apply(result.Config!), options));
    }

    /// <summary>A loopback port nobody listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Sends <paramref name="total"/> GETs over <paramref name="concurrency"/> clients; returns the status codes.</summary>
    public async Task<List<HttpStatusCode>> LoadAsync(int total, int concurrency)
    {
        var statuses = new List<HttpStatusCode>();
        var remaining = total;
        var workers = Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Decrement(ref remaining) >= 0)
            {
                using var response = await Client.GetAsync("/");
                lock (statuses)
                {
                    statuses.Add(response.StatusCode);
                }
            }
        });
        await Task.WhenAll(workers);
        return statuses;
    }

    /// <summary>Polls <paramref name="condition"/> for up to 5 seconds.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 5s");
            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Gateway.DisposeAsync();
    }
}
