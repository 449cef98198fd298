using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Tether.Gateway.Http1;

namespace Tether.Gateway.Tests.Http1;

/// <summary>The engine's reused feature collection: what a request sets is gone when the next one binds.</summary>
public sealed class Http1FeatureCollectionTests
{
    private sealed class Marker;

    [Fact]
    public void Set_features_override_and_are_gone_after_a_rebind_with_the_revision_moved()
    {
        var features = new Http1FeatureCollection();
        var start = features.Revision;
        var marker = new Marker();

        features.Set(marker);
        Assert.Same(marker, features.Get<Marker>());
        Assert.NotEqual(start, features.Revision);

        // A known feature the request replaces (or removes) reads as the replacement until the request ends.
        var items = new ItemsFeature();
        features.Set<IItemsFeature>(items);
        features.Set<IHttpResponseBodyFeature>(null);
        Assert.Same(items, features[typeof(IItemsFeature)]);
        Assert.Null(features.Get<IHttpResponseBodyFeature>());
        Assert.Contains(features, f => f.Key == typeof(Marker));

        var before = features.Revision;
        features.Unbind();
        Assert.NotEqual(before, features.Revision);
        Assert.Null(features.Get<Marker>());
        Assert.Null(features.Get<IItemsFeature>());
        Assert.Empty(features);
    }

    [Fact]
    public void A_reused_context_sees_no_item_of_the_request_before()
    {
        var state = new Http1RequestState();
        state.Features.Set<IHttpRequestFeature>(new HttpRequestFeature());
        var context = state.StartRequest();
        context.Items["k"] = "v";
        Assert.Equal("v", context.Items["k"]);

        // The next request on the same connection (pipelined: the state is not returned to the pool between them).
        state.Features.Unbind();
        state.Features.Set<IHttpRequestFeature>(new HttpRequestFeature());
        Assert.False(state.StartRequest().Items.ContainsKey("k"));
    }
}
