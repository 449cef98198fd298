using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;
using Tether.Configuration;

namespace Tether.Gateway.Routing;

/// <summary>What a route that answers itself sends (routes[].redirect or routes[].respond); no backend is involved.</summary>
internal abstract class RouteAnswer
{
    public abstract Task AnswerAsync(HttpContext context);
}

/// <summary>nginx return 301 https://$host$request_uri: a redirect with an empty body.</summary>
internal sealed class RedirectAnswer(RedirectConfig config) : RouteAnswer
{
    private readonly string? _url = config.Url;
    private readonly string? _scheme = config.Scheme?.ToLowerInvariant();

    public override Task AnswerAsync(HttpContext context)
    {
        var request = context.Request;
        var query = config.KeepQuery ? request.QueryString.Value : null;
        string location;
        if (_url is not null)
        {
            location = string.IsNullOrEmpty(query) ? _url
                : _url.Contains('?', StringComparison.Ordinal) ? string.Concat(_url, "&", query.AsSpan(1))
                : _url + query;
        }
        else
        {
            // The request's own parts where the config gives none; its path as forwarded (validated by RequestValidator).
            var path = config.Path ?? (request.PathBase + request.Path).ToUriComponent();
            location = string.Concat(_scheme ?? request.Scheme, "://", config.Host ?? request.Host.ToUriComponent(), path) + query;
        }

        var response = context.Response;
        response.StatusCode = config.Code;
        response.Headers.Location = location;
        response.ContentLength = 0;
        return Task.CompletedTask;
    }
}

/// <summary>nginx return 200 "text": a fixed status and body, encoded once.</summary>
internal sealed class FixedAnswer(RespondConfig config) : RouteAnswer
{
    private readonly byte[] _body = Encoding.UTF8.GetBytes(config.Body);

    public override Task AnswerAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = config.Status;
        if (config.Status is 204 or 304)
        {
            return Task.CompletedTask;
        }

        response.Headers[HeaderNames.ContentType] = config.ContentType;
        response.ContentLength = _body.Length;
        return HttpMethods.IsHead(context.Request.Method) || _body.Length == 0
            ? Task.CompletedTask
            : response.Body.WriteAsync(_body, 0, _body.Length, context.RequestAborted);
    }
}
