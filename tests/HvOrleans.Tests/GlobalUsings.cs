global using HvOrleans.Memory;
global using Xunit;
