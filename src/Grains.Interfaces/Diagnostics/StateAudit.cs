using System.Text.Json;
using System.Text.Json.Serialization;

namespace HvOrleans.Diagnostics;

/// <summary>
/// One line of the silos' state audit (<c>Hv:AuditDirectory</c>): the format both the writer (the
/// silo's audited grain storage) and the checker (the chaos drill) use. An <c>intent</c> line comes
/// before a write, with the state that may become persisted; a <c>stored</c>, <c>conflict</c> or
/// <c>failed</c> line after it, tied to its intent by <see cref="Write"/> (a sequence within one file).
/// </summary>
public sealed record StateAuditLine(
    string Kind, string Grain, string? ETagBefore, string? ETagAfter, AuditedHost? Host, long Write = 0)
{
    public const string Intent = "intent", Stored = "stored", Conflict = "conflict", Failed = "failed";

    public long Sequence { get; init; }
    public DateTimeOffset At { get; init; }

    public string ToJson() => JsonSerializer.Serialize(this, StateAuditJson.Default.StateAuditLine);

    public static StateAuditLine Parse(string json) =>
        JsonSerializer.Deserialize(json, StateAuditJson.Default.StateAuditLine) ?? throw new JsonException("an empty audit line");
}

/// <summary>What the checker needs of a host's state: its ledger and each VM's limits and memory.</summary>
public sealed record AuditedHost(int MemoryMb, int ReserveMb, IReadOnlyList<AuditedVm> Vms);

public sealed record AuditedVm(string Id, int MinimumMb, int MaximumMb, int AssignedMb, int GuestTotalMb, bool Running);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(StateAuditLine))]
internal sealed partial class StateAuditJson : JsonSerializerContext;
