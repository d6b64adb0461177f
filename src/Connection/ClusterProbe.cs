using System.Net.Sockets;
using Azure;
using Azure.Data.Tables;

namespace HvOrleans.Connection;

/// <summary>
/// Tells a client in milliseconds that no cluster is up, rather than after its connect timeout:
/// nothing listens where the cluster keeps its membership on this machine, or the membership table
/// names no silo that is not dead (every silo was stopped). A silo killed outright stays listed as
/// active until others vote it dead, so a cluster in the middle of a failover is still waited for.
/// </summary>
public static class ClusterProbe
{
    /// <summary>Orleans' Azure membership table.</summary>
    public const string MembershipTable = "OrleansSiloInstances";

    private const string HowToStart = "Start one with 'infra/cluster.sh up' (infra/cluster.sh status shows what runs).";

    public static async Task RequireStorageListeningAsync(ClusterConnectionOptions options, CancellationToken cancellationToken)
    {
        if (options.Storage != HvStorage.Azure || TableEndpoint(options.ConnectionString) is not { IsLoopback: true } endpoint) return;
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            // Refused, not slow: a paused storage process still accepts connections, so this is no outage to wait out.
            throw new ClusterUnreachableException(
                $"No cluster is up: nothing listens at {endpoint.Host}:{endpoint.Port}, where cluster '{options.ClusterId}' keeps its membership (Azurite). {HowToStart}");
        }
    }

    public static async Task RequireLiveSiloAsync(ClusterConnectionOptions options, CancellationToken cancellationToken)
    {
        if (options.Storage != HvStorage.Azure) return;
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probe.CancelAfter(TimeSpan.FromSeconds(1.5));
        try
        {
            var table = new TableServiceClient(options.ConnectionString).GetTableClient(MembershipTable);
            await foreach (var row in table.QueryAsync<TableEntity>(e => e.PartitionKey == options.ClusterId, select: ["Status"], cancellationToken: probe.Token))
                if (row.GetString("Status") is { } status && status != "Dead")
                    return;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No membership table: no silo of this service ever started.
        }
        catch (Exception e) when (e is RequestFailedException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return;   // storage too slow or odd to tell (paused?): the connect attempts decide, within their timeout
        }
        throw new ClusterUnreachableException(
            $"No silo of cluster '{options.ClusterId}' is up: its membership table lists none that is not dead. {HowToStart}");
    }

    /// <summary>The table endpoint a connection string names, or null (then no quick check is made).</summary>
    public static Uri? TableEndpoint(string connectionString) =>
        connectionString.Split(';').Select(p => p.Split('=', 2)).FirstOrDefault(p => p is ["TableEndpoint", _]) is [_, var url]
        && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri : null;
}
