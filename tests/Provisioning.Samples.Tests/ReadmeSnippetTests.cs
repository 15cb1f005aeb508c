using System.Text.RegularExpressions;

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Provisioning.Samples.Tests;

/// <summary>
/// Every <c>```csharp</c> block of the README compiles, as its own program, against the packages as built (in memory,
/// with Roslyn: no project is generated and nothing is written).
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    /// <summary>What a new console project has (ImplicitUsings): snippets may rely on it, as readers' programs do.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly Lazy<MetadataReference[]> References = new(() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray());

    public static TheoryData<string, int> Snippets()
    {
        var data = new TheoryData<string, int>();
        foreach (var (title, index, _) in ReadSnippets())
        {
            data.Add(title, index);
        }

        return data;
    }

    [Fact]
    public void Readme_HasTheSnippetsItPromises()
    {
        var snippets = ReadSnippets();

        // The library in ten lines, the emulator in one's own tests, a real Azure DPS: at least these three.
        Assert.True(snippets.Count >= 3, $"only {snippets.Count} C# snippets were found in the README");
    }

    [Theory]
    [MemberData(nameof(Snippets))]
    public void ReadmeSnippet_Compiles(string section, int index)
    {
        var code = ReadSnippets().Single(s => s.Index == index).Code;
        var options = new CSharpParseOptions(LanguageVersion.Latest);
        var token = TestContext.Current.CancellationToken;
        var tree = CSharpSyntaxTree.ParseText(code, options, path: $"README-snippet-{index}.cs", cancellationToken: token);
        var hasStatements = tree.GetCompilationUnitRoot(token).Members.OfType<GlobalStatementSyntax>().Any();
        var compilation = CSharpCompilation.Create(
            $"ReadmeSnippet{index}",
            [tree, CSharpSyntaxTree.ParseText(ImplicitUsings, options, path: "ImplicitUsings.cs", cancellationToken: token)],
            References.Value,
            new CSharpCompilationOptions(hasStatements ? OutputKind.ConsoleApplication : OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

        using var assembly = new MemoryStream();
        var result = compilation.Emit(assembly, cancellationToken: token);

        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToArray();
        Assert.True(result.Success, $"The README snippet #{index} under '{section}' does not compile:\n{string.Join('\n', errors)}\n---\n{code}");
    }

    private static List<(string Section, int Index, string Code)> ReadSnippets()
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md")).ReplaceLineEndings("\n");
        var snippets = new List<(string, int, string)>();
        var section = "(top)";
        var index = 0;
        foreach (Match match in Blocks().Matches(readme))
        {
            if (match.Groups["heading"].Success)
            {
                section = match.Groups["heading"].Value.Trim();
                continue;
            }

            snippets.Add((section, ++index, match.Groups["code"].Value));
        }

        return snippets;
    }

    [GeneratedRegex(@"^#{1,6}[ \t]+(?<heading>[^\n]+)$|^```(?:csharp|cs|c#)\s*\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex Blocks();
}
