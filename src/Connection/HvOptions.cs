using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace HvOrleans.Connection;

/// <summary>
/// Binds one configuration section to its options class, once, and validates it there and then: a
/// bad setting stops the program before it does anything, with the key and the value that broke the
/// rule. Settings that wire the process up (storage, ports, TLS) are needed before any container
/// exists; this is how they are read.
/// </summary>
public static class HvOptions
{
    public static T Bind<T>(IConfiguration configuration, string section, bool errorOnUnknown = false) where T : class, new()
    {
        T value;
        try
        {
            value = configuration.GetSection(section).Get<T>(o => o.ErrorOnUnknownConfiguration = errorOnUnknown) ?? new T();
        }
        catch (InvalidOperationException e)
        {
            throw new OptionsValidationException(section, typeof(T), [$"{section}: {e.GetBaseException().Message}"]);
        }
        var errors = Errors(value, section);
        if (errors.Count > 0) throw new OptionsValidationException(section, typeof(T), errors);
        return value;
    }

    /// <summary>Every broken [Range]/[Required]/… rule of the options and of options nested in them, named by key.</summary>
    public static List<string> Errors(object value, string section)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true);
        var errors = results.Select(r => $"{section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage} (got {Describe(value, r.MemberNames)})").ToList();
        foreach (var p in value.GetType().GetProperties().Where(p => p.GetCustomAttributes(typeof(ValidateNestedAttribute), true).Length > 0))
            if (p.GetValue(value) is { } nested) errors.AddRange(Errors(nested, $"{section}:{p.Name}"));
        return errors;
    }

    private static string Describe(object value, IEnumerable<string> members) =>
        string.Join(", ", members.Select(m => value.GetType().GetProperty(m)?.GetValue(value)?.ToString() ?? "nothing"));
}

/// <summary>Marks an options property whose own rules <see cref="HvOptions.Errors"/> checks too.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class ValidateNestedAttribute : Attribute;
