namespace Tether.Gateway.Admin;

/// <summary>
/// The live dashboard at the admin address's /: one self-contained page (Admin/dashboard.html, inline CSS and
/// JavaScript, nothing loaded from elsewhere) that polls /status every second and shows connections by state,
/// requests/s and errors/s, per cluster and destination the health, in-flight, pool idle/active, reuse ratio,
/// closes by reason, the idle-age histograms and learned idle timeouts, and the last reload with its errors. Without
/// JavaScript: <see cref="DashboardTable"/> (/?view=table).
/// </summary>
internal static class Dashboard
{
    /// <summary>The page (the same bytes for every request: it holds no figures, it reads them from /status).</summary>
    public static string Page { get; } = Read();

    /// <summary>The answer to GET / without the token: asks for it, or reuses the one this tab already stored.</summary>
    public const string TokenPage = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Tether: token needed</title>
        <style>body{font:14px system-ui,sans-serif;margin:40px;color:#1d2330}input{font:inherit;padding:4px;width:22em}</style></head>
        <body><h1>Tether admin</h1><p>This admin endpoint asks for its token (admin.token).</p>
        <form method="get" action="/"><input name="token" type="password" placeholder="admin.token" autofocus> <button>open the dashboard</button></form>
        <script>
        const t = sessionStorage.getItem("tetherAdminToken");
        const p = new URLSearchParams(location.search);
        if (t && !p.has("token")) { p.set("token", t); location.replace("/?" + p); }
        </script></body></html>
        """;

    private static string Read()
    {
        using var stream = typeof(Dashboard).Assembly.GetManifestResourceStream("Tether.Gateway.Admin.dashboard.html")
            ?? throw new InvalidOperationException("the dashboard page is missing from the assembly");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
