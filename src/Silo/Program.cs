using HvOrleans.Silo.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleans(silo => silo.AddHvSilo(builder.Configuration));
await builder.Build().RunAsync();
