namespace Asd.Native.IO;

/// <summary>
/// JSON from model files and arguments, parsed strictly: no duplicate keys (a second "weights" would otherwise win
/// silently), no comments, bounded depth and size; every failure is an <see cref="InvalidDataException"/> that names
/// the source, and the typed getters name the field, so bad bytes never surface as a bare parser exception.
/// </summary>
public static class StrictJson
{
    private static readonly JsonDocumentOptions Options = new()
    {
        AllowDuplicateProperties = false,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
        MaxDepth = 64,
    };

    /// <summary>Parses UTF-8 bytes.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string source)
    {
        // The reader checks the JSON structure, but a string's bytes are decoded only when read: invalid UTF-8 inside
        // one would surface later as an InvalidOperationException from GetString (found by the mlp-json fuzz target).
        if (!System.Text.Unicode.Utf8.IsValid(utf8.Span))
        {
            throw new InvalidDataException($"{source}: not valid UTF-8 text.");
        }

        try
        {
            return JsonDocument.Parse(utf8, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Parses text.</summary>
    public static JsonDocument Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        try
        {
            return JsonDocument.Parse(text, Options);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Reads and parses a JSON file (a regular file of at most <see cref="Validation.ResourceLimits.MaxJsonBytes"/> bytes).</summary>
    public static JsonDocument ReadFile(string path, string what) =>
        Parse(ModelFiles.ReadAllBytes(path, what, Validation.ResourceLimits.MaxJsonBytes), path);

    /// <summary>The root, which must be an object.</summary>
    public static JsonElement Object(JsonDocument doc, string source)
    {
        ArgumentNullException.ThrowIfNull(doc);
        return doc.RootElement.ValueKind == JsonValueKind.Object
            ? doc.RootElement
            : throw new InvalidDataException($"{source}: the top level must be a JSON object.");
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static int Int(JsonElement e, string field, string source, int min = int.MinValue, int max = int.MaxValue)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < min || v > max)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: \"{field}\" must be an integer from {min} to {max} (got {Show(e)})."));
        }

        return (int)v;
    }

    /// <summary>A 64-bit integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long Long(JsonElement e, string field, string source, long min = long.MinValue, long max = long.MaxValue)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < min || v > max)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{source}: \"{field}\" must be an integer from {min} to {max} (got {Show(e)})."));
        }

        return v;
    }

    /// <summary>An unsigned 64-bit integer.</summary>
    public static ulong ULong(JsonElement e, string field, string source) =>
        e.ValueKind == JsonValueKind.Number && e.TryGetUInt64(out ulong v)
            ? v
            : throw new InvalidDataException($"{source}: \"{field}\" must be an integer from 0 to {ulong.MaxValue} (got {Show(e)}).");

    /// <summary>A finite number.</summary>
    public static double Number(JsonElement e, string field, string source)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || !double.IsFinite(v))
        {
            throw new InvalidDataException($"{source}: \"{field}\" must be a finite number (got {Show(e)}).");
        }

        return v;
    }

    /// <summary>A string.</summary>
    public static string String(JsonElement e, string field, string source) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw new InvalidDataException($"{source}: \"{field}\" must be a string (got {Show(e)}).");

    /// <summary>true or false.</summary>
    public static bool Bool(JsonElement e, string field, string source) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new InvalidDataException($"{source}: \"{field}\" must be true or false (got {Show(e)})."),
    };

    /// <summary>An array.</summary>
    public static JsonElement.ArrayEnumerator Array(JsonElement e, string field, string source) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw new InvalidDataException($"{source}: \"{field}\" must be a list (got {Show(e)}).");

    /// <summary>An object's properties.</summary>
    public static JsonElement.ObjectEnumerator Properties(JsonElement e, string field, string source) =>
        e.ValueKind == JsonValueKind.Object ? e.EnumerateObject() : throw new InvalidDataException($"{source}: \"{field}\" must be an object (got {Show(e)}).");

    /// <summary>A short rendering of a value for messages.</summary>
    public static string Show(JsonElement e)
    {
        string raw = e.ValueKind == JsonValueKind.Undefined ? "nothing" : e.GetRawText();
        return raw.Length <= 60 ? raw : raw[..60] + "...";
    }
}
