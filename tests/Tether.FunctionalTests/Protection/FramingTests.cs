using Tether.Configuration;

namespace Tether.FunctionalTests.Protection;

/// <summary>
/// Request smuggling: ambiguous framing is rejected before anything reaches the origin. Each payload is
/// followed by a second, innocent-looking request; the origin must see neither.
/// </summary>
public class FramingTests
{
    private const string Smuggled = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

    public static TheoryData<string, string> Payloads => new()
    {
        { "TE+CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "CL+TE", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n0\r\n\r\n" + Smuggled },
        { "duplicate CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhello" + Smuggled },
        { "CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 40\r\n\r\nhello" + Smuggled },
        { "TE chunked, identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "TE identity", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nhello" + Smuggled },
        { "TE xchunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "TE twice", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "bare LF in chunk extension", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;a\nb\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "bare LF after chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n" + Smuggled },
        { "bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "chunk data longer than its size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n" + Smuggled },
        { "space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + Smuggled },
        { "CL +5", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello" + Smuggled },
        { "CL with a trailing NUL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\0\r\n\r\nhello" + Smuggled },
        { "CL with a trailing VT", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\v\r\n\r\nhello" + Smuggled },
        { "CL with a leading VT", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \v5\r\n\r\nhello" + Smuggled },
        { "obs-fold", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + Smuggled },
    };

    [Theory]
    [MemberData(nameof(Payloads))]
    public async Task Ambiguous_framing_is_rejected_and_nothing_reaches_the_origin(string name, string payload)
    {
        await using var gateway = await ProtectionGateway.StartAsync();
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, payload);

        Assert.True(response.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), $"{name}: expected 400, got: {FirstLine(response)}");
        Assert.True(await ProtectionGateway.IsClosedAsync(client, 2000), $"{name}: the connection stays open after a framing error");
        Assert.Empty(gateway.Origin.Requests);
    }

    /// <summary>Kestrel's own Content-Length parse took a sign, white space and NULs (ContentLengthDigits closes it).</summary>
    [Theory]
    [InlineData("+5")]
    [InlineData("5\0")]
    [InlineData("5\v")]
    [InlineData("\v5")]
    [InlineData("0005")] // digits only: allowed, as by nginx
    public async Task On_engine_kestrel_too_a_Content_Length_other_than_digits_is_refused(string value)
    {
        await using var gateway = await ProtectionGateway.StartAsync(listener: l => l with { Engine = ListenerEngine.Kestrel });
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, $"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello");

        if (value == "0005")
        {
            Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
            Assert.Equal("5", gateway.Origin.Header(0, "Content-Length"));
            return;
        }

        Assert.True(response.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), $"{value}: expected 400, got: {FirstLine(response)}");
        Assert.Empty(gateway.Origin.Requests);
    }

    [Fact]
    public async Task Upgrade_h2c_is_never_honoured()
    {
        await using var gateway = await ProtectionGateway.StartAsync();
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client,
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        var head = Assert.Single(gateway.Origin.Requests);
        Assert.DoesNotContain("h2c", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("HTTP2-Settings", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Upgrade", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_well_framed_chunked_request_is_re_serialized()
    {
        await using var gateway = await ProtectionGateway.StartAsync();
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client,
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0\r\n\r\n");

        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        var head = Assert.Single(gateway.Origin.Requests);
        Assert.Contains("\r\nTransfer-Encoding: chunked", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Content-Length", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task A_head_with_bare_LF_line_ends_reaches_the_origin_re_serialized_with_CRLF()
    {
        // Kestrel accepts bare LF as a line end (as nginx does); what the backend gets is rebuilt, so no
        // backend ever has to guess where such a line ends.
        await using var gateway = await ProtectionGateway.StartAsync();
        using var client = await gateway.ConnectAsync();
        var response = await ProtectionGateway.ExchangeAsync(client, "POST / HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello");
        if (Tether.Testing.TestEngine.ForcesTether)
        {
            // Engine "tether" is stricter (docs/security.md): a bare LF is refused, nothing reaches the origin.
            Assert.StartsWith("HTTP/1.1 400 ", response, StringComparison.Ordinal);
            Assert.Empty(gateway.Origin.Requests);
            return;
        }

        Assert.StartsWith("HTTP/1.1 200 ", response, StringComparison.Ordinal);
        var head = Assert.Single(gateway.Origin.Requests);
        Assert.DoesNotContain("\n", head.Replace("\r\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Equal("5", gateway.Origin.Header(0, "Content-Length"));
    }

    private static string FirstLine(string response) => response.Length == 0 ? "(closed without a response)" : response.Split("\r\n")[0];
}
