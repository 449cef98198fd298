// TetherHttpHandler against SocketsHttpHandler on the small request (bench/run.sh's "small" page: a short body with
// Content-Length), keep-alive on, C callers each sending one request after another through one HttpClient.
// The origin is a Kestrel app in a child process, so the allocations counted are the client's alone.
// Runs alternate (Tether, Sockets, Tether, Sockets, …) so that machine noise hits both alike.
//   dotnet run -c Release --project bench/tools/client-bench -- [seconds per run = 3] [rounds = 2] [callers = 16]
// (docs/benchmarks.md uses -- 2 20 16: single rounds swing by ±20 %, so the figure is the median of many pairs.)
using System.Diagnostics;
using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Tether.Client;

if (args.Length > 0 && args[0] == "origin")
{
    var builder = WebApplication.CreateSlimBuilder();
    builder.Logging.ClearProviders();
    builder.WebHost.UseUrls("http://127.0.0.1:0");
    var app = builder.Build();
    var page = "hello from the small page, about the size of bench/run.sh's"u8.ToArray();
    app.Run(context =>
    {
        context.Response.ContentLength = page.Length;
        context.Response.ContentType = "text/plain";
        return context.Response.Body.WriteAsync(page).AsTask();
    });
    await app.StartAsync();
    Console.WriteLine(app.Urls.First());
    await Console.In.ReadLineAsync(); // ends when the parent closes our stdin
    await app.StopAsync();
    return 0;
}

var seconds = args.Length > 0 ? double.Parse(args[0], CultureInfo.InvariantCulture) : 3;
var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2;
var callers = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 16;

// Run through the apphost (ClientBench) or through dotnet (dotnet ClientBench.dll): the child the same way.
string[] childArgs = Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? [typeof(Program).Assembly.Location, "origin"] : ["origin"];
using var origin = Process.Start(new ProcessStartInfo(Environment.ProcessPath!, childArgs)
{
    RedirectStandardInput = true,
    RedirectStandardOutput = true,
    UseShellExecute = false,
})!;
var url = new Uri(new Uri((await origin.StandardOutput.ReadLineAsync())!), "/small");
Console.WriteLine($"origin {url}, {callers} callers, {rounds} rounds of {seconds} s per handler");

// CLIENT_BENCH_TYPES=1: also the allocating types of each recorded run (AllocationTicks).
using var ticks = Environment.GetEnvironmentVariable("CLIENT_BENCH_TYPES") == "1" ? new AllocationTicks() : null;
var results = new Dictionary<string, List<(double Rps, double Bytes, double CpuMicroseconds, double OriginCpuMicroseconds)>> { ["TetherHttpHandler"] = [], ["SocketsHttpHandler"] = [] };
for (var round = 0; round <= rounds; round++)
{
    // The order swaps every round, so that neither handler always runs first (on a fresh origin thread state, say).
    foreach (var name in round % 2 == 0 ? results.Keys.Reverse() : results.Keys)
    {
        // CLIENT_BENCH_ONLY=TetherHttpHandler (or SocketsHttpHandler) runs one handler, e.g. under strace -c.
        if (Environment.GetEnvironmentVariable("CLIENT_BENCH_ONLY") is { Length: > 0 } only && only != name)
        {
            continue;
        }

        HttpMessageHandler handler = name == "TetherHttpHandler" ? new TetherHttpHandler() : new SocketsHttpHandler();
        using var client = new HttpClient(handler);
        ticks?.Reset();
        origin.Refresh();
        var originCpuBefore = origin.TotalProcessorTime;
        var workItemsBefore = ThreadPool.CompletedWorkItemCount;
        // The warm-up is 3 s a handler: Tether's code is not ReadyToRun (SocketsHttpHandler's is), and after 1 s its
        // tier-1 recompiles were still running, so that the first measured round cost it twice the CPU per request.
        var runSeconds = round == 0 ? Math.Max(3, seconds) : seconds;
        var (rps, bytes, cpu) = await RunAsync(client, url, runSeconds, callers);
        origin.Refresh();
        var originCpu = (origin.TotalProcessorTime - originCpuBefore).TotalMicroseconds / (rps * runSeconds);
        var workItems = (ThreadPool.CompletedWorkItemCount - workItemsBefore) / (rps * runSeconds);
        if (round == 0)
        {
            continue; // warm-up: JIT, connections, tiering
        }

        results[name].Add((rps, bytes, cpu, originCpu));
        Console.WriteLine($"round {round} {name,-19} {rps,9:0} requests/s {bytes,7:0} bytes allocated per request {cpu,6:0.0} µs of client CPU, {originCpu,6:0.0} µs of origin CPU per request, {workItems:0.00} thread-pool work items per request, {ThreadPool.ThreadCount} pool threads");
        ticks?.Print(12);
    }
}

origin.StandardInput.Close();
await origin.WaitForExitAsync();

double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

if (results.Values.Any(r => r.Count == 0))
{
    return 0;
}

var tether = results["TetherHttpHandler"];
var sockets = results["SocketsHttpHandler"];
Console.WriteLine();
Console.WriteLine("| handler | requests/s (median) | bytes allocated per request (median) | µs of client CPU per request (median) | µs of origin CPU per request (median) |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
Console.WriteLine($"| TetherHttpHandler | {Median(tether.Select(r => r.Rps)):0} | {Median(tether.Select(r => r.Bytes)):0} | {Median(tether.Select(r => r.CpuMicroseconds)):0.0} | {Median(tether.Select(r => r.OriginCpuMicroseconds)):0.0} |");
Console.WriteLine($"| SocketsHttpHandler | {Median(sockets.Select(r => r.Rps)):0} | {Median(sockets.Select(r => r.Bytes)):0} | {Median(sockets.Select(r => r.CpuMicroseconds)):0.0} | {Median(sockets.Select(r => r.OriginCpuMicroseconds)):0.0} |");
Console.WriteLine($"| Tether / Sockets | {Median(tether.Select(r => r.Rps)) / Median(sockets.Select(r => r.Rps)):0.00}x | {Median(tether.Select(r => r.Bytes)) / Median(sockets.Select(r => r.Bytes)):0.00}x | {Median(tether.Select(r => r.CpuMicroseconds)) / Median(sockets.Select(r => r.CpuMicroseconds)):0.00}x | {Median(tether.Select(r => r.OriginCpuMicroseconds)) / Median(sockets.Select(r => r.OriginCpuMicroseconds)):0.00}x |");

// Single rounds swing by ±20 % on this 2-core machine (either handler; the origin shares the cores), so the ratio of
// each round's pair is given too, with its spread: a gap smaller than the spread is not one.
var ratios = tether.Zip(sockets, (t, s) => t.Rps / s.Rps).Order().ToArray();
Console.WriteLine();
Console.WriteLine($"per-round Tether / Sockets requests/s: median {Median(ratios):0.00}x, quartiles {ratios[ratios.Length / 4]:0.00}x-{ratios[^((ratios.Length / 4) + 1)]:0.00}x, {ratios.Count(r => r >= 1)} of {ratios.Length} rounds at 1.00x or above");

// How far the median ratio itself can be trusted: a 95 % interval from resampling the pairs (bootstrap, fixed seed so
// that a run's figures can be checked). An interval that holds 1.00x means this run cannot tell the two apart.
var random = new Random(1);
var medians = new double[10_000];
var sample = new double[ratios.Length];
for (var i = 0; i < medians.Length; i++)
{
    for (var j = 0; j < sample.Length; j++)
    {
        sample[j] = ratios[random.Next(ratios.Length)];
    }

    medians[i] = Median(sample);
}

Array.Sort(medians);
Console.WriteLine($"95 % interval of that median (bootstrap over the {ratios.Length} pairs): {medians[250]:0.00}x-{medians[9_749]:0.00}x");
return 0;

static async Task<(double Rps, double BytesPerRequest, double CpuMicroseconds)> RunAsync(HttpClient client, Uri url, double seconds, int callers)
{
    long requests = 0;
    using var self = Process.GetCurrentProcess();
    var cpuBefore = self.TotalProcessorTime;
    using var stop = new CancellationTokenSource();
    var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
    var watch = Stopwatch.StartNew();
    var tasks = Enumerable.Range(0, callers).Select(async _ =>
    {
        while (!stop.IsCancellationRequested)
        {
            using var response = await client.GetAsync(url);
            await response.Content.ReadAsByteArrayAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new InvalidOperationException($"status {(int)response.StatusCode}");
            }

            Interlocked.Increment(ref requests);
        }
    }).ToArray();
    stop.CancelAfter(TimeSpan.FromSeconds(seconds));
    await Task.WhenAll(tasks);
    watch.Stop();
    var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
    self.Refresh();
    var cpu = self.TotalProcessorTime - cpuBefore;
    return (requests / watch.Elapsed.TotalSeconds, (double)allocated / requests, cpu.TotalMicroseconds / requests);
}
