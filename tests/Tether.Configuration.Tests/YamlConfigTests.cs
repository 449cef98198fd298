namespace Tether.Configuration.Tests;

/// <summary>YAML reads into the JSON config's keys: same defaults, same errors, plus the line of the key.</summary>
public sealed class YamlConfigTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("tether-yaml-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void The_yaml_example_is_the_json_example()
    {
        var json = ConfigLoader.LoadFile(Path.Combine(ExampleFilesTests.ExamplesFolder(), "tether.json"));
        var yaml = ConfigLoader.LoadFile(Path.Combine(ExampleFilesTests.ExamplesFolder(), "tether.yaml"));
        Assert.True(yaml.Succeeded, string.Join("\n", yaml.Errors));
        Assert.Equal(ConfigWriter.ToJson(json.Config!), ConfigWriter.ToJson(yaml.Config!));
    }

    [Fact]
    public void The_writer_s_yaml_reads_back_to_the_same_config()
    {
        var config = ConfigLoader.LoadFile(Path.Combine(ExampleFilesTests.ExamplesFolder(), "grpc.json")).Config!;
        var again = ConfigLoader.ParseYaml(ConfigWriter.ToYaml(config));
        Assert.True(again.Succeeded, string.Join("\n", again.Errors));
        Assert.Equal(ConfigWriter.ToJson(config), ConfigWriter.ToJson(again.Config!));
    }

    [Fact]
    public void Scalars_are_typed_as_json_would_have_them()
    {
        var config = Valid("""
            downstream:
              maxRequestsPerConnection: 0x10
              advertiseKeepAlive: True
              maxConnectionLifetime: ~
            clusters:
              api:
                destinations: [127.0.0.1:9001]
                pool: { maxIdlePerDestination: +8, maxLifetime: off }
            routes: [{ cluster: api }]
            """);
        Assert.Equal(16, config.Downstream.MaxRequestsPerConnection);
        Assert.True(config.Downstream.AdvertiseKeepAlive);
        Assert.Null(config.Downstream.MaxConnectionLifetime);
        Assert.Equal(8, config.Clusters["api"].Pool.MaxIdlePerDestination);
        Assert.Null(config.Clusters["api"].Pool.MaxLifetime);
    }

    [Fact]
    public void A_quoted_number_gets_the_json_message_and_its_line()
    {
        var error = SingleError("""
            clusters:
              api:
                destinations: ["127.0.0.1:9001"]
                pool:
                  maxIdlePerDestination: "64"
            routes: [{ cluster: api }]
            """, "clusters.api.pool.maxIdlePerDestination");
        var json = Assert.Single(ConfigLoader.Parse(ConfigAssert.WithCluster("""{ "destinations": ["127.0.0.1:9001"], "pool": { "maxIdlePerDestination": "64" } }""")).Errors);
        Assert.Equal(json.Message, error.Message);
        Assert.Equal("line 5, column 7", error.Location);
        Assert.EndsWith("write 64 without quotes (line 5, column 7)", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_is_named_with_a_suggestion_and_its_line()
    {
        var error = SingleError("""
            admin:
              adress: 127.0.0.1:9000
            """, "admin.adress");
        Assert.Contains("did you mean 'address'?", error.Message, StringComparison.Ordinal);
        Assert.Equal("line 2, column 3", error.Location);
    }

    [Fact]
    public void A_validation_error_names_the_key_and_its_line()
    {
        var error = SingleError("""
            routes:
              - match: { pathPrefix: /api }
                cluster: nope
            """, "routes[0].cluster");
        Assert.Contains("there is no cluster named \"nope\"", error.Message, StringComparison.Ordinal);
        Assert.Equal("line 3, column 5", error.Location);
    }

    [Fact]
    public void A_syntax_error_gives_line_and_column()
    {
        var error = SingleError("""
            admin:
              address: 127.0.0.1:9000
             chain: {}
            """, "line 3, column 2");
        Assert.StartsWith("invalid YAML: ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Line:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_duplicate_key_is_an_error()
    {
        var error = SingleError("""
            admin: { address: 127.0.0.1:9000 }
            Admin: { address: 127.0.0.1:9001 }
            """, "Admin");
        Assert.Contains("written twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Aliases_are_copied_and_a_bomb_of_them_is_refused()
    {
        var config = Valid("""
            clusters:
              a: &backend { destinations: [127.0.0.1:9001], pool: { idleTimeout: 4s } }
              b: *backend
            routes: [{ cluster: a }, { cluster: b }]
            """);
        Assert.Equal(TimeSpan.FromSeconds(4), config.Clusters["b"].Pool.IdleTimeout);

        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
        for (var i = 1; i < 8; i++)
        {
            bomb += $"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n";
        }

        var error = Assert.Single(ConfigLoader.ParseYaml(bomb).Errors);
        Assert.Contains("expands to more than", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void More_than_one_document_is_refused()
    {
        var error = Assert.Single(ConfigLoader.ParseYaml("admin: {}\n---\nchain: {}\n").Errors);
        Assert.Contains("more than one YAML document", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Environment_variables_override_yaml_too()
    {
        var config = ConfigLoader.ParseYaml("admin: { address: 127.0.0.1:9000 }\n",
            new Dictionary<string, string?> { ["TETHER__ADMIN__ADDRESS"] = "127.0.0.1:9002" }).Config!;
        Assert.Equal("127.0.0.1:9002", config.Admin.Address);
    }

    [Theory]
    [InlineData("tether.yaml")]
    [InlineData("tether.yml")]
    [InlineData("tether.conf")]
    public void A_yaml_file_loads_by_its_extension_or_its_content(string name)
    {
        var result = ConfigLoader.LoadFile(Write(name, "admin:\n  address: 127.0.0.1:9003\n"));
        Assert.True(result.Succeeded, string.Join("\n", result.Errors));
        Assert.Equal("127.0.0.1:9003", result.Config!.Admin.Address);
    }

    [Fact]
    public void Yaml_in_a_json_file_gets_a_hint()
    {
        var error = Assert.Single(ConfigLoader.LoadFile(Write("tether.json", "listeners:\n  - address: 127.0.0.1:8080\n")).Errors);
        Assert.StartsWith("invalid JSON: ", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("the file looks like YAML: name it .yaml or .yml to read it as YAML", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_in_a_file_of_another_extension_is_read_as_json()
    {
        Assert.Equal(ConfigFormat.Json, ConfigLoader.FormatOf("tether.conf", "// comment\n{ }"));
        Assert.Equal(ConfigFormat.Yaml, ConfigLoader.FormatOf("tether.conf", "admin: {}"));
        Assert.Equal(ConfigFormat.Json, ConfigLoader.FormatOf("TETHER.JSON", "admin: {}"));
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static TetherConfig Valid(string yaml)
    {
        var result = ConfigLoader.ParseYaml(yaml);
        Assert.True(result.Succeeded, "unexpected errors:\n" + string.Join("\n", result.Errors));
        return result.Config!;
    }

    private static ConfigError SingleError(string yaml, string path)
    {
        var result = ConfigLoader.ParseYaml(yaml);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Path);
        return error;
    }
}
