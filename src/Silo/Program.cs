using HvOrleans.Silo.Hosting;
using Microsoft.Extensions.Options;

var builder = Host.CreateApplicationBuilder(args);
try
{
    builder.UseOrleans(silo => silo.AddHvSilo(builder.Configuration));
}
catch (OptionsValidationException e)
{
    // A bad setting stops the silo before it joins anything, naming the key and value.
    Console.Error.WriteLine($"HvOrleans silo: configuration refused: {string.Join("; ", e.Failures)}");
    return 2;
}
await builder.Build().RunAsync();
return 0;
