global using HvOrleans.Backup;
global using HvOrleans.Memory;
global using Orleans;
global using Orleans.Concurrency;
