using System.Text.Json.Nodes;

namespace Tether.Configuration.Binding;

/// <summary>The route keys: match (host, path, methods, headers), body size, transforms, redirect, respond, rate limit.</summary>
internal static partial class ConfigBinder
{
    private static RouteConfig BindRoute(BindContext context, JsonNode? node, string path)
    {
        var reader = Required(context, node, path, "a route such as { \"match\": { \"pathPrefix\": \"/api\" }, \"cluster\": \"api\" }");
        var defaults = new RouteConfig();
        var route = new RouteConfig
        {
            Match = BindMatch(reader.Object("match")),
            Cluster = reader.Read("cluster", defaults.Cluster, ValueParsers.String),
            MaxRequestBodySize = reader.Read("maxRequestBodySize", defaults.MaxRequestBodySize, PresentSize),
            Transforms = BindTransforms(reader.Object("transforms")),
            Compression = BindCompression(reader.Object("compression")),
            Redirect = BindRedirect(reader.Object("redirect")),
            Respond = BindRespond(reader.Object("respond")),
            RateLimit = BindRateLimit(reader.Object("rateLimit")),
        };
        reader.Finish();
        return route;
    }

    // JSON null (as ConfigWriter writes an absent value) is absent.
    private static bool PresentSize(JsonNode? node, bool fromEnvironment, out long? value, out string error)
    {
        if (node is null)
        {
            value = null;
            error = "";
            return true;
        }

        var ok = ValueParsers.Size(node, fromEnvironment, out var size, out error);
        value = ok ? size : null;
        return ok;
    }

    private static RouteMatchConfig BindMatch(ObjectReader reader)
    {
        var defaults = new RouteMatchConfig();
        var match = new RouteMatchConfig
        {
            Host = reader.Read("host", defaults.Host, ValueParsers.OptionalString),
            PathPrefix = reader.Read("pathPrefix", defaults.PathPrefix, ValueParsers.OptionalString),
            Methods = BindOptionalList(reader, "methods", BindPlainString),
            Headers = (IReadOnlyList<HeaderMatchConfig>?)BindOptionalList(reader, "headers", BindHeaderMatch) ?? defaults.Headers,
        };
        reader.Finish();
        return match;
    }

    private static HeaderMatchConfig BindHeaderMatch(BindContext context, JsonNode? node, string path)
    {
        var reader = Required(context, node, path, "a header condition such as { \"name\": \"X-Canary\", \"values\": [\"1\"] }");
        var match = new HeaderMatchConfig
        {
            Name = reader.Read("name", "", ValueParsers.String),
            Values = BindOptionalList(reader, "values", BindPlainString),
        };
        reader.Finish();
        return match;
    }

    private static TransformsConfig? BindTransforms(ObjectReader reader)
    {
        var transforms = new TransformsConfig
        {
            PathRemovePrefix = reader.Read("pathRemovePrefix", (string?)null, ValueParsers.OptionalString),
            PathSet = reader.Read("pathSet", (string?)null, ValueParsers.OptionalString),
            RequestHeaders = BindRequestHeaders(reader.Object("requestHeaders")),
            ResponseHeaders = BindResponseHeaders(reader.Object("responseHeaders")),
        };
        reader.Finish();
        return reader.IsPresent ? transforms : null;
    }

    private static RequestHeaderTransformsConfig BindRequestHeaders(ObjectReader reader)
    {
        var headers = new RequestHeaderTransformsConfig
        {
            Set = BindHeaderValues(reader.Object("set")),
            Append = BindHeaderValues(reader.Object("append")),
            Remove = BindList(reader, "remove", [], BindPlainString),
        };
        reader.Finish();
        return headers;
    }

    private static ResponseHeaderTransformsConfig BindResponseHeaders(ObjectReader reader)
    {
        var headers = new ResponseHeaderTransformsConfig
        {
            Set = BindHeaderValues(reader.Object("set")),
            Remove = BindList(reader, "remove", [], BindPlainString),
        };
        reader.Finish();
        return headers;
    }

    // { "X-Name": "value", … }: every key is a header name.
    private static List<HeaderValueConfig> BindHeaderValues(ObjectReader reader)
    {
        var values = new List<HeaderValueConfig>();
        foreach (var (name, node) in reader.Entries())
        {
            if (ValueParsers.String(node, reader.Context.VariableOf(node) is not null, out var value, out var error))
            {
                values.Add(new HeaderValueConfig(name, value));
            }
            else
            {
                reader.Context.Error(ConfigText.Child(reader.Path, name), node, error + ", the header's value such as \"{clientIp}\"");
            }
        }

        return values;
    }

    private static RedirectConfig? BindRedirect(ObjectReader reader)
    {
        var defaults = new RedirectConfig();
        var redirect = new RedirectConfig
        {
            Url = reader.Read("url", defaults.Url, ValueParsers.OptionalString),
            Scheme = reader.Read("scheme", defaults.Scheme, ValueParsers.OptionalString),
            Host = reader.Read("host", defaults.Host, ValueParsers.OptionalString),
            Path = reader.Read("path", defaults.Path, ValueParsers.OptionalString),
            Code = reader.Read("code", defaults.Code, ValueParsers.Int),
            KeepQuery = reader.Read("keepQuery", defaults.KeepQuery, ValueParsers.Bool),
        };
        reader.Finish();
        return reader.IsPresent ? redirect : null;
    }

    private static RespondConfig? BindRespond(ObjectReader reader)
    {
        var defaults = new RespondConfig();
        var respond = new RespondConfig
        {
            Status = reader.Read("status", defaults.Status, ValueParsers.Int),
            Body = reader.Read("body", defaults.Body, ValueParsers.String),
            ContentType = reader.Read("contentType", defaults.ContentType, ValueParsers.String),
        };
        reader.Finish();
        return reader.IsPresent ? respond : null;
    }

    private static RateLimitConfig? BindRateLimit(ObjectReader reader)
    {
        var defaults = new RateLimitConfig();
        var rateLimit = new RateLimitConfig
        {
            RequestsPerSecond = reader.Read("requestsPerSecond", defaults.RequestsPerSecond, ValueParsers.Int),
            Burst = reader.Read("burst", defaults.Burst, PresentInt),
            Key = reader.Read("key", defaults.Key, ValueParsers.String),
            Status = reader.Read("status", defaults.Status, ValueParsers.Int),
            MaxKeys = reader.Read("maxKeys", defaults.MaxKeys, ValueParsers.Int),
        };
        reader.Finish();
        return reader.IsPresent ? rateLimit : null;
    }

    private static bool PresentInt(JsonNode? node, bool fromEnvironment, out int? value, out string error)
    {
        if (node is null)
        {
            value = null;
            error = "";
            return true;
        }

        var ok = ValueParsers.Int(node, fromEnvironment, out var number, out error);
        value = ok ? number : null;
        return ok;
    }

    // One string of a list (methods, header names, values); what it means is the validator's to check.
    private static string BindPlainString(BindContext context, JsonNode? node, string path)
    {
        if (ValueParsers.String(node, context.VariableOf(node) is not null, out var value, out var error))
        {
            return value;
        }

        context.Error(path, node, error);
        return "";
    }
}
