using System.Runtime.CompilerServices;

namespace Tether.Testing;

/// <summary>
/// Runs once when a test assembly loads. vstest and xunit park three thread-pool threads in blocking waits for the
/// whole run (a sample-profiler trace of a test process: vstest's MessageLoopAsync polling its socket, xunit's
/// ExecutionSink.ThreadWorker and VsTestRunner.RunTestsInAssembly). On a 2-core machine the pool's minimum is 2
/// threads, so early in a run new work waits for the pool to inject threads, half a second at a time: timing
/// tests saw 0.5-0.9 s stalls that had nothing to do with the code under test. Raising the minimum removes them.
/// </summary>
internal static class TestProcessSetup
{
#pragma warning disable CA2255 // a test assembly is the application here, not a library
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void RaiseThreadPoolMinimum()
    {
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, 16), Math.Max(io, 16));
    }
}
