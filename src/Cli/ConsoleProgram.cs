using HvOrleans.Connection;

namespace HvOrleans.Cli;

/// <summary>How every HvOrleans console program ends: each kind of failure is one plain line on stderr and its exit code.</summary>
public static class ConsoleProgram
{
    public static async Task<int> RunAsync(string name, TextWriter error, Func<Task<int>> body, string usageHint)
    {
        try
        {
            return await body();
        }
        catch (UsageException e)
        {
            error.WriteLine(usageHint.Contains('\n') ? $"{name}: {e.Message}\n{usageHint}" : $"{name}: {e.Message} ({usageHint})");
            return ExitCodes.Usage;
        }
        catch (HvRuleException e)
        {
            error.WriteLine($"{name}: refused [{e.Rule}]: {e.Message}");
            return ExitCodes.Refused;
        }
        catch (ClusterConfigurationException e)
        {
            error.WriteLine($"{name}: configuration: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (ClusterUnreachableException e)
        {
            error.WriteLine($"{name}: {e.Message}");
            return ExitCodes.Unreachable;
        }
        catch (Exception e) when (OperationRetry.IsTransient(e))
        {
            error.WriteLine($"{name}: the cluster did not answer: {FirstLine(e.Message)}. The outcome is unknown; the command is safe to repeat.");
            return ExitCodes.Unreachable;
        }
    }

    public static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();
}
