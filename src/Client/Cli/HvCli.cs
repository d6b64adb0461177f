using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using static HvOrleans.Client.Cli.Symbols;

namespace HvOrleans.Client.Cli;

/// <summary>The <c>hv</c> operator console. Exit codes: 0 ok, 1 refused by a rule, 2 usage, 3 no cluster.</summary>
public sealed class HvCli
{
    private const int Ok = ExitCodes.Ok, Usage = ExitCodes.Usage;
    private readonly TextWriter _output, _error;
    private string[] _args = [];

    public HvCli(TextWriter output, TextWriter error)
    {
        (_output, _error) = (output, error);
        Tree = new CommandTree("hv", """
            HvOrleans operator console: hosts, VMs and their memory (Hyper-V Manager's Memory tab beside the guest's
            free -m), live backups, the cluster. Sizes are in MB. The cluster is found through $HV_HOME/cluster.json
            (default ~/.hvorleans), written by 'infra/cluster.sh up'; Hv__* environment variables override it
            (e.g. Hv__Client__RetryWindow=00:01:00). Exit codes: 0 ok, 1 refused by a rule, 2 usage, 3 no cluster.
            """, ["hv host add h1 --memory-mb 16384", "hv vm show vm1 --json", "hv watch host h1", "source <(hv completion bash)"]);
        var backups = new BackupCommands(output, Tree, OnClusterAsync);
        foreach (var command in new[]
                 {
                     HostCommands(), VmCommands(), Balance(), ClusterCommands(), backups.Disk(), backups.Backup(External("bench",
                         "HvOrleans vs a plain SDK copy of the same disks (hv-drill). Options: [--vms 20] [--rounds 2] [--json].",
                         ["hv backup bench --vms 20 --rounds 2"])),
                     new WatchCommands(output, Tree, OnClusterAsync).Watch(), TlsCommand.Command(output, Tree),
                     Tree.Group("sim", "The fleet simulator (hv-sim): a fleet driven by a trace, balanced by each policy in turn.", ["hv sim run --synthetic diurnal --hosts 4 --vms-per-host 8 --policies all"],
                         External("run", "Runs the fleet simulator (hv-sim).\n" + SimHelp, ["hv sim run --trace data/bitbrains-rnd-2013-7 --hosts 10 --vms-per-host 20 --policies all", "hv sim run --trace data/bitbrains-rnd-2013-7,data/bitbrains-rnd-2013-8 --hosts 3 --vms-per-host 20 --storage none --json", "hv sim run --synthetic bursty --hosts 1000 --vms-per-host 10 --storage none --json"]),
                         External("kfold", "A k-fold over VM groups: predict judged on VMs its parameters were not chosen on (hv-sim).\n" + KFoldHelp, ["hv sim kfold --trace data/bitbrains-rnd-2013-7,data/bitbrains-rnd-2013-8 --hosts 10 --vms-per-host 20 --folds 5"])),
                     Tree.Group("chaos", "The chaos workload (hv-drill; infra/chaos.sh runs it beside its nemesis).", ["hv chaos run --minutes 2 --seed 7"],
                         External("run", "Operations, backups and demand against the local cluster while something else kills silos; checks every acknowledged write. Options: [--minutes M] [--seed S] [--audit DIR] [--json].", ["hv chaos run --minutes 2 --seed 7 --audit /tmp/audit"])),
                     Tree.Group("guest", "Real-guest measurements on an agent's host (hv-drill).", ["hv guest bench --host h1 --steps 20"],
                         External("bench", "Boot, hot-add and balloon latencies of real guests. Options: --host H [--steps 20] [--json].", ["hv guest bench --host h1 --steps 20 --json"]),
                         External("backup-bench", "Real-guest live backups: freeze windows under writes; copy vs qemu-img convert + SDK upload. Options: --host H [--backups 20] [--data-mb 200] [--disk-gb 4] [--run-dir DIR] [--json].", ["hv guest backup-bench --host h1 --backups 20"])),
                     Completion(),
                 })
            Tree.Root.Subcommands.Add(command);
    }

    private const string SimHelp = """
        Options: (--trace DIR[,DIR…] | --synthetic steady|diurnal|bursty|leak) --hosts N --vms-per-host M [--ticks T]
        [--policy P | --policies P1,P2,... | --policies all] [--storage none|memory|azure] [--host-memory-mb N]
        [--trace-vms FROM..TO] [--guest-kernel current|legacy] [--vm-sizing provisioned|observed] [--seed S] [--density]
        [--check] [--out DIR] [--json].
        VM sizing provisioned (default): Maximum P, Startup P/8, Minimum P/16 of what the VM was provisioned;
        observed: Minimum ½ × its mean demand, Startup its mean, Maximum 1.25 × its peak (a XenServer admin's range).
        Guest kernel current (default): ballooned pages leave the guest's total, so its balloon floor falls
        with it; legacy: they stay in it as used buffers (the seed's guest).
        Storage none = the policy code alone; memory/azure = real host grains in a silo the simulator hosts.
        Policies: static, hyperv, squeezed, mom, proxmox, esxi (the peers); lean, predict (ours).
        """;

    private const string KFoldHelp = """
        The trace's VM series are dealt into K folds; for each, predict's parameters are chosen on the other folds
        (lowest lagged unmet demand holding at most 2 % more memory than the best peer there) and judged on it.
        Options: --trace DIR[,DIR…] --hosts N --vms-per-host M [--folds 5] [--ticks T] [--guest-kernel current|legacy]
        [--seed S] [--json].
        """;

    public CommandTree Tree { get; }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        // 'hv help [command…]' is 'hv [command…] --help'.
        _args = args is ["help", .. var rest] ? [.. rest, "--help"] : args;
        var parse = Tree.Root.Parse(_args.Length == 0 ? ["--help"] : _args);
        var command = parse.CommandResult.Command;
        if (parse.Errors.Count > 0 && !CommandTree.IsHelp(parse))
        {
            // "Required command was not provided" says nothing a misspelt command's own error does not.
            var errors = parse.Errors.Select(e => e.Message).Distinct().ToList();
            foreach (var e in errors.Count > 1 ? errors.Where(e => !e.StartsWith("Required command", StringComparison.Ordinal)) : errors)
                _error.WriteLine($"hv: {e}");
            _error.WriteLine(CommandTree.UsageHint(command));
            return Usage;
        }
        return await ConsoleProgram.RunAsync("hv", _error, async () =>
        {
            try
            {
                int code = await parse.InvokeAsync(new InvocationConfiguration { Output = _output, Error = _error, EnableDefaultExceptionHandler = false }, cancellationToken);
                // A bare 'hv' shows the overview, but is not a command that worked.
                return _args.Length == 0 ? Usage : code;
            }
            catch (UsageException e)
            {
                _error.WriteLine($"hv: {e.Message}");
                _error.WriteLine(CommandTree.UsageHint(command));
                return Usage;
            }
        }, usageHint: $"see '{CommandTree.PathOf(command)} --help'");
    }

    /// <summary>Connects, then runs the operation resolved from the command line, retried within the retry window.</summary>
    private async Task<int> OnClusterAsync(Func<IGrainFactory, Task> operation, CancellationToken cancellationToken) =>
        await OnClusterAsync(operation, cancellationToken, ClusterConnection.Load());

    private async Task<int> OnClusterAsync(Func<IGrainFactory, Task> operation, CancellationToken cancellationToken, ClusterConnectionOptions options)
    {
        using var host = await ClusterConnection.ConnectAsync(options, cancellationToken);
        var grains = host.Services.GetRequiredService<IClusterClient>();
        try
        {
            await new OperationRetry(options.Client.RetryWindow, (attempt, e, delay) => _error.WriteLine(
                    $"hv: the cluster did not answer ({e.GetType().Name}: {ConsoleProgram.FirstLine(e.Message)}); retrying in {delay.TotalSeconds:0.0} s (attempt {attempt + 1})"))
                .RunAsync(() => operation(grains), cancellationToken);
        }
        catch (GuestExitException e)
        {
            return e.ExitCode;
        }
        return Ok;
    }

    /// <summary>A leaf whose grain calls are resolved from the parse (values checked) before it connects.</summary>
    private Command Op(string name, string description, string[] examples, Symbol[] symbols, Func<ParseResult, Func<IGrainFactory, Task>> resolve) =>
        Tree.Leaf(name, description, examples, [.. symbols, Json], (parse, ct) => OnClusterAsync(resolve(parse), ct));

    /// <summary>
    /// A read-only leaf: asked of a silo's web side when one is known (milliseconds), else — or when
    /// none answers — through Orleans like any other command. Both print the same document.
    /// </summary>
    private Command Read<T>(string name, string description, string[] examples, Symbol[] symbols,
        Func<ParseResult, string> path, Action<T, ParseResult> print, Func<ParseResult, Func<IGrainFactory, Task>> resolve) where T : class =>
        Tree.Leaf(name, description, examples, [.. symbols, Json], async (parse, ct) =>
        {
            var operation = resolve(parse);
            var options = ClusterConnection.Load();
            if (await WebReads.GetAsync<T>(options, path(parse), ct) is { } answer)
            {
                print(answer, parse);
                return Ok;
            }
            return await OnClusterAsync(operation, ct, options);
        });

    /// <summary>A command another HvOrleans program runs (as git runs git-foo); hv describes it and passes the command line on.</summary>
    private Command External(string name, string description, string[] examples)
    {
        var command = Tree.Leaf(name, description, examples, [], (_, ct) =>
            ExternalCommand.RunAsync(ExternalCommand.For(_args) ?? throw new InvalidOperationException($"No program runs '{string.Join(' ', _args)}'."), _args, ct));
        command.TreatUnmatchedTokensAsErrors = false;
        return command;
    }

    private Command HostCommands()
    {
        Argument<string> Host() => Id("host", "host id");
        var (addHost, memory, reserve) = (Host(), RequiredInt("--memory-mb", "The host's physical memory"), OptionalInt("--reserve-mb", "Memory kept for the host itself (default 1024)"));
        var showHost = Host();
        var (setHost, policy) = (Host(), Text("--policy", $"The policy its balancer runs: {string.Join(", ", BalancingPolicies.All.Select(p => p.Name))}", "P", required: true));
        return Tree.Group("host", "Physical hosts: their memory and the VMs on them.", ["hv host add h1 --memory-mb 16384", "hv host show h1"],
            Op("add", "Registers a host. Adding it again with the same sizes changes nothing; other sizes are refused.",
                ["hv host add h1 --memory-mb 16384 --reserve-mb 1024"], [addHost, memory, reserve],
                p => async grains => Print(await grains.GetGrain<IHostGrain>(p.GetValue(addHost)!).Add(p.GetValue(memory), p.GetValue(reserve) ?? 1024), p.GetValue(Json))),
            Op("show", "A host's memory, reserve, assigned and available memory, its policy and its VMs.", ["hv host show h1", "hv host show h1 --json"], [showHost],
                p => async grains => Print(await grains.GetGrain<IHostGrain>(p.GetValue(showHost)!).GetInfo(), p.GetValue(Json))),
            Op("set", "Chooses the balancing policy the host's balancer runs from its next pass. A host never set runs the cluster's " +
                "Hv:Balancer:DefaultPolicy: predict, the best measured (docs/POLICIES.md compares them).",
                ["hv host set h1 --policy hyperv", "hv host set h1 --policy predict"], [setHost, policy],
                p => async grains => Print(await grains.GetGrain<IHostGrain>(p.GetValue(setHost)!).SetPolicy(p.GetValue(policy)!), p.GetValue(Json))));
    }

    private Command VmCommands()
    {
        Argument<string> Vm() => Id("vm", "VM id");
        var create = Vm();
        var (host, startup, min, max) = (Text("--host", "The host the VM is placed on", "HOST", required: true),
            RequiredInt("--startup-mb", "Memory at boot"), RequiredInt("--min-mb", "Ballooning never takes it below this"), RequiredInt("--max-mb", "Hot-add never takes it above this"));
        var (buffer, weight) = (OptionalInt("--buffer-pct", $"Memory kept free above demand, in percent (default {VmConfig.DefaultBufferPercent})", "P"),
            OptionalInt("--weight", $"Its share when memory is short (default {VmConfig.DefaultWeight})", "W"));
        var disks = new Option<int[]>("--disk-gb") { Description = "A real VM's data disk, in GB; repeat for more (default one of 1 GB, ext4 on /data)", HelpName = "G" };
        var set = Vm();
        var (setStartup, setMin, setMax, setBuffer, setWeight) = (OptionalInt("--startup-mb", "Memory at boot (only while off)"),
            OptionalInt("--min-mb", "New Minimum (while running: only down)"), OptionalInt("--max-mb", "New Maximum (while running: only up)"),
            OptionalInt("--buffer-pct", "New buffer, in percent", "P"), OptionalInt("--weight", "New weight", "W"));
        var agent = new Option<string>("--guest-agent") { Description = "Whether the guest's VSS daemon runs (off: backups are crash-consistent)", HelpName = "on|off" };
        agent.AcceptOnlyFromAmong("on", "off");
        var (start, stop, delete, demandVm, show, execVm) = (Vm(), Vm(), Vm(), Vm(), Vm(), Vm());
        var demand = RequiredInt("--mb", "The guest's demand (a modelled guest's; a real guest reports its own)");
        var timeout = IntIn("--timeout-s", "How long the command may run, in seconds", 1, 25, 20, "S");
        var argv = new Argument<string[]>("command") { Description = "The command and its arguments, after '--'", Arity = ArgumentArity.ZeroOrMore };
        return Tree.Group("vm", "VMs: create, configure, start and stop them, and see both views of their memory.", ["hv vm create vm1 --host h1 --startup-mb 1024 --min-mb 512 --max-mb 4096", "hv vm show vm1"],
            Op("create", "Places a new, stopped VM on a host. Repeating it with the same configuration changes nothing.",
                ["hv vm create vm1 --host h1 --startup-mb 1024 --min-mb 512 --max-mb 4096 --buffer-pct 20 --weight 5000", "hv vm create db1 --host h1 --startup-mb 2048 --min-mb 1024 --max-mb 8192 --disk-gb 4 --disk-gb 1"],
                [create, host, startup, min, max, buffer, weight, disks],
                p =>
                {
                    var config = new VmConfig(p.GetValue(startup), p.GetValue(min), p.GetValue(max),
                        p.GetValue(buffer) ?? VmConfig.DefaultBufferPercent, p.GetValue(weight) ?? VmConfig.DefaultWeight);
                    var vmDisks = p.GetValue(disks) is { Length: > 0 } gb ? new VmDisks(gb) : null;
                    return async grains => Print(await grains.GetGrain<IVmGrain>(p.GetValue(create)!).Create(p.GetValue(host)!, config, vmDisks), p.GetValue(Json));
                }),
            Op("set", "Changes a VM's memory settings within the rules (while running: Startup fixed, Maximum only up, Minimum only down), or its guest agent.",
                ["hv vm set vm1 --max-mb 8192 --weight 8000", "hv vm set vm1 --guest-agent off"],
                [set, setStartup, setMin, setMax, setBuffer, setWeight, agent],
                p =>
                {
                    var change = new VmConfigChange(p.GetValue(setStartup), p.GetValue(setMin), p.GetValue(setMax), p.GetValue(setBuffer), p.GetValue(setWeight));
                    return p.GetValue(agent) is { } on
                        ? GuestAgent(p.GetValue(set)!, on == "on", p.GetValue(Json))
                        : VmShowing(p.GetValue(set)!, p.GetValue(Json), vm => vm.Configure(change));
                }),
            Op("start", "Boots a VM at its Startup memory, ballooning others toward their Minimum if the host is short.", ["hv vm start vm1"], [start],
                p => VmShowing(p.GetValue(start)!, p.GetValue(Json), vm => vm.Start())),
            Op("stop", "Stops a VM; its memory returns to the host.", ["hv vm stop vm1"], [stop],
                p => VmShowing(p.GetValue(stop)!, p.GetValue(Json), vm => vm.Stop())),
            Op("delete", "Deletes a stopped VM (a real VM's disks too); its backups stay.", ["hv vm delete vm1"], [delete],
                p => VmDelete(p.GetValue(delete)!, p.GetValue(Json))),
            Op("demand", "Sets a modelled guest's memory demand.", ["hv vm demand vm1 --mb 3000"], [demandVm, demand],
                p => VmShowing(p.GetValue(demandVm)!, p.GetValue(Json), vm => vm.ReportDemand(p.GetValue(demand)))),
            Read("show", "Hyper-V Manager's Memory tab beside the guest's free -m.", ["hv vm show vm1", "hv vm show vm1 --json"], [show],
                p => $"vms/{Uri.EscapeDataString(p.GetValue(show)!)}", (VmJson vm, ParseResult p) => Print(vm, p.GetValue(Json)),
                p => VmShowing(p.GetValue(show)!, p.GetValue(Json), vm => vm.GetInfo())),
            Op("exec", "Runs a command in a real guest through its guest agent; hv exits with the command's code.",
                ["hv vm exec vm1 -- free -m", "hv vm exec vm1 --timeout-s 5 -- sh -c 'df -h /data'"], [execVm, timeout, argv],
                p => VmExec(p.GetValue(execVm)!, p.GetValue(argv) is { Length: > 0 } command ? command
                    : throw new UsageException("Give the command after '--': hv vm exec <vm> -- free -m"), p.GetValue(timeout), p.GetValue(Json))));
    }

    private Command Balance()
    {
        var host = Id("host", "host id");
        return Op("balance", "Runs one balancing pass on a host now and shows what it resized.", ["hv balance h1", "hv balance h1 --json"], [host], p => async grains =>
        {
            string hostId = p.GetValue(host)!;
            await grains.GetGrain<IHostGrain>(hostId).GetInfo();
            var report = await grains.GetGrain<IHostBalancerGrain>(hostId).BalanceNow();
            _output.Write(p.GetValue(Json) ? JsonOutput.Serialize(BalanceJson.Of(report)) + "\n" : TextViews.Balance(report));
        });
    }

    private Command ClusterCommands() =>
        Tree.Group("cluster", "The cluster's silos.", ["hv cluster show"],
            Op("show", "The silos in the membership table and their status.", ["hv cluster show", "hv cluster show --json"], [],
                p => grains => ClusterShow(grains, p.GetValue(Json))),
            External("failover", """
                SIGKILLs random silos of the local cluster and times failover (hv-drill).
                Options: [--kills K] [--seed S] [--double-after-ms D] [--pause-storage-ms P] [--json]. D: a second kill D ms after
                the first silo's restart began, while it joins; P: Azurite SIGSTOPped for P ms from the kill on.
                """, ["hv cluster failover --kills 10 --seed 3"]));

    private Command Completion()
    {
        var shell = new Argument<string>("shell") { Description = "The shell (bash)" };
        shell.AcceptOnlyFromAmong("bash");
        return Tree.Group("completion", "Tab completion for hv's commands and options.", ["source <(hv completion bash)"],
            Tree.Leaf("bash", "Prints a bash completion script; load it with: source <(hv completion bash), or save it in /etc/bash_completion.d/hv.",
                ["source <(hv completion bash)", "hv completion bash > /etc/bash_completion.d/hv"], [], (_, _) =>
                {
                    _output.Write(Tree.BashCompletion());
                    return Task.FromResult(Ok);
                }));
    }

    private Func<IGrainFactory, Task> GuestAgent(string vmId, bool running, bool json) => async grains =>
    {
        var d = await grains.GetGrain<IGuestDiskGrain>(vmId).SetGuestAgent(running);
        _output.Write(json ? JsonOutput.Serialize(DiskJson.Of(d)) + "\n" : $"VM {vmId}: guest agent {(d.GuestAgent ? "on" : "off")}\n");
    };

    private Func<IGrainFactory, Task> VmDelete(string vmId, bool json) => async grains =>
    {
        await grains.GetGrain<IVmGrain>(vmId).Delete();
        _output.Write(json ? JsonOutput.Serialize(new VmDeletedJson(vmId, Deleted: true)) + "\n" : $"VM {vmId} deleted (its backups stay: hv backup list --vm {vmId})\n");
    };

    private Func<IGrainFactory, Task> VmShowing(string vmId, bool json, Func<IVmGrain, Task<VmInfo>> call) => async grains =>
        Print(await call(grains.GetGrain<IVmGrain>(vmId)), json);

    /// <summary>The guest's output as it printed it; its exit code becomes hv's (through <see cref="GuestExitException"/>).</summary>
    private Func<IGrainFactory, Task> VmExec(string vmId, IReadOnlyList<string> command, int timeoutSeconds, bool json) => async grains =>
    {
        string hostId = await grains.GetGrain<IVmGrain>(vmId).GetHostId();
        var result = await grains.GetGrain<IHostGrain>(hostId).ExecInGuest(vmId, command, TimeSpan.FromSeconds(timeoutSeconds));
        if (json)
            _output.Write(JsonOutput.Serialize(new GuestExecJson(vmId, result.ExitCode, result.StdOut, result.StdErr)) + "\n");
        else
        {
            _output.Write(result.StdOut);
            _error.Write(result.StdErr);
        }
        if (result.ExitCode != 0) throw new GuestExitException(result.ExitCode);
    };

    private async Task ClusterShow(IGrainFactory grains, bool json)
    {
        var silos = (await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false))
            .OrderBy(e => e.Status != SiloStatus.Active).ThenByDescending(e => e.StartTime).ToList();
        if (json)
        {
            _output.Write(JsonOutput.Serialize(silos.Select(e => new SiloJson(e.SiloAddress.ToParsableString(), e.SiloName, e.Status.ToString(), e.StartTime)).ToList()) + "\n");
            return;
        }
        _output.Write($"{"silo",-30} {"name",-24} {"status",-10} started (UTC)\n");
        foreach (var e in silos)
            _output.Write($"{e.SiloAddress.ToParsableString(),-30} {e.SiloName,-24} {e.Status,-10} {e.StartTime:yyyy-MM-dd HH:mm:ss}\n");
    }

    private void Print(VmInfo info, bool json) => Print(VmJson.Of(info), json);

    private void Print(VmJson vm, bool json) =>
        _output.Write(json ? JsonOutput.Serialize(vm) + "\n" : TextViews.Vm(vm));

    private void Print(HostInfo info, bool json) =>
        _output.Write(json ? JsonOutput.Serialize(HostJson.Of(info)) + "\n" : TextViews.Host(info));
}

/// <summary>A command run in a guest ended with a non-zero code, which hv passes on as its own.</summary>
internal sealed class GuestExitException(int exitCode) : Exception($"The guest command exited with {exitCode}.")
{
    public int ExitCode { get; } = exitCode;
}
