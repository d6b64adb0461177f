global using HvOrleans.Memory;
global using Orleans;
global using HvOrleans.Backup;
