using Microsoft.Extensions.DependencyInjection;
using HvOrleans.Silo.Hosting;
using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using Orleans.TestingHost;

namespace HvOrleans.Tests.Infrastructure;

/// <summary>An in-process test cluster whose grains use HvOrleans' own storage and reminder wiring.</summary>
public abstract class ClusterFixture : IAsyncLifetime
{
    public TestCluster Cluster { get; private set; } = null!;
    public IGrainFactory Grains => Cluster.GrainFactory;
    /// <summary>Blob names of this cluster's disks start with it.</summary>
    public string ServiceId => Cluster.Options.ServiceId;

    protected abstract Task<Dictionary<string, string?>> SettingsAsync();

    public async Task InitializeAsync()
    {
        var settings = await SettingsAsync();
        settings["Hv:Balancer:BalancingPeriod"] = "00:00:00.500";
        settings["Hv:Balancer:ReminderPeriod"] = "00:00:05";
        // The tests of Hyper-V's documented figures run its policy; the product's default (predict) is tested where named.
        settings["Hv:Balancer:DefaultPolicy"] = "hyperv";
        // Guest writes stay buffered until a test flushes them.
        settings["Hv:Backup:WritebackPeriod"] = "01:00:00";
        settings["Hv:Backup:DiskSizeMb"] = "16";   // the test Azurite keeps every blob in 512 MB of memory
        settings["Hv:Backup:MaxStepAttempts"] = "3";   // a step that keeps failing gives up after 250 + 500 ms
        var builder = new TestClusterBuilder(1);
        builder.Options.ServiceId = $"hv-test-{Guid.NewGuid():N}";
        builder.ConfigureHostConfiguration(c => c.AddInMemoryCollection(settings));
        builder.AddSiloBuilderConfigurator<HvGrainServices>();
        Cluster = builder.Build();
        await Cluster.DeployAsync();
    }

    public virtual async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class HvGrainServices : ISiloConfigurator
    {
        public void Configure(ISiloBuilder silo)
        {
            silo.Services.AddSingleton<TimeProvider>(TestClock.Shared);
            silo.AddHvGrainServices(silo.Configuration);
        }
    }
}

public sealed class MemoryClusterFixture : ClusterFixture
{
    protected override Task<Dictionary<string, string?>> SettingsAsync() =>
        Task.FromResult(new Dictionary<string, string?> { ["Hv:Storage"] = "Memory" });
}

/// <summary>Grain state and reminders in a real Azurite, started for this fixture alone.</summary>
public sealed class AzureClusterFixture : ClusterFixture
{
    private readonly AzuriteFixture _azurite = new();

    public string ConnectionString => _azurite.ConnectionString;

    protected override async Task<Dictionary<string, string?>> SettingsAsync()
    {
        await _azurite.InitializeAsync();
        return new() { ["Hv:Storage"] = "Azure", ["Hv:ConnectionString"] = _azurite.ConnectionString };
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _azurite.DisposeAsync();
    }
}
