using HvOrleans.Cli;
using HvOrleans.Simulator;

// 'hv sim run …' arrives here as 'sim run …'; 'hv-sim run …' works too.
var line = args.FirstOrDefault() == "sim" ? args[1..] : args;
var output = Console.Out;
try
{
    await new SimCommand(output, Console.Error).RunAsync(new CommandLine(line));
    return ExitCodes.Ok;
}
catch (UsageException e)
{
    Console.Error.WriteLine($"hv sim: {e.Message}\n{SimCommand.Help}");
    return ExitCodes.Usage;
}
catch (HvOrleans.HvRuleException e)
{
    Console.Error.WriteLine($"hv sim: refused [{e.Rule}]: {e.Message}");
    return ExitCodes.Refused;
}
