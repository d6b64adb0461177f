global using HvOrleans.Cli;
global using HvOrleans.Memory;
global using Orleans;
