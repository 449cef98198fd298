using System.Buffers;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Tether.Gateway.Forwarding;

namespace Tether.Gateway.Tests.Forwarding;

/// <summary>The request head Tether writes to a backend, from a request as Kestrel hands it over.</summary>
public sealed class RequestHeadWriterTests
{
    [Fact]
    public void Headers_the_Connection_header_nominates_are_dropped_with_the_hop_by_hop_ones()
    {
        var context = Request("GET", "/p?q=1",
            ("Host", "shop.example"), ("Connection", "X-Foo, keep-alive"), ("X-Foo", "1"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
            ("Proxy-Connection", "keep-alive"), ("Upgrade", "h2c"), ("X-Forwarded-For", "203.0.113.66"), ("X-Custom", "yes"));

        var head = Write(context, RequestBodyMode.None);

        Assert.Equal(
            "GET /p?q=1 HTTP/1.1\r\nHost: shop.example\r\nX-Custom: yes\r\n" +
            "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Host: shop.example\r\n\r\n",
            head);
    }

    [Fact]
    public void Connection_tokens_are_matched_case_insensitively_across_several_header_lines()
    {
        var context = Request("GET", "/", ("Host", "h"), ("Connection", "keep-alive"), ("Connection", " x-one ,X-TWO"), ("X-One", "1"), ("x-two", "2"), ("X-Three", "3"));

        var head = Write(context, RequestBodyMode.None);

        Assert.DoesNotContain("X-One", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("x-two", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Three: 3\r\n", head, StringComparison.Ordinal);
    }

    [Fact]
    public void The_body_framing_is_rebuilt_from_the_chosen_mode()
    {
        var context = Request("POST", "/", ("Host", "h"), ("Content-Length", "5"), ("Expect", "100-continue"));

        Assert.EndsWith("Content-Length: 5\r\n\r\n", Write(context, RequestBodyMode.ContentLength, 5), StringComparison.Ordinal);
        Assert.DoesNotContain("Expect", Write(context, RequestBodyMode.ContentLength, 5), StringComparison.Ordinal);
        Assert.EndsWith("Transfer-Encoding: chunked\r\n\r\n", Write(context, RequestBodyMode.Chunked), StringComparison.Ordinal);
    }

    private static DefaultHttpContext Request(string method, string target, params (string Name, string Value)[] headers)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        var query = target.IndexOf('?', StringComparison.Ordinal);
        context.Request.Path = query < 0 ? target : target[..query];
        context.Request.QueryString = query < 0 ? QueryString.Empty : new QueryString(target[query..]);
        context.Request.Scheme = "http";
        context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        foreach (var (name, value) in headers)
        {
            context.Request.Headers.Append(name, value);
        }

        return context;
    }

    [Fact]
    public void The_last_request_on_a_connection_asks_the_backend_to_close_unless_it_upgrades()
    {
        var context = Request("GET", "/", ("Host", "example.com"));
        var buffer = new ArrayBufferWriter<byte>();
        RequestHeadWriter.Write(buffer, context, "/", RequestBodyMode.None, -1, upgrade: false, "fallback:80", lastRequest: true);
        Assert.Contains("\r\nConnection: close\r\n", Encoding.Latin1.GetString(buffer.WrittenSpan), StringComparison.Ordinal);

        Assert.DoesNotContain("Connection:", Write(context, RequestBodyMode.None), StringComparison.Ordinal);
    }

    private static string Write(HttpContext context, RequestBodyMode mode, long contentLength = -1)
    {
        var buffer = new ArrayBufferWriter<byte>();
        RequestHeadWriter.Write(buffer, context, context.Request.Path + context.Request.QueryString, mode, contentLength, upgrade: false, "fallback:80");
        return Encoding.Latin1.GetString(buffer.WrittenSpan);
    }
}
