using System.Text.RegularExpressions;

namespace HvOrleans;

public static partial class ResourceNames
{
    /// <summary>Ids become storage keys: keep them to characters every provider accepts.</summary>
    public static void Validate(string kind, string id) =>
        Rule.Require(ValidId().IsMatch(id), $"{kind}-id-format",
            $"A {kind} id is 1-64 characters of letters, digits, '.', '_' or '-'; got '{id}'.");

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    private static partial Regex ValidId();
}
