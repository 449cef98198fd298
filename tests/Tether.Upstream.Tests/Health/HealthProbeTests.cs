using System.Net;
using System.Net.Sockets;
using System.Text;
using Tether.Configuration;
using Tether.Upstream.Connecting;
using Tether.Upstream.Health;

namespace Tether.Upstream.Tests.Health;

public sealed class HealthProbeTests
{
    private static readonly StatusRange _ok = new(200, 399);

    private static UpstreamConnector Connector(EndPoint endPoint) => new(endPoint, "127.0.0.1", TimeSpan.FromSeconds(5), keepAlive: null, tls: null);

    [Theory]
    [InlineData("HTTP/1.1 200 OK", true)]
    [InlineData("HTTP/1.1 302 Found", true)]
    [InlineData("HTTP/1.1 503 Service Unavailable", false)]
    [InlineData("SSH-2.0-OpenSSH_9.6", false)]
    public async Task Judges_the_status_line_of_a_real_answer(string statusLine, bool passes)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var request = AnswerOnceAsync(listener, statusLine + "\r\nContent-Length: 0\r\n\r\n");
        var result = await HealthProbe.ProbeAsync(Connector(listener.LocalEndpoint), "app.test", "/healthz", _ok, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.Equal(passes, result.Passed);
        var head = await request;
        Assert.StartsWith("GET /healthz HTTP/1.1\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Host: app.test\r\n", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_connection_fails()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endPoint = listener.LocalEndpoint;
        listener.Stop();
        var result = await HealthProbe.ProbeAsync(Connector(endPoint), "x", "/", _ok, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.False(result.Passed);
        Assert.Contains("ConnectionRefused", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_backend_that_closes_without_answering_fails()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var closing = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync();
            await ReadHeadAsync(client.GetStream());
        });
        var result = await HealthProbe.ProbeAsync(Connector(listener.LocalEndpoint), "x", "/", _ok, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        await closing;
        Assert.False(result.Passed);
    }

    private static async Task<string> AnswerOnceAsync(TcpListener listener, string response)
    {
        using var client = await listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var head = await ReadHeadAsync(stream);
        await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
        return head;
    }

    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        var buffer = new byte[4096];
        var filled = 0;
        while (!Encoding.ASCII.GetString(buffer, 0, filled).Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var n = await stream.ReadAsync(buffer.AsMemory(filled));
            if (n == 0)
            {
                break;
            }

            filled += n;
        }

        return Encoding.ASCII.GetString(buffer, 0, filled);
    }
}
