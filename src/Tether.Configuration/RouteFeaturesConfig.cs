namespace Tether.Configuration;

/// <summary>routes[].match.headers[]: a request header that must be present, or hold one of <see cref="Values"/>.</summary>
public sealed record HeaderMatchConfig
{
    public string Name { get; init; } = "";

    /// <summary>Null = the header only has to be present. Otherwise its value must equal one of these (case-insensitive).</summary>
    public IReadOnlyList<string>? Values { get; init; }
}

/// <summary>One header and the value written for it; the value may hold {clientIp}, {host} and {requestId}.</summary>
public sealed record HeaderValueConfig(string Name, string Value);

/// <summary>routes[].transforms: what changes on the way to the backend and back (YARP's transform vocabulary).</summary>
public sealed record TransformsConfig
{
    /// <summary>nginx location /api/ { proxy_pass http://b/; }: this prefix (on a segment boundary) is taken off the path.</summary>
    public string? PathRemovePrefix { get; init; }

    /// <summary>nginx rewrite ^ /new break: the whole path is replaced (the query is kept).</summary>
    public string? PathSet { get; init; }

    public RequestHeaderTransformsConfig RequestHeaders { get; init; } = new();

    public ResponseHeaderTransformsConfig ResponseHeaders { get; init; } = new();

    public bool IsEmpty => PathRemovePrefix is null && PathSet is null && RequestHeaders.IsEmpty && ResponseHeaders.IsEmpty;
}

public sealed record RequestHeaderTransformsConfig
{
    /// <summary>nginx proxy_set_header: the client's header of that name is replaced.</summary>
    public IReadOnlyList<HeaderValueConfig> Set { get; init; } = [];

    /// <summary>A value added after the client's own (a header line more).</summary>
    public IReadOnlyList<HeaderValueConfig> Append { get; init; } = [];

    /// <summary>nginx proxy_set_header NAME "": not sent to the backend.</summary>
    public IReadOnlyList<string> Remove { get; init; } = [];

    public bool IsEmpty => Set.Count == 0 && Append.Count == 0 && Remove.Count == 0;
}

public sealed record ResponseHeaderTransformsConfig
{
    /// <summary>nginx add_header … always (but replacing the backend's value): the client gets this value.</summary>
    public IReadOnlyList<HeaderValueConfig> Set { get; init; } = [];

    /// <summary>nginx proxy_hide_header: the backend's header of that name does not reach the client.</summary>
    public IReadOnlyList<string> Remove { get; init; } = [];

    public bool IsEmpty => Set.Count == 0 && Remove.Count == 0;
}

/// <summary>routes[].redirect: the route answers with a redirect itself (nginx return 301 …).</summary>
public sealed record RedirectConfig
{
    /// <summary>The whole target ("https://example.com/new" or "/new"). Excludes <see cref="Scheme"/>, <see cref="Host"/>, <see cref="Path"/>.</summary>
    public string? Url { get; init; }

    /// <summary>"http" or "https"; null = the request's.</summary>
    public string? Scheme { get; init; }

    /// <summary>Host (and port); null = the request's Host.</summary>
    public string? Host { get; init; }

    /// <summary>Null = the request's path.</summary>
    public string? Path { get; init; }

    /// <summary>301, 302, 307 or 308.</summary>
    public int Code { get; init; } = 302;

    /// <summary>The request's query string is appended to the target.</summary>
    public bool KeepQuery { get; init; } = true;
}

/// <summary>routes[].respond: the route answers with a fixed response (nginx return 200 "text").</summary>
public sealed record RespondConfig
{
    public int Status { get; init; } = 200;

    public string Body { get; init; } = "";

    public string ContentType { get; init; } = "text/plain; charset=utf-8";
}

/// <summary>routes[].rateLimit: a token bucket per key (nginx limit_req).</summary>
public sealed record RateLimitConfig
{
    /// <summary>nginx limit_req_zone … rate=Nr/s: tokens added per second.</summary>
    public int RequestsPerSecond { get; init; }

    /// <summary>nginx limit_req burst= (nodelay): requests a key may make at once. Null = <see cref="RequestsPerSecond"/>.</summary>
    public int? Burst { get; init; }

    /// <summary>"clientIp" (after the PROXY protocol and trusted X-Forwarded-For) or "header:NAME".</summary>
    public string Key { get; init; } = HashKey.ClientIpText;

    /// <summary>nginx limit_req_status.</summary>
    public int Status { get; init; } = 429;

    /// <summary>Keys remembered at once; past this the least recently seen is forgotten (nginx: the zone size).</summary>
    public int MaxKeys { get; init; } = 100_000;

    public int EffectiveBurst => Burst ?? RequestsPerSecond;
}
