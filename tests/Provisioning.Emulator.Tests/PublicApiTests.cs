using System.Reflection;

namespace Provisioning.Emulator.Tests;

/// <summary>
/// The DPS emulator's public surface, checked against an approved listing that reviewers diff. The Tpm and Hubs
/// namespaces belong to the TPM issuer and hub emulator work and are left to their own listings.
/// </summary>
public sealed class PublicApiTests
{
    [Fact]
    public void PublicApi_MatchesTheApprovedListing()
    {
        var assembly = typeof(DpsEmulator).Assembly;
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes())
        {
            if (type.Namespace is null || type.Namespace.StartsWith("Provisioning.Emulator.Tpm", StringComparison.Ordinal)
                || type.Namespace.StartsWith("Provisioning.Emulator.Hubs", StringComparison.Ordinal))
            {
                continue;
            }

            lines.Add($"{Kind(type)} {type.FullName}");
            const BindingFlags Flags = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(Flags))
            {
                if (member is MethodInfo { IsSpecialName: true } or FieldInfo { IsSpecialName: true } || member.DeclaringType != type || IsRecordPlumbing(type, member))
                {
                    continue;
                }

                lines.Add($"  {type.FullName}::{Describe(member)}");
            }
        }

        lines.Sort(StringComparer.Ordinal);
        var actual = string.Join('\n', lines) + "\n";
        var approvedPath = Path.Combine(AppContext.BaseDirectory, "PublicApi.approved.txt");
        var approved = File.ReadAllText(approvedPath).ReplaceLineEndings("\n");
        if (approved != actual)
        {
            File.WriteAllText(Path.Combine(AppContext.BaseDirectory, "PublicApi.received.txt"), actual);
        }

        Assert.Equal(approved, actual);
    }

    private static string Kind(Type type) =>
        type.IsEnum ? "enum" : type.IsInterface ? "interface" : type.IsValueType ? "struct" : type.IsAbstract && type.IsSealed ? "static class" : "class";

    private static bool IsRecordPlumbing(Type type, MemberInfo member) =>
        type.GetMethod("<Clone>$") is not null && member.Name is "Equals" or "GetHashCode" or "ToString" or "PrintMembers" or "<Clone>$" or "Deconstruct" or "EqualityContract";

    private static string Describe(MemberInfo member) => member switch
    {
        ConstructorInfo c => $".ctor({Parameters(c.GetParameters())})",
        MethodInfo m => $"{(m.IsStatic ? "static " : "")}{Name(m.ReturnType)} {m.Name}({Parameters(m.GetParameters())})",
        PropertyInfo p => $"{Name(p.PropertyType)} {p.Name} {{ {(p.GetMethod?.IsPublic == true ? "get; " : "")}{(p.SetMethod?.IsPublic == true ? (p.SetMethod.ReturnParameter.GetRequiredCustomModifiers().Any(t => t.Name == "IsExternalInit") ? "init; " : "set; ") : "")}}}",
        FieldInfo f => $"{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{Name(f.FieldType)} {f.Name}",
        EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
        Type t => $"nested {t.Name}",
        _ => member.Name,
    };

    private static string Parameters(ParameterInfo[] parameters) => string.Join(", ", parameters.Select(p => $"{Name(p.ParameterType)} {p.Name}{(p.HasDefaultValue ? " = default" : "")}"));

    private static string Name(Type type) => type.IsGenericType
        ? $"{type.Name[..type.Name.IndexOf('`', StringComparison.Ordinal)]}<{string.Join(", ", type.GetGenericArguments().Select(Name))}>"
        : type.IsArray ? Name(type.GetElementType()!) + "[]" : type.Name;
}
