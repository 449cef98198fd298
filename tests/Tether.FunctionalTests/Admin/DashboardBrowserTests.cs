using System.Collections.Concurrent;
using Microsoft.Playwright;
using Tether.Configuration;
using Tether.FunctionalTests.Infrastructure;
using Tether.Upstream.LoadBalancing;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Admin;

/// <summary>
/// The live dashboard in a real browser: Playwright (its bundled driver) drives Debian's chromium (never a browser
/// Playwright downloads). The page takes admin.token from its address, polls /status, and a destination's counters
/// change on screen while requests flow. The screenshot goes to the test output folder (playwright/dashboard.png).
/// </summary>
public sealed class DashboardBrowserTests(ITestOutputHelper output)
{
    private const string Token = "dashboard-token-0123456789";

    [Fact]
    public async Task The_dashboard_shows_a_destinations_counters_changing_while_requests_flow()
    {
        await using var first = RawOrigin.Ok();
        await using var second = RawOrigin.Ok();
        var config = TestGateway.ConfigFor(first.Address, second.Address);
        config = config with
        {
            Admin = config.Admin with { Token = Token },
            Clusters = new Dictionary<string, ClusterConfig> { [TestGateway.Cluster] = config.Clusters[TestGateway.Cluster] with { LoadBalancing = LoadBalancingPolicyNames.RoundRobin } },
        };
        await using var gateway = await TestGateway.StartAsync(config, output: output);
        var admin = gateway.AdminUrl.ToString().TrimEnd('/');

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium(),
            Headless = true,
            ChromiumSandbox = false, // as root (CI) chromium runs only with --no-sandbox
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1600, Height = 900 } });
        var requested = new ConcurrentQueue<string>();
        page.Request += (_, request) => requested.Enqueue(request.Url);
        await page.GotoAsync($"{admin}/?token={Token}");

        // The token left the address bar for this tab's sessionStorage; /status answered the page with it.
        Assert.Equal($"{admin}/", page.Url);
        Assert.Equal(Token, await page.EvaluateAsync<string>("() => sessionStorage.getItem('tetherAdminToken')"));
        var requests = page.Locator($"tr[data-destination=\"{first.Address}\"] td.requests");
        await requests.WaitForAsync(new LocatorWaitForOptions { Timeout = 10_000 });
        var before = long.Parse(await requests.InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var load = Task.Run(async () =>
        {
            await using var client = await gateway.ConnectAsync();
            for (var i = 0; i < 2_000 && !stop.IsCancellationRequested; i++)
            {
                Assert.Equal(200, (await client.GetAsync("/" + i)).Status);
                await Task.Delay(5);
            }
        });

        // Wait for the page to show it (the event), not for a time: more requests, a reuse ratio, a rate above 0.
        await page.WaitForFunctionAsync(
            """
            ([address, before]) => {
              const row = document.querySelector(`tr[data-destination="${address}"]`);
              if (!row) return false;
              const n = s => Number(s.replaceAll(",", ""));
              return n(row.querySelector("td.requests").textContent) > before + 20
                && row.querySelector("td.reuse-ratio").textContent.endsWith("%")
                && n(row.querySelector("td.rps").textContent) > 0
                && n(document.getElementById("rps").textContent) > 0;
            }
            """,
            new object[] { first.Address, before },
            new PageWaitForFunctionOptions { Timeout = 15_000 });
        var after = long.Parse((await requests.InnerTextAsync()).Replace(",", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(after > before, $"requests shown went from {before} to {after}");
        Assert.Equal("healthy", await page.Locator($"tr[data-destination=\"{second.Address}\"] .badge").InnerTextAsync());

        var folder = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "playwright")).FullName;
        var screenshot = Path.Combine(folder, "dashboard.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine($"screenshot: {screenshot}");
        Assert.True(new FileInfo(screenshot).Length > 10_000);

        await stop.CancelAsync();
        await load;
        Assert.All(requested, url => Assert.StartsWith(admin + "/", url, StringComparison.Ordinal)); // nothing fetched from elsewhere
    }

    private static string Chromium()
    {
        foreach (var path in new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" })
        {
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new InvalidOperationException("Debian's chromium is not installed: apt-get install chromium (.ci/run installs it)");
    }
}
