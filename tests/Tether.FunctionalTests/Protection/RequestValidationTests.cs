using System.Text;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Protection;

/// <summary>
/// Issue 11: what a client sends is never written into a backend connection unless it is valid HTTP/1.1, whatever
/// the client's protocol. The HTTP/2 cases are the red team's own frames: header names carrying CR LF (Kestrel's
/// HTTP/2 decoder lets CR, LF and ':' through in names), which were copied into the backend request and smuggled
/// a header or a whole second request. Only "/public" is routed; the origin records every byte it is sent.
/// </summary>
public sealed class RequestValidationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string SmuggledGet = "GET /smuggled-admin HTTP/1.1\r\nHost: internal.admin\r\nX-Smuggled: 1\r\n\r\n";
    private readonly string _dir = Directory.CreateTempSubdirectory("tether-validation-").FullName;
    private RawOrigin _origin = null!;

    public static TheoryData<string> Http2Attacks => [.. s_http2Attacks.Keys];

    private static readonly Dictionary<string, (string Method, string Path, (string Name, string Value)[] Headers, string? Body)> s_http2Attacks = new()
    {
        ["CRLF in a name spoofs X-Forwarded-For"] = ("GET", "/public/a", [("x-a: b\r\nx-forwarded-for", "6.6.6.6")], null),
        ["CRLF in a name adds Transfer-Encoding: chunked beside Content-Length"] =
            ("POST", "/public/a", [("content-length", $"{("0\r\n\r\n" + SmuggledGet).Length}"), ("x-a: b\r\ntransfer-encoding", "chunked")], "0\r\n\r\n" + SmuggledGet),
        ["CRLF in a name ends the head and adds a Content-Length"] =
            ("POST", "/public/a", [("x-a: b\r\ncontent-length: 1\r\n\r\nx", "y")], SmuggledGet),
        ["a space in a name"] = ("GET", "/public/a", [("x a", "1")], null),
        ["a colon in a name"] = ("GET", "/public/a", [("x-a:b", "1")], null),
        ["a control byte in a value"] = ("GET", "/public/a", [("x-a", "a\u0001b")], null),
        [":path with a space"] = ("GET", "/public/c x", [], null),
        [":path with a byte above 0x7F"] = ("GET", "/public/caf\u00e9", [], null),
        [":path with a fragment that hides the path"] = ("GET", "/admin#/../public", [], null),
        [":path that is not origin-form"] = ("GET", "public", [], null),
        ["a method that is not a token"] = ("GE T", "/public/a", [], null),
        ["content-length +5"] = ("POST", "/public/a", [("content-length", "+5")], "hello"),
        ["content-length with a trailing NUL"] = ("POST", "/public/a", [("content-length", "5\0")], "hello"),
        ["content-length with a leading VT"] = ("POST", "/public/a", [("content-length", "\v5")], "hello"),
    };

    public Task InitializeAsync()
    {
        _origin = RawOrigin.Ok();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _origin.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Theory]
    [MemberData(nameof(Http2Attacks))]
    public Task Over_h2c_a_malformed_stream_is_reset_and_the_backend_receives_nothing(string attack) => Http2AttackAsync(attack, tls: false);

    [Theory]
    [MemberData(nameof(Http2Attacks))]
    public Task Over_TLS_h2_a_malformed_stream_is_reset_and_the_backend_receives_nothing(string attack) => Http2AttackAsync(attack, tls: true);

    public static TheoryData<string, string> Http1Attacks => new()
    {
        { "a fragment that hides the path", "GET /admin#/../public HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "an encoded slash before a dot segment", "GET /public/..%2Fadmin HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "an encoded backslash before a dot segment", "GET /public/..%5cadmin HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "a backslash before a dot segment", "GET /public/..\\admin HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "a Tomcat path parameter on a dot segment", "GET /public/..;/admin HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "a '%' that starts no escape", "GET /public/100%ok HTTP/1.1\r\nHost: x\r\n\r\n" },
        { "a header name that is not a token", "GET /public/a HTTP/1.1\r\nHost: x\r\nX@Y: 1\r\n\r\n" },
        { "a Host that is not an authority", "GET /public/a HTTP/1.1\r\nHost: x/y@z\r\n\r\n" },
        { "Transfer-Encoding identity, chunked", "POST /public/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" },
    };

    /// <summary>nginx's default (underscores_in_headers off): a name with '_' is not passed on, so a backend that maps
    /// '_' to '-' never sees a second framing header.</summary>
    [Fact]
    public async Task A_header_named_with_an_underscore_is_not_forwarded_by_default()
    {
        await using var gateway = await StartAsync(ListenerProtocols.Http1);
        await using var client = await gateway.ConnectAsync();
        await client.SendAsync("POST /public/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer_Encoding: chunked\r\nX_Other: 1\r\nX-Kept: 1\r\n\r\nhello");
        var response = await client.ReadResponseAsync();

        Assert.Equal(200, response.Status);
        var head = Assert.Single(_origin.Requests).Head.Text;
        Assert.DoesNotContain("_", head, StringComparison.Ordinal);
        Assert.Contains("X-Kept: 1", head, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Http1Attacks))]
    public async Task Over_HTTP_1_1_a_malformed_request_gets_400_and_the_backend_receives_nothing(string attack, string request)
    {
        await using var gateway = await StartAsync(ListenerProtocols.Http1);
        await using var client = await gateway.ConnectAsync();
        await client.SendAsync(request);
        var response = await client.ReadResponseAsync();

        Assert.True(response.Status == 400, $"{attack}: {response.Head.StartLine}");
        Assert.True(await client.WaitForCloseAsync(TimeSpan.FromSeconds(5)), $"{attack}: the connection stayed open");
        Assert.Equal(0, _origin.Accepted);
    }

    public static TheoryData<string, string> Normalised => new()
    {
        { "/admin/../public/x", "/public/x" },
        { "/public/./a/../b?q=/../x", "/public/b?q=/../x" },
        { "/%70ublic/a%2Fb", "/public/a%2Fb" },
        { "/public/%2e%2E/public/ok", "/public/ok" },
        { "/public/x%20y", "/public/x%20y" },
        { "/public/..", "/" },
    };

    /// <summary>Routing decides on the path that is forwarded: the normalised one. "/public/.." is "/", which no
    /// route allows, so it is a 404 and forwarded nowhere.</summary>
    [Theory]
    [MemberData(nameof(Normalised))]
    public async Task A_target_is_routed_on_and_forwarded_in_its_normalised_form(string sent, string forwarded)
    {
        await using var gateway = await StartAsync(ListenerProtocols.Http1);
        await using var client = await gateway.ConnectAsync();
        var response = await client.GetAsync(sent);

        if (forwarded.StartsWith("/public", StringComparison.Ordinal))
        {
            Assert.Equal(200, response.Status);
            Assert.Equal(forwarded, Assert.Single(_origin.Requests).Target);
        }
        else
        {
            Assert.Equal(404, response.Status);
            Assert.Equal(0, _origin.Accepted);
        }
    }

    [Fact]
    public async Task CONNECT_is_answered_405_on_a_connection_that_serves_the_next_request_cleanly()
    {
        await using var gateway = await StartAsync(ListenerProtocols.Http1);
        await using var client = await gateway.ConnectAsync();
        await client.SendAsync("CONNECT internal.admin:443 HTTP/1.1\r\nHost: internal.admin:443\r\n\r\n");
        var refused = await client.ReadResponseAsync();
        var next = await client.GetAsync("/public/after");

        Assert.Equal(405, refused.Status);
        Assert.Equal(200, next.Status);
        Assert.Equal("/public/after", Assert.Single(_origin.Requests).Target);
    }

    [Fact]
    public async Task A_refused_request_is_counted_and_logged_with_its_reason()
    {
        await using var gateway = await StartAsync(ListenerProtocols.Http2);
        await using var client = await RawHttp2Client.ConnectAsync(gateway.Url);
        await client.GetAsync(1, "/public/a", ("x-a: b\r\nx-forwarded-for", "6.6.6.6"));
        var outcome = await client.ReadOutcomeAsync(1);

        Assert.Equal(1, outcome.ResetCode); // PROTOCOL_ERROR
        Assert.Equal(1, gateway.Gateway.Counters.Rejected);
        var line = Assert.Single(gateway.Logs.Named("RequestRejected"));
        Assert.Contains("header name is not a token", line.Message, StringComparison.Ordinal);
        using var http = new HttpClient();
        using var status = System.Text.Json.JsonDocument.Parse(await http.GetStringAsync(new Uri(gateway.AdminUrl, "/status")));
        Assert.Equal(1, status.RootElement.GetProperty("requests").GetProperty("rejected").GetInt64());
    }

    private async Task Http2AttackAsync(string attack, bool tls)
    {
        var (method, path, headers, body) = s_http2Attacks[attack];
        await using var gateway = await StartAsync(ListenerProtocols.Http2, tls);
        await using var client = await RawHttp2Client.ConnectAsync(gateway.Url, tls);
        await client.SendAsync(1, [(":method", method), (":scheme", client.Scheme), (":authority", "tether.test"), (":path", path), .. headers],
            body is null ? null : Encoding.Latin1.GetBytes(body));
        var outcome = await client.ReadOutcomeAsync(1);
        output.WriteLine($"{attack}: {outcome}");

        // Refused as malformed: reset by Tether's validation (or by Kestrel, where its own decoder refuses it), never answered.
        Assert.True(outcome.ResetCode == 1 || outcome.GoAwayCode == 1, $"{attack}: {outcome}");
        Assert.Equal(0, _origin.Accepted);

        // The legitimate request after it gets through, exactly once and alone.
        await using var next = outcome.GoAwayCode is null ? null : await RawHttp2Client.ConnectAsync(gateway.Url, tls);
        var legit = next ?? client;
        await legit.GetAsync(3, "/public/ok");
        var answer = await legit.ReadOutcomeAsync(3);
        output.WriteLine($"after it: {answer}");

        Assert.Equal(200, answer.Status);
        var request = Assert.Single(_origin.Requests);
        Assert.Equal("/public/ok", request.Target);
        Assert.Equal(["127.0.0.1"], request.Head.GetAll("X-Forwarded-For"));
        Assert.DoesNotContain(request.Head.Headers, h => h.Key.Equals("X-Smuggled", StringComparison.OrdinalIgnoreCase) || h.Key.Contains(' ', StringComparison.Ordinal));
    }

    private Task<TestGateway> StartAsync(ListenerProtocols protocols, bool tls = false)
    {
        var listener = new ListenerConfig { Address = "127.0.0.1:0", Protocols = tls ? ListenerProtocols.Http1AndHttp2 : protocols };
        if (tls)
        {
            var (certificate, key) = TestCertificates.WriteSelfSigned(_dir);
            listener = listener with { Tls = new TlsConfig { Certificate = certificate, Key = key } };
        }

        var config = TestGateway.ConfigFor(_origin.Address) with
        {
            Listeners = [listener],
            Routes = [new RouteConfig { Match = new RouteMatchConfig { PathPrefix = "/public" }, Cluster = TestGateway.Cluster }],
        };
        return TestGateway.StartAsync(config, output: output);
    }
}
