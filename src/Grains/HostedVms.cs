using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.Serializers;

namespace HvOrleans.Grains;

/// <summary>
/// A host's VMs by id, immutable: every change makes a new map. The VMs sit in arrays in ordinal id
/// order — the order of the balancer's slots — and maps with the same ids share the ids and their index.
/// A VM's memory, what a balancing tick changes, is kept apart as figures in one array of structs
/// (<see cref="StoredMemory"/>): a tick's write of the VMs it resized copies that array and makes no
/// record per VM (an immutable-dictionary update and two records per resized VM cost as much as the
/// decision itself, issue 15); a VM's record is made again only when it is read. Adding or removing a
/// VM builds a new index; those are an operator's changes, not a tick's. Stored exactly as the immutable
/// dictionary it replaced (<see cref="HostedVmsCodec"/>), so states written before still read.
/// </summary>
[Immutable]
public sealed class HostedVms : IReadOnlyDictionary<string, HostedVm>
{
    public static readonly HostedVms Empty = new([], [], [], new Dictionary<string, int>(StringComparer.Ordinal));

    private readonly string[] _ids;
    private readonly HostedVm[] _vms;          // each VM's record; its Memory may be older than _memory's
    private readonly StoredMemory[] _memory;   // each VM's memory as it is
    private readonly Dictionary<string, int> _index;   // never changed once built: shared by every map with these ids

    private HostedVms(string[] ids, HostedVm[] vms, StoredMemory[] memory, Dictionary<string, int> index) =>
        (_ids, _vms, _memory, _index) = (ids, vms, memory, index);

    /// <summary>The VMs given, each id once.</summary>
    public static HostedVms Of(IEnumerable<KeyValuePair<string, HostedVm>> vms)
    {
        var sorted = vms.ToArray();
        if (sorted.Length == 0) return Empty;
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var (ids, values, memory) = (new string[sorted.Length], new HostedVm[sorted.Length], new StoredMemory[sorted.Length]);
        var index = new Dictionary<string, int>(sorted.Length, StringComparer.Ordinal);
        for (int i = 0; i < sorted.Length; i++)
        {
            var (id, vm) = sorted[i];
            ArgumentNullException.ThrowIfNull(id, nameof(vms));
            ArgumentNullException.ThrowIfNull(vm, nameof(vms));
            if (!index.TryAdd(id, i)) throw new ArgumentException($"A host holds each VM once; VM {id} is given twice.", nameof(vms));
            (ids[i], values[i], memory[i]) = (id, vm, StoredMemory.Of(vm.Memory));
        }
        return new(ids, values, memory, index);
    }

    public int Count => _ids.Length;

    /// <summary>The id of the VM at <paramref name="position"/> in ordinal id order.</summary>
    public string IdAt(int position) => _ids[position];

    /// <summary>The VM at <paramref name="position"/> in ordinal id order.</summary>
    public HostedVm At(int position)
    {
        var vm = _vms[position];
        return _memory[position].Is(vm.Memory) ? vm : vm with { Memory = _memory[position].ToMemory() };
    }

    /// <summary>The configuration of the VM at <paramref name="position"/>: no record is made.</summary>
    public VmConfig ConfigAt(int position) => _vms[position].Config;

    /// <summary>The memory of the VM at <paramref name="position"/>, as figures: no record is made.</summary>
    public ref readonly StoredMemory MemoryAt(int position) => ref _memory[position];

    public HostedVm this[string id] => _index.TryGetValue(id, out int i) ? At(i) : throw new KeyNotFoundException($"VM {id} is not on this host.");

    public IEnumerable<string> Keys => Array.AsReadOnly(_ids);

    public IEnumerable<HostedVm> Values => this.Select(e => e.Value);

    public bool ContainsKey(string id) => _index.ContainsKey(id);

    public bool TryGetValue(string id, [MaybeNullWhen(false)] out HostedVm vm)
    {
        bool found = _index.TryGetValue(id, out int i);
        vm = found ? At(i) : null;
        return found;
    }

    /// <summary>With <paramref name="vm"/> as <paramref name="id"/>, which must not be on the host yet.</summary>
    public HostedVms Add(string id, HostedVm vm) => ContainsKey(id)
        ? throw new ArgumentException($"A host holds each VM once; VM {id} is on it already.", nameof(id))
        : Of(this.Append(KeyValuePair.Create(id, vm)));

    /// <summary>With <paramref name="vm"/> as <paramref name="id"/>, replacing the VM of that id or adding it.</summary>
    public HostedVms SetItem(string id, HostedVm vm) => SetItems([KeyValuePair.Create(id, vm)]);

    /// <summary>With each of <paramref name="vms"/>, replacing VMs of the same ids or adding them (the last of an id wins).</summary>
    public HostedVms SetItems(IEnumerable<KeyValuePair<string, HostedVm>> vms)
    {
        var builder = ToBuilder();
        Dictionary<string, HostedVm>? grown = null;   // once an id is new: the ids change, so the map is built anew
        foreach (var (id, vm) in vms)
        {
            ArgumentNullException.ThrowIfNull(vm, nameof(vms));
            if (grown is not null) grown[id] = vm;
            else if (_index.TryGetValue(id, out int i)) builder.SetAt(i, vm);
            else grown = new Dictionary<string, HostedVm>(builder.ToImmutable(), StringComparer.Ordinal) { [id] = vm };
        }
        return grown is null ? builder.ToImmutable() : Of(grown);
    }

    /// <summary>Without <paramref name="id"/> (the same map when it is not on the host).</summary>
    public HostedVms Remove(string id) => ContainsKey(id) ? Of(this.Where(e => e.Key != id)) : this;

    /// <summary>For changing VMs in place by position; the map itself never changes.</summary>
    public Builder ToBuilder() => new(this);

    public IEnumerator<KeyValuePair<string, HostedVm>> GetEnumerator()
    {
        for (int i = 0; i < _ids.Length; i++) yield return KeyValuePair.Create(_ids[i], At(i));
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Replaces VMs, or only their memory, by position; copies each array at its first replacement only.</summary>
    public sealed class Builder(HostedVms from)
    {
        private HostedVm[]? _vms;
        private StoredMemory[]? _memory;

        public void SetAt(int position, HostedVm vm)
        {
            ArgumentNullException.ThrowIfNull(vm);
            _vms ??= (HostedVm[])from._vms.Clone();
            _vms[position] = vm;
            SetMemoryAt(position, StoredMemory.Of(vm.Memory));
        }

        public void SetMemoryAt(int position, in StoredMemory memory)
        {
            _memory ??= (StoredMemory[])from._memory.Clone();
            _memory[position] = memory;
        }

        /// <summary>The map with the replacements; the builder starts again from it.</summary>
        public HostedVms ToImmutable()
        {
            if (_vms is null && _memory is null) return from;
            (from, _vms, _memory) = (new HostedVms(from._ids, _vms ?? from._vms, _memory ?? from._memory, from._index), null, null);
            return from;
        }
    }
}

/// <summary>A VM's memory as figures (<see cref="VmMemory"/>'s, field for field), so that a host keeps them without a record per VM.</summary>
public readonly record struct StoredMemory(bool Running, int AssignedMb, int HighWaterMb, int DemandMb, bool DemandReported, int RiseMb)
{
    public static StoredMemory Of(VmMemory memory) =>
        new(memory.Running, memory.AssignedMb, memory.HighWaterMb, memory.DemandMb, memory.DemandReported, memory.RiseMb);

    public static StoredMemory Of(in VmSlot slot) =>
        new(slot.Running, slot.AssignedMb, slot.HighWaterMb, slot.DemandMb, slot.DemandReported, slot.RiseMb);

    public bool Is(VmMemory memory) => this == Of(memory);

    public VmMemory ToMemory() => new(Running, AssignedMb, HighWaterMb, DemandMb, DemandReported, RiseMb);
}

/// <summary>
/// Writes <see cref="HostedVms"/> as Orleans 10 writes an <c>ImmutableDictionary&lt;string, HostedVm&gt;</c>
/// (a surrogate: the VMs as a dictionary in field 0, the value comparer in field 1 — null, the default,
/// for every host ever stored), the type <see cref="HostState.Vms"/> had before: host states stored by
/// earlier builds read back, and what is written now reads in them (HostedVmsTests pins the bytes).
/// </summary>
[RegisterSerializer]
public sealed class HostedVmsCodec(IValueSerializer<HostedVmsSurrogate> surrogateSerializer)
    : GeneralizedReferenceTypeSurrogateCodec<HostedVms, HostedVmsSurrogate>(surrogateSerializer)
{
    public override HostedVms ConvertFromSurrogate(ref HostedVmsSurrogate surrogate) => surrogate.Values is { } vms ? HostedVms.Of(vms) : null!;

    public override void ConvertToSurrogate(HostedVms value, ref HostedVmsSurrogate surrogate) =>
        surrogate.Values = value is null ? null : new(value, EqualityComparer<string>.Default);
}

[GenerateSerializer]
public struct HostedVmsSurrogate
{
    [Id(0)] public Dictionary<string, HostedVm>? Values;

    // Orleans' immutable-dictionary surrogate carries the value comparer here; a host's VMs compare by value (records).
    [Id(1)] public IEqualityComparer<HostedVm>? ValueComparer;
}
