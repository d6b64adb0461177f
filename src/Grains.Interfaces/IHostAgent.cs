namespace HvOrleans;

/// <summary>
/// A host's <c>hv-agent</c>, as the cluster calls it back (an observer: the agent is a client, not a
/// grain). It passes its reference with every sync, so a host grain that moved silos knows it again
/// within a second.
/// </summary>
[Alias("HvOrleans.IHostAgent")]
public interface IHostAgent : IGrainObserver
{
    /// <summary>Runs <paramref name="argv"/> in the VM's guest through its guest agent, within <paramref name="timeout"/>.</summary>
    [ResponseTimeout("00:00:30"), Alias("Exec")] Task<GuestExecResult> Exec(string vmId, IReadOnlyList<string> argv, TimeSpan timeout);
}
