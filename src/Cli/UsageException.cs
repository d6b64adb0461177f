namespace HvOrleans.Cli;

/// <summary>The command line itself is wrong (unknown command, missing or malformed option).</summary>
public sealed class UsageException(string message) : Exception(message);
