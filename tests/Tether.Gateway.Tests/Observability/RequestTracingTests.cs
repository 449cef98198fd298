using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Tether.Gateway.Observability;

namespace Tether.Gateway.Tests.Observability;

/// <summary>The cost of tracing while it is off (telemetry.tracing.sampleRatio 0): no activity, no allocation.</summary>
public sealed class RequestTracingTests
{
    [Fact]
    public void While_tracing_is_off_the_request_path_starts_no_activity_and_allocates_nothing_even_with_a_listener()
    {
        var started = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RequestTracing.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStarted = started.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers.TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        Run(context); // JIT and first-call work out of the measurement

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Run(context);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.DoesNotContain(started, a => a.TraceId.ToHexString() == "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    [Fact]
    public void While_tracing_is_on_the_server_span_is_the_clients_child_not_the_current_activitys()
    {
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == RequestTracing.SourceName || source.Name == "test",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listener);
        using var other = new ActivitySource("test");
        using var hosting = other.StartActivity("ASP.NET's own"); // as ASP.NET's hosting starts one per request
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Headers.TraceParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

        using var server = RequestTracing.StartServer(enabled: true, context);

        Assert.NotNull(server);
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", server.TraceId.ToHexString());
        Assert.Equal("b7ad6b7169203331", server.ParentSpanId.ToHexString());
        Assert.Equal(ActivityKind.Server, server.Kind);
    }

    private static void Run(HttpContext context)
    {
        var server = RequestTracing.StartServer(enabled: false, context);
        var attempt = RequestTracing.StartAttempt(server, context, null!, 1);
        RequestTracing.OnConnection(attempt, reused: true);
        RequestTracing.EndAttempt(attempt, context, null);
        RequestTracing.EndServer(server, context, null);
    }
}
