namespace HvOrleans.Cli;

/// <summary>Every HvOrleans console program exits with one of these.</summary>
public static class ExitCodes
{
    public const int Ok = 0, Refused = 1, Usage = 2, Unreachable = 3;
}
