using Asd.Native.IO;

namespace Asd.Tests.Validation;

/// <summary>
/// Output files appear whole or not at all (AtomicFile: --out and its manifest, --stats, --json, --plot, cost curves,
/// asd merge): a write that fails or is cut short by a signal leaves no temporary file and the target as it was, and a
/// write never overwrites a file that only shares its temporary name. The CLI's own checks (a file-size limit, Ctrl-C
/// while writing) are in tests/cli/run.sh.
/// </summary>
public sealed class OutputFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("asd-output-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string[] Files() => [.. Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal)!];

    [Fact]
    public void AFailedWriteLeavesNoTemporaryFileAndTheTargetAsItWas()
    {
        string path = Path.Combine(_dir, "x.npy");
        File.WriteAllText(path, "before");
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[200_000]); // past the stream's buffer: the temporary file holds data when the write fails
            throw new IOException("No space left on device");
        }));
        Assert.Equal("No space left on device", e.Message);
        Assert.Equal(["x.npy"], Files());
        Assert.Equal("before", File.ReadAllText(path));

        // And an .npy writer's failure alike: Npy.Write refuses a shape that does not match, before writing anything.
        Assert.Throws<ArgumentException>(() => Npy.Write(path, new float[3], [2]));
        Assert.Equal(["x.npy"], Files());
    }

    [Fact]
    public void AFileNamedLikeTheTargetPlusTmpIsNotOverwritten()
    {
        // The old writers used PATH.tmp as their temporary file, and replaced (then moved away) a user's file of that name.
        string path = Path.Combine(_dir, "x.npy");
        File.WriteAllText(path + ".tmp", "mine");
        Npy.Write(path, [1, 2, 3, 4], [2, 2]);
        Assert.Equal(["x.npy", "x.npy.tmp"], Files());
        Assert.Equal("mine", File.ReadAllText(path + ".tmp"));
        Assert.Equal([2, 2], Npy.Read(path).Shape);
    }

    [Fact]
    public void ATemporaryNameTakenByAnotherFileIsSkipped()
    {
        string path = Path.Combine(_dir, "c.json");
        long next = AtomicFile.TemporaryNamesTaken + 1;
        string[] taken = [.. Enumerable.Range(0, 3).Select(i => $"{path}.{Environment.ProcessId}-{next + i}.tmp")];
        foreach (string t in taken)
        {
            File.WriteAllText(t, "someone else's");
        }

        AtomicFile.WriteBytes(path, "{}"u8.ToArray());
        Assert.Equal("{}", File.ReadAllText(path));
        Assert.All(taken, t => Assert.Equal("someone else's", File.ReadAllText(t)));
        Assert.Equal(4, Files().Length);
    }

    [Fact]
    public void AWriteCutShortBySignalHandlingLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "merged.npy");
        File.WriteAllText(path, "before");
        using var written = new ManualResetEventSlim();
        using var resume = new ManualResetEventSlim();
        Task write = Task.Run(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[200_000]);
            written.Set();
            resume.Wait();
            s.Write(new byte[10]);
        }));
        Assert.True(written.Wait(TimeSpan.FromSeconds(30)), "the writer did not start");
        Assert.Equal(2, Files().Length); // the target and its temporary file

        // What the CLI's handler of SIGINT, SIGTERM and SIGHUP does before the process ends (Interrupts).
        Assert.Equal([path], AtomicFile.RemoveUnfinished(_dir));
        Assert.Equal(["merged.npy"], Files());

        // The write itself then fails at its move, and leaves the target alone.
        resume.Set();
        Assert.ThrowsAny<IOException>(() => write.GetAwaiter().GetResult());
        Assert.Equal(["merged.npy"], Files());
        Assert.Equal("before", File.ReadAllText(path));
        Assert.Empty(AtomicFile.RemoveUnfinished(_dir));
    }

    [Fact]
    public void ACostCurveAndAShardManifestAreWrittenWhole()
    {
        // CostCurve.Save wrote straight into its target, so a failed save left a torn file; it goes through AtomicFile
        // now, like the rest (whose failures the tests above show). A save into a missing folder fails cleanly.
        var curve = new Asd.Native.Sampling.CostCurve([1e-3, 1.5e-3, 2e-3]);
        string path = Path.Combine(_dir, "curve.json");
        curve.Save(path);
        Assert.Equal(curve.Seconds(3), Asd.Native.Sampling.CostCurve.Load(path).Seconds(3));
        Assert.Equal(["curve.json"], Files());
        Assert.ThrowsAny<IOException>(() => curve.Save(Path.Combine(_dir, "missing", "curve.json")));
        Assert.Equal(["curve.json"], Files());
    }

    private static ShardRun Run() => new("test", new string('0', 64), [2], "asd", 10, "auto", null, 7, null, null, new Dictionary<string, object>(), "none");

    private static string RecordedSha(string npy)
    {
        using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllText(ShardManifest.SidecarPath(npy)));
        return doc.RootElement.GetProperty("data_sha256").GetString()!;
    }

    [Fact]
    public async Task AShardsDataAndManifestLandTogetherEvenWhenASignalsHandlerRunsBetweenTheirMoves()
    {
        // The .npy and its manifest were two writes: a signal between them left the new .npy beside the old manifest
        // (or none), a shard asd merge refuses. Now both move with the handler held off until both are in place.
        string npy = Path.Combine(_dir, "s.npy");
        float[] old = [1, 2, 3, 4], fresh = [5, 6, 7, 8];
        ShardManifest.Write(npy, old, [2, 2], Run(), 0, "{}", "m");
        Assert.Equal(ShardManifest.DataSha256(old), RecordedSha(npy));

        Task<IReadOnlyList<string>>? handler = null;
        bool heldOff = false;
        AtomicFile.AfterMoveForTests = target =>
        {
            if (target == npy)
            {
#pragma warning disable xUnit1031
                // What the CLI's handler does (Interrupts): it must wait for the manifest's move too.
                handler = Task.Run(() => AtomicFile.RemoveUnfinished(_dir));
                heldOff = !handler.Wait(TimeSpan.FromMilliseconds(300)); // blocking on purpose: the hook runs inside the moves' lock
#pragma warning restore xUnit1031
            }
        };
        try
        {
            ShardManifest.Write(npy, fresh, [2, 2], Run(), 0, "{}", "m");
        }
        finally
        {
            AtomicFile.AfterMoveForTests = null;
        }

        Assert.True(heldOff, "the handler removed files between the .npy's move and its manifest's");
        Assert.NotNull(handler);
        Assert.Empty(await handler); // by the time it ran, nothing was unfinished
        Assert.Equal(["s.npy", "s.npy.json"], Files());
        Assert.Equal(fresh, Npy.Read(npy).Data);
        Assert.Equal(ShardManifest.DataSha256(fresh), RecordedSha(npy));
    }

    [Fact]
    public void AShardWhoseManifestCannotBeWrittenLeavesTheOldShardWhole()
    {
        // Both files are written and closed before either moves: a manifest that cannot land (its name is a folder)
        // leaves the old .npy in place, not a new one without its manifest.
        string npy = Path.Combine(_dir, "s.npy");
        Npy.Write(npy, [1, 2], [2]);
        Directory.CreateDirectory(ShardManifest.SidecarPath(npy));
        var e = Assert.Throws<IOException>(() => ShardManifest.Write(npy, [5, 6], [2], Run(), 0, "{}", "m"));
        Assert.Contains("s.npy.json: is a folder", e.Message, StringComparison.Ordinal);
        Assert.Equal(["s.npy"], Files());
        Assert.Equal([1f, 2f], Npy.Read(npy).Data);
    }
}
