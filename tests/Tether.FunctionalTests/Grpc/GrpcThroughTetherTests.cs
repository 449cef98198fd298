using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;
using Tether.Configuration;
using Tether.FunctionalTests.Grpc.Proto;
using Tether.FunctionalTests.Infrastructure;
using Xunit.Abstractions;

namespace Tether.FunctionalTests.Grpc;

public enum CallKind
{
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidirectional,
}

/// <summary>
/// Issue 12: gRPC end to end. A real Grpc.Net.Client calls a real Grpc.AspNetCore server through Tether, on every
/// path: {h2c listener, h2c detected beside HTTP/1.1, TLS listener} x {h2c backend, TLS backend with protocol
/// "http2", TLS backend with protocol "auto"}, with all four call kinds, status and trailers, metadata, deadlines,
/// cancels and a backend that is down.
/// </summary>
public sealed class GrpcThroughTetherTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(10);

    public static TheoryData<ListenerKind, BackendKind> Paths
    {
        get
        {
            var data = new TheoryData<ListenerKind, BackendKind>();
            foreach (var listener in Enum.GetValues<ListenerKind>())
            {
                foreach (var backend in Enum.GetValues<BackendKind>())
                {
                    data.Add(listener, backend);
                }
            }

            return data;
        }
    }

    public static TheoryData<ListenerKind, BackendKind, CallKind> Calls
    {
        get
        {
            var data = new TheoryData<ListenerKind, BackendKind, CallKind>();
            foreach (var (listener, backend) in Paths.Select(row => ((ListenerKind)row[0], (BackendKind)row[1])))
            {
                foreach (var kind in Enum.GetValues<CallKind>())
                {
                    data.Add(listener, backend, kind);
                }
            }

            return data;
        }
    }

    /// <summary>The messages arrive whole and in order both ways (the unary one is 300 KB each way, past the
    /// 64 KB initial flow-control window), the backend's response header and trailer reach the client, and
    /// grpc-status is OK.</summary>
    [Theory]
    [MemberData(nameof(Calls))]
    public async Task A_call_goes_through_with_its_messages_response_headers_and_trailers(ListenerKind listener, BackendKind backend, CallKind kind)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, backend, output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var client = setup.Client;

        var (headers, trailers, status) = kind switch
        {
            CallKind.Unary => await UnaryAsync(client, timeout.Token),
            CallKind.ServerStreaming => await ServerStreamingAsync(client, timeout.Token),
            CallKind.ClientStreaming => await ClientStreamingAsync(client, timeout.Token),
            _ => await BidirectionalAsync(client, timeout.Token),
        };

        Assert.Equal(StatusCode.OK, status.StatusCode);
        Assert.Equal(backend.ToString(), headers.GetValue("x-backend"));
        Assert.Equal("t-" + backend, trailers.GetValue("x-trailer"));
    }

    /// <summary>A trailers-only error from the backend: the client gets its grpc-status, grpc-message and trailer.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_failing_call_keeps_its_grpc_status_message_and_trailers(ListenerKind listener, BackendKind backend)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, backend, output);

        var unary = await Assert.ThrowsAsync<RpcException>(() => setup.Client.EchoAsync(new EchoRequest { Text = TesterService.Fail }).ResponseAsync);
        using var stream = setup.Client.ServerStream(new StreamRequest { Text = TesterService.Fail, Count = 3 });
        var streaming = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext());

        foreach (var failure in new[] { unary, streaming })
        {
            Assert.Equal(StatusCode.NotFound, failure.StatusCode);
            Assert.Equal("nope", failure.Status.Detail);
            Assert.Equal("d1", failure.Trailers.GetValue("x-fail-detail"));
        }
    }

    /// <summary>Text and binary (-bin) metadata reach the backend as sent, and so does TE: trailers.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task Request_metadata_reaches_the_backend(ListenerKind listener, BackendKind backend)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, backend, output);
        byte[] binary = [0, 1, 2, 0x7F, 0x80, 0xFF];
        var metadata = new Metadata { { "x-tenant", "t-42" }, { "x-trace-bin", binary } };

        var reply = await setup.Client.EchoAsync(new EchoRequest { Text = "md" }, metadata);

        Assert.Equal("md", reply.Text);
        var seen = Assert.Single(setup.Backend.Probe.RequestHeaders);
        Assert.Equal("t-42", seen.GetValue("x-tenant"));
        Assert.Equal(binary, seen.GetValueBytes("x-trace-bin"));
        Assert.Equal("trailers", Assert.Single(setup.Backend.Probe.TeHeaders));
    }

    /// <summary>A 300 ms deadline: the client gets DeadlineExceeded, the backend learns the deadline (grpc-timeout
    /// forwarded) and its call's CancellationToken fires, so the backend stops working for nobody.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_deadline_ends_the_call_at_the_client_and_at_the_backend(ListenerKind listener, BackendKind backend)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, backend, output);
        await setup.Client.EchoAsync(new EchoRequest { Text = "warm" }); // connections open before the clock starts

        var sent = DateTime.UtcNow;
        var failure = await Assert.ThrowsAsync<RpcException>(() =>
            setup.Client.EchoAsync(new EchoRequest { Text = TesterService.Wait }, deadline: sent.AddMilliseconds(300)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, failure.StatusCode);
        var backendDeadline = await setup.Backend.Probe.WaitStarted.Task.WaitAsync(s_wait);
        Assert.True(backendDeadline != DateTime.MaxValue, "no grpc-timeout reached the backend");
        Assert.InRange(backendDeadline, sent, sent.AddSeconds(2));
        await AssertFiresAsync(setup.Backend.Probe.CallCancelled.Task, "the backend's call token did not fire after the deadline");
    }

    /// <summary>A client cancel on a server-streaming call reaches the backend as RST_STREAM: its call token fires,
    /// and the backend connection stays open for the next call (the stream was reset, not the connection).</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_client_cancel_resets_the_stream_at_the_backend(ListenerKind listener, BackendKind backend)
    {
        await using var setup = await GrpcSetup.StartAsync(listener, backend, output);
        using var cancel = new CancellationTokenSource();
        using var call = setup.Client.ServerStream(new StreamRequest { Text = TesterService.Wait, Count = 1 }, cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal("wait 1", call.ResponseStream.Current.Text);
        await setup.Backend.Probe.WaitStarted.Task.WaitAsync(s_wait);

        await cancel.CancelAsync();

        var failure = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Cancelled, failure.StatusCode);
        await AssertFiresAsync(setup.Backend.Probe.CallCancelled.Task, "the backend's call token did not fire after the client cancelled");
        Assert.Equal("after", (await setup.Client.EchoAsync(new EchoRequest { Text = "after" })).Text);
        Assert.Equal(1, setup.Backend.Connections);
    }

    /// <summary>A destination on a closed port: the client sees UNAVAILABLE, and it was said the gRPC way
    /// (HTTP 200 with grpc-status 14), not as a 502 that the client library maps.</summary>
    [Theory]
    [MemberData(nameof(Paths))]
    public async Task A_backend_that_is_down_is_UNAVAILABLE_answered_the_gRPC_way(ListenerKind listener, BackendKind backend)
    {
        using var closed = new RefusingPort();
        var destination = (backend == BackendKind.H2c ? "http://" : "https://") + closed.Address;
        await using var setup = await GrpcSetup.StartWithoutBackendAsync(listener, backend, destination, output);

        var failure = await Assert.ThrowsAsync<RpcException>(() => setup.Client.EchoAsync(new EchoRequest { Text = "down" }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, failure.StatusCode);

        using var http = setup.CreateHttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/tether.tests.Tester/Echo")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]) { Headers = { ContentType = new MediaTypeHeaderValue("application/grpc") } },
        };
        request.Headers.TE.ParseAdd("trailers");
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/grpc", response.Content.Headers.ContentType?.MediaType);
        var grpcStatus = response.Headers.TryGetValues("grpc-status", out var inHeaders) ? inHeaders
            : response.TrailingHeaders.TryGetValues("grpc-status", out var inTrailers) ? inTrailers : [];
        Assert.Equal("14", Assert.Single(grpcStatus));
    }

    /// <summary>pool.maxConcurrentStreams 2: six calls held open together need three backend connections, and no
    /// connection carries more than two of them. Cold: the six are the first calls (the cap must hold before the
    /// backend's first SETTINGS is read, too); warm: one call opened a connection before.</summary>
    [Theory]
    [InlineData(BackendKind.H2c, false)]
    [InlineData(BackendKind.H2c, true)]
    [InlineData(BackendKind.TlsHttp2, false)]
    [InlineData(BackendKind.TlsHttp2, true)]
    public async Task Calls_above_maxConcurrentStreams_open_another_backend_connection(BackendKind backend, bool warm)
    {
        await using var setup = await GrpcSetup.StartAsync(ListenerKind.H2c, backend, output,
            cluster => cluster with { Pool = cluster.Pool with { MaxConcurrentStreams = 2 } });
        if (warm)
        {
            Assert.Equal("warm", (await setup.Client.EchoAsync(new EchoRequest { Text = "warm" })).Text);
        }

        var calls = Enumerable.Range(0, 6).Select(_ => setup.Client.EchoAsync(new EchoRequest { Text = TesterService.Gather + "6" }).ResponseAsync);
        var replies = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.All(replies, reply => Assert.Equal(TesterService.Gather + "6", reply.Text));
        Assert.InRange(setup.Backend.Probe.MostConcurrentOnOneConnection, 1, 2);
        Assert.True(setup.Backend.Probe.GatherConnections >= 3, $"{setup.Backend.Probe.GatherConnections} backend connections carried the six calls");
    }

    private static async Task AssertFiresAsync(Task task, string because)
    {
        var finished = await Task.WhenAny(task, Task.Delay(s_wait));
        Assert.True(finished == task, because);
    }

    private static async Task<(Metadata Headers, Metadata Trailers, Status Status)> UnaryAsync(Tester.TesterClient client, CancellationToken cancellationToken)
    {
        var payload = TesterBackend.Payload(300_000);
        using var call = client.EchoAsync(new EchoRequest { Text = "hi", Payload = payload }, cancellationToken: cancellationToken);
        var reply = await call.ResponseAsync;
        Assert.Equal("hi", reply.Text);
        Assert.Equal(payload, reply.Payload);
        return (await call.ResponseHeadersAsync, call.GetTrailers(), call.GetStatus());
    }

    private static async Task<(Metadata Headers, Metadata Trailers, Status Status)> ServerStreamingAsync(Tester.TesterClient client, CancellationToken cancellationToken)
    {
        using var call = client.ServerStream(new StreamRequest { Text = "n", Count = 50 }, cancellationToken: cancellationToken);
        var texts = new List<string>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            texts.Add(reply.Text);
        }

        Assert.Equal(Enumerable.Range(1, 50).Select(i => $"n {i}"), texts);
        return (await call.ResponseHeadersAsync, call.GetTrailers(), call.GetStatus());
    }

    private static async Task<(Metadata Headers, Metadata Trailers, Status Status)> ClientStreamingAsync(Tester.TesterClient client, CancellationToken cancellationToken)
    {
        using var call = client.ClientStream(cancellationToken: cancellationToken);
        for (var i = 1; i <= 100; i++)
        {
            await call.RequestStream.WriteAsync(new Number { Value = i }, cancellationToken);
        }

        await call.RequestStream.CompleteAsync();
        var sum = await call.ResponseAsync;
        Assert.Equal(5050, sum.Total);
        Assert.Equal(100, sum.Count);
        return (await call.ResponseHeadersAsync, call.GetTrailers(), call.GetStatus());
    }

    /// <summary>Lockstep: each message is answered before the next is sent, which only works if neither way is buffered.</summary>
    private static async Task<(Metadata Headers, Metadata Trailers, Status Status)> BidirectionalAsync(Tester.TesterClient client, CancellationToken cancellationToken)
    {
        using var call = client.Bidi(cancellationToken: cancellationToken);
        for (var i = 1; i <= 20; i++)
        {
            await call.RequestStream.WriteAsync(new EchoRequest { Text = $"m{i}" }, cancellationToken);
            Assert.True(await call.ResponseStream.MoveNext(cancellationToken));
            Assert.Equal($"echo m{i}", call.ResponseStream.Current.Text);
        }

        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(cancellationToken));
        return (await call.ResponseHeadersAsync, call.GetTrailers(), call.GetStatus());
    }
}
