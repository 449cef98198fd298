using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Tether.FunctionalTests.Grpc.Proto;
using Tether.FunctionalTests.Infrastructure;

namespace Tether.FunctionalTests.Grpc;

/// <summary>What the backend's service saw, for the test to assert on.</summary>
internal sealed class TesterProbe(string name)
{
    /// <summary>Sent back as response header "x-backend" so the client can tell which backend answered.</summary>
    public string Name { get; } = name;

    /// <summary>Request metadata of every call, in arrival order.</summary>
    public ConcurrentQueue<Metadata> RequestHeaders { get; } = new();

    /// <summary>The deadline of a "wait" call as the backend saw it (DateTime.MaxValue: no grpc-timeout arrived).</summary>
    public TaskCompletionSource<DateTime> WaitStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when the call's CancellationToken fired in a "wait" call.</summary>
    public TaskCompletionSource CallCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The TE header of every call as the backend received it (Tether must forward "trailers").</summary>
    public ConcurrentQueue<string> TeHeaders { get; } = new();

    /// <summary>For "gather" calls: the most calls that were open at once on one backend connection.</summary>
    public int MostConcurrentOnOneConnection => Volatile.Read(ref _mostOnOneConnection);

    /// <summary>Backend connections that carried a "gather" call.</summary>
    public int GatherConnections => _inFlight.Count;

    private readonly ConcurrentDictionary<string, int> _inFlight = new();
    private readonly TaskCompletionSource _gathered = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _mostOnOneConnection;
    private int _gatheredCount;

    /// <summary>Holds a call until <paramref name="count"/> "gather" calls are open at once, counting them per connection.</summary>
    public async Task GatherAsync(string connectionId, int count, CancellationToken cancellationToken)
    {
        var open = _inFlight.AddOrUpdate(connectionId, 1, (_, n) => n + 1);
        InterlockedMax(ref _mostOnOneConnection, open);
        if (Interlocked.Increment(ref _gatheredCount) >= count)
        {
            _gathered.TrySetResult();
        }

        try
        {
            await _gathered.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _inFlight.AddOrUpdate(connectionId, 0, (_, n) => n - 1);
        }
    }

    private static void InterlockedMax(ref int location, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref location)) && Interlocked.CompareExchange(ref location, value, current) != current)
        {
        }
    }
}

/// <summary>
/// The Tester service. Text "fail" throws NotFound "nope" with trailer x-fail-detail; text "wait" waits on the
/// call's CancellationToken (after one message, for a stream) and records that it fired. Otherwise every call
/// sends response header x-backend and trailer x-trailer.
/// </summary>
internal sealed class TesterService(TesterProbe probe) : Tester.TesterBase
{
    public const string Fail = "fail";
    public const string Wait = "wait";

    /// <summary>Text "gather N": held until N such calls are open at once.</summary>
    public const string Gather = "gather ";

    public override async Task<EchoReply> Echo(EchoRequest request, ServerCallContext context)
    {
        await BeginAsync(request.Text, context);
        if (request.Text == Wait)
        {
            await WaitForCancelAsync(context);
        }
        else if (request.Text.StartsWith(Gather, StringComparison.Ordinal))
        {
            var count = int.Parse(request.Text.AsSpan(Gather.Length), System.Globalization.CultureInfo.InvariantCulture);
            await probe.GatherAsync(context.GetHttpContext().Connection.Id, count, context.CancellationToken);
        }

        return new EchoReply { Text = request.Text, Payload = request.Payload };
    }

    public override async Task ServerStream(StreamRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await BeginAsync(request.Text, context);
        for (var i = 1; i <= request.Count; i++)
        {
            await responseStream.WriteAsync(new EchoReply { Text = $"{request.Text} {i}" });
        }

        if (request.Text == Wait)
        {
            await WaitForCancelAsync(context);
        }
    }

    public override async Task<Sum> ClientStream(IAsyncStreamReader<Number> requestStream, ServerCallContext context)
    {
        await BeginAsync("", context);
        var sum = new Sum();
        await foreach (var number in requestStream.ReadAllAsync(context.CancellationToken))
        {
            sum.Total += number.Value;
            sum.Count++;
        }

        return sum;
    }

    public override async Task Bidi(IAsyncStreamReader<EchoRequest> requestStream, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
    {
        await BeginAsync("", context);
        await foreach (var request in requestStream.ReadAllAsync(context.CancellationToken))
        {
            await responseStream.WriteAsync(new EchoReply { Text = "echo " + request.Text, Payload = request.Payload });
        }
    }

    private async Task BeginAsync(string text, ServerCallContext context)
    {
        probe.RequestHeaders.Enqueue(context.RequestHeaders);
        probe.TeHeaders.Enqueue(context.GetHttpContext().Request.Headers.TE.ToString());
        if (text == Fail)
        {
            throw new RpcException(new Status(StatusCode.NotFound, "nope"), new Metadata { { "x-fail-detail", "d1" } });
        }

        context.ResponseTrailers.Add("x-trailer", "t-" + probe.Name);
        await context.WriteResponseHeadersAsync(new Metadata { { "x-backend", probe.Name } });
    }

    private async Task WaitForCancelAsync(ServerCallContext context)
    {
        probe.WaitStarted.TrySetResult(context.Deadline);
        try
        {
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        }
        catch (OperationCanceledException)
        {
            probe.CallCancelled.TrySetResult();
            throw;
        }
    }
}

/// <summary>A Grpc.AspNetCore server running <see cref="TesterService"/> on Kestrel: h2c, or TLS with ALPN h2.</summary>
internal sealed class TesterBackend : IAsyncDisposable
{
    private readonly KestrelBackend _kestrel;

    private TesterBackend(KestrelBackend kestrel, TesterProbe probe)
    {
        _kestrel = kestrel;
        Probe = probe;
    }

    public TesterProbe Probe { get; }

    public string Destination => _kestrel.Destination;

    public int Connections => _kestrel.Connections;

    /// <summary>h2c (HTTP/2 only, cleartext) without a certificate; TLS with it.</summary>
    public static async Task<TesterBackend> StartAsync(string name, IssuedCertificate? certificate = null)
    {
        var probe = new TesterProbe(name);
        var kestrel = await KestrelBackend.StartAsync(
            app => app.MapGrpcService<TesterService>(),
            HttpProtocols.Http2,
            certificate?.Certificate,
            services =>
            {
                services.AddGrpc(options => options.MaxReceiveMessageSize = 8 * 1024 * 1024);
                services.AddSingleton(probe);
            });
        return new TesterBackend(kestrel, probe);
    }

    public static ByteString Payload(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return ByteString.CopyFrom(bytes);
    }

    public ValueTask DisposeAsync() => _kestrel.DisposeAsync();
}
