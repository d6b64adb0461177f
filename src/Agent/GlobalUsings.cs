global using HvOrleans.Memory;
global using Microsoft.Extensions.Logging;
global using HvOrleans.Backup;
