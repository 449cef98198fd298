// A backend and a caller in one process, to show both packages at work:
//   dotnet run --project examples/ClientServer
// The backend (Kestrel + Tether.Server) closes each connection after 5 requests and advertises its keep-alive timeout;
// the caller (HttpClient + Tether.Client from IHttpClientFactory) keeps at most 2 idle connections and follows both.
using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

var backendBuilder = WebApplication.CreateSlimBuilder(args);
backendBuilder.Logging.SetMinimumLevel(LogLevel.Warning);
backendBuilder.WebHost.UseUrls("http://127.0.0.1:0");
backendBuilder.WebHost.UseTetherKeepAlive(o =>
{
    o.FrontProxyIdleTimeout = TimeSpan.FromSeconds(10); // the caller's IdleTimeout below: the backend waits longer
    o.MaxRequestsPerConnection = 5;
    o.DrainDelay = TimeSpan.FromSeconds(1);
});
await using var backend = backendBuilder.Build();
backend.MapGet("/hello", (HttpContext context) => $"hello from connection {context.Connection.Id}");
await backend.StartAsync();
var address = backend.Urls.First();
Console.WriteLine($"backend listening on {address}");

long created = 0, reused = 0;
using var meter = new MeterListener();
meter.InstrumentPublished = (instrument, listener) =>
{
    if (instrument.Meter.Name == "Tether.Client")
    {
        listener.EnableMeasurementEvents(instrument);
    }
};
meter.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
{
    if (instrument.Name == "tether.client.connections.created")
    {
        Interlocked.Add(ref created, value);
    }
    else if (instrument.Name == "tether.client.connections.reused")
    {
        Interlocked.Add(ref reused, value);
    }
});
meter.Start();

var services = new ServiceCollection();
services.AddHttpClient("backend", c => c.BaseAddress = new Uri(address)).UseTether(o =>
{
    o.MaxIdleConnectionsPerHost = 2;
    o.IdleTimeout = TimeSpan.FromSeconds(10);
});
await using var provider = services.BuildServiceProvider();
var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend");

for (var i = 1; i <= 12; i++)
{
    using var response = await client.GetAsync("/hello");
    var keepAlive = response.Headers.TryGetValues("Keep-Alive", out var values) ? string.Join(",", values) : "-";
    Console.WriteLine($"{i,2}: {await response.Content.ReadAsStringAsync()}  Keep-Alive: {keepAlive}  Connection: {response.Headers.Connection}");
}

Console.WriteLine($"connections created {Interlocked.Read(ref created)}, reused {Interlocked.Read(ref reused)} (5 requests per connection at most)");
await backend.StopAsync();
