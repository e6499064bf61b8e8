using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Asd.Native.IO;

namespace Asd.Native.Sampling;

/// <summary>
/// What a remembered cost curve is valid for: the model's content, the device, the thread count, guidance (two rows
/// per row), the CPU model, the build flavour (version, JIT or Native AOT, active kernel path) and the calibration's
/// row range. Any difference is a different curve.
/// </summary>
/// <param name="Model">The model's name (for people; the hash decides).</param>
/// <param name="ModelHash">SHA-256 of the model's identity and behaviour (<see cref="For"/>).</param>
/// <param name="Device">cpu or cuda.</param>
/// <param name="Threads">Threads the denoiser runs on.</param>
/// <param name="Guided">Whether classifier-free guidance doubles every row.</param>
/// <param name="Rows">The largest batch the calibration times.</param>
/// <param name="Cpu">The CPU model (/proc/cpuinfo), or the architecture where none is known.</param>
/// <param name="Build">asd's version, JIT or AOT, and the kernel path.</param>
public sealed record CostCurveKey(string Model, string ModelHash, string Device, int Threads, bool Guided, int Rows, string Cpu, string Build)
{
    /// <summary>The file name of the key: a hash of every field.</summary>
    public string FileName
    {
        get
        {
            string all = string.Join('\n', Model, ModelHash, Device, Threads.ToString(CultureInfo.InvariantCulture), Guided ? "guided" : "plain", Rows.ToString(CultureInfo.InvariantCulture), Cpu, Build);
            return IO.Sha256.Hex(Encoding.UTF8.GetBytes(all))[..32] + ".json"; // managed: no libssl needed (IO.Sha256)
        }
    }

    /// <summary>
    /// The key of <paramref name="model"/> as <paramref name="denoiser"/> runs it. The model's content is identified
    /// without reading its files (which the engine does not keep): its type, name, shapes, schedule, and the bits of
    /// its answer on a fixed probe (two rows of a fixed pattern, zero conditioning), hashed together. Different weights
    /// give a different answer, so a retrained or replaced model never reuses an old curve; a model whose answer is not
    /// reproducible (some GPU kernels) only misses the cache. <paramref name="trainSteps"/> is the training steps of the
    /// schedule <paramref name="denoiser"/> was made for, which an override (<c>--train-steps</c>) may set apart from the
    /// model's default: the probe's timesteps lie within it (the analytic models refuse any other).
    /// </summary>
    public static CostCurveKey For(IDiffusionModel model, IDenoiser denoiser, int trainSteps, int threads, bool guided, int rows, string device)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(denoiser);
        ArgumentOutOfRangeException.ThrowIfLessThan(trainSteps, 1);
        int d = denoiser.SampleSize, c = denoiser.ConditionSize, probeRows = denoiser.MaxRowsPerCall is > 0 and < 2 ? 1 : 2;
        var x = new float[probeRows * d];
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = (float)Math.Sin(0.7 * (i + 1));
        }

        int train = trainSteps;
        int[] t = [.. Enumerable.Range(0, probeRows).Select(r => denoiser.SharedTimestep ? train / 2 : ((r + 1) * train / 3) % train)];
        var output = new float[probeRows * d];
        denoiser.Denoise(x, t, new float[probeRows * c], output);
        var hash = new IO.Sha256();
        hash.Append(Encoding.UTF8.GetBytes($"{model.GetType().FullName}\n{model.Name}\n{string.Join(',', model.SampleShape)}\n{model.ConditionSize}\n{train}\n"));
        hash.Append(MemoryMarshal.AsBytes(output.AsSpan()));
        string modelHash = hash.HexAndReset();
        return new CostCurveKey(model.Name, modelHash, device, threads, guided, rows, CpuModel(), BuildFlavour());
    }

    /// <summary>
    /// The CPU model from /proc/cpuinfo (<see cref="CpuModel(IEnumerable{string})"/>), else the architecture.
    /// </summary>
    public static string CpuModel()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo") && CpuModel(File.ReadLines("/proc/cpuinfo")) is { } model)
            {
                return model;
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    /// <summary>
    /// The first processor's model in /proc/cpuinfo's text: on x86 the model name with the family, model and stepping
    /// numbers, on arm64 the implementer, part, variant and revision; null when it names none. The name alone does
    /// not identify a CPU: a cloud VM reads "AMD EPYC" on a Zen 3 (family 25 model 1, AVX2), a Zen 4 (family 25 model
    /// 17, AVX-512 on 256-bit units) and a Zen 5, whose cost curves differ by up to 2x, and a curve measured on one must
    /// not be reused on another.
    /// </summary>
    internal static string? CpuModel(IEnumerable<string> cpuinfo)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in cpuinfo)
        {
            if (string.IsNullOrWhiteSpace(line))
            {
                if (fields.Count > 0)
                {
                    break; // the first processor's block is enough
                }

                continue;
            }

            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                fields.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
            }
        }

        string Numbers(params string[] names) => string.Join(' ', names.Where(n => fields.TryGetValue(n, out string? v) && v.Length > 0).Select(n => $"{n} {fields[n]}"));
        string x86 = Numbers("cpu family", "model", "stepping"), arm = Numbers("CPU implementer", "CPU part", "CPU variant", "CPU revision");
        string? name = fields.TryGetValue("model name", out string? n) && n.Length > 0 ? n : null;
        string ids = x86.Length > 0 ? x86 : arm;
        string model = name is null ? ids : ids.Length > 0 ? $"{name} ({ids})" : name;
        return model.Length > 0 ? model.Replace(':', ' ') : null;
    }

    /// <summary>asd's version, JIT or Native AOT, and the active kernel path.</summary>
    public static string BuildFlavour() =>
        $"{typeof(CostCurveKey).Assembly.GetName().Version} {(System.Runtime.CompilerServices.RuntimeFeature.IsDynamicCodeSupported ? "jit" : "aot")} {Asd.Simd.Isa.Name(Asd.Simd.Isa.Active)} {RuntimeInformation.RuntimeIdentifier}";
}

/// <summary>A remembered curve found in the store, for <c>asd info</c>.</summary>
/// <param name="Path">The file.</param>
/// <param name="Key">What it is valid for.</param>
/// <param name="Curve">The curve.</param>
/// <param name="Saved">When it was measured (UTC).</param>
public sealed record StoredCostCurve(string Path, CostCurveKey Key, CostCurve Curve, DateTime Saved);

/// <summary>
/// Cost curves remembered across processes, one JSON file per <see cref="CostCurveKey"/>, so that a model is
/// calibrated once per machine rather than once per run: the CLI, the C ABI and Python all reach it through
/// <see cref="SamplerFactory"/>. The folder is <c>$ASD_CACHE_DIR</c>, else <c>$XDG_CACHE_HOME/asd</c>, else
/// <c>~/.cache/asd</c>; <c>ASD_NO_CACHE=1</c> turns it off. A file that cannot be read, is not a curve, or was saved
/// for another key is ignored with a warning (and replaced by a fresh calibration), never trusted.
/// </summary>
public sealed class CostCurveStore(string directory)
{
    /// <summary>The store's file format name.</summary>
    public const string Format = "asd-cost-curve-cache";

    /// <summary>The variable that names the cache folder.</summary>
    public const string DirectoryVariable = "ASD_CACHE_DIR";

    /// <summary>The variable that turns the cache off (1, true, yes, on; 0, false, no, off or unset keep it; anything else is warned of and keeps it).</summary>
    public const string DisableVariable = "ASD_NO_CACHE";

    /// <summary>The folder that holds the curves (a cost-curves subfolder of the cache folder).</summary>
    public string Directory { get; } = System.IO.Path.Combine(directory, "cost-curves");

    /// <summary>Where warnings go (a corrupt or foreign file): standard error unless replaced.</summary>
    public static Action<string> Warn { get; set; } = message => Console.Error.WriteLine($"asd: warning: {message}");

    /// <summary>The store the environment selects, or null when caching is off or no folder can be named.</summary>
    public static CostCurveStore? FromEnvironment() => FromEnvironment(Environment.GetEnvironmentVariable);

    /// <summary>As <see cref="FromEnvironment()"/>, with the variables read through <paramref name="variable"/> (tests).</summary>
    internal static CostCurveStore? FromEnvironment(Func<string, string?> variable)
    {
        string? off = variable(DisableVariable);
        switch (off?.Trim().ToLowerInvariant())
        {
            case "1" or "true" or "yes" or "on":
                return null;
            case null or "" or "0" or "false" or "no" or "off":
                break;
            default:
                // A spelling not understood (it read ASD_NO_CACHE=on as "keep remembering" without a word): said, and
                // remembering stays on, as unset.
                Warn($"{DisableVariable}={off}: expected 1, true, yes or on to stop remembering cost curves (0, false, no or off keep it); remembering stays on.");
                break;
        }

        string? dir = variable(DirectoryVariable);
        if (string.IsNullOrWhiteSpace(dir))
        {
            string? xdg = variable("XDG_CACHE_HOME");
            string? home = variable("HOME");
            dir = !string.IsNullOrWhiteSpace(xdg) && System.IO.Path.IsPathRooted(xdg) ? System.IO.Path.Combine(xdg, "asd")
                : !string.IsNullOrWhiteSpace(home) ? System.IO.Path.Combine(home, ".cache", "asd")
                : null;
        }

        return dir is null ? null : new CostCurveStore(dir);
    }

    /// <summary>The file of <paramref name="key"/>.</summary>
    public string PathOf(CostCurveKey key) => System.IO.Path.Combine(Directory, key.FileName);

    /// <summary>The remembered curve of <paramref name="key"/> (a curve that learns), or null: none, or an unusable file (warned).</summary>
    public CostCurve? TryLoad(CostCurveKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            StoredCostCurve stored = Read(path);
            if (stored.Key != key)
            {
                Warn($"ignoring the remembered cost curve {path}: it was saved for another model or machine ({stored.Key.Model}, {stored.Key.Device}, {stored.Key.Threads} threads); calibrating again.");
                return null;
            }

            return stored.Curve;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            Warn($"ignoring the remembered cost curve {path}: {e.Message}; calibrating again.");
            return null;
        }
    }

    /// <summary>Remembers <paramref name="curve"/> for <paramref name="key"/> (written to a temporary file, then moved into place). Failures are warned, not thrown.</summary>
    public void Save(CostCurveKey key, CostCurve curve)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(curve);
        string path = PathOf(key);
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            // Written field by field on purpose: libasd saves these files, and System.Text.Json's serializer, even
            // source-generated, leaves a small native allocation behind in the Native AOT library on first use (8 bytes,
            // "definitely lost" under valgrind, tests/interop/run.sh), where the writer leaves none.
            AtomicFile.WriteJson(path, w =>
            {
                w.WriteStartObject();
                w.WriteString("format", Format);
                w.WriteNumber("version", 1);
                w.WriteString("saved", DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                w.WriteStartObject("key");
                w.WriteString("model", key.Model);
                w.WriteString("model_hash", key.ModelHash);
                w.WriteString("device", key.Device);
                w.WriteNumber("threads", key.Threads);
                w.WriteBoolean("guided", key.Guided);
                w.WriteNumber("rows", key.Rows);
                w.WriteString("cpu", key.Cpu);
                w.WriteString("build", key.Build);
                w.WriteEndObject();
                w.WritePropertyName("curve");
                using (JsonDocument curveJson = JsonDocument.Parse(curve.ToJson()))
                {
                    curveJson.RootElement.WriteTo(w);
                }

                w.WriteEndObject();
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Warn($"could not remember the cost curve in {path}: {e.Message}");
        }
    }

    /// <summary>Forgets the curve of <paramref name="key"/>.</summary>
    public void Remove(CostCurveKey key)
    {
        try
        {
            File.Delete(PathOf(key));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Warn($"could not remove {PathOf(key)}: {e.Message}");
        }
    }

    /// <summary>Every readable curve in the store, and the paths of the files that are not (for <c>asd info</c>).</summary>
    public (IReadOnlyList<StoredCostCurve> Curves, IReadOnlyList<(string Path, string Why)> Unreadable) List()
    {
        var curves = new List<StoredCostCurve>();
        var bad = new List<(string, string)>();
        if (!System.IO.Directory.Exists(Directory))
        {
            return (curves, bad);
        }

        foreach (string path in System.IO.Directory.EnumerateFiles(Directory, "*.json").Order(StringComparer.Ordinal))
        {
            try
            {
                curves.Add(Read(path));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                bad.Add((path, e.Message));
            }
        }

        return (curves, bad);
    }

    /// <summary>Reads one store file strictly.</summary>
    /// <exception cref="InvalidDataException">Not a store file, or invalid.</exception>
    public static StoredCostCurve Read(string path)
    {
        byte[] bytes = IO.ModelFiles.ReadAllBytes(path, "remembered cost curve", Validation.ResourceLimits.MaxJsonBytes);
        using JsonDocument doc = IO.StrictJson.Parse(bytes, path);
        JsonElement root = IO.StrictJson.Object(doc, path);
        string? format = null;
        DateTime saved = default;
        CostCurveKey? key = null;
        CostCurve? curve = null;
        foreach (JsonProperty p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "format": format = IO.StrictJson.String(p.Value, "format", path); break;
                case "version": IO.StrictJson.Int(p.Value, "version", path, 1, 1); break;
                case "saved":
                    if (!DateTime.TryParse(IO.StrictJson.String(p.Value, "saved", path), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out saved))
                    {
                        throw new InvalidDataException($"{path}: \"saved\" is not a date.");
                    }

                    break;
                case "key": key = ReadKey(p.Value, path); break;
                case "curve": curve = CostCurve.Parse(Encoding.UTF8.GetBytes(p.Value.GetRawText()), path + " (curve)"); break;
                default: throw new InvalidDataException($"{path}: unknown key '{p.Name}' in a remembered cost curve.");
            }
        }

        if (format != Format)
        {
            throw new InvalidDataException($"{path}: not a remembered asd cost curve (format must be \"{Format}\").");
        }

        if (key is null || curve is null)
        {
            throw new InvalidDataException($"{path}: \"{(key is null ? "key" : "curve")}\" is missing.");
        }

        return new StoredCostCurve(path, key, curve.AsRemembered(), saved);
    }

    private static CostCurveKey ReadKey(JsonElement e, string path)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: \"key\" must be an object.");
        }

        string model = "", hash = "", device = "", cpu = "", build = "";
        int threads = 0, rows = 0;
        bool guided = false;
        foreach (JsonProperty p in e.EnumerateObject())
        {
            switch (p.Name)
            {
                case "model": model = IO.StrictJson.String(p.Value, "key.model", path); break;
                case "model_hash": hash = IO.StrictJson.String(p.Value, "key.model_hash", path); break;
                case "device": device = IO.StrictJson.String(p.Value, "key.device", path); break;
                case "threads": threads = IO.StrictJson.Int(p.Value, "key.threads", path, 1, Validation.ResourceLimits.MaxThreads); break;
                case "guided":
                    guided = p.Value.ValueKind switch
                    {
                        JsonValueKind.True => true,
                        JsonValueKind.False => false,
                        _ => throw new InvalidDataException($"{path}: \"key.guided\" must be true or false."),
                    };
                    break;
                case "rows": rows = IO.StrictJson.Int(p.Value, "key.rows", path, 1, Validation.ResourceLimits.MaxCostCurvePoints); break;
                case "cpu": cpu = IO.StrictJson.String(p.Value, "key.cpu", path); break;
                case "build": build = IO.StrictJson.String(p.Value, "key.build", path); break;
                default: throw new InvalidDataException($"{path}: unknown key 'key.{p.Name}' in a remembered cost curve.");
            }
        }

        return new CostCurveKey(model, hash, device, threads, guided, rows, cpu, build);
    }
}
