using HvOrleans.Agent;
using HvOrleans.Agent.Qemu;
using HvOrleans.Cli;
using HvOrleans.Connection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

const string Usage = "usage: hv-agent --host <host> [--memory-mb N] [--reserve-mb N] [--run-dir DIR] [--guest-image DIR] [--accel auto|kvm|tcg]";
var switches = new Dictionary<string, string>
{
    ["--host"] = "Hv:Agent:HostId", ["--memory-mb"] = "Hv:Agent:MemoryMb", ["--reserve-mb"] = "Hv:Agent:ReserveMb",
    ["--run-dir"] = "Hv:Agent:RunDirectory", ["--guest-image"] = "Hv:Agent:GuestImage", ["--accel"] = "Hv:Agent:Accel",
};

AgentOptions options;
ClusterConnectionOptions connection;
string accel;
try
{
    if (args.Any(a => a is "--help" or "-h")) { Console.WriteLine(Usage); return ExitCodes.Ok; }
    var unknown = args.Where((a, i) => i % 2 == 0 && !switches.ContainsKey(a)).ToList();
    if (unknown.Count > 0 || args.Length % 2 != 0)
        throw new UsageException($"unknown option or missing value: {string.Join(' ', unknown.DefaultIfEmpty(args.LastOrDefault() ?? ""))}");
    var settings = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(args, switches).Build();
    options = HvOptions.Bind<AgentOptions>(settings, AgentOptions.Section, errorOnUnknown: true);
    connection = ClusterConnection.Load();
    QemuLauncher.CheckPrerequisites(options);
    accel = await QemuLauncher.DetectAccelAsync(options);
}
catch (Exception e) when (e is UsageException or OptionsValidationException or ClusterConfigurationException or AgentSetupException)
{
    Console.Error.WriteLine($"hv-agent: {e.Message}");
    if (e is UsageException) Console.Error.WriteLine(Usage);
    return e is AgentSetupException ? ExitCodes.Refused : ExitCodes.Usage;
}

var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; o.ColorBehavior = LoggerColorBehavior.Disabled; });
builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Microsoft", LogLevel.Warning);
builder.Services.AddSingleton(options).AddSingleton(connection)
    .AddSingleton(sp => new QemuLauncher(options, accel, sp.GetRequiredService<ILoggerFactory>().CreateLogger("HvOrleans.Agent.Qemu")))
    .AddHostedService<HostAgent>();
using var app = builder.Build();
await app.RunAsync();
return Environment.ExitCode;
