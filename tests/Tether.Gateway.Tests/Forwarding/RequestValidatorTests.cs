using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tether.Configuration;
using Tether.Gateway.Forwarding;

namespace Tether.Gateway.Tests.Forwarding;

/// <summary>The one check between a client's request and the HTTP/1.1 head written to a backend (issue 11).</summary>
public sealed class RequestValidatorTests
{
    [Theory]
    [InlineData("/", "/", "/")]
    [InlineData("/a/b?x=1", "/a/b?x=1", "/a/b")]
    [InlineData("/a/./b/../c", "/a/c", "/a/c")]
    [InlineData("/a/b/..", "/a/", "/a/")]
    [InlineData("/..", "/", "/")]
    [InlineData("/../../etc/passwd", "/etc/passwd", "/etc/passwd")]
    [InlineData("/a/%2e%2E/b", "/b", "/b")]
    [InlineData("/%7Euser/%41", "/~user/A", "/~user/A")]
    [InlineData("/a%2Fb/c", "/a%2Fb/c", "/a%2Fb/c")]
    [InlineData("/caf%C3%A9", "/caf%C3%A9", "/café")]
    [InlineData("/a%20b?q=%zz", "/a%20b?q=%zz", "/a b")]
    [InlineData("//double//slash", "//double//slash", "//double//slash")]
    [InlineData("/a/..%2e/b", "/a/.../b", "/a/.../b")]
    [InlineData("/a/.%2e/b", "/b", "/b")]
    [InlineData("/q?a=/../b", "/q?a=/../b", "/q")]
    [InlineData("/file.tar.gz", "/file.tar.gz", "/file.tar.gz")]
    [InlineData("/a/.hidden/x", "/a/.hidden/x", "/a/.hidden/x")]
    public void A_valid_target_is_forwarded_normalised_and_routed_on_its_decoded_path(string raw, string forwarded, string routed)
    {
        Assert.Null(RequestValidator.Normalize(raw, out var target));
        Assert.Equal(forwarded, target.Target);
        Assert.Equal(routed, target.RoutePath.ToString());
    }

    [Theory]
    [InlineData("/admin#/../public")]
    [InlineData("/a b")]
    [InlineData("/a\tb")]
    [InlineData("/a\r\nX-Injected: 1")]
    [InlineData("/caf\u00e9")]
    [InlineData("/a\u007f")]
    [InlineData("/ok?q=a#frag")]
    [InlineData("/ok?q=a b")]
    [InlineData("/100%")]
    [InlineData("/100%g0")]
    [InlineData("/public/..%2Fadmin")]
    [InlineData("/public/..%2fadmin")]
    [InlineData("/public/..%5Cadmin")]
    [InlineData("/public/..\\admin")]
    [InlineData("/public\\..\\admin")]
    [InlineData("/public/..;/admin")]
    [InlineData("/public/.;x/admin")]
    [InlineData("/public/%2e%2e%2fadmin")]
    [InlineData("relative")]
    [InlineData("?q")]
    public void An_invalid_target_is_refused(string raw)
    {
        Assert.NotNull(RequestValidator.Normalize(raw, out _));
    }

    [Theory]
    [InlineData("x-a: b\r\nx-forwarded-for", "1")]
    [InlineData("x a", "1")]
    [InlineData("x-a:b", "1")]
    [InlineData("X@Y", "1")]
    [InlineData("x-a", "a\r\nb")]
    [InlineData("x-a", "a\nb")]
    [InlineData("x-a", "a\0b")]
    [InlineData("x-a", "a\u0001b")]
    [InlineData("x-a", "a\u007fb")]
    [InlineData("x-a", "\u0100")]
    [InlineData("Host", "x/y")]
    [InlineData("Host", "user@x")]
    [InlineData("Host", "x y")]
    public void A_header_that_cannot_be_written_as_HTTP_1_1_is_refused(string name, string value)
    {
        var context = Request("GET", "/");
        context.Request.Headers.Append(name, value);

        Assert.Equal(RequestRejection.Malformed, RequestValidator.Validate(context, UnderscoreHeaders.Drop, out _, out var reason));
        Assert.NotNull(reason);
    }

    [Fact]
    public void Ordinary_headers_pass_with_obs_text_and_tabs_in_values()
    {
        var context = Request("GET", "/p?q=1");
        context.Request.Headers.Host = "[::1]:8080";
        context.Request.Headers.Append("X-Latin1", "caf\u00e9\tau lait");
        context.Request.Headers.Append("Cookie", "a=1; b=\"2\"");
        context.Request.Headers.Append("Accept", "text/html, */*;q=0.8");

        Assert.Equal(RequestRejection.None, RequestValidator.Validate(context, UnderscoreHeaders.Drop, out var target, out var reason));
        Assert.Null(reason);
        Assert.Equal("/p?q=1", target.Target);
    }

    [Theory]
    [InlineData("Content-Length", "+5")]
    [InlineData("Content-Length", "5 ")]
    [InlineData("Content-Length", "0x5")]
    [InlineData("Content-Length", "-1")]
    [InlineData("Content-Length", "")]
    [InlineData("Transfer-Encoding", "identity, chunked")]
    [InlineData("Transfer-Encoding", "gzip, chunked")]
    [InlineData("Transfer-Encoding", "chunked, chunked")]
    [InlineData("Transfer-Encoding", "identity")]
    public void Framing_headers_must_be_exactly_what_HTTP_1_1_allows(string name, string value)
    {
        var context = Request("POST", "/");
        context.Request.Headers[name] = value;
        Assert.Equal(RequestRejection.Malformed, RequestValidator.Validate(context, UnderscoreHeaders.Drop, out _, out var reason));
        Assert.NotNull(reason);
    }

    [Theory]
    [InlineData("Content-Length", "17")]
    [InlineData("Transfer-Encoding", "chunked")]
    [InlineData("Transfer-Encoding", "Chunked")]
    public void Plain_framing_headers_pass(string name, string value)
    {
        var context = Request("POST", "/");
        context.Request.Headers[name] = value;
        Assert.Equal(RequestRejection.None, RequestValidator.Validate(context, UnderscoreHeaders.Drop, out _, out _));
    }

    [Fact]
    public void Underscore_headers_are_dropped_refused_or_kept_as_configured()
    {
        var dropped = Request("GET", "/");
        dropped.Request.Headers["Transfer_Encoding"] = "chunked";
        dropped.Request.Headers["X-Kept"] = "1";
        Assert.Equal(RequestRejection.None, RequestValidator.Validate(dropped, UnderscoreHeaders.Drop, out _, out _));
        Assert.False(dropped.Request.Headers.ContainsKey("Transfer_Encoding"));
        Assert.True(dropped.Request.Headers.ContainsKey("X-Kept"));

        var refused = Request("GET", "/");
        refused.Request.Headers["X_User"] = "a";
        Assert.Equal(RequestRejection.Malformed, RequestValidator.Validate(refused, UnderscoreHeaders.Reject, out _, out var reason));
        Assert.Contains("_", reason, StringComparison.Ordinal);

        var allowed = Request("GET", "/");
        allowed.Request.Headers["X_User"] = "a";
        Assert.Equal(RequestRejection.None, RequestValidator.Validate(allowed, UnderscoreHeaders.Allow, out _, out _));
        Assert.True(allowed.Request.Headers.ContainsKey("X_User"));
    }

    [Theory]
    [InlineData("GE T")]
    [InlineData("GET\r\n")]
    [InlineData("")]
    public void A_method_that_is_not_a_token_is_refused(string method)
    {
        Assert.Equal(RequestRejection.Malformed, RequestValidator.Validate(Request(method, "/"), UnderscoreHeaders.Drop, out _, out _));
    }

    [Fact]
    public void CONNECT_is_not_allowed()
    {
        Assert.Equal(RequestRejection.MethodNotAllowed, RequestValidator.Validate(Request("CONNECT", "x:443"), UnderscoreHeaders.Drop, out _, out _));
    }

    [Theory]
    [InlineData("http://shop.example/a/../b?x", "/b?x")]
    [InlineData("http://shop.example", "/")]
    [InlineData("http://shop.example?x=1", "/?x=1")]
    [InlineData("*", "*")]
    public void Absolute_form_is_reduced_to_its_path_and_query_and_asterisk_form_kept(string raw, string forwarded)
    {
        Assert.Equal(RequestRejection.None, RequestValidator.Validate(Request("OPTIONS", raw), UnderscoreHeaders.Drop, out var target, out _));
        Assert.Equal(forwarded, target.Target);
    }

    private static DefaultHttpContext Request(string method, string rawTarget)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = method;
        context.Features.Get<IHttpRequestFeature>()!.RawTarget = rawTarget;
        return context;
    }
}
