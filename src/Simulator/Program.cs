using HvOrleans.Cli;
using HvOrleans.Simulator;

// 'hv sim run …' arrives here as 'sim run …'; 'hv-sim run …' works too.
var line = args.FirstOrDefault() == "sim" ? args[1..] : args;
return await ConsoleProgram.RunAsync("hv sim", Console.Error, async () =>
{
    await new SimCommand(Console.Out, Console.Error).RunAsync(new CommandLine(line));
    return ExitCodes.Ok;
}, usageHint: SimCommand.Help + KFold.Help);
