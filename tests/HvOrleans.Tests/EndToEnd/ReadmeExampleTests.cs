using System.Text.Json;
using System.Text.RegularExpressions;
using HvOrleans.Tests.Infrastructure;
using Xunit.Abstractions;

namespace HvOrleans.Tests.EndToEnd;

/// <summary>
/// The README's examples are real: every <c>$ ./hv …</c> line of its <c>console</c> blocks runs, in
/// order, against a fresh silo process (reads over its web side, as cluster.sh sets up), and its
/// output must have the README's shape — the same lines and words, with figures, hashes, times and
/// bars free; JSON the same keys and kinds of value. A refusal is compared on stderr, with exit 1.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed partial class ReadmeExampleTests(AzuriteFixture azurite, ITestOutputHelper log)
{
    public sealed record Example(string Command, string Output);

    public static IReadOnlyList<Example> Examples(string readme)
    {
        var examples = new List<Example>();
        foreach (Match block in ConsoleBlock().Matches(readme))
        {
            string? command = null;
            var output = new List<string>();
            foreach (string line in block.Groups[1].Value.Split('\n'))
            {
                if (line.StartsWith("$ ", StringComparison.Ordinal))
                {
                    if (command is not null) examples.Add(new(command, string.Join('\n', output).TrimEnd('\n')));
                    (command, output) = (line[2..], []);
                }
                else output.Add(line);
            }
            if (command is not null) examples.Add(new(command, string.Join('\n', output).TrimEnd('\n')));
        }
        return examples;
    }

    [Fact]
    public async Task Every_hv_example_in_the_README_gives_output_of_the_shape_shown()
    {
        var examples = Examples(await File.ReadAllTextAsync(Path.Combine(Repo.Root, "README.md")));
        Assert.True(examples.Count(e => e.Command.StartsWith("./hv ", StringComparison.Ordinal)) >= 8, "the README's console blocks hold the first session");
        var cluster = new ClusterSettings(azurite.ConnectionString) { DefaultPolicy = null };   // as infra/cluster.sh starts it
        int web = Repo.FreePort();
        await using var silo = await SiloProcess.StartAsync(cluster, new Dictionary<string, string> { ["Hv__Web__Port"] = $"{web}" });
        var hv = new HvConsole(cluster, new Dictionary<string, string> { ["Hv__Client__WebUrls__0"] = $"http://127.0.0.1:{web}" });
        foreach (var example in examples.Where(e => e.Command.StartsWith("./hv ", StringComparison.Ordinal)))
        {
            var (code, stdout, stderr) = await hv.RunAsync(example.Command["./hv ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries));
            bool refusal = example.Output.StartsWith("hv: refused", StringComparison.Ordinal);
            string actual = (refusal ? stderr : stdout).TrimEnd('\n');
            log.WriteLine($"$ {example.Command}\n{actual}");
            Assert.True(code == (refusal ? 1 : 0), $"{example.Command} exited {code}: {stderr}");
            if (example.Output.TrimStart().StartsWith('{'))
                Assert.Equal(Shape(JsonDocument.Parse(example.Output).RootElement), Shape(JsonDocument.Parse(actual).RootElement));
            else
                Assert.Equal(Shape(example.Output), Shape(actual));
        }
    }

    /// <summary>A text's lines with whitespace runs collapsed and the parts that vary replaced by placeholders.</summary>
    public static IReadOnlyList<string> Shape(string text) =>
        [.. text.Split('\n').Select(line =>
        {
            line = ProgressBar().Replace(line, "[<bar>]");
            line = MemoryBar().Replace(line, "<bar>");
            line = Hex().Replace(line, "<hex>");
            line = Number().Replace(line, "#");
            line = Status().Replace(line, "<status>");
            return Spaces().Replace(line.Trim(), " ");
        })];

    /// <summary>A JSON document's keys, recursively, each with the kind of its value.</summary>
    public static string Shape(JsonElement json) => json.ValueKind switch
    {
        JsonValueKind.Object => "{" + string.Join(",", json.EnumerateObject().Select(p => $"{p.Name}:{Shape(p.Value)}")) + "}",
        JsonValueKind.Array => "[" + (json.GetArrayLength() > 0 ? Shape(json[0]) : "") + "]",
        JsonValueKind.True or JsonValueKind.False => "bool",
        _ => json.ValueKind.ToString().ToLowerInvariant(),
    };

    [Fact]
    public void Shapes_free_figures_but_not_words_or_keys()
    {
        Assert.Equal(Shape("  Memory pressure       244 %\n  Memory status     Warning"), Shape("  Memory pressure   83 %\n  Memory status  OK"));
        Assert.NotEqual(Shape("  Memory pressure 83 %"), Shape("  Memory Pressure 83 %"));
        Assert.Equal(Shape("vm1 Done [####....] 1.5/64.0 MB sha256 3b6a07d0d404fab4…"), Shape("vm1 Done [########] 64.0/64.0 MB sha256 00aa07d0d404fab4…"));
        Assert.Equal(Shape(JsonDocument.Parse("""{"a":1,"b":{"c":"x"},"d":[1]}""").RootElement), Shape(JsonDocument.Parse("""{"a":2,"b":{"c":"y"},"d":[7,8]}""").RootElement));
        Assert.NotEqual(Shape(JsonDocument.Parse("""{"a":1}""").RootElement), Shape(JsonDocument.Parse("""{"a":1,"b":null}""").RootElement));
        Assert.Equal(2, Examples("text\n```console\n$ ./hv a\nout\n$ ./hv b\n```\n").Count);
    }

    [GeneratedRegex("```console\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex ConsoleBlock();

    [GeneratedRegex(@"\[[#.]+\]")]
    private static partial Regex ProgressBar();

    [GeneratedRegex("[█▓░·]+")]
    private static partial Regex MemoryBar();

    [GeneratedRegex(@"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b")]
    private static partial Regex Hex();

    [GeneratedRegex(@"\d+(\.\d+)?")]
    private static partial Regex Number();

    [GeneratedRegex(@"\b(OK|Warning|Critical)\b")]
    private static partial Regex Status();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Spaces();
}
