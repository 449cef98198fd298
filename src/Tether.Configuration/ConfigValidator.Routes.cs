using Tether.Configuration.Binding;

namespace Tether.Configuration;

/// <summary>Checks of routes: match, the one thing a route does (cluster, redirect or respond), body size,
/// transforms and rate limits.</summary>
public static partial class ConfigValidator
{
    // Hop-by-hop and framing headers are Tether's to write (RFC 9110 §7.6.1, RFC 9112 §6), and so are the forwarding
    // headers (downstream.trustedProxies, addForwarded): a transform cannot touch them.
    private static readonly string[] _reservedRequestHeaders =
    [
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length", "Expect",
        "HTTP2-Settings", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "Forwarded",
    ];

    private static readonly string[] _reservedResponseHeaders =
    [
        "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Content-Length",
    ];

    private static readonly string[] _standardMethods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"];

    private static void ValidateRoutes(IReadOnlyList<RouteConfig> routes, IReadOnlyDictionary<string, ClusterConfig> clusters, List<ConfigError> errors)
    {
        for (var i = 0; i < routes.Count; i++)
        {
            var route = routes[i];
            var path = ConfigText.Index("routes", i);
            ValidateMatch(route.Match, path + ".match", errors);
            var answers = (route.Redirect is null ? 0 : 1) + (route.Respond is null ? 0 : 1);
            if (answers > 1 || (answers == 1 && !string.IsNullOrEmpty(route.Cluster)))
            {
                errors.Add(new ConfigError(path, null,
                    "a route does exactly one thing: keep one of \"cluster\" (proxy), \"redirect\" or \"respond\" and remove the others"));
            }
            else if (answers == 0)
            {
                ValidateClusterReference(route.Cluster, path + ".cluster", clusters, errors);
            }

            if (route.MaxRequestBodySize is < 0)
            {
                errors.Add(new ConfigError(path + ".maxRequestBodySize", route.MaxRequestBodySize.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    "cannot be negative; use a size such as \"10m\", or 0 for unlimited"));
            }

            ValidateCompression(path + ".compression", route.Compression, errors);
            if (route.Transforms is { } transforms)
            {
                if (answers > 0)
                {
                    errors.Add(new ConfigError(path + ".transforms", null,
                        "transforms change what goes to a backend and back; a route that answers itself has none, so remove \"transforms\""));
                }

                ValidateTransforms(transforms, path + ".transforms", errors);
            }

            if (route.Redirect is { } redirect)
            {
                ValidateRedirect(redirect, path + ".redirect", errors);
            }

            if (route.Respond is { } respond)
            {
                ValidateRespond(respond, path + ".respond", errors);
            }

            if (route.RateLimit is { } rateLimit)
            {
                ValidateRateLimit(rateLimit, path + ".rateLimit", errors);
            }
        }
    }

    private static void ValidateClusterReference(string cluster, string path, IReadOnlyDictionary<string, ClusterConfig> clusters, List<ConfigError> errors)
    {
        if (string.IsNullOrWhiteSpace(cluster))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(cluster),
                $"every route names the cluster it sends to, or answers itself; add \"cluster\": \"{FirstOr(clusters, "api")}\", or a \"redirect\" or \"respond\""));
        }
        else if (!clusters.ContainsKey(cluster))
        {
            var defined = clusters.Count == 0
                ? "no clusters are defined; add one under \"clusters\""
                : "the defined clusters are " + string.Join(", ", clusters.Keys.Select(ConfigText.Quote));
            errors.Add(new ConfigError(path, ConfigText.Quote(cluster), $"there is no cluster named \"{cluster}\"; {defined}"));
        }
    }

    private static void ValidateMatch(RouteMatchConfig match, string path, List<ConfigError> errors)
    {
        if (match.PathPrefix is { } prefix && !prefix.StartsWith('/'))
        {
            errors.Add(new ConfigError(path + ".pathPrefix", ConfigText.Quote(prefix), $"a path prefix starts with \"/\"; write \"/{prefix.TrimStart('/')}\""));
        }

        if (match.Host is { } host && (host.Length == 0 || host.Contains('/', StringComparison.Ordinal) || host.Contains(' ', StringComparison.Ordinal)))
        {
            errors.Add(new ConfigError(path + ".host", ConfigText.Quote(host),
                "write a host name such as \"api.example.com\" or \"*.example.com\", or remove \"host\" to match any host"));
        }

        if (match.Methods is { } methods)
        {
            if (methods.Count == 0)
            {
                errors.Add(new ConfigError(path + ".methods", "[]", "list the methods the route takes, such as [\"GET\", \"HEAD\"], or remove \"methods\" to match any"));
            }

            for (var i = 0; i < methods.Count; i++)
            {
                var method = methods[i];
                var upper = method.ToUpperInvariant();
                if (!HttpSyntax.IsToken(method))
                {
                    errors.Add(new ConfigError(ConfigText.Index(path + ".methods", i), ConfigText.Quote(method), "a method is a token such as \"GET\" or \"POST\""));
                }
                else if (upper != method && _standardMethods.Contains(upper, StringComparer.Ordinal))
                {
                    errors.Add(new ConfigError(ConfigText.Index(path + ".methods", i), ConfigText.Quote(method), $"methods are case-sensitive; write \"{upper}\""));
                }
            }
        }

        for (var i = 0; i < match.Headers.Count; i++)
        {
            var header = match.Headers[i];
            var headerPath = ConfigText.Index(path + ".headers", i);
            if (!HttpSyntax.IsToken(header.Name))
            {
                errors.Add(new ConfigError(headerPath + ".name", ConfigText.Quote(header.Name), "write the header's name, such as \"X-Canary\""));
            }

            if (header.Values is { Count: 0 })
            {
                errors.Add(new ConfigError(headerPath + ".values", "[]", "list the values that match, such as [\"1\"], or remove \"values\" to match any request that has the header"));
            }
        }
    }

    private static void ValidateTransforms(TransformsConfig transforms, string path, List<ConfigError> errors)
    {
        if (transforms.PathRemovePrefix is { } prefix && (!prefix.StartsWith('/') || prefix == "/" || !IsPlainPath(prefix)))
        {
            errors.Add(new ConfigError(path + ".pathRemovePrefix", ConfigText.Quote(prefix),
                "write the prefix to take off the path, starting with \"/\", such as \"/api\" (no space, '?' or '#')"));
        }

        if (transforms.PathSet is { } set)
        {
            if (!set.StartsWith('/') || !IsPlainPath(set))
            {
                errors.Add(new ConfigError(path + ".pathSet", ConfigText.Quote(set), "write the path the backend gets, starting with \"/\", such as \"/v2/status\" (no space, '?' or '#')"));
            }

            if (transforms.PathRemovePrefix is not null)
            {
                errors.Add(new ConfigError(path + ".pathSet", ConfigText.Quote(set), "pathSet replaces the whole path; remove \"pathRemovePrefix\" or \"pathSet\""));
            }
        }

        var request = transforms.RequestHeaders;
        ValidateHeaderValues(request.Set, path + ".requestHeaders.set", _reservedRequestHeaders, allowHost: true, errors);
        ValidateHeaderValues(request.Append, path + ".requestHeaders.append", _reservedRequestHeaders, allowHost: false, errors);
        ValidateHeaderNames(request.Remove, path + ".requestHeaders.remove", _reservedRequestHeaders, allowHost: false, errors);
        var response = transforms.ResponseHeaders;
        ValidateHeaderValues(response.Set, path + ".responseHeaders.set", _reservedResponseHeaders, allowHost: true, errors);
        ValidateHeaderNames(response.Remove, path + ".responseHeaders.remove", _reservedResponseHeaders, allowHost: true, errors);
    }

    private static bool IsPlainPath(string path)
    {
        foreach (var c in path)
        {
            if (c <= ' ' || c >= 127 || c is '?' or '#')
            {
                return false;
            }
        }

        return true;
    }

    private static void ValidateHeaderValues(IReadOnlyList<HeaderValueConfig> headers, string path, string[] reserved, bool allowHost, List<ConfigError> errors)
    {
        foreach (var (name, value) in headers)
        {
            var headerPath = ConfigText.Child(path, name);
            if (!ValidateHeaderName(name, headerPath, reserved, allowHost, errors))
            {
                continue;
            }

            if (!HttpSyntax.IsFieldValue(value))
            {
                errors.Add(new ConfigError(headerPath, ConfigText.Quote(value), "a header value holds visible ASCII, spaces and tabs only (no line break or control character)"));
            }
            else if (!HeaderTemplate.TryParse(value, out _, out var problem))
            {
                errors.Add(new ConfigError(headerPath, ConfigText.Quote(value), problem!));
            }
        }
    }

    private static void ValidateHeaderNames(IReadOnlyList<string> names, string path, string[] reserved, bool allowHost, List<ConfigError> errors)
    {
        for (var i = 0; i < names.Count; i++)
        {
            ValidateHeaderName(names[i], ConfigText.Index(path, i), reserved, allowHost, errors);
        }
    }

    private static bool ValidateHeaderName(string name, string path, string[] reserved, bool allowHost, List<ConfigError> errors)
    {
        if (!HttpSyntax.IsToken(name))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(name), "a header name is a token such as \"X-Request-Id\" (no space, ':' or other separator)"));
            return false;
        }

        if (reserved.Contains(name, StringComparer.OrdinalIgnoreCase))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(name),
                $"{name} is written by Tether itself (framing, hop-by-hop or forwarding header) and cannot be changed by a transform; remove it"));
            return false;
        }

        if (!allowHost && name.Equals("Host", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(new ConfigError(path, ConfigText.Quote(name), "a request needs exactly one Host; use requestHeaders.set to replace it"));
            return false;
        }

        return true;
    }

    private static void ValidateRedirect(RedirectConfig redirect, string path, List<ConfigError> errors)
    {
        if (redirect.Code is not (301 or 302 or 307 or 308))
        {
            errors.Add(new ConfigError(path + ".code", Number(redirect.Code), "use 301 or 308 (permanent), 302 or 307 (temporary; 307 and 308 keep the method and body)"));
        }

        if (redirect.Url is { } url)
        {
            if (redirect.Scheme is not null || redirect.Host is not null || redirect.Path is not null)
            {
                errors.Add(new ConfigError(path + ".url", ConfigText.Quote(url), "give either \"url\" or the parts \"scheme\", \"host\", \"path\", not both"));
            }

            var absolute = Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && uri.Host.Length > 0;
            if (!HttpSyntax.IsFieldValue(url) || url.Contains(' ', StringComparison.Ordinal) || !(absolute || (url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal))))
            {
                errors.Add(new ConfigError(path + ".url", ConfigText.Quote(url), "write an absolute http(s) URL such as \"https://example.com/new\", or a path such as \"/new\""));
            }

            return;
        }

        if (redirect.Scheme is null && redirect.Host is null && redirect.Path is null)
        {
            errors.Add(new ConfigError(path, null, "say where to: \"url\", or at least one of \"scheme\", \"host\", \"path\" (such as \"scheme\": \"https\")"));
        }

        if (redirect.Scheme is { } scheme && !scheme.Equals("http", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("https", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add(new ConfigError(path + ".scheme", ConfigText.Quote(scheme), "use \"http\" or \"https\""));
        }

        if (redirect.Host is { } host && (host.Length == 0 || !IsPlainPath(host) || host.Contains('/', StringComparison.Ordinal)))
        {
            errors.Add(new ConfigError(path + ".host", ConfigText.Quote(host), "write a host, optionally with a port, such as \"www.example.com\" or \"example.com:8443\""));
        }

        if (redirect.Path is { } target && (!target.StartsWith('/') || target.StartsWith("//", StringComparison.Ordinal) || !IsPlainPath(target)))
        {
            errors.Add(new ConfigError(path + ".path", ConfigText.Quote(target), "write a path starting with \"/\", such as \"/new\" (no space, '?' or '#')"));
        }
    }

    private static void ValidateRespond(RespondConfig respond, string path, List<ConfigError> errors)
    {
        if (respond.Status is < 200 or > 599)
        {
            errors.Add(new ConfigError(path + ".status", Number(respond.Status), "use a status from 200 to 599, such as 200 or 403"));
        }
        else if (respond.Status is 204 or 304 && respond.Body.Length > 0)
        {
            errors.Add(new ConfigError(path + ".body", ConfigText.Quote(respond.Body), $"a {respond.Status} response has no body; remove \"body\" or use another status"));
        }

        if (!HttpSyntax.IsFieldValue(respond.ContentType) || respond.ContentType.Length == 0)
        {
            errors.Add(new ConfigError(path + ".contentType", ConfigText.Quote(respond.ContentType), "write a media type such as \"text/plain; charset=utf-8\" or \"application/json\""));
        }
    }

    private static void ValidateRateLimit(RateLimitConfig rateLimit, string path, List<ConfigError> errors)
    {
        if (rateLimit.RequestsPerSecond < 1)
        {
            errors.Add(new ConfigError(path + ".requestsPerSecond", Number(rateLimit.RequestsPerSecond), "must be at least 1; use a rate such as 10"));
        }

        if (rateLimit.Burst is < 1)
        {
            errors.Add(new ConfigError(path + ".burst", Number(rateLimit.Burst.Value), "must be at least 1; use the requests a key may make at once, such as 20, or remove it for requestsPerSecond"));
        }

        if (!HashKey.TryParse(rateLimit.Key, out var key) || key.Source == HashKeySource.Cookie)
        {
            errors.Add(new ConfigError(path + ".key", ConfigText.Quote(rateLimit.Key), "use \"clientIp\" or \"header:NAME\" such as \"header:X-Api-Key\""));
        }

        if (rateLimit.Status is < 400 or > 599)
        {
            errors.Add(new ConfigError(path + ".status", Number(rateLimit.Status), "use a status from 400 to 599; 429 is the default (503 is nginx's)"));
        }

        if (rateLimit.MaxKeys is < 1 or > 10_000_000)
        {
            errors.Add(new ConfigError(path + ".maxKeys", Number(rateLimit.MaxKeys), "use a number of keys from 1 to 10000000, such as 100000 (about 100 bytes each)"));
        }
    }
}
