global using HvOrleans.Backup;
global using HvOrleans.Cli;
global using HvOrleans.Connection;
global using HvOrleans.Memory;
global using Orleans;
