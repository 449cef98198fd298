namespace Tether.Configuration.Tests;

public sealed class BalancingConfigTests
{
    [Fact]
    public void Every_balancing_key_has_a_default()
    {
        var cluster = ConfigAssert.Valid(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"] }""")).Clusters["api"];
        Assert.Null(cluster.HealthCheck.Active);
        Assert.Equal(5, cluster.HealthCheck.Passive.ConsecutiveFailures);
        Assert.Equal(TimeSpan.FromSeconds(30), cluster.HealthCheck.Passive.BaseEjectionTime);
        Assert.Equal(TimeSpan.FromMinutes(5), cluster.HealthCheck.Passive.MaxEjectionTime);
        Assert.Equal(TimeSpan.Zero, cluster.HealthCheck.SlowStart);
        Assert.Equal(3, cluster.Retries.MaxAttempts);
        Assert.Equal(TimeSpan.FromSeconds(10), cluster.Retries.Timeout);
        Assert.Equal(20, cluster.Retries.BudgetPercent);
        Assert.Equal(10, cluster.Retries.BudgetMinPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(30), cluster.ResolveInterval);
        Assert.Equal("clientIp", cluster.ConsistentHash.Key);
    }

    [Fact]
    public void Balancing_keys_are_read_and_written_back()
    {
        var config = ConfigAssert.Valid(ConfigAssert.WithCluster("""
            {
              "destinations": ["127.0.0.1:9001"],
              "loadBalancing": "PowerOfTwoChoices",
              "healthCheck": {
                "active": { "path": "/healthz", "interval": "1s", "timeout": "500ms", "healthyThreshold": 1, "unhealthyThreshold": 4, "expectedStatus": 204 },
                "passive": { "consecutiveFailures": 0, "baseEjectionTime": "5s", "maxEjectionTime": "1m" },
                "slowStart": "20s"
              },
              "retries": { "maxAttempts": 2, "timeout": "off", "budgetPercent": 50, "budgetMinPerSecond": 0 },
              "resolveInterval": "off",
              "consistentHash": { "key": "cookie:session" }
            }
            """));
        var cluster = config.Clusters["api"];
        Assert.Equal(LoadBalancingPolicyNames.PowerOfTwoChoices, cluster.LoadBalancing);
        var active = Assert.IsType<ActiveHealthCheckConfig>(cluster.HealthCheck.Active);
        Assert.Equal("/healthz", active.Path);
        Assert.Equal(TimeSpan.FromMilliseconds(500), active.Timeout);
        Assert.Equal("204", active.ExpectedStatus);
        Assert.Equal(4, active.UnhealthyThreshold);
        Assert.Equal(0, cluster.HealthCheck.Passive.ConsecutiveFailures);
        Assert.Equal(TimeSpan.FromSeconds(20), cluster.HealthCheck.SlowStart);
        Assert.Null(cluster.Retries.Timeout);
        Assert.Null(cluster.ResolveInterval);
        Assert.Equal("cookie:session", cluster.ConsistentHash.Key);

        var json = ConfigWriter.ToJson(config);
        var again = ConfigAssert.Valid(json);
        Assert.Equal(json, ConfigWriter.ToJson(again));
    }

    [Theory]
    [InlineData("""{ "retries": { "maxAttempts": 0 } }""", "clusters.api.retries.maxAttempts", "from 1 (no retries) to 10")]
    [InlineData("""{ "retries": { "budgetPercent": 150 } }""", "clusters.api.retries.budgetPercent", "from 0 to 100")]
    [InlineData("""{ "retries": { "timeout": "0s" } }""", "clusters.api.retries.timeout", "more than zero")]
    [InlineData("""{ "healthCheck": { "active": { "path": "healthz" } } }""", "clusters.api.healthCheck.active.path", "starts with \"/\"")]
    [InlineData("""{ "healthCheck": { "active": { "interval": "1s", "timeout": "2s" } } }""", "clusters.api.healthCheck.active.timeout", "at most interval (1s)")]
    [InlineData("""{ "healthCheck": { "active": { "unhealthyThreshold": 0 } } }""", "clusters.api.healthCheck.active.unhealthyThreshold", "from 1 to 100")]
    [InlineData("""{ "healthCheck": { "active": { "expectedStatus": "399-200" } } }""", "clusters.api.healthCheck.active.expectedStatus", "\"200-399\"")]
    [InlineData("""{ "healthCheck": { "passive": { "baseEjectionTime": "1m", "maxEjectionTime": "30s" } } }""", "clusters.api.healthCheck.passive.maxEjectionTime", "cannot be shorter than baseEjectionTime (1m)")]
    [InlineData("""{ "healthCheck": { "passive": { "consecutiveFailures": -1 } } }""", "clusters.api.healthCheck.passive.consecutiveFailures", "0 to turn passive ejection off")]
    [InlineData("""{ "consistentHash": { "key": "query:id" } }""", "clusters.api.consistentHash.key", "\"header:NAME\"")]
    [InlineData("""{ "consistentHash": { "key": "header:" } }""", "clusters.api.consistentHash.key", "\"cookie:NAME\"")]
    [InlineData("""{ "resolveInterval": "0s" }""", "clusters.api.resolveInterval", "\"off\"")]
    [InlineData("""{ "healthCheck": { "pasive": {} } }""", "clusters.api.healthCheck.pasive", "did you mean 'passive'?")]
    public void Bad_balancing_keys_are_named_with_their_fix(string extra, string path, string fix)
    {
        var body = "{ \"destinations\": [\"127.0.0.1:9001\"], " + extra.Trim()[1..];
        ConfigAssert.SingleError(ConfigAssert.WithCluster(body), path, fix);
    }

    [Theory]
    [InlineData("200-399", 200, 399)]
    [InlineData(" 204 ", 204, 204)]
    [InlineData("500-599", 500, 599)]
    public void Status_ranges_parse(string text, int min, int max)
    {
        Assert.True(StatusRange.TryParse(text, out var range));
        Assert.Equal(new StatusRange(min, max), range);
    }

    [Theory]
    [InlineData("clientIp", HashKeySource.ClientIp, "")]
    [InlineData("header:X-User-Id", HashKeySource.Header, "X-User-Id")]
    [InlineData("Cookie:session", HashKeySource.Cookie, "session")]
    public void Hash_keys_parse(string text, HashKeySource source, string name)
    {
        Assert.True(HashKey.TryParse(text, out var key));
        Assert.Equal(new HashKey(source, name), key);
    }
}
