using System.Net;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Tether.Configuration;
using Tether.FunctionalTests.Grpc.Proto;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Grpc;

/// <summary>The kind of Tether listener a gRPC client talks to.</summary>
public enum ListenerKind
{
    /// <summary>Cleartext, protocols "http2": h2c prior knowledge only.</summary>
    H2c,

    /// <summary>Cleartext, protocols "http1AndHttp2": h2c detected by its connection preface.</summary>
    H2cBesideHttp1,

    /// <summary>TLS, protocols "http1AndHttp2": ALPN h2.</summary>
    Tls,
}

/// <summary>The kind of backend behind Tether and how the cluster speaks to it.</summary>
public enum BackendKind
{
    /// <summary>http:// destination, cluster protocol "http2" (h2c prior knowledge).</summary>
    H2c,

    /// <summary>https:// destination, cluster protocol "http2" (ALPN h2), tls.caFile.</summary>
    TlsHttp2,

    /// <summary>https:// destination, cluster protocol "auto" (ALPN h2 then http/1.1), tls.caFile.</summary>
    TlsAuto,
}

/// <summary>
/// One gRPC path through Tether, all on real sockets: a <see cref="TesterBackend"/> (h2c, or TLS with a leaf of a
/// CA made here), a Tether gateway whose listener is of the given kind, and a Grpc.Net.Client channel to it that
/// trusts only that CA.
/// </summary>
internal sealed class GrpcSetup : IAsyncDisposable
{
    private readonly string _directory;
    private readonly TestCa _ca;
    private readonly List<IDisposable> _certificates;

    private GrpcSetup(string directory, TestCa ca, List<IDisposable> certificates, TesterBackend? backend, TestGateway gateway, GrpcChannel channel)
    {
        _directory = directory;
        _ca = ca;
        _certificates = certificates;
        Backend = backend!;
        Gateway = gateway;
        Channel = channel;
        Client = new Tester.TesterClient(channel);
    }

    /// <summary>The backend (null-forgiving: absent when the destination was given as a closed port).</summary>
    public TesterBackend Backend { get; }

    public TestGateway Gateway { get; }

    public GrpcChannel Channel { get; }

    public Tester.TesterClient Client { get; }

    /// <summary>A plain HttpClient speaking HTTP/2 (only) to the gateway, trusting the test CA.</summary>
    public HttpClient CreateHttpClient() => new(HandlerTrusting(_ca.Certificate))
    {
        BaseAddress = Gateway.Url,
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    public static Task<GrpcSetup> StartAsync(
        ListenerKind listener, BackendKind backend, ITestOutputHelper output, Func<ClusterConfig, ClusterConfig>? cluster = null, ListenerEngine engine = ListenerEngine.Kestrel) =>
        StartAsync(listener, backend, output, cluster, destination: null, engine);

    /// <summary>As <see cref="StartAsync(ListenerKind, BackendKind, ITestOutputHelper, Func{ClusterConfig, ClusterConfig}?)"/>
    /// but with no backend: the cluster's destination is <paramref name="destination"/> (a closed port).</summary>
    public static Task<GrpcSetup> StartWithoutBackendAsync(ListenerKind listener, BackendKind backend, string destination, ITestOutputHelper output) =>
        StartAsync(listener, backend, output, cluster: null, destination, ListenerEngine.Kestrel);

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await Gateway.DisposeAsync();
        if (Backend is not null)
        {
            await Backend.DisposeAsync();
        }

        foreach (var certificate in _certificates)
        {
            certificate.Dispose();
        }

        _ca.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A cluster for <paramref name="destination"/> spoken to as <paramref name="kind"/> says, trusting <paramref name="caFile"/>.</summary>
    public static ClusterConfig ClusterFor(BackendKind kind, string destination, string caFile) => TestGateway.ClusterFor(destination) with
    {
        Protocol = kind == BackendKind.TlsAuto ? UpstreamProtocol.Auto : UpstreamProtocol.Http2,
        Tls = new UpstreamTlsConfig { CaFile = caFile },
    };

    /// <summary>A listener on 127.0.0.1:0 of the given kind (TLS with <paramref name="certificate"/>).</summary>
    public static ListenerConfig ListenerFor(ListenerKind kind, IssuedCertificate certificate) => new()
    {
        Address = "127.0.0.1:0",
        Protocols = kind == ListenerKind.H2c ? ListenerProtocols.Http2 : ListenerProtocols.Http1AndHttp2,
        Tls = kind == ListenerKind.Tls ? new TlsConfig { Certificate = certificate.CertificatePath, Key = certificate.KeyPath } : null,
    };

    /// <summary>A handler that speaks HTTP/2 to the gateway and trusts only <paramref name="ca"/>.</summary>
    public static SocketsHttpHandler HandlerTrusting(X509Certificate2 ca) => new()
    {
        EnableMultipleHttp2Connections = true,
        SslOptions =
        {
            CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                CustomTrustStore = { ca },
                RevocationMode = X509RevocationMode.NoCheck,
            },
        },
    };

    private static async Task<GrpcSetup> StartAsync(
        ListenerKind listener, BackendKind backendKind, ITestOutputHelper output, Func<ClusterConfig, ClusterConfig>? cluster, string? destination, ListenerEngine engine)
    {
        var directory = Directory.CreateTempSubdirectory("tether-grpc-").FullName;
        var ca = TestCa.Create(directory);
        var gatewayCertificate = ca.IssueServer("gateway");
        var backendCertificate = ca.IssueServer("backend");
        var certificates = new List<IDisposable> { gatewayCertificate, backendCertificate };
        TesterBackend? backend = null;
        TestGateway? gateway = null;
        try
        {
            if (destination is null)
            {
                backend = await TesterBackend.StartAsync(backendKind.ToString(), backendKind == BackendKind.H2c ? null : backendCertificate);
                destination = backend.Destination;
            }

            var clusterConfig = ClusterFor(backendKind, destination, ca.CertificatePath);
            var config = TestGateway.ConfigFor() with
            {
                Listeners = [ListenerFor(listener, gatewayCertificate) with { Engine = engine }],
                Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = cluster?.Invoke(clusterConfig) ?? clusterConfig },
            };
            gateway = await TestGateway.StartAsync(config, output: output);
        }
        catch
        {
            if (backend is not null)
            {
                await backend.DisposeAsync();
            }

            certificates.ForEach(c => c.Dispose());
            ca.Dispose();
            Directory.Delete(directory, recursive: true);
            throw;
        }

        var channel = GrpcChannel.ForAddress(gateway.Url, new GrpcChannelOptions
        {
            HttpHandler = HandlerTrusting(ca.Certificate),
            MaxReceiveMessageSize = 8 * 1024 * 1024,
        });
        output.WriteLine($"client -> {gateway.Url} ({listener}) -> {destination} ({backendKind})");
        return new GrpcSetup(directory, ca, certificates, backend, gateway, channel);
    }
}
