using System.Buffers;
using System.Collections.Frozen;
using System.Net.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tether.Configuration;
using Tether.Upstream.Http1;

namespace Tether.Gateway.Forwarding;

/// <summary>
/// A route's transforms, compiled once per config model: the path rewrite, the request headers the backend gets
/// (set replaces the client's, append adds a line, remove drops it) and the response headers the client gets. The
/// config refused every framing, hop-by-hop and forwarding header (ConfigValidator.Routes), so nothing here can
/// change how a message is delimited; values were checked for CR, LF and control bytes.
/// </summary>
internal sealed class RouteTransforms
{
    private readonly string? _pathRemovePrefix;
    private readonly string? _pathSet;
    private readonly HeaderValue[] _requestSet;
    private readonly HeaderValue[] _requestAppend;

    // Client headers not copied: those removed and those set (replaced).
    private readonly FrozenSet<string> _requestSkipped;
    private readonly HeaderValue[] _responseSet;
    private readonly string[] _responseRemove;

    public RouteTransforms(TransformsConfig config)
    {
        _pathRemovePrefix = config.PathRemovePrefix?.TrimEnd('/');
        _pathSet = config.PathSet;
        _requestSet = Compile(config.RequestHeaders.Set);
        _requestAppend = Compile(config.RequestHeaders.Append);
        _requestSkipped = config.RequestHeaders.Remove.Concat(config.RequestHeaders.Set.Select(h => h.Name)).ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _responseSet = Compile(config.ResponseHeaders.Set);
        _responseRemove = [.. config.ResponseHeaders.Remove];
        SetsHost = _requestSet.Any(h => h.Name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase));
        ChangesResponse = _responseSet.Length > 0 || _responseRemove.Length > 0;
    }

    /// <summary>requestHeaders.set names Host: the backend gets that value instead of the client's.</summary>
    public bool SetsHost { get; }

    public bool ChangesResponse { get; }

    /// <summary>The target the backend gets: <paramref name="target"/> (validated, origin-form) with its path rewritten, query kept.</summary>
    public string Rewrite(string target)
    {
        if ((_pathSet is null && _pathRemovePrefix is null) || target.Length == 0 || target[0] != '/')
        {
            return target;
        }

        var queryStart = target.IndexOf('?', StringComparison.Ordinal);
        var path = queryStart < 0 ? target.AsSpan() : target.AsSpan(0, queryStart);
        var query = queryStart < 0 ? ReadOnlySpan<char>.Empty : target.AsSpan(queryStart);
        if (_pathSet is not null)
        {
            return string.Concat(_pathSet, query);
        }

        // On a segment boundary, as routes match: "/api" comes off "/api" and "/api/x", not "/apix".
        if (!Routing.RouteTable.PathMatches(_pathRemovePrefix!, path))
        {
            return target;
        }

        var rest = path[_pathRemovePrefix!.Length..];
        return rest.IsEmpty ? string.Concat("/", query) : string.Concat(rest, query);
    }

    /// <summary>Whether the client's header <paramref name="name"/> stays out of the backend request.</summary>
    public bool SkipsRequestHeader(string name) => _requestSkipped.Contains(name);

    /// <summary>Writes the set and appended request headers (HTTP/1.1 backends).</summary>
    public void WriteRequestHeaders(IBufferWriter<byte> output, HttpContext context)
    {
        foreach (var header in _requestSet)
        {
            Http1RequestWriter.WriteHeader(output, header.Name, header.Render(context));
        }

        foreach (var header in _requestAppend)
        {
            Http1RequestWriter.WriteHeader(output, header.Name, header.Render(context));
        }
    }

    /// <summary>Adds the set and appended request headers (HTTP/2 backends); Host is the caller's (it is :authority).</summary>
    public void AddRequestHeaders(HttpRequestMessage message, HttpContext context)
    {
        foreach (var header in _requestSet)
        {
            if (!header.IsHost)
            {
                Add(message, header.Name, header.Render(context));
            }
        }

        foreach (var header in _requestAppend)
        {
            Add(message, header.Name, header.Render(context));
        }
    }

    /// <summary>The Host requestHeaders.set gives, or null.</summary>
    public string? Host(HttpContext context)
    {
        foreach (var header in _requestSet)
        {
            if (header.IsHost)
            {
                return header.Render(context);
            }
        }

        return null;
    }

    /// <summary>After the backend's head was copied to <paramref name="response"/>: removes, then sets.</summary>
    public void ApplyResponse(HttpContext context, HttpResponse response)
    {
        var headers = response.Headers;
        foreach (var name in _responseRemove)
        {
            headers.Remove(name);
        }

        foreach (var header in _responseSet)
        {
            headers[header.Name] = header.Render(context);
        }
    }

    private static void Add(HttpRequestMessage message, string name, string value)
    {
        if (!message.Headers.TryAddWithoutValidation(name, value))
        {
            message.Content?.Headers.TryAddWithoutValidation(name, value);
        }
    }

    private static HeaderValue[] Compile(IReadOnlyList<HeaderValueConfig> headers)
    {
        var compiled = new HeaderValue[headers.Count];
        for (var i = 0; i < compiled.Length; i++)
        {
            if (!HeaderTemplate.TryParse(headers[i].Value, out var parts, out var error))
            {
                throw new ArgumentException($"{headers[i].Name}: {error}", nameof(headers)); // validated before
            }

            compiled[i] = new HeaderValue(headers[i].Name, [.. parts]);
        }

        return compiled;
    }

    /// <summary>A header and its value, parsed once: a literal is returned as is, without allocating.</summary>
    private sealed class HeaderValue(string name, TemplatePart[] parts)
    {
        private readonly string? _literal = parts.Length == 1 && parts[0].Variable == TemplateVariable.None ? parts[0].Literal : null;

        public string Name { get; } = name;

        public bool IsHost { get; } = name.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase);

        public string Render(HttpContext context)
        {
            if (_literal is not null)
            {
                return _literal;
            }

            if (parts.Length == 1)
            {
                return Variable(context, parts[0].Variable);
            }

            var text = new System.Text.StringBuilder();
            foreach (var part in parts)
            {
                text.Append(part.Variable == TemplateVariable.None ? part.Literal : Variable(context, part.Variable));
            }

            return text.ToString();
        }

        private static string Variable(HttpContext context, TemplateVariable variable) => variable switch
        {
            TemplateVariable.ClientIp => ClientIdentity.Address(context) ?? "",
            TemplateVariable.Host => context.Request.Host.Value ?? "",
            _ => context.TraceIdentifier,
        };
    }
}
