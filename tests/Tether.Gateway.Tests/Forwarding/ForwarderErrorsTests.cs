using Tether.Gateway.Forwarding;
using Tether.Upstream;

namespace Tether.Gateway.Tests.Forwarding;

/// <summary>The one mapping from an upstream failure to a status code.</summary>
public sealed class ForwarderErrorsTests
{
    [Theory]
    [InlineData(UpstreamErrorKind.Refused, 502)]
    [InlineData(UpstreamErrorKind.Reset, 502)]
    [InlineData(UpstreamErrorKind.Closed, 502)]
    [InlineData(UpstreamErrorKind.InvalidResponse, 502)]
    [InlineData(UpstreamErrorKind.Timeout, 504)]
    [InlineData(UpstreamErrorKind.NoCapacity, 503)]
    public void Each_kind_maps_to_one_status(UpstreamErrorKind kind, int status) =>
        Assert.Equal(status, ForwarderErrors.StatusCodeFor(kind));

    [Fact]
    public void Every_kind_a_client_can_be_answered_for_has_a_5xx()
    {
        foreach (var kind in Enum.GetValues<UpstreamErrorKind>())
        {
            Assert.InRange(ForwarderErrors.StatusCodeFor(kind), 500, 599);
        }
    }
}
