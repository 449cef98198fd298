using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Tether.Server.Tests;

/// <summary>A real Kestrel app on 127.0.0.1:0 with UseTetherKeepAlive.</summary>
internal sealed class TestBackend : IAsyncDisposable
{
    private TestBackend(WebApplication app, int port)
    {
        App = app;
        Port = port;
    }

    public WebApplication App { get; }

    public int Port { get; }

    public static async Task<TestBackend> StartAsync(Action<TetherKeepAliveOptions> configure, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.WebHost.UseTetherKeepAlive(configure);
        var app = builder.Build();
        if (map is null)
        {
            app.MapGet("/", () => "hello");
        }
        else
        {
            map(app);
        }

        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestBackend(app, new Uri(address).Port);
    }

    public async Task<RawConnection> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
        return new RawConnection(socket);
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync(CancellationToken.None);
        await App.DisposeAsync();
    }
}

/// <summary>A client connection on a raw socket: sends request heads, reads responses (Content-Length bodies).</summary>
internal sealed class RawConnection(Socket socket) : IDisposable
{
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _filled;

    public Task SendAsync(string path = "/") =>
        socket.SendAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: backend\r\n\r\n"), SocketFlags.None);

    public async Task<RawResponse> GetAsync(string path = "/")
    {
        await SendAsync(path);
        return await ReadResponseAsync();
    }

    public async Task<RawResponse> ReadResponseAsync()
    {
        int end;
        while ((end = _buffer.AsSpan(0, _filled).IndexOf("\r\n\r\n"u8)) < 0)
        {
            var n = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None);
            if (n == 0)
            {
                throw new IOException("closed before a response");
            }

            _filled += n;
        }

        var lines = Encoding.ASCII.GetString(_buffer, 0, end).Split("\r\n");
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            headers[line[..colon]] = line[(colon + 1)..].Trim();
        }

        Consume(end + 4);
        string body;
        if (headers.TryGetValue("Transfer-Encoding", out var te) && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var text = new StringBuilder();
            while (true)
            {
                var lineEnd = await FillUntilAsync("\r\n"u8.ToArray());
                var size = Convert.ToInt32(Encoding.ASCII.GetString(_buffer, 0, lineEnd), 16);
                Consume(lineEnd + 2);
                await FillAtLeastAsync(size + 2);
                text.Append(Encoding.UTF8.GetString(_buffer, 0, size));
                Consume(size + 2);
                if (size == 0)
                {
                    break;
                }
            }

            body = text.ToString();
        }
        else
        {
            var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl, System.Globalization.CultureInfo.InvariantCulture) : 0;
            await FillAtLeastAsync(length);
            body = Encoding.UTF8.GetString(_buffer, 0, length);
            Consume(length);
        }

        return new RawResponse(int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), headers, body);
    }

    private async Task<int> FillUntilAsync(byte[] terminator)
    {
        int at;
        while ((at = _buffer.AsSpan(0, _filled).IndexOf(terminator)) < 0)
        {
            await ReceiveMoreAsync();
        }

        return at;
    }

    private async Task FillAtLeastAsync(int count)
    {
        while (_filled < count)
        {
            await ReceiveMoreAsync();
        }
    }

    private async Task ReceiveMoreAsync()
    {
        var n = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None);
        _filled += n == 0 ? throw new IOException("closed mid-response") : n;
    }

    private void Consume(int count)
    {
        _buffer.AsSpan(count, _filled - count).CopyTo(_buffer);
        _filled -= count;
    }

    /// <summary>Waits for the server to close the connection (FIN or RST); true if it did within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var n = await socket.ReceiveAsync(_buffer.AsMemory(_filled), SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return true;
                }

                _filled += n;
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public void Dispose() => socket.Dispose();
}

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);
