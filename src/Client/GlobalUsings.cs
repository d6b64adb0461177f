global using HvOrleans.Memory;
global using Orleans;
