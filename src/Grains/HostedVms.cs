using System.Collections;
using System.Diagnostics.CodeAnalysis;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.Serializers;

namespace HvOrleans.Grains;

/// <summary>
/// A host's VMs by id, immutable: every change makes a new map. The VMs sit in one array in ordinal id
/// order — the order of the balancer's slots — and maps with the same ids share the ids and their index,
/// so the balancer's write of the few VMs a tick resized copies one array of references instead of a
/// tree path and a hash per VM (an <see cref="System.Collections.Immutable.ImmutableDictionary{TKey,TValue}"/>
/// update per resized VM was as costly as the decision itself, issue 15). Adding or removing a VM builds
/// a new index; those are an operator's changes, not a tick's. Stored exactly as the immutable
/// dictionary it replaced (<see cref="HostedVmsCodec"/>), so states written before still read.
/// </summary>
[Immutable]
public sealed class HostedVms : IReadOnlyDictionary<string, HostedVm>
{
    public static readonly HostedVms Empty = new([], [], new Dictionary<string, int>(StringComparer.Ordinal));

    private readonly string[] _ids;
    private readonly HostedVm[] _vms;
    private readonly Dictionary<string, int> _index;   // never changed once built: shared by every map with these ids

    private HostedVms(string[] ids, HostedVm[] vms, Dictionary<string, int> index) => (_ids, _vms, _index) = (ids, vms, index);

    /// <summary>The VMs given, each id once.</summary>
    public static HostedVms Of(IEnumerable<KeyValuePair<string, HostedVm>> vms)
    {
        var sorted = vms.ToArray();
        if (sorted.Length == 0) return Empty;
        Array.Sort(sorted, (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var (ids, values) = (new string[sorted.Length], new HostedVm[sorted.Length]);
        var index = new Dictionary<string, int>(sorted.Length, StringComparer.Ordinal);
        for (int i = 0; i < sorted.Length; i++)
        {
            var (id, vm) = sorted[i];
            ArgumentNullException.ThrowIfNull(id, nameof(vms));
            ArgumentNullException.ThrowIfNull(vm, nameof(vms));
            if (!index.TryAdd(id, i)) throw new ArgumentException($"A host holds each VM once; VM {id} is given twice.", nameof(vms));
            (ids[i], values[i]) = (id, vm);
        }
        return new(ids, values, index);
    }

    public int Count => _ids.Length;

    /// <summary>The id of the VM at <paramref name="position"/> in ordinal id order.</summary>
    public string IdAt(int position) => _ids[position];

    /// <summary>The VM at <paramref name="position"/> in ordinal id order.</summary>
    public HostedVm At(int position) => _vms[position];

    public HostedVm this[string id] => _index.TryGetValue(id, out int i) ? _vms[i] : throw new KeyNotFoundException($"VM {id} is not on this host.");

    public IEnumerable<string> Keys => Array.AsReadOnly(_ids);

    public IEnumerable<HostedVm> Values => Array.AsReadOnly(_vms);

    public bool ContainsKey(string id) => _index.ContainsKey(id);

    public bool TryGetValue(string id, [MaybeNullWhen(false)] out HostedVm vm)
    {
        bool found = _index.TryGetValue(id, out int i);
        vm = found ? _vms[i] : null;
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
        for (int i = 0; i < _ids.Length; i++) yield return KeyValuePair.Create(_ids[i], _vms[i]);
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Replaces VMs by position; copies the VMs' array at the first replacement only.</summary>
    public sealed class Builder(HostedVms from)
    {
        private HostedVm[]? _vms;

        public void SetAt(int position, HostedVm vm)
        {
            ArgumentNullException.ThrowIfNull(vm);
            _vms ??= (HostedVm[])from._vms.Clone();
            _vms[position] = vm;
        }

        /// <summary>The map with the replacements; the builder starts again from it.</summary>
        public HostedVms ToImmutable()
        {
            if (_vms is null) return from;
            (from, _vms) = (new HostedVms(from._ids, _vms, from._index), null);
            return from;
        }
    }
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
