using System.Buffers.Binary;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Gateway.Protection;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Protection;

/// <summary>
/// Issue 13: HTTP/2 frames that make Kestrel work without moving a request forward. Kestrel answers every SETTINGS
/// and PING and reads empty CONTINUATION frames until requestHeadersTimeout; Tether's frame guard ends such a
/// connection with GOAWAY ENHANCE_YOUR_CALM (0xb), counts it as http2Flood, and nothing reaches the origin. Each
/// way a connection becomes HTTP/2 is driven: h2c on an "http2" listener, h2c by the preface on "http1AndHttp2",
/// and TLS with ALPN h2.
/// </summary>
public sealed class Http2FloodTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int EnhanceYourCalm = 0xb;
    private readonly string _dir = Directory.CreateTempSubdirectory("tether-h2flood-").FullName;
    private readonly RawOrigin _origin = RawOrigin.Ok();

    public static TheoryData<string> Listeners => ["h2c", "h2c by preface", "TLS"];

    Task IAsyncLifetime.InitializeAsync() => Task.CompletedTask;

    async Task IAsyncLifetime.DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [MemberData(nameof(Listeners))]
    public Task A_SETTINGS_flood_gets_GOAWAY_ENHANCE_YOUR_CALM_and_is_counted(string listener) =>
        FloodAsync(listener, Repeat(Http2Frame.Build(Http2Frame.Settings, 0, 0, [0, 2, 0, 0, 0, 0]), 3000));

    [Theory]
    [MemberData(nameof(Listeners))]
    public Task A_PING_flood_gets_GOAWAY_ENHANCE_YOUR_CALM_and_is_counted(string listener) =>
        FloodAsync(listener, Repeat(Http2Frame.Build(Http2Frame.Ping, 0, 0, "12345678"u8.ToArray()), 3000));

    /// <summary>PRIORITY frames are valid on idle streams, so Kestrel has no error of its own to close with first (an
    /// RST_STREAM or DATA frame on an idle stream is a PROTOCOL_ERROR it may reach before the guard has seen 1,000
    /// frames: how RST_STREAM and empty DATA are counted is Http2FrameGuardTests').</summary>
    [Fact]
    public Task A_flood_of_PRIORITY_frames_is_counted_too()
    {
        var priority = Http2Frame.Build(Http2Frame.Priority, 0, 3, [0, 0, 0, 0, 16]);
        return FloodAsync("h2c", Repeat(priority, 3000));
    }

    /// <summary>CVE-2024-27316's cheap form: the header list never grows, so only a count of frames ends it (it used to
    /// run until requestHeadersTimeout, here a minute: the client gives up after 20 s).</summary>
    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task Empty_CONTINUATION_frames_end_the_connection_at_once_not_at_requestHeadersTimeout(string listener)
    {
        // 100 empty frames: over the 64 a header block may have, far below the per-second rate.
        var frames = new List<byte>();
        await using var gateway = await StartAsync(listener, d => d with { RequestHeadersTimeout = TimeSpan.FromMinutes(1) });
        await using var client = await ConnectAsync(gateway, listener);
        frames.AddRange(Http2Frame.Build(Http2Frame.Headers, 0, 1, GetBlock(client.Scheme)));
        frames.AddRange(Repeat(Http2Frame.Build(Http2Frame.Continuation, 0, 1, []), 100));
        await client.SendRawAsync([.. frames]);

        Assert.Equal(EnhanceYourCalm, await client.ReadUntilGoAwayAsync());
        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.Http2Flood]);
        Assert.Equal(0, _origin.Accepted);
    }

    /// <summary>The same block with its CONTINUATION frames carrying bytes that decode to nothing (HPACK dynamic table
    /// size updates): ended by the byte bound, 2 x maxRequestHeadersSize + 16 KiB, within the frame count.</summary>
    [Fact]
    public async Task A_header_block_over_the_byte_bound_ends_the_connection()
    {
        await using var gateway = await StartAsync("h2c", d => d with { MaxRequestHeadersSize = 8192, RequestHeadersTimeout = TimeSpan.FromMinutes(1) });
        await using var client = await ConnectAsync(gateway, "h2c");
        var sizeUpdates = Enumerable.Repeat((byte)0x20, 8192).ToArray(); // "dynamic table size 0", 8,192 times
        var frames = new List<byte>(Http2Frame.Build(Http2Frame.Headers, 0, 1, sizeUpdates));
        frames.AddRange(Repeat(Http2Frame.Build(Http2Frame.Continuation, 0, 1, sizeUpdates), 4)); // 40 KiB > 32 KiB
        await client.SendRawAsync([.. frames]);

        var code = await client.ReadUntilGoAwayAsync();
        output.WriteLine($"GOAWAY {code}");
        Assert.Equal(EnhanceYourCalm, code);
        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.Http2Flood]);
        Assert.Equal(0, _origin.Accepted);
    }

    /// <summary>The control: what real clients send (some PINGs and SETTINGS, a header block split in a few
    /// CONTINUATION frames) stays well under the limits and is served.</summary>
    [Theory]
    [MemberData(nameof(Listeners))]
    public async Task Control_frames_under_the_limit_and_a_split_header_block_are_served(string listener)
    {
        await using var gateway = await StartAsync(listener);
        await using var client = await ConnectAsync(gateway, listener);
        var ping = Http2Frame.Build(Http2Frame.Ping, 0, 0, "12345678"u8.ToArray());
        var settings = Http2Frame.Build(Http2Frame.Settings, 0, 0, [0, 2, 0, 0, 0, 0]);
        await client.SendRawAsync([.. Repeat(ping, 400), .. Repeat(settings, 400)]);

        // One request whose head comes in three frames: HEADERS, CONTINUATION, CONTINUATION with END_HEADERS.
        var block = GetBlock(client.Scheme);
        var third = block.Length / 3;
        await client.SendRawAsync([
            .. Http2Frame.Build(Http2Frame.Headers, Http2Frame.EndStream, 1, block[..third]),
            .. Http2Frame.Build(Http2Frame.Continuation, 0, 1, block[third..(2 * third)]),
            .. Http2Frame.Build(Http2Frame.Continuation, Http2Frame.EndHeaders, 1, block[(2 * third)..]),
        ]);
        client.Expect(1);
        var outcome = await client.ReadOutcomeAsync(1);

        Assert.Equal(200, outcome.Status);
        Assert.Equal(0, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.Http2Flood]);
        Assert.Equal(1, _origin.Accepted);
    }

    /// <summary>maxControlFramesPerSecond 0 turns the rate off (the header-block bound stays).</summary>
    [Fact]
    public async Task With_the_limit_off_a_PING_flood_is_answered()
    {
        await using var gateway = await StartAsync("h2c", d => d with { Http2 = d.Http2 with { MaxControlFramesPerSecond = 0 } });
        await using var client = await ConnectAsync(gateway, "h2c");
        await client.SendRawAsync(Repeat(Http2Frame.Build(Http2Frame.Ping, 0, 0, "12345678"u8.ToArray()), 3000));
        await client.GetAsync(1, "/after");
        var outcome = await client.ReadOutcomeAsync(1);

        Assert.Equal(200, outcome.Status);
        Assert.Equal(0, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.Http2Flood]);
    }

    private async Task FloodAsync(string listener, byte[] frames)
    {
        await using var gateway = await StartAsync(listener);
        await using var client = await ConnectAsync(gateway, listener);
        try
        {
            await client.SendRawAsync(frames);
        }
        catch (IOException)
        {
            // The server may have closed before the last of the frames were written; what it sent first is read below.
        }

        var code = await client.ReadUntilGoAwayAsync();
        output.WriteLine($"{listener}: GOAWAY {code}");
        Assert.Equal(EnhanceYourCalm, code);
        Assert.Equal(1, gateway.Gateway.Downstream.Closed[ProtectionCloseReason.Http2Flood]);
        Assert.Equal(0, _origin.Accepted);
        Assert.Single(gateway.Logs.Named("Http2Flood"));
    }

    private static byte[] GetBlock(string scheme)
    {
        var block = new List<byte>();
        foreach (var (name, value) in new[] { (":method", "GET"), (":scheme", scheme), (":authority", "tether.test"), (":path", "/split"), ("x-pad", new string('a', 60)) })
        {
            block.Add(0x00);
            Http2Frame.WriteString(block, System.Text.Encoding.ASCII.GetBytes(name));
            Http2Frame.WriteString(block, System.Text.Encoding.ASCII.GetBytes(value));
        }

        return [.. block];
    }

    private static byte[] Repeat(byte[] frame, int count)
    {
        var all = new byte[frame.Length * count];
        for (var i = 0; i < count; i++)
        {
            frame.CopyTo(all, i * frame.Length);
        }

        return all;
    }

    private static Task<RawHttp2Client> ConnectAsync(TestGateway gateway, string listener) => RawHttp2Client.ConnectAsync(gateway.Url, tls: listener == "TLS");

    private Task<TestGateway> StartAsync(string listener, Func<DownstreamConfig, DownstreamConfig>? downstream = null)
    {
        var config = new ListenerConfig { Address = "127.0.0.1:0", Protocols = listener == "h2c" ? ListenerProtocols.Http2 : ListenerProtocols.Http1AndHttp2 };
        if (listener == "TLS")
        {
            var (certificate, key) = TestCertificates.WriteSelfSigned(_dir);
            config = config with { Tls = new TlsConfig { Certificate = certificate, Key = key } };
        }

        var tether = TestGateway.ConfigFor(_origin.Address);
        tether = tether with { Listeners = [config], Downstream = downstream?.Invoke(tether.Downstream) ?? tether.Downstream };
        return TestGateway.StartAsync(tether, output: output);
    }
}
