namespace HvOrleans.Tests.Memory;

public class VmConfigTests
{
    [Fact]
    public void Valid_config_passes_with_defaults()
    {
        var config = new VmConfig(2048, 512, 8192).Validate();
        Assert.Equal(20, config.BufferPercent);
        Assert.Equal(5000, config.Weight);
    }

    [Theory]
    [InlineData(2048, 4096, 8192, 20, 5000, "minimum-le-startup")]
    [InlineData(8192, 512, 4096, 20, 5000, "startup-le-maximum")]
    [InlineData(2049, 512, 8192, 20, 5000, "size-multiple-of-2mb")]
    [InlineData(2048, 511, 8192, 20, 5000, "size-multiple-of-2mb")]
    [InlineData(2048, 512, -8192, 20, 5000, "size-multiple-of-2mb")]
    [InlineData(2048, 30, 8192, 20, 5000, "minimum-at-least-32mb")]
    [InlineData(2048, 512, 1_048_578, 20, 5000, "maximum-le-1tb")]
    [InlineData(2048, 512, 8192, 4, 5000, "buffer-5-to-2000-percent")]
    [InlineData(2048, 512, 8192, 2001, 5000, "buffer-5-to-2000-percent")]
    [InlineData(2048, 512, 8192, 20, -1, "weight-0-to-10000")]
    [InlineData(2048, 512, 8192, 20, 10_001, "weight-0-to-10000")]
    public void Config_breaking_a_rule_is_refused_naming_the_rule(int startup, int min, int max, int buffer, int weight, string rule)
    {
        var e = Assert.Throws<HvRuleException>(() => new VmConfig(startup, min, max, buffer, weight).Validate());
        Assert.Equal(rule, e.Rule);
    }

    [Fact]
    public void Refusal_message_names_the_values()
    {
        var e = Assert.Throws<HvRuleException>(() => new VmConfig(2048, 4096, 8192).Validate());
        Assert.Equal("MinimumMb must not exceed StartupMb; got MinimumMb 4096 > StartupMb 2048.", e.Message);
    }

    [Theory]
    [InlineData(32, 32, 32)]
    [InlineData(1_048_576, 32, 1_048_576)]
    public void Boundaries_are_accepted(int startup, int min, int max) =>
        new VmConfig(startup, min, max, 5, 0).Validate();

    [Theory]
    [InlineData(4096, 512, 8192, "startup-fixed-while-running")]
    [InlineData(2048, 512, 4096, "maximum-only-raised-while-running")]
    [InlineData(2048, 1024, 8192, "minimum-only-lowered-while-running")]
    public void Running_vm_refuses_changes_the_guest_cannot_take(int startup, int min, int max, string rule)
    {
        var current = new VmConfig(2048, 512, 8192);
        var e = Assert.Throws<HvRuleException>(() => current.ValidateChangeTo(new VmConfig(startup, min, max), running: true));
        Assert.Equal(rule, e.Rule);
    }

    [Fact]
    public void Running_vm_may_raise_maximum_and_lower_minimum()
    {
        var next = new VmConfig(2048, 256, 16384, 50, 9000);
        Assert.Equal(next, new VmConfig(2048, 512, 8192).ValidateChangeTo(next, running: true));
    }

    [Fact]
    public void Stopped_vm_may_change_anything_within_the_rules()
    {
        var next = new VmConfig(4096, 1024, 4096);
        Assert.Equal(next, new VmConfig(2048, 512, 8192).ValidateChangeTo(next, running: false));
    }
}
