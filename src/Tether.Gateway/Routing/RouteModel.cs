using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.Gateway.Forwarding;
using Tether.Gateway.Observability;
using Tether.Gateway.Protection;
using Tether.Upstream.Destinations;

namespace Tether.Gateway.Routing;

/// <summary>One route compiled for matching and serving: what it matches, and what it does (a cluster, or an answer
/// of its own), with its body limit, transforms and rate limiter. Part of a <see cref="GatewayModel"/>; swapped whole.</summary>
internal sealed class RouteModel
{
    private readonly string? _host;
    private readonly string? _pathPrefix;
    private readonly string[]? _methods;
    private readonly HeaderCondition[] _headers;

    public RouteModel(RouteConfig config, DownstreamConfig downstream, ClusterState? cluster, RouteStatistics statistics, RouteRateLimiter? rateLimiter)
    {
        var match = config.Match;
        var prefix = match.PathPrefix;
        _pathPrefix = string.IsNullOrEmpty(prefix) || prefix == "/" ? null : prefix.TrimEnd('/');
        _host = string.IsNullOrEmpty(match.Host) || match.Host == "*" ? null : match.Host;
        _methods = match.Methods is null ? null : [.. match.Methods];
        _headers = [.. match.Headers.Select(h => new HeaderCondition(h.Name, h.Values is null ? null : [.. h.Values]))];
        Cluster = cluster;
        Statistics = statistics;
        MaxRequestBodySize = config.MaxRequestBodySize ?? downstream.MaxRequestBodySize;
        AddForwarded = downstream.AddForwarded;
        Transforms = config.Transforms is { IsEmpty: false } transforms ? new RouteTransforms(transforms) : null;
        Answer = config.Redirect is { } redirect ? new RedirectAnswer(redirect)
            : config.Respond is { } respond ? new FixedAnswer(respond)
            : null;
        RateLimiter = rateLimiter;
        Compression = ResponseCompression.Create(config.Compression);
    }

    /// <summary>Null when the route answers itself (<see cref="Answer"/>).</summary>
    public ClusterState? Cluster { get; }

    public RouteStatistics Statistics { get; }

    /// <summary>Bytes of request body allowed; 0 = unlimited.</summary>
    public long MaxRequestBodySize { get; }

    /// <summary>downstream.addForwarded, carried here so the forwarder reads one object.</summary>
    public bool AddForwarded { get; }

    public RouteTransforms? Transforms { get; }

    public RouteAnswer? Answer { get; }

    public RouteRateLimiter? RateLimiter { get; }

    /// <summary>The route's response compression; null when it has none (then the forwarder pays one null check).</summary>
    public ResponseCompression? Compression { get; }

    public bool Matches(string? host, ReadOnlySpan<char> path, HttpRequest? request)
    {
        if (_host is not null && !RouteTable.HostMatches(_host, host))
        {
            return false;
        }

        if (_pathPrefix is not null && !RouteTable.PathMatches(_pathPrefix, path))
        {
            return false;
        }

        if (request is null)
        {
            return _methods is null && _headers.Length == 0;
        }

        if (_methods is not null && !MethodMatches(request.Method))
        {
            return false;
        }

        foreach (var condition in _headers)
        {
            if (!condition.Matches(request.Headers))
            {
                return false;
            }
        }

        return true;
    }

    private bool MethodMatches(string method)
    {
        foreach (var allowed in _methods!)
        {
            if (string.Equals(allowed, method, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>match.headers[]: present, or one of the values (case-insensitive; several lines are one comma-joined value).</summary>
    private sealed class HeaderCondition(string name, string[]? values)
    {
        public bool Matches(IHeaderDictionary headers)
        {
            if (!headers.TryGetValue(name, out var sent) || sent.Count == 0)
            {
                return false;
            }

            if (values is null)
            {
                return true;
            }

            var value = sent.Count == 1 ? sent[0] : sent.ToString();
            foreach (var wanted in values)
            {
                if (string.Equals(wanted, value, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }
    }
}
