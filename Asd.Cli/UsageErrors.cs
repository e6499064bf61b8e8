using System.CommandLine.Parsing;

namespace Asd.Cli;

/// <summary>A parse error as one line: what was wrong, the nearest valid name when there is one, and where help is.</summary>
internal static class UsageErrors
{
    public static string Describe(ParseResult parse)
    {
        Command command = parse.CommandResult.Command;
        string path = CommandPath(parse.CommandResult);
        string help = $"see '{path} --help'";
        foreach (string token in parse.UnmatchedTokens)
        {
            if (token.StartsWith('-'))
            {
                string name = token.Split('=', 2)[0];
                IEnumerable<string> names = command.Options.Concat(AncestorOptions(parse.CommandResult)).Where(o => !o.Hidden).SelectMany(o => o.Aliases.Prepend(o.Name));
                return $"unknown option '{name}' for '{path}'{Hint(name, names)}; {help}.";
            }

            if (command.Subcommands.Count > 0)
            {
                return $"unknown command '{token}'{Hint(token, command.Subcommands.Select(c => c.Name))}; {help}.";
            }
        }

        string first = parse.Errors[0].Message.TrimEnd('.');
        return $"{first}; {help}.";
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                names.Add(c.Parent is null ? "asd" : c.Command.Name);
            }
        }

        names.Reverse();
        return string.Join(' ', names);
    }

    private static IEnumerable<Option> AncestorOptions(CommandResult result)
    {
        for (SymbolResult? r = result.Parent; r is not null; r = r.Parent)
        {
            if (r is CommandResult c)
            {
                foreach (Option o in c.Command.Options.Where(o => o.Recursive))
                {
                    yield return o;
                }
            }
        }
    }

    /// <summary>" (did you mean --steps?)" for the closest name within a few edits, else empty.</summary>
    internal static string Hint(string typed, IEnumerable<string> candidates)
    {
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string c in candidates.Distinct())
        {
            int d = EditDistance(typed.ToLowerInvariant(), c.ToLowerInvariant());
            if (d < bestDistance)
            {
                (best, bestDistance) = (c, d);
            }
        }

        // Up to a third of the name may differ (at least 1, at most 3 edits): "--step" -> "--steps", "--spec-lens" in
        // sample -> "--spec-len", but "--x" never suggests "--seed".
        int allowed = Math.Clamp(typed.TrimStart('-').Length / 3, 1, 3);
        return best is not null && bestDistance <= allowed ? $" (did you mean {best}?)" : "";
    }

    /// <summary>Edit distance counting an insertion, a deletion, a substitution or a swap of two neighbours as one.</summary>
    internal static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
