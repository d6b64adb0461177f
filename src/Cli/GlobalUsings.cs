global using HvOrleans.Backup;
global using HvOrleans.Memory;
