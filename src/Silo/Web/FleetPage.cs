namespace HvOrleans.Silo.Web;

/// <summary>The fleet page at <c>/</c>: one HTML file, which reads <c>/api/v1/fleet</c> every second.</summary>
public static class FleetPage
{
    public static readonly string Html = Read();

    private static string Read()
    {
        using var stream = typeof(FleetPage).Assembly.GetManifestResourceStream("fleet.html")
            ?? throw new InvalidOperationException("fleet.html is not embedded in the silo.");
        return new StreamReader(stream).ReadToEnd();
    }
}
