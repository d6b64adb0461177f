using System.Text.Json;
using HvOrleans.Connection;
using HvOrleans.Tests.Infrastructure;
using HvOrleans.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace HvOrleans.Tests.Layout;

/// <summary>Dependencies point one way, read from what the build resolved (the programs' deps.json), transitively.</summary>
public sealed class ProjectLayoutTests
{
    private static HashSet<string> Libraries(string project, string assembly)
    {
        string deps = Path.Combine(Repo.Root, "src", project, "bin", Repo.Configuration, "net10.0", $"{assembly}.deps.json");
        using var json = JsonDocument.Parse(File.ReadAllText(deps));
        return json.RootElement.GetProperty("libraries").EnumerateObject().Select(l => l.Name.Split('/')[0]).ToHashSet();
    }

    [Theory]
    [InlineData("Client", "hv")]
    [InlineData("Tools", "hv-drill")]
    [InlineData("Agent", "hv-agent")]
    public void Clients_depend_on_contracts_and_the_connection_library_only(string project, string assembly)
    {
        var libraries = Libraries(project, assembly);
        Assert.Contains("HvOrleans.Grains.Interfaces", libraries);
        Assert.Contains("HvOrleans.Connection", libraries);
        foreach (var server in new[] { "HvOrleans.Grains", "HvOrleans.Silo", "Microsoft.Orleans.Server", "Microsoft.Orleans.Persistence.AzureStorage" })
            Assert.DoesNotContain(server, libraries);
    }

    [Fact]
    public void The_domain_rules_use_Orleans_serialization_and_nothing_else_of_Orleans()
    {
        var orleans = Libraries("Domain", "HvOrleans.Domain").Where(l => l.Contains("Orleans", StringComparison.Ordinal) && !l.StartsWith("HvOrleans", StringComparison.Ordinal));
        Assert.Equal(["Microsoft.Orleans.Serialization", "Microsoft.Orleans.Serialization.Abstractions"], orleans.Order());
    }

    private static IConfiguration Settings(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.ToDictionary(v => v.Key, v => (string?)v.Value)).Build();

    [Fact]
    public void A_silo_setting_out_of_range_is_refused_at_start_naming_key_and_value()
    {
        var e = Assert.Throws<OptionsValidationException>(() => HvSiloOptions.Bind(Settings(("Hv:Storage", "Memory"), ("Hv:Backup:CopyParallelism", "0"))));
        Assert.Equal("Hv:Backup:CopyParallelism: The field CopyParallelism must be between 1 and 64. (got 0)", Assert.Single(e.Failures));
    }

    [Fact]
    public void A_misspelt_silo_setting_is_refused_at_start()
    {
        var e = Assert.Throws<OptionsValidationException>(() => HvSiloOptions.Bind(Settings(("Hv:Storage", "Memory"), ("Hv:Balancer:BalancingPerod", "00:00:01"))));
        Assert.Contains("BalancingPerod", Assert.Single(e.Failures));
    }

    [Fact]
    public void Azure_storage_without_a_connection_string_is_refused_at_start()
    {
        var e = Assert.Throws<OptionsValidationException>(() => HvSiloOptions.Bind(Settings(("Hv:Storage", "Azure"))));
        Assert.Contains("Hv:ConnectionString is required", Assert.Single(e.Failures));
    }

    [Fact]
    public void Client_settings_bind_once_with_their_defaults_and_refuse_a_negative_window()
    {
        var defaults = HvOptions.Bind<ClusterConnectionOptions>(Settings(), ClusterConnectionOptions.Section);
        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), "hv-local"), (defaults.Client.RetryWindow, defaults.Client.ResponseTimeout, defaults.ClusterId));
        var e = Assert.Throws<OptionsValidationException>(() =>
            HvOptions.Bind<ClusterConnectionOptions>(Settings(("Hv:Client:RetryWindow", "-00:00:01")), ClusterConnectionOptions.Section));
        Assert.StartsWith("Hv:Client:RetryWindow: ", Assert.Single(e.Failures));
    }
}
