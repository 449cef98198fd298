using System.Text.Json.Nodes;

namespace Tether.Configuration;

/// <summary>The routes part of <see cref="ConfigWriter"/>: every key of a route, null where a section is absent.</summary>
internal static class ConfigWriterRoutes
{
    public static JsonObject Route(RouteConfig route)
    {
        var match = route.Match;
        var headers = new JsonArray();
        foreach (var header in match.Headers)
        {
            headers.Add(new JsonObject { ["name"] = header.Name, ["values"] = header.Values is null ? null : ConfigWriter.Strings(header.Values) });
        }

        return new JsonObject
        {
            ["match"] = new JsonObject
            {
                ["host"] = match.Host,
                ["pathPrefix"] = match.PathPrefix,
                ["methods"] = match.Methods is null ? null : ConfigWriter.Strings(match.Methods),
                ["headers"] = headers,
            },
            ["cluster"] = route.Cluster,
            ["maxRequestBodySize"] = route.MaxRequestBodySize is { } size ? Sizes.Format(size) : null,
            ["transforms"] = route.Transforms is { } transforms ? Transforms(transforms) : null,
            ["compression"] = new JsonObject
            {
                ["enabled"] = route.Compression.Enabled,
                ["algorithms"] = ConfigWriter.Strings(route.Compression.Algorithms),
                ["contentTypes"] = ConfigWriter.Strings(route.Compression.ContentTypes),
                ["minSize"] = route.Compression.MinSize,
                ["level"] = ConfigWriter.EnumName(route.Compression.Level),
            },
            ["redirect"] = route.Redirect is { } redirect
                ? new JsonObject
                {
                    ["url"] = redirect.Url,
                    ["scheme"] = redirect.Scheme,
                    ["host"] = redirect.Host,
                    ["path"] = redirect.Path,
                    ["code"] = redirect.Code,
                    ["keepQuery"] = redirect.KeepQuery,
                }
                : null,
            ["respond"] = route.Respond is { } respond
                ? new JsonObject { ["status"] = respond.Status, ["body"] = respond.Body, ["contentType"] = respond.ContentType }
                : null,
            ["rateLimit"] = route.RateLimit is { } rateLimit
                ? new JsonObject
                {
                    ["requestsPerSecond"] = rateLimit.RequestsPerSecond,
                    ["burst"] = rateLimit.Burst,
                    ["key"] = rateLimit.Key,
                    ["status"] = rateLimit.Status,
                    ["maxKeys"] = rateLimit.MaxKeys,
                }
                : null,
        };
    }

    private static JsonObject Transforms(TransformsConfig transforms) => new()
    {
        ["pathRemovePrefix"] = transforms.PathRemovePrefix,
        ["pathSet"] = transforms.PathSet,
        ["requestHeaders"] = new JsonObject
        {
            ["set"] = Values(transforms.RequestHeaders.Set),
            ["append"] = Values(transforms.RequestHeaders.Append),
            ["remove"] = ConfigWriter.Strings(transforms.RequestHeaders.Remove),
        },
        ["responseHeaders"] = new JsonObject
        {
            ["set"] = Values(transforms.ResponseHeaders.Set),
            ["remove"] = ConfigWriter.Strings(transforms.ResponseHeaders.Remove),
        },
    };

    private static JsonObject Values(IReadOnlyList<HeaderValueConfig> values)
    {
        var json = new JsonObject();
        foreach (var (name, value) in values)
        {
            json[name] = value;
        }

        return json;
    }
}
