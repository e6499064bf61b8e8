namespace Asd.Tests;

/// <summary>
/// Asserts that a call throws, writes the message to the test's log (the message is what the test is about: a bad
/// model file or an unsupported device must say what is wrong) and returns it for the test's own checks.
/// </summary>
internal static class LoggedThrows
{
    /// <summary>The message of the <typeparamref name="TException"/> that <paramref name="call"/> must throw.</summary>
    public static string Message<TException>(Func<object?> call, ITestOutputHelper output)
        where TException : Exception
    {
        TException e = Assert.Throws<TException>(call);
        output.WriteLine(e.Message);
        return e.Message;
    }
}
