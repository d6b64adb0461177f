global using HvOrleans.Memory;
global using Microsoft.Extensions.Logging;
global using Orleans;
global using Orleans.Runtime;
global using HvOrleans.Backup;
