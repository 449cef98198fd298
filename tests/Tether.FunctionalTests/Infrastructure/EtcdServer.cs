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
    private Process? _process;
    private GrpcChannel? _channel;

    private EtcdServer()
    {
        ClientPort = FreePort();
    }

    public int ClientPort { get; }

    /// <summary>"127.0.0.1:PORT".</summary>
    public string Endpoint => $"127.0.0.1:{ClientPort}";

    public static async Task<EtcdServer> StartAsync()
    {
        var server = new EtcdServer();
        await server.LaunchAsync();
        return server;
    }

    /// <summary>Writes <paramref name="key"/>; returns the revision of the write.</summary>
    public async Task<long> PutAsync(string key, string value, long lease = 0)
    {
        var response = await new KV.KVClient(Channel).PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = lease });
        return response.Header.Revision;
    }

    /// <summary>A lease of <paramref name="ttlSeconds"/> that nobody keeps alive: it expires, and its keys go with it.</summary>
    public async Task<long> GrantLeaseAsync(long ttlSeconds) =>
        (await new Lease.LeaseClient(Channel).LeaseGrantAsync(new LeaseGrantRequest { TTL = ttlSeconds })).ID;

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
        var client = $"http://127.0.0.1:{ClientPort}";
        var peer = $"http://127.0.0.1:{_peerPort}";
        foreach (var argument in (string[])[
            "--name", "t", "--data-dir", _dataDirectory, "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", $"t={peer}", "--log-level", "error"])
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

    private GrpcChannel Channel => _channel ??= GrpcChannel.ForAddress($"http://127.0.0.1:{ClientPort}");

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
