using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Admin;

/// <summary>The admin's / (live dashboard and table view), admin.token, the warning for an open admin, and /status's JSON text.</summary>
public sealed partial class AdminDashboardTests(ITestOutputHelper output)
{
    private const string Token = "s3cret-token-0123456789";

    [Fact]
    public async Task The_dashboard_is_one_self_contained_page_and_the_table_view_shows_the_figures_without_javascript()
    {
        await using var origin = RawOrigin.Ok();
        await using var gateway = await TestGateway.StartAsync(origin.Address, output: output);
        await using (var client = await gateway.ConnectAsync())
        {
            Assert.Equal(200, (await client.GetAsync()).Status);
            Assert.Equal(200, (await client.GetAsync()).Status);
        }

        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
        using var page = await http.GetAsync("/");
        var html = await page.Content.ReadAsStringAsync();
        Assert.Equal("text/html", page.Content.Headers.ContentType!.MediaType);
        Assert.Contains("<style>", html, StringComparison.Ordinal);
        Assert.Contains("fetch(\"/status\"", html, StringComparison.Ordinal);
        Assert.Contains("<noscript>", html, StringComparison.Ordinal);
        Assert.Empty(ExternalReference().Matches(html)); // nothing loaded from elsewhere: no CDN, no remote font

        var table = await http.GetStringAsync("/?view=table");
        Assert.DoesNotContain("<script", table, StringComparison.Ordinal);
        Assert.Contains("<meta http-equiv=\"refresh\"", table, StringComparison.Ordinal);
        var row = Regex.Match(table, $"<tr data-destination=\"{Regex.Escape(origin.Address)}\">(.*?)</tr>");
        Assert.True(row.Success, table);
        var cells = Regex.Matches(row.Groups[1].Value, "<td>(.*?)</td>").Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(["healthy", "0", "2", "0", "1", "0", "0", "1", "1", "50.0 %"], cells.Skip(1).Take(10));
    }

    [Fact]
    public async Task With_admin_token_every_path_but_healthz_and_readyz_asks_for_the_bearer_token()
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address);
        await using var gateway = await TestGateway.StartAsync(config with { Admin = config.Admin with { Token = Token } }, output: output);
        using var http = new HttpClient { BaseAddress = gateway.AdminUrl };

        foreach (var path in new[] { "/status", "/metrics", "/", "/?view=table", "/status?token=" + Token })
        {
            using var refused = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("Bearer", refused.Headers.WwwAuthenticate.Single().Scheme);
        }

        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "/status") { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong)).StatusCode);
        }

        using (var drain = await http.PostAsync("/drain", null))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, drain.StatusCode);
        }

        Assert.True(gateway.Gateway.IsReady, "an unauthorized POST /drain drained");
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);

        // The dashboard takes the token once in its address (a browser cannot send a header when it opens a page).
        Assert.Contains("fetch(\"/status\"", await http.GetStringAsync("/?token=" + Token), StringComparison.Ordinal);
        Assert.Contains("<table>", await http.GetStringAsync("/?view=table&token=" + Token), StringComparison.Ordinal);
        Assert.Contains("name=\"token\"", await (await http.GetAsync("/")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/status")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/metrics")).StatusCode);
    }

    [Theory]
    [InlineData("0.0.0.0:0", null, true)]
    [InlineData("0.0.0.0:0", Token, false)]
    [InlineData("127.0.0.1:0", null, false)]
    public async Task An_admin_on_a_non_loopback_address_without_a_token_is_warned_about_at_start(string address, string? token, bool warned)
    {
        await using var origin = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(origin.Address);
        await using var gateway = await TestGateway.StartAsync(config with { Admin = new AdminConfig { Address = address, Token = token } }, output: output);
        var warnings = gateway.Logs.Named("AdminUnprotected");
        Assert.Equal(warned ? 1 : 0, warnings.Count);
        if (warned)
        {
            Assert.Contains("set admin.token", warnings[0].Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Status_json_writes_plus_inf_and_quotes_in_errors_as_plain_characters()
    {
        var folder = Directory.CreateTempSubdirectory("tether-admin-").FullName;
        try
        {
            await using var origin = RawOrigin.Ok();
            var file = Path.Combine(folder, "tether.json");
            File.WriteAllText(file, """{ "accessLog": { "format": "common" } }""");
            await using var gateway = await TestGateway.StartAsync(
                TestGateway.ConfigFor(origin.Address), output: output, options: o => o with { ConfigPath = file, WatchConfigFile = false });
            using var http = new HttpClient { BaseAddress = gateway.AdminUrl };
            Assert.Equal(HttpStatusCode.UnprocessableEntity, (await http.PostAsync("/reload", null)).StatusCode);

            var text = await http.GetStringAsync("/status");
            output.WriteLine(text);
            Assert.DoesNotContain("\\u00", text, StringComparison.Ordinal);
            Assert.Contains("\"+Inf\": ", text, StringComparison.Ordinal);
            Assert.Contains("expected \\\"combined\\\" or \\\"json\\\"", text, StringComparison.Ordinal);
            using var status = JsonDocument.Parse(text);
            var error = status.RootElement.GetProperty("lastReload").GetProperty("errors")[0].GetString();
            Assert.Contains("expected \"combined\" or \"json\"", error, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [GeneratedRegex("""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import|url\(\s*["']?(?:https?:)?//""", RegexOptions.IgnoreCase)]
    private static partial Regex ExternalReference();
}
