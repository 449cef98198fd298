namespace Tether.Configuration.Tests;

public class DurationsTests
{
    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("65s", 65_000)]
    [InlineData("5m", 300_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("1h30m", 5_400_000)]
    [InlineData("1m30s", 90_000)]
    [InlineData("1s500ms", 1_500)]
    [InlineData("1h1ms", 3_600_001)]
    [InlineData("48h", 172_800_000)]
    [InlineData("0", 0)]
    [InlineData("0s", 0)]
    [InlineData(" 10s ", 10_000)]
    public void TryParse_reads_every_unit(string text, long milliseconds)
    {
        Assert.True(Durations.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), value);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("65")]
    [InlineData("s")]
    [InlineData("1.5s")]
    [InlineData("-5s")]
    [InlineData("30m1h")]
    [InlineData("1s1s")]
    [InlineData("10sec")]
    [InlineData("10S")]
    [InlineData("1d")]
    [InlineData("off")]
    [InlineData("99999999999999999h")]
    public void TryParse_rejects(string? text)
    {
        Assert.False(Durations.TryParse(text, out _));
    }

    [Theory]
    [InlineData("off")]
    [InlineData("OFF")]
    public void TryParseOptional_reads_off_as_null(string text)
    {
        Assert.True(Durations.TryParseOptional(text, out var value));
        Assert.Null(value);
    }

    [Fact]
    public void TryParseOptional_reads_a_duration()
    {
        Assert.True(Durations.TryParseOptional("2m", out var value));
        Assert.Equal(TimeSpan.FromMinutes(2), value);
        Assert.False(Durations.TryParseOptional("2", out _));
    }

    [Theory]
    [InlineData(500, "500ms")]
    [InlineData(65_000, "1m5s")]
    [InlineData(90_000, "1m30s")]
    [InlineData(3_600_000, "1h")]
    [InlineData(5_400_000, "1h30m")]
    [InlineData(3_600_001, "1h1ms")]
    [InlineData(0, "0s")]
    [InlineData(-1_500, "-1s500ms")]
    public void Format_writes_the_shortest_form(long milliseconds, string expected)
    {
        Assert.Equal(expected, Durations.Format(TimeSpan.FromMilliseconds(milliseconds)));
    }

    [Fact]
    public void Format_of_null_is_off()
    {
        Assert.Equal("off", Durations.Format((TimeSpan?)null));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(999)]
    [InlineData(60_000)]
    [InlineData(86_399_999)]
    public void Format_and_TryParse_round_trip(long milliseconds)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);
        Assert.True(Durations.TryParse(Durations.Format(value), out var back));
        Assert.Equal(value, back);
    }
}
