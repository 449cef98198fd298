using Tether.Gateway.Forwarding;
using Tether.Configuration;
using Tether.Gateway.Observability;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Routing;

/// <summary>Routes compiled for matching. First match wins.</summary>
internal sealed class RouteTable
{
    private readonly CompiledRoute[] _routes;

    /// <param name="previous">The table this one replaces: a route with the same match and cluster keeps its figures.</param>
    public RouteTable(IReadOnlyList<RouteConfig> routes, IReadOnlyDictionary<string, ClusterState> clusters, RouteTable? previous = null)
    {
        _routes = new CompiledRoute[routes.Count];
        for (var i = 0; i < routes.Count; i++)
        {
            var r = routes[i];
            var prefix = r.Match.PathPrefix;
            if (string.IsNullOrEmpty(prefix) || prefix == "/")
            {
                prefix = null;
            }
            else
            {
                prefix = prefix.TrimEnd('/');
            }

            var host = string.IsNullOrEmpty(r.Match.Host) || r.Match.Host == "*" ? null : r.Match.Host;
            var label = RouteStatistics.Label(r.Match);
            var statistics = previous?.Statistics.FirstOrDefault(s => s.Route == label && s.Cluster == r.Cluster)
                ?? Statistics.FirstOrDefault(s => s.Route == label && s.Cluster == r.Cluster)
                ?? new RouteStatistics(r.Cluster, label);
            _routes[i] = new CompiledRoute(host, prefix, clusters[r.Cluster], statistics, ResponseCompression.Create(r.Compression));
        }
    }

    /// <summary>Each route's request durations, in route order (two routes that read the same share one).</summary>
    public IEnumerable<RouteStatistics> Statistics => _routes.Where(r => r is not null).Select(r => r.Statistics).Distinct();

    /// <summary>The cluster for a request, or null (404).</summary>
    /// <param name="host">The Host header value (may carry a port).</param>
    /// <param name="path">The decoded path of the target that is forwarded (<see cref="Forwarding.UpstreamTarget.RoutePath"/>).</param>
    public ClusterState? Match(string? host, ReadOnlySpan<char> path) => Match(host, path, out _);

    /// <summary>The cluster for a request, or null (404), and the matched route's figures.</summary>
    public ClusterState? Match(string? host, ReadOnlySpan<char> path, out RouteStatistics? statistics) => Match(host, path, out statistics, out _);

    /// <summary>The cluster for a request, or null (404), the matched route's figures and its response compression
    /// (null when the route has none).</summary>
    public ClusterState? Match(string? host, ReadOnlySpan<char> path, out RouteStatistics? statistics, out ResponseCompression? compression)
    {
        foreach (var route in _routes)
        {
            if (route.Host is not null && !HostMatches(route.Host, host))
            {
                continue;
            }

            if (route.PathPrefix is not null && !PathMatches(route.PathPrefix, path))
            {
                continue;
            }

            statistics = route.Statistics;
            compression = route.Compression;
            return route.Cluster;
        }

        statistics = null;
        compression = null;
        return null;
    }

    internal static bool HostMatches(string pattern, string? hostHeader)
    {
        if (string.IsNullOrEmpty(hostHeader))
        {
            return false;
        }

        var host = StripPort(hostHeader.AsSpan());
        if (pattern.StartsWith("*.", StringComparison.Ordinal))
        {
            var suffix = pattern.AsSpan(1);
            return host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase);
        }

        return host.Equals(pattern, StringComparison.OrdinalIgnoreCase);
    }

    internal static bool PathMatches(string prefix, ReadOnlySpan<char> path)
    {
        if (!path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        // Segment boundary: "/api" matches "/api" and "/api/x", not "/apix".
        return path.Length == prefix.Length || path[prefix.Length] == '/';
    }

    private static ReadOnlySpan<char> StripPort(ReadOnlySpan<char> host)
    {
        if (host.Length > 0 && host[0] == '[')
        {
            var close = host.IndexOf(']');
            return close > 0 ? host[1..close] : host;
        }

        var colon = host.LastIndexOf(':');
        return colon >= 0 ? host[..colon] : host;
    }

    private sealed record CompiledRoute(string? Host, string? PathPrefix, ClusterState Cluster, RouteStatistics Statistics, ResponseCompression? Compression);
}
