using System.Collections.Immutable;
using HvOrleans.Backup;
using HvOrleans.Grains;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

namespace HvOrleans.Tests.Grains;

/// <summary>
/// A host's VM map (<see cref="HostedVms"/>): it behaves as the immutable dictionary it replaced, and it
/// is stored as that dictionary was, so a host state written by an earlier build reads back.
/// </summary>
public sealed class HostedVmsTests
{
    private static readonly IServiceProvider Services = new ServiceCollection().AddSerializer().BuildServiceProvider();
    private static readonly OrleansGrainStorageSerializer Storage = new(Services.GetRequiredService<Serializer>());

    // A host state as the storage serializer wrote it at aab0798, when HostState.Vms was an
    // ImmutableDictionary<string, HostedVm>: "web-1" running (a rise held), "db-1" stopped after a crash
    // with disks of its own and a backup job; a real host (qemu, tcg) with the predict policy.
    private const string StoredBeforeBase64 =
        "IOgABAAEAQIgISABBUEJZGItMSDoIOgAAkABAiABBAACAT0BwtoBBeAh6AABAQEBAQEBAQEBAeABFUEtdGhlIFFFTVUgcHJvY2VzcyBlbmRlZCLoMAH9urjvR1Jl" +
        "YWRPbmx5TGlzdEludGVyZmFjZUNvZGVjYDFbW2ludF1dAAUBBQAR4OBBC2pvYi034EALd2ViLTEg6CDoAAIgAQIQAQKAAVEBQpwBAeAh6AADAQIwAQJAAcIrAQMB" +
        "AgjgAQ3BAcIBwQHg4MEB4AEFQQd0Y2dBD3ByZWRpY3Tg";

    private static readonly VmConfig Small = new(1024, 512, 4096), Large = new(2048, 1024, 8192, 15, 7000, GuestKernel.Current);

    /// <summary>The state <see cref="StoredBeforeBase64"/> holds, built as it was built then.</summary>
    private static HostState StateStoredBefore() => new(16384, 1024, HostedVms.Empty
        .Add("web-1", new HostedVm(Small, new VmMemory(true, 1536, 2048, 1400, true, 256), BootId: 3))
        .Add("db-1", new HostedVm(Large, VmMemory.Stopped, BootId: 5, CrashReason: "the QEMU process ended", Disks: new VmDisks([1, 4]), BackupJob: "job-7")),
        HostDriver.Qemu, "tcg", "predict");

    [Fact]
    public void A_host_state_stored_while_its_vms_were_an_immutable_dictionary_reads_back_whole_and_is_written_byte_for_byte_as_then()
    {
        byte[] stored = Convert.FromBase64String(StoredBeforeBase64);

        var state = Storage.Deserialize<HostState>(new BinaryData(stored))!;

        Assert.Equal((16384, 1024, HostDriver.Qemu, "tcg", "predict"), (state.MemoryMb, state.ReserveMb, state.Driver, state.Accel, state.Policy));
        Assert.Equal(["db-1", "web-1"], state.Vms.Keys);
        Assert.Equal(new HostedVm(Small, new VmMemory(true, 1536, 2048, 1400, true, 256), BootId: 3), state.Vms["web-1"]);
        var db = state.Vms["db-1"];
        Assert.Equal((Large, VmMemory.Stopped, 5L, "the QEMU process ended", "job-7"), (db.Config, db.Memory, db.BootId, db.CrashReason, db.BackupJob));
        Assert.Equal([1, 4], db.DataDisks.SizesGb);
        Assert.Equal(stored, Storage.Serialize(StateStoredBefore()).ToArray());
    }

    [Fact]
    public void Random_changes_leave_the_same_vms_as_an_immutable_dictionary_given_the_same_changes_in_ordinal_id_order()
    {
        var random = new Random(15);
        for (int run = 0; run < 500; run++)
        {
            var (map, oracle) = (HostedVms.Empty, ImmutableDictionary<string, HostedVm>.Empty.WithComparers(StringComparer.Ordinal));
            for (int step = 0; step < 40; step++)
            {
                string id = $"vm-{random.Next(12)}";   // few ids, so that changes meet VMs already there
                var vm = new HostedVm(Small, VmMemory.Boot(Small) with { AssignedMb = 512 + random.Next(512) }, BootId: random.Next(3));
                switch (random.Next(6))
                {
                    case 0 when !oracle.ContainsKey(id):
                        (map, oracle) = (map.Add(id, vm), oracle.Add(id, vm));
                        break;
                    case 1:
                        (map, oracle) = (map.SetItem(id, vm), oracle.SetItem(id, vm));
                        break;
                    case 2:
                        (map, oracle) = (map.Remove(id), oracle.Remove(id));
                        break;
                    case 3:
                        var many = Enumerable.Range(0, random.Next(5)).Select(k => KeyValuePair.Create($"vm-{random.Next(12)}", vm with { BootId = k })).ToList();
                        (map, oracle) = (map.SetItems(many), oracle.SetItems(many));
                        break;
                    case 4 when map.Count > 0:
                        int at = random.Next(map.Count);
                        var builder = map.ToBuilder();
                        builder.SetAt(at, vm);
                        var before = map;
                        (map, oracle) = (builder.ToImmutable(), oracle.SetItem(map.IdAt(at), vm));
                        Assert.NotSame(vm, before.At(at));   // the map the builder started from is unchanged
                        break;
                    default:
                        var replaced = oracle.Keys.Where(_ => random.Next(2) == 0).Select(k => KeyValuePair.Create(k, vm)).ToList();
                        (map, oracle) = (map.SetItems(replaced), oracle.SetItems(replaced));
                        break;
                }
                Assert.Equal(oracle.OrderBy(e => e.Key, StringComparer.Ordinal), map);
                Assert.Equal(oracle.Count, map.Count);
                Assert.All(oracle, e => Assert.Equal(e.Value, map[e.Key]));
                Assert.False(map.TryGetValue("vm-none", out _));
            }
        }
    }

    [Fact]
    public void A_vm_given_twice_or_added_again_or_missing_is_refused_naming_it()
    {
        var vm = new HostedVm(Small, VmMemory.Stopped);
        var map = HostedVms.Empty.Add("vm1", vm);

        Assert.Contains("VM vm1 is on it already", Assert.Throws<ArgumentException>(() => map.Add("vm1", vm)).Message);
        Assert.Contains("VM vm2 is given twice", Assert.Throws<ArgumentException>(() => HostedVms.Of([KeyValuePair.Create("vm2", vm), KeyValuePair.Create("vm2", vm)])).Message);
        Assert.Contains("VM vm3 is not on this host", Assert.Throws<KeyNotFoundException>(() => map["vm3"]).Message);
        Assert.Same(map, map.Remove("vm3"));
        Assert.Equal(["vm1"], map.Keys);
    }

    [Fact]
    public void A_deep_copy_of_a_host_state_shares_its_vms_as_both_are_immutable()
    {
        var state = new HostState(8192, 1024, HostedVms.Empty.Add("vm1", new HostedVm(Small, VmMemory.Boot(Small))));

        var copy = Services.GetRequiredService<DeepCopier>().Copy(state);

        Assert.Same(state.Vms, copy.Vms);
    }
}
