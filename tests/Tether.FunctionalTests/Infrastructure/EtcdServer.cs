using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>
/// A real single-member etcd (Debian package etcd-server) on loopback, free client and peer ports, a temporary
/// data directory; stopped by the PID this class started. <see cref="RestartAsync"/> keeps ports and data.
/// </summary>
internal sealed class EtcdServer : IAsyncDisposable
{
    private readonly string _dataDirectory = Directory.CreateTempSubdirectory("tether-etcd-").FullName;
    private readonly int _peerPort = FreePort();
    private readonly EtcdServerTls? _tls;
    private Process? _process;
    private GrpcChannel? _channel;
    private Metadata? _token;

    private EtcdServer(EtcdServerTls? tls)
    {
        ClientPort = FreePort();
        _tls = tls;
    }

    public int ClientPort { get; }

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Endpoint => $"127.0.0.1:{ClientPort}";

    /// <param name="tls">Serve the client port over TLS with this certificate and require client certificates
    /// signed by its CA (etcd --cert-file, --trusted-ca-file, --client-cert-auth). Null: cleartext.</param>
    public static async Task<EtcdServer> StartAsync(EtcdServerTls? tls = null)
    {
        var server = new EtcdServer(tls);
        await server.LaunchAsync();
        return server;
    }

    /// <summary>Turns etcd's auth on with <paramref name="user"/> as root; this class's own calls authenticate as it.</summary>
    public async Task EnableAuthAsync(string user, string password)
    {
        var auth = new Auth.AuthClient(Channel);
        await auth.UserAddAsync(new AuthUserAddRequest { Name = user, Password = password });
        await auth.RoleAddAsync(new AuthRoleAddRequest { Name = "root" });
        await auth.UserGrantRoleAsync(new AuthUserGrantRoleRequest { User = user, Role = "root" });
        await auth.AuthEnableAsync(new AuthEnableRequest());
        var token = await auth.AuthenticateAsync(new AuthenticateRequest { Name = user, Password = password });
        _token = new Metadata { { "token", token.Token } };
    }

    /// <summary>Writes <paramref name="key"/>; returns the revision of the write.</summary>
    public async Task<long> PutAsync(string key, string value, long lease = 0)
    {
        var response = await new KV.KVClient(Channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = lease }, _token);
        return response.Header.Revision;
    }

    /// <summary>A lease of <paramref name="ttlSeconds"/> that nobody keeps alive: it expires, and its keys go with it.</summary>
    public async Task<long> GrantLeaseAsync(long ttlSeconds) =>
        (await new Lease.LeaseClient(Channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds }, _token)).ID;

    /// <summary>Kills etcd (by the PID started here); it stays down until <see cref="LaunchAsync"/>.</summary>
    public async Task KillAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
        }

        if (_process is not null)
        {
            await _process.WaitForExitAsync();
            _process.Dispose();
            _process = null;
        }

        _channel?.Dispose();
        _channel = null;
    }

    public async Task LaunchAsync()
    {
        var start = new ProcessStartInfo("etcd") { RedirectStandardError = true, RedirectStandardOutput = true };
        var client = $"{(_tls is null ? "http" : "https")}://127.0.0.1:{ClientPort}";
        var peer = $"http://127.0.0.1:{_peerPort}";
        string[] tls = _tls is null ? [] : ["--cert-file", _tls.CertificatePath, "--key-file", _tls.KeyPath, "--trusted-ca-file", _tls.CaPath, "--client-cert-auth"];
        foreach (var argument in (string[])[
            "--name", "t", "--data-dir", _dataDirectory, "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", $"t={peer}", "--log-level", "error", .. tls])
        {
            start.ArgumentList.Add(argument);
        }

        _process = Process.Start(start)!;
        _process.BeginErrorReadLine();
        _process.BeginOutputReadLine();
        var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 20);
        while (true)
        {
            Assert.False(_process.HasExited, "etcd exited at start");
            try
            {
                await new KV.KVClient(Channel).RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8("/ready") }, deadline: DateTime.UtcNow.AddSeconds(1));
                return;
            }
            catch (RpcException)
            {
                Assert.True(Stopwatch.GetTimestamp() < deadline, "etcd did not answer within 20 s");
                await Task.Delay(100);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private GrpcChannel Channel => _channel ??= _tls is null
        ? GrpcChannel.ForAddress($"http://127.0.0.1:{ClientPort}")
        : GrpcChannel.ForAddress($"https://127.0.0.1:{ClientPort}", new GrpcChannelOptions
        {
            // The test's own channel: it presents the client certificate and trusts the server it started.
            HttpHandler = new SocketsHttpHandler
            {
                SslOptions = new System.Net.Security.SslClientAuthenticationOptions
                {
                    ClientCertificates = [System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(_tls.ClientCertificatePath, _tls.ClientKeyPath)],
                    RemoteCertificateValidationCallback = (_, _, _, _) => true,
                },
            },
        });

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>TLS files of a test etcd: its CA, its server certificate and key, and a client certificate and key it accepts.</summary>
internal sealed record EtcdServerTls(string CaPath, string CertificatePath, string KeyPath, string ClientCertificatePath, string ClientKeyPath);
