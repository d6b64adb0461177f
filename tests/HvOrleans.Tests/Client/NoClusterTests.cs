using HvOrleans.Tests.Infrastructure;

namespace HvOrleans.Tests.Client;

/// <summary>
/// hv against no cluster says so at once, and how to start one (exit 3), instead of after its
/// 10 s connect timeout: the messages below come only from the quick checks, which the slow path
/// (no silo answered within 10 s) never prints. (A membership table with no live silo:
/// SiloProcessTests.Hv_reports_bad_input_and_a_missing_cluster_plainly.)
/// </summary>
public sealed class NoClusterTests
{
    [Fact]
    public async Task Nothing_listening_where_the_cluster_keeps_its_membership_is_no_cluster()
    {
        int closed = Repo.FreePort();
        var cluster = new ClusterSettings($"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteFixture.DevelopmentKey};" +
                                          $"BlobEndpoint=http://127.0.0.1:{closed}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{closed}/devstoreaccount1;");
        var (code, stdout, stderr) = await new HvConsole(cluster).RunAsync("host", "show", "h1");
        Assert.Equal((3, ""), (code, stdout));
        Assert.Equal($"hv: No cluster is up: nothing listens at 127.0.0.1:{closed}, where cluster '{cluster.Id}' keeps its membership (Azurite). " +
                     "Start one with 'infra/cluster.sh up' (infra/cluster.sh status shows what runs).\n", stderr);
    }
}
