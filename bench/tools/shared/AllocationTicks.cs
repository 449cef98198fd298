// The runtime's allocation samples by type, for bench/tools/engine-alloc and bench/tools/client-bench (compiled into
// both): one GCAllocationTick event per ~100 KB allocated names the type that crossed the mark.
/// <summary>Counts the runtime's GCAllocationTick samples by type name.</summary>
internal sealed class AllocationTicks : System.Diagnostics.Tracing.EventListener
{
    private readonly Dictionary<string, int> _counts = [];

    public void Reset()
    {
        lock (_counts)
        {
            _counts.Clear();
        }
    }

    /// <summary>Prints the <paramref name="top"/> types of the samples since <see cref="Reset"/>, by share.</summary>
    public void Print(int top = 15)
    {
        var sampled = Take();
        var total = Math.Max(1, sampled.Values.Sum());
        foreach (var (type, count) in sampled.OrderByDescending(p => p.Value).Take(top))
        {
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"    {100.0 * count / total,5:F1}%  {type}"));
        }
    }

    public Dictionary<string, int> Take()
    {
        lock (_counts)
        {
            return new Dictionary<string, int>(_counts);
        }
    }

    protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Verbose, (System.Diagnostics.Tracing.EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
    {
        if (e.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || e.PayloadNames is null)
        {
            return;
        }

        var index = e.PayloadNames.IndexOf("TypeName");
        var type = index >= 0 ? e.Payload?[index] as string ?? "?" : "?";
        lock (_counts)
        {
            _counts[type] = _counts.GetValueOrDefault(type) + 1;
        }
    }
}
