namespace Asd.Tests;

/// <summary>The statistical properties a test class runs, by their names in <see cref="PropertyCatalog"/>.</summary>
public interface IPropertyGroup
{
    static abstract IReadOnlyList<string> Properties { get; }
}

/// <summary>
/// The tests of the statistical properties <typeparamref name="TGroup"/> names, taken from <see cref="PropertyCatalog"/>
/// at each property's CI seed: the null variant must hold, and each negative control must be rejected (in at least
/// the property's margin times its critical count of cases). Each group is its own test class, so groups run in
/// parallel as the separate classes did; display names read "Holds(property: ...)" and
/// "Control_IsRejected(property: ..., control: ...)".
/// </summary>
public abstract class PropertyTests<TGroup>(ITestOutputHelper output)
    where TGroup : IPropertyGroup
{
    public static TheoryData<string> Nulls => [.. TGroup.Properties];

    public static TheoryData<string, string> Controls
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string property in TGroup.Properties)
            {
                foreach ((string control, _) in PropertyCatalog.Find(property).Controls)
                {
                    data.Add(property, control);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Nulls))]
    public void Holds(string property)
    {
        PropertyStudy study = PropertyCatalog.Find(property);
        PropertyAssert.Holds(study.Null(study.CiSeed), output);
    }

    [Theory]
    [MemberData(nameof(Controls))]
    public void Control_IsRejected(string property, string control)
    {
        PropertyStudy study = PropertyCatalog.Find(property);
        PropertyAssert.IsRejected(study.Control(control)(study.CiSeed), output, study.ControlMargin);
    }
}

/// <summary>Every catalogued property is run by exactly one test class, so none drops out of CI unnoticed.</summary>
public sealed class PropertyCatalogTests
{
    [Fact]
    public void EveryPropertyIsRunByExactlyOneTestClass()
    {
        string[] grouped = [.. typeof(PropertyCatalogTests).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.IsAssignableTo(typeof(IPropertyGroup)))
            .SelectMany(t => (IReadOnlyList<string>)t.GetProperty(nameof(IPropertyGroup.Properties))!.GetValue(null)!)];
        Assert.Equal(PropertyCatalog.All.Select(p => p.Name).Order(), grouped.Order());
    }
}
