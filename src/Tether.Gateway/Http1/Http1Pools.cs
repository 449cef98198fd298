using Microsoft.Extensions.ObjectPool;

namespace Tether.Gateway.Http1;

/// <summary>The engine's bounded pools: what a connection borrows while it has a request or a send in hand.</summary>
internal static class Http1Pools
{
    /// <summary>
    /// A pool of at most <paramref name="retained"/> (one more is built when it is empty). <paramref name="reset"/>
    /// readies a returned object for its next borrower; one it refuses (false) is dropped, and disposed if it is
    /// disposable, as are those retained when the pool is disposed.
    /// </summary>
    public static ObjectPool<T> Create<T>(Func<T> create, Func<T, bool>? reset = null, int retained = 1024)
        where T : class =>
        new DefaultObjectPoolProvider { MaximumRetained = retained }.Create(new Policy<T>(create, reset));

    private sealed class Policy<T>(Func<T> create, Func<T, bool>? reset) : IPooledObjectPolicy<T>
        where T : class
    {
        public T Create() => create();

        public bool Return(T obj) => reset is null || reset(obj);
    }
}
