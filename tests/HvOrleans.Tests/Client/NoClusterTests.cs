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

    [Fact]
    public async Task A_gateway_that_is_not_an_endpoint_is_a_configuration_error_named_with_its_value()
    {
        var cluster = new ClusterSettings($"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AzuriteFixture.DevelopmentKey};" +
                                          $"TableEndpoint=http://127.0.0.1:{Repo.FreePort()}/devstoreaccount1;");
        var hv = new HvConsole(cluster, new Dictionary<string, string> { ["Hv__Client__Gateways__0"] = "silo-0" });
        var (code, stdout, stderr) = await hv.RunAsync("host", "show", "h1");
        Assert.Equal((2, ""), (code, stdout));
        Assert.Equal("hv: configuration: Hv:Client:Gateways: each is a silo's gateway as IP:port (127.0.0.1:30000); got 'silo-0'.\n", stderr);
    }
}
