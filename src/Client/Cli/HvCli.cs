using Microsoft.Extensions.DependencyInjection;

namespace HvOrleans.Client.Cli;

/// <summary>The <c>hv</c> operator console. Exit codes: 0 ok, 1 refused by a rule, 2 usage, 3 no cluster.</summary>
public sealed class HvCli(TextWriter output, TextWriter error)
{
    private const int Ok = ExitCodes.Ok, Usage = ExitCodes.Usage;

    public const string Help = """
        hv — HvOrleans operator console

          hv host add <host> --memory-mb N [--reserve-mb N]
          hv host show <host> [--json]
          hv vm create <vm> --host <host> --startup-mb N --min-mb N --max-mb N [--buffer-pct P] [--weight W]
                       [--disk-gb G]…                 a real VM's data disks (repeat for more; default one of 1 GB, ext4 on /data)
          hv vm set <vm> [--startup-mb N] [--min-mb N] [--max-mb N] [--buffer-pct P] [--weight W]
          hv vm start <vm> | hv vm stop <vm> | hv vm delete <vm>   (delete: a stopped real VM, disks and all)
          hv vm demand <vm> --mb N                    a modelled guest's demand (a real guest's comes from the guest)
          hv vm show <vm> [--json]
          hv vm exec <vm> [--timeout-s S] -- <command…>   run a command in a real guest (its guest agent); exits with its code
          hv balance <host> [--json]
          hv cluster show [--json]                    the silos in the membership table and their status
        """ + "\n" + BackupCommands.Help + "\n" + TlsCommand.Help + "\n" + """
          hv sim run …                                the fleet simulator (hv-sim; 'hv sim run --help')
          hv chaos run [--minutes M] [--seed S] [--audit DIR] [--json]      the chaos workload (infra/chaos.sh)
          hv cluster failover [--kills K] [--seed S] [--double-after-ms D] [--json]  SIGKILL silos, time failover
          hv backup bench [--vms 20] [--rounds 2] [--json]   HvOrleans vs a plain SDK copy of the same disks
          hv guest bench --host H [--steps 20] [--json]      real-guest latencies (boot, hot-add, balloon) on an agent's host
          hv guest backup-bench --host H [--backups 20] [--data-mb 200] [--disk-gb 4] [--json]
                                  real-guest backups: freeze windows under writes; copy vs qemu-img convert + SDK upload
                                  (the last five are hv-drill's)

        Sizes are in MB. The cluster is found through $HV_HOME/cluster.json (default ~/.hvorleans),
        written by 'infra/cluster.sh up'; Hv__* environment variables override it (e.g. Hv__Client__RetryWindow=00:01:00).
        """;

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default) =>
        ConsoleProgram.RunAsync("hv", error, async () =>
        {
            var line = new CommandLine(args);
            if (line.Words.Count == 0 || line.Flag("help") || line.Words[0] == "help")
            {
                output.WriteLine(Help);
                return line.Words.Count == 0 && !line.Flag("help") ? Usage : Ok;
            }
            if (ExternalCommand.For(line.Words) is { } external)
                return await ExternalCommand.RunAsync(external, args, cancellationToken);
            if (line.Words[0] == "tls")
            {
                new TlsCommand(output).Run(line);
                return Ok;
            }
            var command = new BackupCommands(output).Resolve(line) ?? Resolve(line);
            line.RejectUnknownOptions();
            var options = ClusterConnection.Load();
            using var host = await ClusterConnection.ConnectAsync(options, cancellationToken);
            var grains = host.Services.GetRequiredService<IClusterClient>();
            try
            {
                await new OperationRetry(options.Client.RetryWindow, (attempt, e, delay) => error.WriteLine(
                        $"hv: the cluster did not answer ({e.GetType().Name}: {FirstLine(e.Message)}); retrying in {delay.TotalSeconds:0.0} s (attempt {attempt + 1})"))
                    .RunAsync(() => command(grains), cancellationToken);
            }
            catch (GuestExitException e)
            {
                return e.ExitCode;
            }
            return Ok;
        }, usageHint: "see 'hv help'");

    private static string FirstLine(string message) => ConsoleProgram.FirstLine(message);

    /// <summary>Reads the whole command line before connecting, so a typo fails in milliseconds.</summary>
    private Func<IGrainFactory, Task> Resolve(CommandLine line) => (line.Words[0], line.Words.ElementAtOrDefault(1)) switch
    {
        ("host", "add") => HostAdd(line.Word(2, "host id"), line.RequiredMb("memory-mb"), line.OptionalInt("reserve-mb") ?? 1024),
        ("host", "show") => HostShow(line.Word(2, "host id"), line.Json),
        ("vm", "create") => VmCreate(line.Word(2, "vm id"), RequiredText(line, "host"),
            new VmConfig(line.RequiredMb("startup-mb"), line.RequiredMb("min-mb"), line.RequiredMb("max-mb"),
                line.OptionalInt("buffer-pct") ?? VmConfig.DefaultBufferPercent, line.OptionalInt("weight") ?? VmConfig.DefaultWeight),
            line.Ints("disk-gb") is { Count: > 0 } disks ? new VmDisks(disks) : null, line.Json),
        ("vm", "set") when line.Text("guest-agent") is { } agent => GuestAgent(line.Word(2, "vm id"), agent),
        ("vm", "set") => VmShowing(line.Word(2, "vm id"), line.Json, Configure(line)),
        ("vm", "start") => VmShowing(line.Word(2, "vm id"), line.Json, vm => vm.Start()),
        ("vm", "stop") => VmShowing(line.Word(2, "vm id"), line.Json, vm => vm.Stop()),
        ("vm", "delete") => VmDelete(line.Word(2, "vm id")),
        ("vm", "demand") => VmShowing(line.Word(2, "vm id"), line.Json, Demand(line.RequiredMb("mb"))),
        ("vm", "show") => VmShowing(line.Word(2, "vm id"), line.Json, vm => vm.GetInfo()),
        ("vm", "exec") => VmExec(line.Word(2, "vm id"), line.Rest is { Count: > 0 } command ? command
            : throw new UsageException("Give the command after '--': hv vm exec <vm> -- free -m"), line.IntIn("timeout-s", 1, 25, fallback: 20)),
        ("balance", _) => Balance(line.Word(1, "host id"), line.Json),
        ("cluster", "show") => ClusterShow(line.Json),
        _ => throw new UsageException($"Unknown command '{string.Join(' ', line.Words.Take(2))}'."),
    };

    private static Func<IVmGrain, Task<VmInfo>> Configure(CommandLine line)
    {
        var change = new VmConfigChange(line.OptionalInt("startup-mb"), line.OptionalInt("min-mb"), line.OptionalInt("max-mb"),
            line.OptionalInt("buffer-pct"), line.OptionalInt("weight"));
        return vm => vm.Configure(change);
    }

    private Func<IGrainFactory, Task> GuestAgent(string vmId, string agent)
    {
        bool running = agent switch { "on" => true, "off" => false, _ => throw new UsageException($"--guest-agent is on or off; got '{agent}'.") };
        return async grains =>
        {
            var d = await grains.GetGrain<IGuestDiskGrain>(vmId).SetGuestAgent(running);
            output.Write($"VM {vmId}: guest agent {(d.GuestAgent ? "on" : "off")}\n");
        };
    }

    private static Func<IVmGrain, Task<VmInfo>> Demand(int demandMb) => vm => vm.ReportDemand(demandMb);

    private static string RequiredText(CommandLine line, string name) =>
        line.Text(name) ?? throw new UsageException($"--{name} is required.");

    private Func<IGrainFactory, Task> HostAdd(string hostId, int memoryMb, int reserveMb) => async grains =>
        Print(await grains.GetGrain<IHostGrain>(hostId).Add(memoryMb, reserveMb), json: false);

    private Func<IGrainFactory, Task> HostShow(string hostId, bool json) => async grains =>
        Print(await grains.GetGrain<IHostGrain>(hostId).GetInfo(), json);

    private Func<IGrainFactory, Task> VmCreate(string vmId, string hostId, VmConfig config, VmDisks? disks, bool json) => async grains =>
        Print(await grains.GetGrain<IVmGrain>(vmId).Create(hostId, config, disks), json);

    private Func<IGrainFactory, Task> VmDelete(string vmId) => async grains =>
    {
        await grains.GetGrain<IVmGrain>(vmId).Delete();
        output.Write($"VM {vmId} deleted (its backups stay: hv backup list --vm {vmId})\n");
    };

    private Func<IGrainFactory, Task> VmShowing(string vmId, bool json, Func<IVmGrain, Task<VmInfo>> call) => async grains =>
        Print(await call(grains.GetGrain<IVmGrain>(vmId)), json);

    /// <summary>The guest's output as it printed it; its exit code becomes hv's (through <see cref="GuestExitException"/>).</summary>
    private Func<IGrainFactory, Task> VmExec(string vmId, IReadOnlyList<string> command, int timeoutSeconds) => async grains =>
    {
        string hostId = await grains.GetGrain<IVmGrain>(vmId).GetHostId();
        var result = await grains.GetGrain<IHostGrain>(hostId).ExecInGuest(vmId, command, TimeSpan.FromSeconds(timeoutSeconds));
        output.Write(result.StdOut);
        error.Write(result.StdErr);
        if (result.ExitCode != 0) throw new GuestExitException(result.ExitCode);
    };

    private Func<IGrainFactory, Task> Balance(string hostId, bool json) => async grains =>
    {
        await grains.GetGrain<IHostGrain>(hostId).GetInfo();
        var report = await grains.GetGrain<IHostBalancerGrain>(hostId).BalanceNow();
        output.Write(json ? JsonOutput.Serialize(BalanceJson.Of(report)) + "\n" : TextViews.Balance(report));
    };

    private Func<IGrainFactory, Task> ClusterShow(bool json) => async grains =>
    {
        var silos = (await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false))
            .OrderBy(e => e.Status != SiloStatus.Active).ThenByDescending(e => e.StartTime).ToList();
        if (json)
        {
            output.Write(JsonOutput.Serialize(silos.Select(e => new SiloJson(e.SiloAddress.ToParsableString(), e.SiloName, e.Status.ToString(), e.StartTime)).ToList()) + "\n");
            return;
        }
        output.Write($"{"silo",-30} {"name",-24} {"status",-10} started (UTC)\n");
        foreach (var e in silos)
            output.Write($"{e.SiloAddress.ToParsableString(),-30} {e.SiloName,-24} {e.Status,-10} {e.StartTime:yyyy-MM-dd HH:mm:ss}\n");
    };

    private void Print(VmInfo info, bool json) =>
        output.Write(json ? JsonOutput.Serialize(VmJson.Of(info)) + "\n" : TextViews.Vm(info));

    private void Print(HostInfo info, bool json) =>
        output.Write(json ? JsonOutput.Serialize(HostJson.Of(info)) + "\n" : TextViews.Host(info));
}

/// <summary>A command run in a guest ended with a non-zero code, which hv passes on as its own.</summary>
internal sealed class GuestExitException(int exitCode) : Exception($"The guest command exited with {exitCode}.")
{
    public int ExitCode { get; } = exitCode;
}
