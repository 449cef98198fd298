using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Tether.Server;

/// <summary>
/// The keep-alive timeout in force and the Keep-Alive header that announces it, decided once at start: the
/// configured one; else the front proxy's idle timeout (given, or read from a Tether admin endpoint's /status) plus
/// the margin, rounded up to whole seconds; else Kestrel's default.
/// </summary>
internal sealed partial class KeepAlivePlan
{
    /// <summary>Kestrel's own default (KestrelServerLimits.KeepAliveTimeout).</summary>
    public static readonly TimeSpan KestrelDefault = TimeSpan.FromSeconds(130);

    // "timeout=N, max=M" per remaining count M, made on first use; bounded (above it, formatted per response).
    private const int MaxCachedHeaders = 10_000;
    private readonly string?[] _headers;
    private readonly string _timeoutOnly;

    public KeepAlivePlan(IOptions<TetherKeepAliveOptions> options, ILogger<KeepAlivePlan> logger)
        : this(options.Value, logger)
    {
    }

    internal KeepAlivePlan(TetherKeepAliveOptions options, ILogger logger)
    {
        Options = options;
        var front = options.FrontProxyIdleTimeout;
        var source = "FrontProxyIdleTimeout";
        if (front is null && options.KeepAliveTimeout is null && options.TetherAdminUrl is { } admin)
        {
            front = ReadFromAdmin(admin, options, logger);
            source = $"{admin} cluster {options.TetherCluster ?? "(largest of all)"}";
        }

        if (options.KeepAliveTimeout is { } configured)
        {
            KeepAliveTimeout = configured;
        }
        else if (front is { } f)
        {
            KeepAliveTimeout = TimeSpan.FromSeconds(Math.Ceiling((f + options.Margin).TotalSeconds + (options.Margin == TimeSpan.Zero ? 1 : 0)));
            Log.Derived(logger, KeepAliveTimeout.TotalSeconds, f.TotalSeconds, source);
        }
        else
        {
            KeepAliveTimeout = KestrelDefault;
        }

        FrontProxyIdleTimeout = front;
        Seconds = (int)Math.Max(1, Math.Floor(KeepAliveTimeout.TotalSeconds));
        _timeoutOnly = $"timeout={Seconds}";
        _headers = new string?[Math.Min(options.MaxRequestsPerConnection, MaxCachedHeaders) + 1];
    }

    public TetherKeepAliveOptions Options { get; }

    public TimeSpan KeepAliveTimeout { get; }

    /// <summary>The front proxy's idle timeout, if known.</summary>
    public TimeSpan? FrontProxyIdleTimeout { get; }

    /// <summary>What Keep-Alive: timeout= says: whole seconds, rounded down (a client gives up no later than asked).</summary>
    public int Seconds { get; }

    /// <summary>The Keep-Alive value for a response after which the connection takes <paramref name="remaining"/> more requests.</summary>
    public string HeaderValue(int remaining)
    {
        if (Options.MaxRequestsPerConnection == 0)
        {
            return _timeoutOnly;
        }

        if (remaining < _headers.Length)
        {
            return _headers[remaining] ??= $"timeout={Seconds}, max={remaining.ToString(CultureInfo.InvariantCulture)}";
        }

        return $"timeout={Seconds}, max={remaining.ToString(CultureInfo.InvariantCulture)}";
    }

    // GET {admin}/status: clusters.<name>.idleTimeoutSeconds, Tether's pool.idleTimeout for that cluster.
    private static TimeSpan? ReadFromAdmin(Uri admin, TetherKeepAliveOptions options, ILogger logger)
    {
        var url = new Uri(admin, "/status");
        try
        {
            using var http = new HttpClient { Timeout = options.TetherAdminTimeout };
            var json = http.GetStringAsync(url).GetAwaiter().GetResult();
            using var document = JsonDocument.Parse(json);
            if (!document.RootElement.TryGetProperty("clusters", out var clusters) || clusters.ValueKind != JsonValueKind.Object)
            {
                Log.AdminUnusable(logger, url.ToString(), "no \"clusters\" object in /status");
                return null;
            }

            double? largest = null;
            foreach (var cluster in clusters.EnumerateObject())
            {
                if (options.TetherCluster is { } wanted && !string.Equals(cluster.Name, wanted, StringComparison.Ordinal))
                {
                    continue;
                }

                if (cluster.Value.TryGetProperty("idleTimeoutSeconds", out var seconds) && seconds.TryGetDouble(out var s) && s > 0)
                {
                    largest = Math.Max(largest ?? 0, s);
                }
            }

            if (largest is null)
            {
                Log.AdminUnusable(logger, url.ToString(), options.TetherCluster is { } name
                    ? $"no cluster \"{name}\" with idleTimeoutSeconds (set TetherCluster to one of: {string.Join(", ", clusters.EnumerateObject().Select(c => c.Name))})"
                    : "no cluster with idleTimeoutSeconds (a Tether older than this package?)");
                return null;
            }

            return TimeSpan.FromSeconds(largest.Value);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException)
        {
            Log.AdminUnusable(logger, url.ToString(), ex.Message);
            return null;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 8001, EventName = "KeepAliveDerived", Level = LogLevel.Information,
            Message = "keep-alive timeout {Seconds} s: above the front proxy's idle timeout of {FrontSeconds} s (from {Source})")]
        public static partial void Derived(ILogger logger, double seconds, double frontSeconds, string source);

        [LoggerMessage(EventId = 8002, EventName = "TetherAdminUnusable", Level = LogLevel.Warning,
            Message = "could not learn the front proxy's idle timeout from {Url}: {Reason}; keeping Kestrel's default of 130 s (set FrontProxyIdleTimeout or KeepAliveTimeout to be sure)")]
        public static partial void AdminUnusable(ILogger logger, string url, string reason);
    }
}
