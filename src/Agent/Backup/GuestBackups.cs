using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using HvOrleans.Agent.Qemu;

namespace HvOrleans.Agent.Backup;

/// <summary>
/// A live backup's work on the host where the guest runs. Capture: the guest agent freezes the file
/// systems, one QMP <c>transaction</c> starts a point-in-time copy of every data disk into a local
/// qcow2 (copy-before-write) and a persistent dirty bitmap for the next incremental, then the guest
/// thaws — a window of milliseconds. The copy runs on in QEMU; once it is made, its allocated clusters
/// (never its zeros) are uploaded as staged blocks and committed with a manifest. Every step keeps
/// what it learnt in the VM's run folder (<c>backup/</c>), so a restarted agent answers a repeated
/// step with the first answer; the freeze watchdog thaws a guest its job forgot.
/// </summary>
public sealed class GuestBackups(ILogger logger, TimeSpan freezeLimit, TimeSpan holdWhileFrozen, CrashPoint crash)
{
    private const string BitmapPrefix = "hv-";
    private const int UploadParallelism = 4;
    /// <summary>
    /// QEMU's refusals (7.2) when what a repeated step removes is already gone — an agent killed after removing it
    /// and before writing the step down repeats it: "Job not found", "Failed to find node with node-name='…'".
    /// </summary>
    private const string JobGone = "Job not found", NodeGone = "Failed to find node";
    /// <summary>Watchdogs of frozen guests, by VM.</summary>
    private readonly ConcurrentDictionary<string, FreezeWatchdog> _watchdogs = new(StringComparer.Ordinal);

    /// <summary>The change tracking a job starts (the next incremental's parent).</summary>
    public static string BitmapOf(string jobId) => BitmapPrefix + jobId;

    public async Task<GuestCapture> CaptureAsync(QemuGuest guest, GuestCaptureRequest request, CancellationToken cancellationToken)
    {
        var files = new JobFiles(guest, request.JobId);
        if (files.Read<CaptureRecord>(files.Capture) is { } done) return done.Capture;
        string bitmap = BitmapOf(request.JobId);
        var disks = await QueryDisksAsync(guest, cancellationToken);
        if (disks.Any(d => d.Bitmaps.ContainsKey(bitmap)))
        {
            // An earlier attempt ran the transaction and died before it wrote down how: whether the
            // freeze held is unknown, so the backup claims no more than crash consistency.
            var redone = new GuestCapture(Consistency.Crash, 0, bitmap,
                disks.Select(d => new CapturedDisk(d.Index, d.SizeBytes, IsIncremental(d, request.ParentBitmap), Tracked(d, request.ParentBitmap))).ToList(),
                "an earlier attempt of this capture ended after its transaction (the agent restarted, or a step after it failed): the freeze is not known to have held");
            files.Write(files.Capture, new CaptureRecord(redone, guest.Pid));
            return redone;
        }
        if (await SweepAsync(guest, files, request.ParentBitmap, disks, cancellationToken))
            disks = await QueryDisksAsync(guest, cancellationToken);

        Directory.CreateDirectory(files.Folder);
        foreach (var d in disks)
        {
            // An attempt that died before its transaction may have added the node: it goes with its file, so the copy lands in the new one.
            await QmpTolerantAsync(guest, "blockdev-del", new JsonObject { ["node-name"] = files.Node(d.Index) }, "", cancellationToken);
            string target = files.Target(d.Index);
            File.Delete(target);
            await RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", target, d.SizeBytes.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await guest.Qmp.ExecuteAsync("blockdev-add", new JsonObject
            {
                ["driver"] = "qcow2", ["node-name"] = files.Node(d.Index),
                ["file"] = new JsonObject { ["driver"] = "file", ["filename"] = target },
            }, cancellationToken);
        }

        var notes = new List<string>();
        if (request.ParentBitmap is { } parent && disks.FirstOrDefault(d => !IsIncremental(d, parent)) is { } lost)
            notes.Add($"disk {lost.Index} has no usable change tracking ({parent}{(lost.Bitmaps.TryGetValue(parent, out var b) && b.Inconsistent ? ": inconsistent after QEMU ended unasked" : ": missing")}): copied whole");
        var actions = new JsonArray();
        foreach (var d in disks)
        {
            string drive = QemuGuest.DriveId(d.Index);
            bool incremental = IsIncremental(d, request.ParentBitmap);
            actions.Add(Action("block-dirty-bitmap-add", new JsonObject { ["node"] = drive, ["name"] = bitmap, ["persistent"] = true }));
            var backup = new JsonObject { ["device"] = drive, ["target"] = files.Node(d.Index), ["job-id"] = files.Job(d.Index), ["auto-dismiss"] = false };
            if (incremental)
            {
                // The parent's tracking stops at this instant (it is exactly what this copy holds) and is
                // kept until the backup is committed: a failed one merges this job's tracking back into it.
                actions.Add(Action("block-dirty-bitmap-disable", new JsonObject { ["node"] = drive, ["name"] = request.ParentBitmap }));
                backup["sync"] = "bitmap";
                backup["bitmap"] = request.ParentBitmap;
                backup["bitmap-mode"] = "never";
            }
            else backup["sync"] = "full";
            actions.Add(Action("blockdev-backup", backup));
        }

        var consistency = Consistency.FileSystem;
        bool transacted = false;
        async Task Transaction(CancellationToken token)
        {
            await guest.Qmp.ExecuteAsync("transaction", new JsonObject { ["actions"] = actions }, token);
            transacted = true;
        }
        FreezeTimes? times = null;
        // The freeze limit ends the frozen action on the guest agent's own connection; this watchdog is the
        // backstop for a thaw that failed there (it connects afresh once that connection is closed).
        StartWatchdog(guest);
        try
        {
            times = await guest.GuestAgent.WhileFrozenAsync(async limit =>
            {
                if (holdWhileFrozen > TimeSpan.Zero)
                {
                    logger.LogWarning("VM {VmId} frozen: holding it frozen for {Seconds:0.#} s (Hv:Agent:HoldWhileFrozen, a failure-test setting)", guest.VmId, holdWhileFrozen.TotalSeconds);
                    await Task.Delay(holdWhileFrozen, limit);
                }
                await Transaction(limit);
            }, request.FreezeTimeout, freezeLimit, cancellationToken);
            StopWatchdog(guest);
        }
        catch (TimeoutException e) when (e.Message.StartsWith("The guest was frozen", StringComparison.Ordinal))
        {
            // Thawed at the limit with no copy started: nothing was captured, and the step is tried again.
            StopWatchdog(guest);
            logger.LogWarning("VM {VmId}: backup {JobId}: {Message}", guest.VmId, request.JobId, e.Message);
            throw new IOException($"VM {guest.VmId}: {e.Message}", e);
        }
        catch (Exception e) when (!transacted && e is not QemuCommandException { Command: "transaction" })
        {
            // No guest agent (or it did not freeze in time): the copy starts unfrozen, and says so.
            await ThawAsync(guest, "a failed freeze", CancellationToken.None);
            consistency = Consistency.Crash;
            notes.Add($"no guest agent froze the file systems ({e.GetBaseException().Message}): crash-consistent");
            await Transaction(cancellationToken);
        }
        if (times is { FileSystems: 0 })
        {
            consistency = Consistency.Crash;
            notes.Add("the guest had no file system to freeze: crash-consistent");
        }
        // The parent's tracking stopped at the transaction: read now, it is exactly what each incremental copy holds.
        var captured = await QueryDisksAsync(guest, cancellationToken);
        var capture = new GuestCapture(consistency, times?.Window.TotalMilliseconds ?? 0, bitmap,
            disks.Select(d => new CapturedDisk(d.Index, d.SizeBytes, IsIncremental(d, request.ParentBitmap),
                Tracked(captured.FirstOrDefault(c => c.Index == d.Index) ?? d, request.ParentBitmap))).ToList(),
            notes.Count == 0 ? null : string.Join("; ", notes));
        files.Write(files.Capture, new CaptureRecord(capture, guest.Pid));
        logger.LogInformation("VM {VmId}: backup {JobId} captured {Disks} disk(s) ({Tracked}), {Consistency}; frozen {WindowMs:0.0} ms (freeze {FreezeMs:0.0}, transaction {TransactionMs:0.0}, thaw {ThawMs:0.0})",
            guest.VmId, request.JobId, disks.Count,
            string.Join(", ", capture.Disks.Select(d => d.Incremental ? $"disk {d.Index} incremental, {d.TrackedBytes} B tracked" : $"disk {d.Index} full")),
            consistency, capture.FreezeWindowMs,
            times?.Freeze.TotalMilliseconds ?? 0, times?.Action.TotalMilliseconds ?? 0, times?.Thaw.TotalMilliseconds ?? 0);
        return capture;
    }

    public async Task<PointInTime> PointInTimeAsync(QemuGuest guest, string jobId, CancellationToken cancellationToken)
    {
        var files = new JobFiles(guest, jobId);
        if (files.Read<DiskMap[]>(files.Map) is { } mapped) return Mapped(mapped);
        var capture = files.Read<CaptureRecord>(files.Capture)
            ?? throw new HvRuleException("backup-capture-missing", $"VM {guest.VmId} holds no capture of job {jobId} (its run folder lost it); the job cannot copy it.");
        Rule.Require(capture.Pid == guest.Pid, "backup-guest-restarted",
            $"VM {guest.VmId}'s QEMU process changed ({capture.Pid} → {guest.Pid}) during job {jobId}: its point-in-time copy was lost with it.");
        var jobs = (await guest.Qmp.ExecuteAsync("query-jobs", null, cancellationToken)).EnumerateArray()
            .ToDictionary(j => j.GetProperty("id").GetString()!, j => j, StringComparer.Ordinal);
        long done = 0, total = 0;
        bool ready = true;
        foreach (var d in capture.Capture.Disks)
        {
            if (!jobs.TryGetValue(files.Job(d.Index), out var job)) continue;   // concluded and dismissed by an earlier call
            done += job.GetProperty("current-progress").GetInt64();
            total += job.GetProperty("total-progress").GetInt64();
            if (job.GetProperty("status").GetString() != "concluded") { ready = false; continue; }
            if (job.TryGetProperty("error", out var error))
                throw new HvRuleException("backup-copy-failed", $"VM {guest.VmId}: QEMU's point-in-time copy of disk {d.Index} failed: {error.GetString()}");
        }
        if (!ready) return new PointInTime(false, done, total, []);
        foreach (var d in capture.Capture.Disks)
        {
            await QmpTolerantAsync(guest, "job-dismiss", new JsonObject { ["id"] = files.Job(d.Index) }, JobGone, cancellationToken);
            await QmpTolerantAsync(guest, "blockdev-del", new JsonObject { ["node-name"] = files.Node(d.Index) }, NodeGone, cancellationToken);
        }
        crash.Reached(CrashPoint.CopyReleased);
        var maps = new List<DiskMap>();
        foreach (var d in capture.Capture.Disks)
            maps.Add(await MapAsync(files.Target(d.Index), d));
        files.Write(files.Map, maps.ToArray());
        return Mapped([.. maps]);
    }

    public async Task<long> UploadAsync(QemuGuest guest, ChunkUpload upload, CancellationToken cancellationToken)
    {
        var files = new JobFiles(guest, upload.JobId);
        var map = DiskMapOf(files, upload.Disk);
        var blob = new Azure.Storage.Blobs.Specialized.BlockBlobClient(upload.Data);
        var hashes = files.Read<Dictionary<int, string>>(files.Hashes(upload.Disk)) ?? [];
        var found = new ConcurrentDictionary<int, string>();
        long bytes = 0;
        using var image = File.OpenHandle(files.Target(upload.Disk));
        int end = Math.Min(map.Chunks, upload.FirstChunk + upload.Count);
        await Parallel.ForEachAsync(Enumerable.Range(upload.FirstChunk, Math.Max(0, end - upload.FirstChunk)),
            new ParallelOptions { MaxDegreeOfParallelism = UploadParallelism, CancellationToken = cancellationToken }, async (chunk, ct) =>
            {
                var data = map.ReadChunk(image, chunk);
                found[chunk] = Convert.ToHexStringLower(SHA256.HashData(data));
                using var stream = new MemoryStream(data, writable: false);
                await blob.StageBlockAsync(BackupSteps.BlockId(chunk), stream, cancellationToken: ct);
                Interlocked.Add(ref bytes, data.Length);
            });
        foreach (var (chunk, sha) in found) hashes[chunk] = sha;
        files.Write(files.Hashes(upload.Disk), hashes);
        return bytes;
    }

    public async Task<DiskBackup> CommitAsync(QemuGuest guest, DiskCommit commit, CancellationToken cancellationToken)
    {
        var files = new JobFiles(guest, commit.JobId);
        var map = DiskMapOf(files, commit.Disk);
        var hashes = files.Read<Dictionary<int, string>>(files.Hashes(commit.Disk)) ?? [];
        if (hashes.Count < map.Chunks)
        {
            // A chunk staged by an agent that died before it wrote the hash down: the same bytes, hashed again.
            using var image = File.OpenHandle(files.Target(commit.Disk));
            for (int chunk = 0; chunk < map.Chunks; chunk++)
                if (!hashes.ContainsKey(chunk)) hashes[chunk] = Convert.ToHexStringLower(SHA256.HashData(map.ReadChunk(image, chunk)));
        }
        await new Azure.Storage.Blobs.Specialized.BlockBlobClient(commit.Data)
            .CommitBlockListAsync(Enumerable.Range(0, map.Chunks).Select(BackupSteps.BlockId), cancellationToken: cancellationToken);
        var manifest = new DiskManifest(commit.BackupId, commit.Disk, map.SizeBytes, map.Incremental,
            map.Extents.Select(e => new ManifestExtent(e.Start, e.Length, e.Data)).ToList(),
            Enumerable.Range(0, map.Chunks).Select(c => hashes[c]).ToList());
        byte[] json = manifest.ToUtf8Json();
        await new Azure.Storage.Blobs.BlobClient(commit.Manifest).UploadAsync(new BinaryData(json), overwrite: true, cancellationToken);
        return new DiskBackup(commit.Disk, map.SizeBytes, map.Incremental, map.DataBytes, map.Chunks, Convert.ToHexStringLower(SHA256.HashData(json)), map.TrackedBytes);
    }

    /// <summary>
    /// One job holds a VM at a time, so whatever another job left on the guest — block jobs, nodes,
    /// files, change tracking — is from one that ended while no agent could clean up (its agent was
    /// away). It goes now; a bitmap it started is merged into the parent's, which records again, so the
    /// changes it tracked stay tracked. True when the guest's bitmaps changed.
    /// </summary>
    private async Task<bool> SweepAsync(QemuGuest guest, JobFiles files, string? parentBitmap, List<GuestDisk> disks, CancellationToken cancellationToken)
    {
        var ours = Enumerable.Range(0, disks.Count).SelectMany(i => new[] { files.Node(i), files.Job(i) }).ToHashSet(StringComparer.Ordinal);
        foreach (var job in (await guest.Qmp.ExecuteAsync("query-jobs", null, cancellationToken)).EnumerateArray()
                     .Select(j => j.GetProperty("id").GetString()!).Where(id => id.StartsWith("hvj", StringComparison.Ordinal) && !ours.Contains(id)))
        {
            await QmpTolerantAsync(guest, "job-cancel", new JsonObject { ["id"] = job, ["force"] = true }, "", cancellationToken);
            await QmpTolerantAsync(guest, "job-dismiss", new JsonObject { ["id"] = job }, "", cancellationToken);
        }
        foreach (var node in (await guest.Qmp.ExecuteAsync("query-named-block-nodes", new JsonObject { ["flat"] = true }, cancellationToken)).EnumerateArray()
                     .Select(n => n.GetProperty("node-name").GetString()!).Where(n => n.StartsWith("hvb", StringComparison.Ordinal) && !ours.Contains(n)).Distinct())
            await QmpTolerantAsync(guest, "blockdev-del", new JsonObject { ["node-name"] = node }, "", cancellationToken);
        if (Directory.Exists(files.Folder))
            foreach (var stale in Directory.EnumerateFiles(files.Folder).Where(f => !Path.GetFileName(f).StartsWith(files.Tag, StringComparison.Ordinal)))
                File.Delete(stale);

        var actions = new JsonArray();
        foreach (var d in disks)
        {
            string drive = QemuGuest.DriveId(d.Index);
            var stale = d.Bitmaps.Where(b => b.Key.StartsWith(BitmapPrefix, StringComparison.Ordinal) && b.Key != parentBitmap).ToList();
            if (parentBitmap is not null && d.Bitmaps.TryGetValue(parentBitmap, out var parent) && !parent.Inconsistent)
            {
                var merged = stale.Where(b => !b.Value.Inconsistent).Select(b => (JsonNode)JsonValue.Create(b.Key)!).ToArray();
                if (merged.Length > 0)
                    actions.Add(Action("block-dirty-bitmap-merge", new JsonObject { ["node"] = drive, ["target"] = parentBitmap, ["bitmaps"] = new JsonArray(merged) }));
                if (!parent.Recording) actions.Add(Action("block-dirty-bitmap-enable", new JsonObject { ["node"] = drive, ["name"] = parentBitmap }));
            }
            foreach (var (name, _) in stale)
                actions.Add(Action("block-dirty-bitmap-remove", new JsonObject { ["node"] = drive, ["name"] = name }));
        }
        if (actions.Count == 0) return false;
        logger.LogWarning("VM {VmId}: change tracking left by a job that ended without its agent ({Bitmaps}): merged into {Parent}",
            guest.VmId, string.Join("; ", disks.Select(d => $"disk {d.Index}: " + string.Join(", ", d.Bitmaps.Select(b =>
                $"{b.Key} {b.Value.DirtyBytes} B{(b.Value.Recording ? "" : " disabled")}{(b.Value.Inconsistent ? " inconsistent" : "")}")))),
            parentBitmap ?? "(none: the next backup is full)");
        await guest.Qmp.ExecuteAsync("transaction", new JsonObject { ["actions"] = actions }, cancellationToken);
        return true;
    }

    /// <summary>Ends a job on a guest, whatever it reached; safe to repeat, and on a guest that is gone (only files then).</summary>
    public async Task ReleaseAsync(QemuGuest? guest, string folder, string jobId, string? parentBitmap, bool committed, CancellationToken cancellationToken)
    {
        var files = new JobFiles(folder, jobId);
        if (guest is not null)
        {
            if (_watchdogs.ContainsKey(guest.VmId)) await ThawAsync(guest, $"job {jobId}'s release", cancellationToken);
            var capture = files.Read<CaptureRecord>(files.Capture);
            int disks = capture?.Capture.Disks.Count ?? guest.Boot.Disks;
            for (int i = 0; i < disks; i++)
            {
                await QmpTolerantAsync(guest, "job-cancel", new JsonObject { ["id"] = files.Job(i), ["force"] = true }, "", cancellationToken);
                await QmpTolerantAsync(guest, "job-dismiss", new JsonObject { ["id"] = files.Job(i) }, "", cancellationToken);
                await QmpTolerantAsync(guest, "blockdev-del", new JsonObject { ["node-name"] = files.Node(i) }, "", cancellationToken);
            }
            await SettleBitmapsAsync(guest, jobId, parentBitmap, committed, cancellationToken);
        }
        if (Directory.Exists(files.Folder))
            foreach (var file in Directory.EnumerateFiles(files.Folder, files.Tag + "*")) File.Delete(file);
    }

    private async Task SettleBitmapsAsync(QemuGuest guest, string jobId, string? parentBitmap, bool committed, CancellationToken cancellationToken)
    {
        string bitmap = BitmapOf(jobId);
        var actions = new JsonArray();
        foreach (var d in await QueryDisksAsync(guest, cancellationToken))
        {
            string drive = QemuGuest.DriveId(d.Index);
            if (committed)
            {
                // This backup's tracking is the next one's parent; every older tracking has served.
                foreach (var old in d.Bitmaps.Keys.Where(n => n.StartsWith(BitmapPrefix, StringComparison.Ordinal) && n != bitmap))
                    actions.Add(Action("block-dirty-bitmap-remove", new JsonObject { ["node"] = drive, ["name"] = old }));
            }
            else if (d.Bitmaps.ContainsKey(bitmap))
            {
                // What changed since the capture goes back into the parent's tracking, which records again.
                if (parentBitmap is not null && d.Bitmaps.TryGetValue(parentBitmap, out var parent) && !parent.Inconsistent)
                {
                    actions.Add(Action("block-dirty-bitmap-merge", new JsonObject { ["node"] = drive, ["target"] = parentBitmap, ["bitmaps"] = new JsonArray(bitmap) }));
                    if (!parent.Recording) actions.Add(Action("block-dirty-bitmap-enable", new JsonObject { ["node"] = drive, ["name"] = parentBitmap }));
                }
                actions.Add(Action("block-dirty-bitmap-remove", new JsonObject { ["node"] = drive, ["name"] = bitmap }));
            }
        }
        if (actions.Count > 0) await guest.Qmp.ExecuteAsync("transaction", new JsonObject { ["actions"] = actions }, cancellationToken);
    }

    /// <summary>From just before a freeze: unless stopped, the guest is thawed after the freeze limit, whatever its job does.</summary>
    private void StartWatchdog(QemuGuest guest)
    {
        var watchdog = new FreezeWatchdog();
        if (_watchdogs.TryRemove(guest.VmId, out var old)) old.Stop();
        _watchdogs[guest.VmId] = watchdog;
        _ = Task.Run(async () =>
        {
            try { await Task.Delay(freezeLimit, watchdog.Token); }
            catch (OperationCanceledException) { return; }
            logger.LogWarning("VM {VmId}: frozen for {Seconds:0} s with no thaw from its backup: the watchdog thaws it", guest.VmId, freezeLimit.TotalSeconds);
            await ThawAsync(guest, "the watchdog", CancellationToken.None);
        });
    }

    private void StopWatchdog(QemuGuest guest)
    {
        if (_watchdogs.TryRemove(guest.VmId, out var watchdog)) watchdog.Stop();
    }

    private sealed class FreezeWatchdog
    {
        private readonly CancellationTokenSource _stop = new();
        public CancellationToken Token => _stop.Token;
        public void Stop() => _stop.Cancel();
    }

    /// <summary>Thaws (a thaw of a thawed guest is harmless) and stops the watchdog; failures are logged, never thrown.</summary>
    private async Task ThawAsync(QemuGuest guest, string by, CancellationToken cancellationToken)
    {
        StopWatchdog(guest);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(5));
        try { await guest.GuestAgent.ThawAsync(deadline.Token); }
        catch (Exception e) { logger.LogWarning("VM {VmId}: thaw by {By} failed: {Error}", guest.VmId, by, e.Message); }
    }

    /// <summary>A guest an earlier agent left frozen (it died between freeze and thaw) is thawed now.</summary>
    public async Task ThawIfFrozenAsync(QemuGuest guest, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(3));
        try
        {
            if (await guest.GuestAgent.FreezeStatusAsync(deadline.Token) != "frozen") return;
            await guest.GuestAgent.ThawAsync(deadline.Token);
            logger.LogWarning("VM {VmId} was left frozen by an earlier agent: thawed", guest.VmId);
        }
        catch (Exception e) { logger.LogDebug("VM {VmId}: freeze state not readable ({Error})", guest.VmId, e.Message); }
    }

    private static bool IsIncremental(GuestDisk disk, string? parentBitmap) =>
        parentBitmap is not null && disk.Bitmaps.TryGetValue(parentBitmap, out var b) && !b.Inconsistent;

    private static long Tracked(GuestDisk disk, string? parentBitmap) =>
        IsIncremental(disk, parentBitmap) ? disk.Bitmaps[parentBitmap!].DirtyBytes : disk.SizeBytes;

    private static async Task<List<GuestDisk>> QueryDisksAsync(QemuGuest guest, CancellationToken cancellationToken)
    {
        var disks = new List<GuestDisk>();
        foreach (var device in (await guest.Qmp.ExecuteAsync("query-block", null, cancellationToken)).EnumerateArray())
        {
            string name = device.GetProperty("device").GetString() ?? "";
            if (!name.StartsWith("disk", StringComparison.Ordinal) || !int.TryParse(name[4..], out int index) || !device.TryGetProperty("inserted", out var inserted)) continue;
            var bitmaps = new Dictionary<string, BitmapState>(StringComparer.Ordinal);
            if (inserted.TryGetProperty("dirty-bitmaps", out var list))
                // A running block job's own bitmap has no name: not change tracking.
                foreach (var b in list.EnumerateArray().Where(b => b.TryGetProperty("name", out _)))
                    bitmaps[b.GetProperty("name").GetString()!] = new BitmapState(b.GetProperty("count").GetInt64(), b.GetProperty("recording").GetBoolean(),
                        b.TryGetProperty("inconsistent", out var bad) && bad.GetBoolean());
            disks.Add(new GuestDisk(index, inserted.GetProperty("image").GetProperty("virtual-size").GetInt64(), bitmaps));
        }
        return [.. disks.OrderBy(d => d.Index)];
    }

    /// <summary>The point-in-time copy's clusters, from <c>qemu-img map</c>: a full copy's data, an incremental's data and zeroed extents.</summary>
    private static async Task<DiskMap> MapAsync(string target, CapturedDisk disk)
    {
        string json = await RunAsync("qemu-img", ["map", "--output=json", "-f", "qcow2", target]);
        var extents = new List<MappedExtent>();
        foreach (var e in JsonNode.Parse(json)!.AsArray())
        {
            bool data = e!["data"]!.GetValue<bool>(), present = e["present"]!.GetValue<bool>();
            if (!data && (!disk.Incremental || !present)) continue;
            extents.Add(new MappedExtent(e["start"]!.GetValue<long>(), e["length"]!.GetValue<long>(), data, data ? e["offset"]!.GetValue<long>() : 0));
        }
        return new DiskMap(disk.Index, disk.SizeBytes, disk.Incremental, disk.TrackedBytes, extents);
    }

    private static DiskMap DiskMapOf(JobFiles files, int disk) =>
        files.Read<DiskMap[]>(files.Map)?.FirstOrDefault(m => m.Index == disk)
        ?? throw new HvRuleException("backup-map-missing", $"Job {files.JobId} has no mapped point-in-time copy of disk {disk} on this host.");

    private static PointInTime Mapped(DiskMap[] maps) =>
        new(true, maps.Sum(m => m.DataBytes), maps.Sum(m => m.DataBytes), maps.Select(m => new MappedDisk(m.Index, m.DataBytes, m.Chunks, m.Extents.Count, m.Extents.Where(e => !e.Data).Sum(e => e.Length))).ToList());

    private static JsonObject Action(string type, JsonObject data) => new() { ["type"] = type, ["data"] = data };

    /// <summary>A QMP command whose refusal containing <paramref name="tolerated"/> means it was already done ("" tolerates any refusal).</summary>
    private static async Task QmpTolerantAsync(QemuGuest guest, string command, JsonObject arguments, string tolerated, CancellationToken cancellationToken)
    {
        try { await guest.Qmp.ExecuteAsync(command, arguments, cancellationToken); }
        catch (QemuCommandException e) when (e.Message.Contains(tolerated, StringComparison.OrdinalIgnoreCase)) { }
    }

    private static async Task<string> RunAsync(string file, IReadOnlyList<string> args)
    {
        var (code, output) = await ProcessRunner.RunAsync(file, args, TimeSpan.FromMinutes(2));
        if (code != 0) throw new IOException($"{file} {string.Join(' ', args)} failed (exit {code}): {output}");
        return output;
    }

    private sealed record BitmapState(long DirtyBytes, bool Recording, bool Inconsistent);

    private sealed record GuestDisk(int Index, long SizeBytes, Dictionary<string, BitmapState> Bitmaps);

    private sealed record CaptureRecord(GuestCapture Capture, int Pid);
}

/// <summary>One extent of a point-in-time copy: where it sits on the disk and, for data, in the local qcow2 file.</summary>
public sealed record MappedExtent(long Start, long Length, bool Data, long FileOffset);

/// <summary>
/// A disk's point-in-time copy, mapped: its extents in disk order. The data stream is the data
/// extents' bytes one after another, cut into chunks of <see cref="DiskManifest.ChunkBytes"/>.
/// </summary>
public sealed record DiskMap(int Index, long SizeBytes, bool Incremental, long TrackedBytes, IReadOnlyList<MappedExtent> Extents)
{
    public long DataBytes => Extents.Where(e => e.Data).Sum(e => e.Length);

    public int Chunks => DiskManifest.ChunkCount(DataBytes);

    /// <summary>Chunk <paramref name="chunk"/> of the data stream, read from the local copy.</summary>
    public byte[] ReadChunk(Microsoft.Win32.SafeHandles.SafeFileHandle image, int chunk)
    {
        long from = (long)chunk * DiskManifest.ChunkBytes;
        var bytes = new byte[(int)Math.Min(DiskManifest.ChunkBytes, DataBytes - from)];
        long stream = 0;
        int filled = 0;
        foreach (var e in Extents.Where(e => e.Data))
        {
            if (filled == bytes.Length) break;
            long end = stream + e.Length;
            if (end > from + filled)
            {
                long skip = from + filled - stream;
                int take = (int)Math.Min(e.Length - skip, bytes.Length - filled);
                ReadExactly(image, bytes.AsSpan(filled, take), e.FileOffset + skip);
                filled += take;
            }
            stream = end;
        }
        return bytes;
    }

    private static void ReadExactly(Microsoft.Win32.SafeHandles.SafeFileHandle file, Span<byte> into, long offset)
    {
        while (into.Length > 0)
        {
            int n = RandomAccess.Read(file, into, offset);
            if (n == 0) throw new IOException($"The point-in-time copy ended early at {offset}.");
            into = into[n..];
            offset += n;
        }
    }
}

/// <summary>A job's files in a VM's run folder: <c>backup/&lt;tag&gt;…</c>, the tag a short hash of the job id (QEMU node names are at most 31 characters).</summary>
internal sealed class JobFiles(string vmFolder, string jobId)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public JobFiles(QemuGuest guest, string jobId) : this(guest.Folder, jobId) { }

    public string JobId => jobId;
    public string Tag { get; } = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(jobId)))[..12];
    public string Folder => Path.Combine(vmFolder, "backup");
    public string Capture => Path.Combine(Folder, $"{Tag}.capture.json");
    public string Map => Path.Combine(Folder, $"{Tag}.map.json");
    public string Hashes(int disk) => Path.Combine(Folder, $"{Tag}.disk{disk}.sha256.json");
    public string Target(int disk) => Path.Combine(Folder, $"{Tag}.disk{disk}.qcow2");
    public string Node(int disk) => $"hvb{Tag}d{disk}";
    public string Job(int disk) => $"hvj{Tag}d{disk}";

    public T? Read<T>(string path) where T : class =>
        File.Exists(path) ? JsonSerializer.Deserialize<T>(File.ReadAllText(path), Json) : null;

    /// <summary>Written under a temporary name and renamed: a file is whole or absent.</summary>
    public void Write<T>(string path, T value)
    {
        Directory.CreateDirectory(Folder);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(value, Json));
        File.Move(path + ".tmp", path, overwrite: true);
    }
}
