using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Tether.Gateway.Http1;

namespace Tether.Gateway.Tests.Http1;

/// <summary>
/// The strict parser against a real Kestrel on a socket: a corpus of request heads, mutated deterministically
/// (seeded), goes through both. Tether may refuse what Kestrel accepts (it is stricter by design), never the
/// other way round: a head Tether accepts and Kestrel refuses is one two readers could disagree on.
/// </summary>
public sealed class Http1ParserDifferentialTests : IAsyncLifetime
{
    private static readonly string[] _seeds =
    [
        "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
        "POST /submit HTTP/1.1\r\nHost: example.com:8080\r\nContent-Length: 0\r\nContent-Type: text/plain\r\n\r\n",
        "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
        "GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        "DELETE /r HTTP/1.1\r\nHost: [::1]:80\r\nConnection: close, X-A\r\nX-A: 1\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
    ];

    // What a mutation may put into a head: the bytes framing and smuggling hinge on.
    private static readonly byte[] _interesting = [(byte)' ', (byte)'\t', (byte)'\r', (byte)'\n', 0, 0x7F, 0x80, 0xFF, (byte)':', (byte)',', (byte)'"', (byte)'/', (byte)'?', (byte)'#', (byte)'%', (byte)'@', (byte)'[', (byte)'a', (byte)'0', (byte)'-'];

    private static readonly string[] _lines =
    [
        "Content-Length: 5", "Content-Length: 0", "Content-Length: +1", "Content-Length: 1,1", "Content-Length: 01",
        "Transfer-Encoding: chunked", "Transfer-Encoding: gzip", "Transfer-Encoding: chunked, chunked", "Host: other",
        "Host:", " folded", "\tfolded", "X: a\rb", "Expect: something", "Connection: upgrade", "Upgrade: websocket",
        "Host: a b", "Host: a@b", "Host: a:99999", "Content-Length:  5 ", "Transfer-Encoding: Chunked", ": empty-name",
    ];

    private WebApplication? _kestrel;
    private IPEndPoint? _endPoint;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.WebHost.UseKestrelCore().ConfigureKestrel(o =>
        {
            // As Tether configures its Kestrel listeners (TetherGateway.ConfigureKestrel): Latin-1 headers, its limits.
            o.RequestHeaderEncodingSelector = static _ => Encoding.Latin1;
            o.Limits.MaxRequestLineSize = 8 * 1024;
            o.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
            o.Limits.MaxRequestHeaderCount = 100;
            o.Listen(IPAddress.Loopback, 0);
        });
        builder.WebHost.UseSockets();
        _kestrel = builder.Build();
        _kestrel.Run(static context => context.Response.WriteAsync("ok"));
        await _kestrel.StartAsync();
        var address = new Uri(_kestrel.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        _endPoint = new IPEndPoint(IPAddress.Loopback, address.Port);
    }

    public async Task DisposeAsync()
    {
        if (_kestrel is not null)
        {
            await _kestrel.DisposeAsync();
        }
    }

    [Fact]
    public async Task Tether_accepts_no_mutated_head_that_Kestrel_refuses()
    {
        var corpus = Corpus(new Random(15), 4000);
        var limits = new Http1Limits(8 * 1024, 32 * 1024, 100);
        var disagreements = new List<string>();
        var acceptedByBoth = 0;
        foreach (var head in corpus)
        {
            var parsed = new Http1RequestHead();
            var complete = Http1RequestParser.TryParse(head, limits, parsed, new HeaderDictionary(), out var consumed);
            var tetherAccepts = complete && parsed.ErrorStatus == 0 && consumed == head.Length;
            if (!tetherAccepts)
            {
                continue;
            }

            var status = await KestrelStatusAsync(head);
            if (status is < 200 or >= 300)
            {
                disagreements.Add($"Kestrel {status}: {Escape(head)}");
            }
            else
            {
                acceptedByBoth++;
            }
        }

        Assert.True(disagreements.Count == 0, $"{disagreements.Count} heads Tether accepts and Kestrel refuses:\n" + string.Join("\n", disagreements.Take(20)));

        // The corpus is not all garbage: a good share of it is accepted, so the comparison compares something.
        Assert.True(acceptedByBoth > 100, $"only {acceptedByBoth} heads accepted by both");
    }

    [Fact]
    public void The_corpus_is_the_same_every_run() =>
        Assert.Equal(Corpus(new Random(15), 50).Select(Escape), Corpus(new Random(15), 50).Select(Escape));

    private static List<byte[]> Corpus(Random random, int count)
    {
        var corpus = new List<byte[]>(count + _seeds.Length);
        foreach (var seed in _seeds)
        {
            corpus.Add(Encoding.Latin1.GetBytes(seed));
        }

        while (corpus.Count < count)
        {
            var seed = Encoding.Latin1.GetBytes(_seeds[random.Next(_seeds.Length)]);
            var bytes = new List<byte>(seed);
            var mutations = 1 + random.Next(2);
            for (var m = 0; m < mutations; m++)
            {
                // Mutate within the head, never its final CRLFCRLF: the end of the head stays where it is.
                var at = random.Next(bytes.Count - 4);
                switch (random.Next(5))
                {
                    case 0:
                        bytes.Insert(at, _interesting[random.Next(_interesting.Length)]);
                        break;
                    case 1:
                        bytes.RemoveAt(at);
                        break;
                    case 2:
                        bytes[at] = _interesting[random.Next(_interesting.Length)];
                        break;
                    case 3:
                        bytes[at] = (byte)char.ToUpperInvariant((char)bytes[at]);
                        break;
                    default:
                        // A whole header line after the request line.
                        var firstLineEnd = bytes.IndexOf((byte)'\n') + 1;
                        bytes.InsertRange(firstLineEnd, Encoding.Latin1.GetBytes(_lines[random.Next(_lines.Length)] + "\r\n"));
                        break;
                }
            }

            if (bytes.Count >= 4 && bytes[^4] == '\r' && bytes[^3] == '\n' && bytes[^2] == '\r' && bytes[^1] == '\n')
            {
                corpus.Add([.. bytes]);
            }
        }

        return corpus;
    }

    // Kestrel's answer to the head alone (the connection left open: Kestrel drops a request whose client half-closed): its status, 0 if it sent none.
    private async Task<int> KestrelStatusAsync(byte[] head)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(_endPoint!);
        await socket.SendAsync(head, SocketFlags.None);
        var buffer = new byte[12];
        var filled = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        try
        {
            while (filled < buffer.Length)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, timeout.Token);
                if (n == 0)
                {
                    break;
                }

                filled += n;
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
        }

        return filled == 12 && int.TryParse(Encoding.ASCII.GetString(buffer, 9, 3), System.Globalization.CultureInfo.InvariantCulture, out var status) ? status : 0;
    }

    private static string Escape(byte[] head)
    {
        var text = new StringBuilder();
        foreach (var b in head)
        {
            text.Append(b switch
            {
                (byte)'\r' => "\\r",
                (byte)'\n' => "\\n",
                (byte)'\t' => "\\t",
                < 0x20 or >= 0x7F => $"\\x{b:x2}",
                _ => ((char)b).ToString(),
            });
        }

        return text.ToString();
    }
}
