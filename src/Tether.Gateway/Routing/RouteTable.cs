using Microsoft.AspNetCore.Http;
using Tether.Gateway.Forwarding;
using Tether.Configuration;
using Tether.Gateway.Observability;
using Tether.Gateway.Protection;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Routing;

/// <summary>Routes compiled for matching. First match wins.</summary>
internal sealed class RouteTable
{
    private readonly RouteModel[] _routes;

    /// <param name="previous">The table this one replaces: a route with the same match and cluster keeps its figures,
    /// and one with the same match and rate limit keeps its buckets.</param>
    public RouteTable(
        IReadOnlyList<RouteConfig> routes, IReadOnlyDictionary<string, ClusterState> clusters, RouteTable? previous = null,
        DownstreamConfig? downstream = null, TimeProvider? timeProvider = null)
    {
        downstream ??= new DownstreamConfig();
        _routes = new RouteModel[routes.Count];
        for (var i = 0; i < routes.Count; i++)
        {
            var r = routes[i];
            var label = RouteStatistics.Label(r.Match);
            var statistics = previous?.Statistics.FirstOrDefault(s => s.Route == label && s.Cluster == r.Cluster)
                ?? Statistics.FirstOrDefault(s => s.Route == label && s.Cluster == r.Cluster)
                ?? new RouteStatistics(r.Cluster, label);
            RouteRateLimiter? limiter = null;
            if (r.RateLimit is { } rateLimit)
            {
                limiter = previous?.FindLimiter(label, rateLimit) ?? new RouteRateLimiter(label, rateLimit, timeProvider ?? TimeProvider.System);
            }

            var cluster = r.Redirect is null && r.Respond is null ? clusters[r.Cluster] : null;
            _routes[i] = new RouteModel(r, downstream, cluster, statistics, limiter);
        }
    }

    /// <summary>Each route's request durations, in route order (two routes that read the same share one).</summary>
    public IEnumerable<RouteStatistics> Statistics => _routes.Where(r => r is not null).Select(r => r.Statistics).Distinct();

    /// <summary>The cluster for a request by host and path alone, or null (404, or a route that answers itself).</summary>
    /// <param name="host">The Host header value (may carry a port).</param>
    /// <param name="path">The decoded path of the target that is forwarded (<see cref="Forwarding.UpstreamTarget.RoutePath"/>).</param>
    public ClusterState? Match(string? host, ReadOnlySpan<char> path) => Find(host, path, request: null)?.Cluster;

    /// <summary>The first route that matches the request, or null (404).</summary>
    /// <param name="request">Its method and headers, for routes that match on them; null matches only routes that do not.</param>
    public RouteModel? Find(string? host, ReadOnlySpan<char> path, HttpRequest? request)
    {
        foreach (var route in _routes)
        {
            if (route.Matches(host, path, request))
            {
                return route;
            }
        }

        return null;
    }

    private RouteRateLimiter? FindLimiter(string label, RateLimitConfig config)
    {
        foreach (var route in _routes)
        {
            if (route.RateLimiter is { } limiter && limiter.Route == label && limiter.Config == config)
            {
                return limiter;
            }
        }

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
}
