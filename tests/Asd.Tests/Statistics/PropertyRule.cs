namespace Asd.Tests.Statistics;

/// <summary>
/// The multiple-testing rule of every statistical property: each of <see cref="Cases"/> cases yields one p-value
/// (its tests combined by Bonferroni); a case rejects at level <see cref="CaseAlpha"/>; the property fails when
/// the number of rejecting cases reaches <see cref="CriticalCount"/>, the smallest r with
/// P(Binomial(Cases, CaseAlpha) &gt;= r) &lt;= <see cref="PropertyBeta"/>. Under the null hypothesis the property
/// therefore raises a false alarm with probability at most PropertyBeta, whatever the dependence between
/// the tests inside a case.
/// </summary>
public sealed record PropertyRule(int Cases, double CaseAlpha, double PropertyBeta)
{
    /// <summary>The per-property false-alarm bound used by the suite: 1e-5, so ten properties stay below 1e-4 per CI run.</summary>
    public const double SuiteBeta = 1e-5;

    /// <summary>Smallest rejection count that fails the property.</summary>
    public int CriticalCount
    {
        get
        {
            for (int r = 1; r <= Cases; r++)
            {
                if (Stat.BinomialUpperTail(r, Cases, CaseAlpha) <= PropertyBeta)
                {
                    return r;
                }
            }

            return Cases + 1;
        }
    }

    /// <summary>The exact false-alarm probability of the property under the null: P(Binomial(Cases, CaseAlpha) &gt;= CriticalCount).</summary>
    public double FalseAlarm => Stat.BinomialUpperTail(CriticalCount, Cases, CaseAlpha);

    /// <summary>Decides a property from its cases' p-values.</summary>
    public PropertyOutcome Decide(string name, IReadOnlyList<CaseResult> cases)
    {
        if (cases.Count != Cases)
        {
            throw new ArgumentException($"{name}: expected {Cases} cases, got {cases.Count}.");
        }

        int rejections = cases.Count(c => c.PValue <= CaseAlpha);
        return new PropertyOutcome(name, this, rejections, cases);
    }
}

/// <summary>One case of a property: its parameters (for messages) and its combined p-value.</summary>
public sealed record CaseResult(string Description, double PValue);

/// <summary>The decision of a property.</summary>
public sealed record PropertyOutcome(string Name, PropertyRule Rule, int Rejections, IReadOnlyList<CaseResult> Cases)
{
    /// <summary>True when the property's hypothesis is rejected.</summary>
    public bool Rejected => Rejections >= Rule.CriticalCount;

    /// <inheritdoc/>
    public override string ToString()
    {
        var worst = Cases.OrderBy(c => c.PValue).Take(5).Select(c => $"  p={c.PValue:E2} {c.Description}");
        return $"{Name}: {Rejections}/{Rule.Cases} cases rejected at alpha={Rule.CaseAlpha} (critical count {Rule.CriticalCount}, false alarm {Rule.FalseAlarm:E1}) -> {(Rejected ? "REJECTED" : "accepted")}\n{string.Join("\n", worst)}";
    }
}
