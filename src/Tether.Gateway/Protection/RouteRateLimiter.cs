using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Tether.Configuration;
using Tether.Gateway.Forwarding;

namespace Tether.Gateway.Protection;

/// <summary>routes[].rateLimit: the key of a request (its client or a header) and its bucket.</summary>
internal sealed class RouteRateLimiter
{
    private readonly HashKey _key;
    private readonly KeyedTokenBuckets _buckets;

    public RouteRateLimiter(string route, RateLimitConfig config, TimeProvider time)
    {
        Route = route;
        Config = config;
        HashKey.TryParse(config.Key, out _key);
        _buckets = new KeyedTokenBuckets(config.RequestsPerSecond, config.EffectiveBurst, config.MaxKeys, time);
    }

    /// <summary>The route's label (for a reload that keeps the route and its buckets).</summary>
    public string Route { get; }

    public RateLimitConfig Config { get; }

    internal KeyedTokenBuckets Buckets => _buckets;

    /// <summary>True if the request may go on; otherwise the seconds after which the client should try again (at least 1).
    /// A request without the key (no such header) is not limited, as nginx does not count an empty key.</summary>
    public bool TryAcquire(HttpContext context, out int retryAfterSeconds)
    {
        retryAfterSeconds = 0;
        var key = _key.Source == HashKeySource.Header ? context.Request.Headers[_key.Name].ToString() : ClientIdentity.Address(context);
        if (string.IsNullOrEmpty(key))
        {
            return true;
        }

        using var lease = _buckets.AttemptAcquire(key);
        if (lease.IsAcquired)
        {
            return true;
        }

        retryAfterSeconds = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)) : 1;
        return false;
    }
}
