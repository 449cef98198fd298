using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Tether.FunctionalTests.Infrastructure;

/// <summary>A response as the client received it from Tether.</summary>
internal sealed class ClientResponse(HttpHead head, BodyRead body)
{
    public HttpHead Head { get; } = head;

    public int Status => int.Parse(Head.StartLine.AsSpan(9, 3), provider: System.Globalization.CultureInfo.InvariantCulture);

    public byte[] Body { get; } = body.Bytes;

    public string BodyText => Encoding.UTF8.GetString(Body);

    /// <summary>False if the connection ended before the body's framing said it was complete.</summary>
    public bool Complete { get; } = body.Complete;

    /// <summary>Trailer lines after a chunked body ("Name: value").</summary>
    public IReadOnlyList<string> Trailers { get; } = body.TrailerLines;

    public override string ToString() => Head.Text + BodyText;
}

/// <summary>
/// One client connection to Tether over a raw socket: requests are written byte for byte, so a test controls
/// keep-alive, framing and header spelling, and can see the connection being closed.
/// </summary>
internal sealed class RawClient : IAsyncDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(20);
    private readonly Socket _socket;

    private RawClient(Socket socket)
    {
        _socket = socket;
        Reader = new SocketReader(socket);
    }

    public SocketReader Reader { get; }

    public Socket Socket => _socket;

    public static async Task<RawClient> ConnectAsync(Uri url)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(url.Host), url.Port));
        return new RawClient(socket);
    }

    public Task SendAsync(string latin1) => SendAsync(Encoding.Latin1.GetBytes(latin1));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        var sent = 0;
        while (sent < bytes.Length)
        {
            sent += await _socket.SendAsync(bytes[sent..], SocketFlags.None);
        }
    }

    /// <summary>Sends a bodiless request with a Host header and <paramref name="headers"/>, and reads the response.</summary>
    public async Task<ClientResponse> GetAsync(string target = "/", string host = "tether.test", params string[] headers)
    {
        await SendAsync(Request("GET", target, host, headers));
        return await ReadResponseAsync();
    }

    /// <summary>"METHOD target HTTP/1.1", Host, <paramref name="headers"/>, empty line.</summary>
    public static string Request(string method, string target, string host = "tether.test", params string[] headers)
    {
        var sb = new StringBuilder().Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\nHost: ").Append(host).Append("\r\n");
        foreach (var header in headers)
        {
            sb.Append(header).Append("\r\n");
        }

        return sb.Append("\r\n").ToString();
    }

    /// <summary>
    /// Reads one response (an interim 1xx is returned as it is; call again for the final one). The body is read
    /// by its framing; a body cut short by the connection closing comes back with Complete = false.
    /// </summary>
    public async Task<ClientResponse> ReadResponseAsync(bool requestWasHead = false)
    {
        using var cts = new CancellationTokenSource(s_timeout);
        var text = await Reader.ReadHeadAsync(cts.Token) ?? throw new EndOfStreamException("Tether closed the connection before a response");
        var head = HttpHead.Parse(text);
        var response = new ClientResponse(head, new BodyRead([], true));
        var status = response.Status;
        BodyRead body;
        if (requestWasHead || status is < 200 or 204 or 304)
        {
            body = new BodyRead([], true);
        }
        else if (head.HasToken("Transfer-Encoding", "chunked"))
        {
            body = await Reader.ReadChunkedAsync(cts.Token);
        }
        else if (head.Get("Content-Length") is { } length)
        {
            body = await Reader.ReadExactAsync(long.Parse(length, System.Globalization.CultureInfo.InvariantCulture), cts.Token);
        }
        else
        {
            body = new BodyRead(await Reader.ReadToEndAsync(cts.Token), true);
        }

        return new ClientResponse(head, body);
    }

    /// <summary>
    /// Waits for Tether to close this connection (FIN or RST) and returns true, or false if it stays open for
    /// <paramref name="timeout"/>. Bytes that arrive meanwhile are an error.
    /// </summary>
    public async Task<bool> WaitForCloseAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            var extra = await Reader.DrainToEndAsync(cts.Token);
            Assert.Equal(0, extra);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
