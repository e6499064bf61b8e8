namespace Asd.Native.IO;

/// <summary>Output files that appear whole or not at all: written beside the target under a temporary name, then moved over it.</summary>
internal static class AtomicFile
{
    /// <summary>
    /// Writes indented JSON through <paramref name="write"/> to <paramref name="temp"/> (default: the path plus
    /// ".tmp"), then moves it to <paramref name="path"/>. A failure leaves the temporary file for the caller to remove.
    /// </summary>
    public static void WriteJson(string path, Action<Utf8JsonWriter> write, string? temp = null)
    {
        temp ??= path + ".tmp";
        using (FileStream stream = File.Create(temp))
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            write(w);
        }

        File.Move(temp, path, overwrite: true);
    }
}
