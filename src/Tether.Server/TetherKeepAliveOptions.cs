namespace Tether.Server;

/// <summary>The keep-alive rules <c>UseTetherKeepAlive</c> applies to Kestrel. Every duration is whole seconds on the wire.</summary>
public sealed class TetherKeepAliveOptions
{
    /// <summary>How long Kestrel keeps an idle connection open (Kestrel Limits.KeepAliveTimeout, Node's
    /// server.keepAliveTimeout, nginx keepalive_timeout). Null = the front proxy's idle timeout plus
    /// <see cref="Margin"/> when that is known, else Kestrel's default of 130 s.</summary>
    public TimeSpan? KeepAliveTimeout { get; set; }

    /// <summary>How long the proxy in front keeps an idle connection to this backend (Tether's pool.idleTimeout,
    /// nginx upstream keepalive_timeout, HAProxy timeout server / http-keep-alive). The backend must wait longer, or
    /// the proxy reuses connections the backend is closing (random 502s).</summary>
    public TimeSpan? FrontProxyIdleTimeout { get; set; }

    /// <summary>A Tether admin endpoint ("http://10.0.0.2:9901"): at start its /status is read and the front proxy's idle
    /// timeout is the <c>idleTimeoutSeconds</c> of <see cref="TetherCluster"/> (or the largest of all clusters).
    /// Used when <see cref="FrontProxyIdleTimeout"/> is not given.</summary>
    public Uri? TetherAdminUrl { get; set; }

    /// <summary>The Tether cluster this backend belongs to; null = the largest idle timeout of every cluster.</summary>
    public string? TetherCluster { get; set; }

    /// <summary>How long to wait for the admin endpoint at start before falling back to Kestrel's default. Default 5 s.</summary>
    public TimeSpan TetherAdminTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How much longer than the front proxy the backend keeps idle connections. Default 5 s.</summary>
    public TimeSpan Margin { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Send <c>Keep-Alive: timeout=N</c> (and <c>max=M</c> when <see cref="MaxRequestsPerConnection"/> is set) on
    /// HTTP/1.1 responses, so clients that read it (Tether, Apache's and Python's clients) give up first. Default true.</summary>
    public bool AdvertiseKeepAlive { get; set; } = true;

    /// <summary>Requests one HTTP/1.1 connection carries; the response to the last says <c>Connection: close</c> and Kestrel
    /// closes the connection after it (nginx keepalive_requests; HAProxy has none for clients). 0 = unlimited. Default 1000.</summary>
    public int MaxRequestsPerConnection { get; set; } = 1000;

    /// <summary>After SIGTERM (ApplicationStopping), how long the server keeps answering before Kestrel stops, every
    /// response saying <c>Connection: close</c>, so the proxy in front moves its connections away instead of meeting a
    /// closed port. Default 0 (Kestrel stops at once; in-flight requests still finish).</summary>
    public TimeSpan DrainDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long Kestrel's stop may wait for in-flight requests after the drain delay (HostOptions.ShutdownTimeout is
    /// set to the drain delay plus this). Default 30 s.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Every invalid option, each naming the option and the fix; empty when all are valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (KeepAliveTimeout is { } k && k < TimeSpan.FromSeconds(1))
        {
            errors.Add($"{nameof(KeepAliveTimeout)}: must be at least 1 s, or null to derive it (got {k})");
        }

        if (FrontProxyIdleTimeout is { } f && f <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(FrontProxyIdleTimeout)}: must be above zero, or null (got {f})");
        }

        if (KeepAliveTimeout is { } keep && FrontProxyIdleTimeout is { } front && keep <= front)
        {
            errors.Add($"{nameof(KeepAliveTimeout)}: {keep.TotalSeconds:0.###} s is not above {nameof(FrontProxyIdleTimeout)} {front.TotalSeconds:0.###} s; the proxy would reuse connections the backend is closing (raise it, or leave it null)");
        }

        if (TetherAdminUrl is { } url && (!url.IsAbsoluteUri || url.Scheme is not ("http" or "https")))
        {
            errors.Add($"{nameof(TetherAdminUrl)}: must be an absolute http:// or https:// URL such as http://127.0.0.1:9901 (got {url})");
        }

        if (Margin < TimeSpan.Zero)
        {
            errors.Add($"{nameof(Margin)}: must be 0 or more (got {Margin})");
        }

        if (TetherAdminTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{nameof(TetherAdminTimeout)}: must be above zero (got {TetherAdminTimeout})");
        }

        if (MaxRequestsPerConnection < 0)
        {
            errors.Add($"{nameof(MaxRequestsPerConnection)}: must be 0 (unlimited) or more (got {MaxRequestsPerConnection})");
        }

        if (DrainDelay < TimeSpan.Zero || DrainTimeout < TimeSpan.Zero)
        {
            errors.Add($"{nameof(DrainDelay)} and {nameof(DrainTimeout)}: must be 0 or more (got {DrainDelay}, {DrainTimeout})");
        }

        return errors;
    }
}
