using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tether.Gateway.Forwarding;

namespace Tether.Gateway.Observability;

/// <summary>
/// Access-log lines for the requests Kestrel refuses itself (a malformed request line or header, a head over the
/// size limits: 400, 414, 431, 505), which never reach Tether's request pipeline: nginx logs those too. Kestrel
/// announces each on its host's DiagnosticListener ("Microsoft.AspNetCore") as the event
/// <c>Microsoft.AspNetCore.Server.Kestrel.BadRequest</c>, with the request's features as the payload
/// (<see cref="IBadRequestExceptionFeature"/> carries the status). Subscribed per listener host, and enabled only
/// while the access log is on, so Kestrel builds no payload otherwise.
/// </summary>
internal sealed class KestrelBadRequests : IObserver<KeyValuePair<string, object?>>
{
    internal const string EventName = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    private readonly AccessLog _accessLog;

    private KestrelBadRequests(AccessLog accessLog) => _accessLog = accessLog;

    public static IDisposable Subscribe(DiagnosticListener listener, AccessLog accessLog)
    {
        var observer = new KestrelBadRequests(accessLog);
        return listener.Subscribe(observer, (name, _, _) => accessLog.Enabled && name == EventName);
    }

    public void OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key != EventName || value.Value is not IFeatureCollection features || !_accessLog.Enabled)
        {
            return;
        }

        var entry = AccessLogEntry.Refused(Stopwatch.GetTimestamp());
        var request = features.Get<IHttpRequestFeature>();
        entry.Client = RequestHeadWriter.ClientAddress(features);

        // What Kestrel had parsed when it gave up: nothing of the request line if that was the fault.
        entry.Method = NonEmpty(request?.Method) ?? "-";
        entry.Target = NonEmpty(request?.RawTarget) ?? "-";
        entry.Protocol = NonEmpty(request?.Protocol) ?? "-";
        entry.Status = features.Get<IBadRequestExceptionFeature>()?.Error is BadHttpRequestException bad ? bad.StatusCode : StatusCodes.Status400BadRequest;
        _accessLog.Enqueue(entry);
    }

    public void OnCompleted()
    {
    }

    public void OnError(Exception error)
    {
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
