using Tether.Configuration;
using Tether.Upstream.Pooling;

namespace Tether.Gateway.Observability;

/// <summary>
/// The request durations of one route (OpenTelemetry http.server.request.duration semantics: from the request's
/// start in Tether to its end, by method and status class), in one histogram per method and class, made on the
/// first request that needs it. A reload that keeps a route keeps its figures.
/// </summary>
internal sealed class RouteStatistics(string cluster, string route)
{
    /// <summary>OpenTelemetry's known methods; any other is "_OTHER", so a client cannot make new series.</summary>
    public static readonly IReadOnlyList<string> Methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "_OTHER"];

    public static readonly IReadOnlyList<string> StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"];

    private readonly DurationHistogram?[] _series = new DurationHistogram?[Methods.Count * StatusClasses.Count];

    /// <summary>The cluster's name, or "" for requests no route matched (404) or refused before routing.</summary>
    public string Cluster { get; } = cluster;

    /// <summary>The route as its match reads: "host/pathPrefix", "/pathPrefix" without a host; "" for none.</summary>
    public string Route { get; } = route;

    public static string Label(RouteMatchConfig match)
    {
        var prefix = string.IsNullOrEmpty(match.PathPrefix) ? "/" : match.PathPrefix;
        return string.IsNullOrEmpty(match.Host) || match.Host == "*" ? prefix : match.Host + prefix;
    }

    public static int MethodIndex(string method) => method.Length switch
    {
        3 when method == "GET" => 0,
        3 when method == "PUT" => 3,
        4 when method == "HEAD" => 1,
        4 when method == "POST" => 2,
        5 when method == "PATCH" => 6,
        5 when method == "TRACE" => 8,
        6 when method == "DELETE" => 4,
        7 when method == "OPTIONS" => 5,
        7 when method == "CONNECT" => 7,
        _ => 9,
    };

    public static int StatusClassIndex(int status) => Math.Clamp((status / 100) - 1, 0, 4);

    public void Record(int method, int statusClass, TimeSpan elapsed)
    {
        var index = (method * StatusClasses.Count) + statusClass;
        var histogram = Volatile.Read(ref _series[index]) ?? Create(index);
        histogram.Record(elapsed);
    }

    /// <summary>The series recorded so far: method, status class, histogram.</summary>
    public IEnumerable<(string Method, string StatusClass, DurationHistogram Histogram)> Series()
    {
        for (var i = 0; i < _series.Length; i++)
        {
            if (Volatile.Read(ref _series[i]) is { } histogram)
            {
                yield return (Methods[i / StatusClasses.Count], StatusClasses[i % StatusClasses.Count], histogram);
            }
        }
    }

    private DurationHistogram Create(int index)
    {
        var created = new DurationHistogram(DurationHistogram.LatencyBoundsSeconds);
        return Interlocked.CompareExchange(ref _series[index], created, null) ?? created;
    }
}
