global using HvOrleans.Memory;
global using Microsoft.Extensions.Logging;
