#!/usr/bin/env python3
"""Generates the SGEMM microkernels of Asd.Simd (Asd.Simd/Kernels/Gemm/SgemmKernels.*.g.cs) and their dispatch by
ISA path (SgemmKernels.Dispatch.g.cs).

Each microkernel keeps an r x (panels x vectors) tile of C in registers and, for k ascending, broadcasts one packed
A value per row and fuses it with the panel's B vectors, then stores the tile (the epilogue runs on the stored tile
while it is in L1: calling it with the accumulators live would make the JIT spill them inside the loop). Every output element is ONE fused-multiply-add chain over k
(no split accumulators), so its bits do not depend on the tile it lands in, the batch size or the vector width.
Unrolled by rows and vectors because the JIT keeps named locals in registers, not arrays.

Each kernel comes twice: with float32 weights, and with float16 weights (the packed matrix holds IEEE half bits),
widened to float32 in registers right after the load. The widening is exact (every half is a float), done with integer
operations because .NET exposes no half-conversion instruction: sign-extend the 16 bits to 32, shift left by 13 (the
exponent and mantissa land in float position, the sign bits above them), keep the sign bit and the 28 low bits, and
multiply by 2^112 (the exponent bias difference, 127 - 15); half subnormals become float subnormals first and normals
after the multiply, both exactly. Infinity and NaN would become finite numbers, so the packer rejects them. The FMA
chains are the same, so a half-weight GEMM gives the bits of the float GEMM on the widened weights.

On AVX-512 and AVX2 a panel's k-step is two vectors of halves, and the packer interleaves them in 32-bit pairs (lane j
holds column j in its low 16 bits and column j + lanes in its high 16 bits; PackedMatrix), so one load of the k-step
feeds both: the high column is an arithmetic shift right by 3 (sign in place, exponent and mantissa in float position,
copies of the sign above them) and a mask that keeps the sign and the 15 bits of exponent and mantissa; the low column
is a shift left by 16 first. Five integer operations per 2 vectors instead of six, and no lane-crossing sign extension
(an 8-row tile's loop alone on one core of a Zen 4, whose AVX-512 runs on 256-bit units: 104-107 GFLOP/s with the
pairs, 95-100 with the widening per vector, 113-118 with float32 weights; `Asd.Bench quick-widen`,
docs/bench/issue17-zen4/quick-widen.txt). The values are those of the widening above, bit for bit.

The multiply runs on the FMA pipes, one per weight vector: at 4-8 rows it is one more op per 4-8 FMAs (a tile of 8
rows ran at 79% of one core's FMA peak with half weights against 87% with float weights). So each kernel comes a third
time (suffix _F16S) without it: the widened weight is w x 2^-112 (exact: a float normal or subnormal), and the caller
passes A already scaled by 2^112 (exact while |x| < 2^16: Sgemm scales a thread's tiles once per GEMM and falls back
to the _F16 kernels otherwise). The FMA's product x 2^112 * w 2^-112 is x * w exactly, and it rounds once, as before,
so the bits are those of the other two families.

Usage: python3 tools/gen_gemm_kernels.py [--out DIR]   (rewrites the .g.cs files, or writes them into DIR; commit them)
The test suite regenerates them into a temporary folder and fails on any difference (GeneratedCodeTests).
"""
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Asd.Simd", "Kernels", "Gemm")

# name, vector type, lanes, vectors per panel, max rows, multi-panel (count, max rows), fma expression
PREFETCH = {"Avx512", "Avx2"}

ISAS = [
    ("Avx512", "Vector512", 16, 2, 12, [(4, 3), (2, 6)], "Vector512.FusedMultiplyAdd({a}, {b}, {c})", "Vec512"),
    ("Avx2", "Vector256", 8, 2, 6, [(2, 3)], "Vector256.FusedMultiplyAdd({a}, {b}, {c})", "Vec256"),
    ("Vector128", "Vector128", 4, 4, 4, [], "Vector128.FusedMultiplyAdd({a}, {b}, {c})", "Vec128"),
    ("Neon", "Vector128", 4, 4, 4, [], "AdvSimd.FusedMultiplyAdd({c}, {a}, {b})", "Vec128"),
]


# The multi-panel kernels of the float16 kernels where they differ from the float32 ones. AVX2's 2-panel x 3-row tile
# with float16 weights needs the widening's mask beside its 12 accumulators, 3 rows and a weight vector: 17 of 16
# registers, so an accumulator lived on the stack (3-row GEMMs at 40% of the FMA peak on a Zen 3; one panel at a time,
# 56-59%; at 1 and 2 rows the 2-panel kernels stay faster: 30 against 23%, 48 against 44%).
HALF_MULTI = {"Avx2": [(2, 2)]}

# Tried and not kept (2026-12-06, Zen 3, AVX2): two adjacent row tiles on half a panel (12 rows x 8 columns, float16
# weights, A scaled), which widens each weight vector once for up to 12 FMAs instead of 6. It ran slower, not faster:
# `Asd.Bench quick-gemm` with the pairs against without, 256 and 768 square, % of the FMA peak: M = 12 68 / 75 and
# 71 / 80, M = 16 68 / 73 and 71 / 77, M = 32 66 / 72 and 70 / 77 (M = 8 equal). A k-step of the 6 x 16 tile issues 6
# broadcasts and 6 widening operations beside its 12 FMAs; the pair issues 12 broadcasts and 3: on this core a
# broadcast from memory costs a vector-pipe slot as a widening operation does, so the pair has more of them per FMA.

# Vector registers of each ISA (x64 without AVX-512 has 16, AVX-512 and arm64 32): a kernel's live vectors fit them.
REGISTERS = {"Avx512": 32, "Avx2": 16, "Vector128": 16, "Neon": 32}

# How a kernel with float16 weights loads one vector of weights (the ISAs without pairs): the load of lanes halves, the
# widening call.
HALF_LOAD = {
    "Vector128": "WidenHalfVector128(Vector64.LoadUnsafe(ref {b}, (nuint)({off})))",
    "Neon": "WidenHalfNeon(Vector64.LoadUnsafe(ref {b}, (nuint)({off})))",
}

# The ISAs whose float16 panels are packed in 32-bit pairs (see the module docstring): one load of a k-step of a panel,
# as 32-bit lanes, and the widening of its low and high halves.
HALF_PAIRS = {
    "Avx512": ("Vector512<ushort>", "Vector512<float>", "Vector512.LoadUnsafe(ref {b}, (nuint)({off}))",
               "(Avx512F.ShiftRightArithmetic(Avx512F.ShiftLeftLogical(h.AsInt32(), 16), 3) & Vector512.Create(HalfPairMask)).AsSingle()",
               "(Avx512F.ShiftRightArithmetic(h.AsInt32(), 3) & Vector512.Create(HalfPairMask)).AsSingle()",
               "Vector512.Create(HalfScale)"),
    "Avx2": ("Vector256<ushort>", "Vector256<float>", "Vector256.LoadUnsafe(ref {b}, (nuint)({off}))",
             "(Avx2.ShiftRightArithmetic(Avx2.ShiftLeftLogical(h.AsInt32(), 16), 3) & Vector256.Create(HalfPairMask)).AsSingle()",
             "(Avx2.ShiftRightArithmetic(h.AsInt32(), 3) & Vector256.Create(HalfPairMask)).AsSingle()",
             "Vector256.Create(HalfScale)"),
}

# The widening of the other ISAs (see the module docstring): sign-extend, shift, mask, scale.
HALF_WIDEN = {
    "Vector128": ("Vector64<ushort>", "Vector128<float>",
                  "(Vector128.ShiftLeft(Vector128.WidenLower(h.AsInt16().ToVector128Unsafe()), 13) & Vector128.Create(HalfMask)).AsSingle() * Vector128.Create(HalfScale)"),
    "Neon": ("Vector64<ushort>", "Vector128<float>",
             "(Vector128.ShiftLeft(AdvSimd.SignExtendWideningLower(h.AsInt16()), 13) & Vector128.Create(HalfMask)).AsSingle() * Vector128.Create(HalfScale)"),
}


def kernel(isa, vt, lanes, vpp, rows, panels, fma, ivec, half=False, scaled=False):
    nr = lanes * vpp
    name = f"{isa}_P{panels}_R{rows}" + (("_F16S" if scaled else "_F16") if half else "")
    bt = "ushort" if half else "float"

    pairs = half and isa in HALF_PAIRS

    def widen_pair(v, h):
        """Vector v (0: the low halves, 1: the high ones) of a k-step loaded as pairs into h."""
        return f"WidenHalf{'Low' if v == 0 else 'High'}{'Scaled' if scaled else ''}{isa}({h})"

    def wload(b, off):
        if half:
            load = HALF_LOAD[isa].format(b=b, off=off)
            return load.replace("WidenHalf", "WidenHalfScaled") if scaled else load
        return f"{vt}.LoadUnsafe(ref {b}, (nuint)({off}))"
    accs = [(i, p, v) for i in range(rows) for p in range(panels) for v in range(vpp)]
    acc = lambda i, p, v: f"c{i}_{p}_{v}"
    col = lambda p, v: f"{p} * {nr} + {v * lanes}" if panels > 1 else f"{v * lanes}"
    out = []
    w = out.append

    def fmas(tiles, rhs):
        """One accumulator update a vector of each (row, panel) in tiles, in that order: acc = rhs(row, panel, vector)."""
        for (i, p) in tiles:
            for v in range(vpp):
                w(f"                {acc(i, p, v)} = {rhs(i, p, v)};")
    what = (", float16 weights times 2^-112, A times 2^112" if scaled else ", float16 weights") if half else ""
    w(f"    /// <summary>{rows} row(s) x {panels} panel(s) of {nr} columns{what}.</summary>")
    w("    [MethodImpl(MethodImplOptions.AggressiveOptimization)]")
    w(f"    private static unsafe void {name}(ref float a, ref {bt} b, nint panelStride, nint kc, ref float c, nint ldc, bool first, nint prefetch)")
    w("    {")
    decl = ", ".join(acc(*t) for t in accs)
    w(f"        {vt}<float> {decl};")
    w("        if (first)")
    w("        {")
    for t in accs:
        w(f"            {acc(*t)} = {vt}<float>.Zero;")
    w("        }")
    w("        else")
    w("        {")
    for (i, p, v) in accs:
        w(f"            {acc(i, p, v)} = {vt}.LoadUnsafe(ref c, (nuint)(({i} * ldc) + {col(p, v)}));")
    w("        }")
    w("")
    for p in range(panels):
        w(f"        ref {bt} b{p} = ref Unsafe.Add(ref b, {p} * panelStride);")
    # A is packed in groups of 16 k (docs in Sgemm.PackA): row i of group g sits at g * rows * 16 + i * 16, so
    # within a group every broadcast has a constant displacement.
    w("        for (nint k0 = 0; k0 < kc; k0 += 16)")
    w("        {")
    w(f"            ref float ag = ref Unsafe.Add(ref a, k0 * {rows});")
    w("            nint kEnd = Math.Min(16, kc - k0);")
    w("            nint kk = 0;")
    if isa == "Neon":
        # NEON: one load brings 4 consecutive k of a row; fmla by element then uses each lane without a broadcast.
        w("            for (; kk + 4 <= kEnd; kk += 4)")
        w("            {")
        for i in range(rows):
            w(f"                Vector128<float> xs{i} = Vector128.LoadUnsafe(ref ag, (nuint)(kk + {i * 16}));")
        for j in range(4):
            for p in range(panels):
                for v in range(vpp):
                    w(f"                Vector128<float> q{j}_{p}_{v} = {wload(f'b{p}', f'((k0 + kk + {j}) * {nr}) + {v * lanes}')};")
            fmas([(i, p) for i in range(rows) for p in range(panels)],
                 lambda i, p, v, j=j: f"AdvSimd.Arm64.FusedMultiplyAddBySelectedScalar({acc(i, p, v)}, q{j}_{p}_{v}, xs{i}, {j})")
        w("            }")
        w("")
    w("            for (; kk < kEnd; kk++)")
    w("            {")
    w("                nint k = k0 + kk;")
    if isa in PREFETCH:
        # Weights of small batches come from L3 or DRAM: ask for them ahead, one request per 64-byte line of a k-step's
        # weights (half weights: a row of 16 columns is half a line, so consecutive k-steps ask for the same line; a
        # repeated prefetch costs little). The caller says where, as an element offset from each panel's current
        # k-step: SgemmKernels.PrefetchSteps k-steps ahead for a tile that streams its own weights, or the next panels
        # at the same k while the second and later row tiles reuse a block from L2 (Sgemm.MultiplyPacked), so that
        # memory stays busy.
        esize = 2 if half else 4
        for p in range(panels):
            for line in range(0, max(nr * esize, 64), 64):
                w(f"                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref b{p}, prefetch + (k * {nr}) + {line // esize})));")
    # Register order: with many panels (few rows), broadcast the rows first and stream B one panel at a time
    # (acc + rows + vpp registers); otherwise load B first and broadcast one row at a time (acc + panels*vpp + 1).
    # Where neither fits the register file (AVX2's 16: the 2-panel x 3-row tile holds 12 accumulators, and either
    # order needs 17, so the JIT kept one accumulator on the stack and every k-step stored and reloaded it: 3-row
    # GEMMs ran at 40% of the FMA peak where 2 rows ran at 55-65%), broadcast the rows first and stream B one vector
    # at a time (acc + rows + 1). The order of the FMAs into each accumulator (k ascending) is the same in all three.
    def broadcast_row(i):
        w(f"                {vt}<float> x{i} = {vt}.Create(Unsafe.Add(ref ag, kk + {i * 16}));")

    def load_panel(p):
        if pairs:
            # One load of the k-step's two vectors, interleaved in 32-bit pairs (see the module docstring).
            w(f"                {HALF_PAIRS[isa][0]} h{p} = {HALF_PAIRS[isa][2].format(b=f'b{p}', off=f'k * {nr}')};")
            for v in range(vpp):
                w(f"                {vt}<float> w{p}_{v} = {widen_pair(v, f'h{p}')};")
            return
        for v in range(vpp):
            w(f"                {vt}<float> w{p}_{v} = {wload(f'b{p}', f'(k * {nr}) + {v * lanes}')};")

    def row_times_panel(i, p, v):
        return fma.format(a=f'x{i}', b=f'w{p}_{v}', c=acc(i, p, v))

    live = len(accs)
    rows_first = rows + vpp < panels * vpp + 1
    if live + min(rows + vpp, panels * vpp + 1) > REGISTERS[isa] >= live + rows + 1:
        for i in range(rows):
            broadcast_row(i)
        for p in range(panels):
            for v in range(vpp):
                # Pairs: the k-step loaded again for each vector, which keeps one weight register live.
                load = widen_pair(v, HALF_PAIRS[isa][2].format(b=f'b{p}', off=f'k * {nr}')) if pairs else wload(f'b{p}', f'(k * {nr}) + {v * lanes}')
                w(f"                {vt}<float> w{p}_{v} = {load};")
                for i in range(rows):
                    w(f"                {acc(i, p, v)} = {row_times_panel(i, p, v)};")
    elif rows_first:
        for i in range(rows):
            broadcast_row(i)
        for p in range(panels):
            load_panel(p)
            fmas([(i, p) for i in range(rows)], row_times_panel)
    else:
        for p in range(panels):
            load_panel(p)
        for i in range(rows):
            broadcast_row(i)
            fmas([(i, p) for p in range(panels)], row_times_panel)
    w("            }")
    w("        }")
    w("")
    for (i, p, v) in accs:
        w(f"        {acc(i, p, v)}.StoreUnsafe(ref c, (nuint)(({i} * ldc) + {col(p, v)}));")
    w("    }")
    w("")
    return "\n".join(out)


def file_for(isa, vt, lanes, vpp, maxrows, multi, fma, ivec):
    nr = lanes * vpp
    lines = []
    w = lines.append
    w("// <auto-generated> by tools/gen_gemm_kernels.py; edit the generator, not this file. </auto-generated>")
    w("using System.Runtime.CompilerServices;")
    w("using System.Runtime.Intrinsics;")
    if isa == "Neon":
        w("using System.Runtime.Intrinsics.Arm;")
    if isa in PREFETCH:
        w("using System.Runtime.Intrinsics.X86;")
    w("")
    w("namespace Asd.Simd.Kernels.Gemm;")
    w("")
    w("#pragma warning disable SA1025, IDE0055 // generated layout")
    w("")
    w("internal static partial class SgemmKernels")
    w("{")
    w(f"    /// <summary>Columns per packed panel on the {isa} path.</summary>")
    w(f"    internal const int {isa}PanelWidth = {nr};")
    w("")
    w(f"    /// <summary>Rows per tile on the {isa} path.</summary>")
    w(f"    internal const int {isa}MaxRows = {maxrows};")
    w("")
    w(f"    /// <summary>The multi-panel kernels of the {isa} path, widest first: (panels walked at once, up to this many rows).</summary>")
    w(f"    internal static readonly (int Panels, int Rows)[] {isa}Multi = [{', '.join(f'({a}, {b})' for a, b in multi)}];")
    w("")
    half_multi = HALF_MULTI.get(isa, multi)
    if isa in HALF_MULTI:
        w(f"    /// <summary>The multi-panel kernels of the {isa} path with float16 weights, widest first.</summary>")
        w(f"    internal static readonly (int Panels, int Rows)[] {isa}MultiHalf = [{', '.join(f'({a}, {b})' for a, b in half_multi)}];")
        w("")
    for half, scaled in ((False, False), (True, False), (True, True)):
        suffix, bt = (("_F16S" if scaled else "_F16"), "ushort") if half else ("", "float")
        what = ("float16 weights, A scaled by 2^112" if scaled else "float16 weights") if half else "float32 weights"
        w(f"    /// <summary>Runs the {isa} microkernel ({what}) for a tile of <paramref name=\"rows\"/> rows and <paramref name=\"panels\"/> adjacent full panels.</summary>")
        w(f"    internal static void Run{isa}{'Scaled' if scaled else ''}(int rows, int panels, ref float a, ref {bt} b, nint panelStride, nint kc, ref float c, nint ldc, bool first, nint prefetch)")
        w("    {")
        w("        switch ((panels, rows))")
        w("        {")
        for r in range(1, maxrows + 1):
            w(f"            case (1, {r}): {isa}_P1_R{r}{suffix}(ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch); break;")
        for (mp, mrows) in (half_multi if half else multi):
            for r in range(1, mrows + 1):
                w(f"            case ({mp}, {r}): {isa}_P{mp}_R{r}{suffix}(ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch); break;")
        w("            default: throw new ArgumentOutOfRangeException(nameof(rows), $\"No kernel for {rows} rows x {panels} panels.\");")
        w("        }")
        w("    }")
        w("")
    if isa not in HALF_PAIRS:
        hin, hout, hexpr = HALF_WIDEN[isa]
        w(f"    /// <summary>Widens {lanes} IEEE half bit patterns to floats, exactly (tools/gen_gemm_kernels.py explains how).</summary>")
        w("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
        w(f"    private static {hout} WidenHalf{isa}({hin} h) => {hexpr};")
        w("")
        unscaled = hexpr[:hexpr.rindex(" * ")]
        w(f"    /// <summary>Widens {lanes} IEEE half bit patterns to their values times 2^-112, exactly (the _F16S kernels).</summary>")
        w("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
        w(f"    private static {hout} WidenHalfScaled{isa}({hin} h) => {unscaled};")
        w("")
    else:
        pin, pout, _, low, high, scale = HALF_PAIRS[isa]
        for part, expr in (("Low", low), ("High", high)):
            w(f"    /// <summary>Widens the {part.lower()} halves of {lanes} 32-bit pairs of IEEE half bits to their values times 2^-112, exactly (the _F16S kernels).</summary>")
            w("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
            w(f"    private static {pout} WidenHalf{part}Scaled{isa}({pin} h) => {expr};")
            w("")
            w(f"    /// <summary>Widens the {part.lower()} halves of {lanes} 32-bit pairs of IEEE half bits to floats, exactly.</summary>")
            w("    [MethodImpl(MethodImplOptions.AggressiveInlining)]")
            w(f"    internal static {pout} WidenHalf{part}{isa}({pin} h) => WidenHalf{part}Scaled{isa}(h) * {scale};")
            w("")
    for half, scaled in ((False, False), (True, False), (True, True)):
        for r in range(1, maxrows + 1):
            w(kernel(isa, vt, lanes, vpp, r, 1, fma, ivec, half, scaled))
        for (mp, mrows) in (half_multi if half else multi):
            for r in range(1, mrows + 1):
                w(kernel(isa, vt, lanes, vpp, r, mp, fma, ivec, half, scaled))
    w("}")
    return "\n".join(lines) + "\n"


# The scalar path has no generated kernel (Sgemm.ScalarKernel walks the same chains one element at a time) but packs
# its weights in panels of this many columns and tiles A in this many rows.
SCALAR_PANEL_WIDTH, SCALAR_MAX_ROWS = 16, 4


def dispatch_file():
    """The per-path tables and the one dispatch from an IsaPath to its kernels, for both weight types."""
    lines = []
    w = lines.append
    args = "rows, panels, ref a, ref b, panelStride, kc, ref c, ldc, first, prefetch"
    w("// <auto-generated> by tools/gen_gemm_kernels.py; edit the generator, not this file. </auto-generated>")
    w("namespace Asd.Simd.Kernels.Gemm;")
    w("")
    w("internal static partial class SgemmKernels")
    w("{")
    w("    /// <summary>Columns per packed panel on the scalar path.</summary>")
    w(f"    internal const int ScalarPanelWidth = {SCALAR_PANEL_WIDTH};")
    w("")
    for table, what, scalar in (("PanelWidth", "Columns per packed panel", "ScalarPanelWidth"),
                                ("MaxRows", "Rows per A tile", str(SCALAR_MAX_ROWS))):
        w(f"    /// <summary>{what} on <paramref name=\"path\"/>.</summary>")
        w(f"    internal static int {table}(IsaPath path) => path switch")
        w("    {")
        for spec in ISAS:
            w(f"        IsaPath.{spec[0]} => {spec[0]}{table},")
        w(f"        _ => {scalar},")
        w("    };")
        w("")
    w("    /// <summary>Whether <paramref name=\"path\"/>'s float16 kernels read each k-step of a panel as 32-bit pairs of its two vectors (PackedMatrix packs them so).</summary>")
    pair_paths = " or ".join(f"IsaPath.{isa}" for isa in HALF_PAIRS)
    w(f"    internal static bool HalfPairs(IsaPath path) => path is {pair_paths};")
    w("")
    w("    /// <summary>The multi-panel kernels of <paramref name=\"path\"/> for one weight type, widest first (none on paths without them).</summary>")
    w("    internal static ReadOnlySpan<(int Panels, int Rows)> Multi(IsaPath path, bool half) => path switch")
    w("    {")
    for spec in ISAS:
        if spec[0] in HALF_MULTI:
            w(f"        IsaPath.{spec[0]} => half ? {spec[0]}MultiHalf : {spec[0]}Multi,")
        elif spec[5]:
            w(f"        IsaPath.{spec[0]} => {spec[0]}Multi,")
    w("        _ => [],")
    w("    };")
    for bt, what, scaled in (("float", "float32 weights", ""), ("ushort", "float16 weights", ""), ("ushort", "float16 weights, A scaled by 2^112", "Scaled")):
        w("")
        w(f"    /// <summary>Runs the microkernel of <paramref name=\"path\"/> ({what}); false on the scalar path, which has none.</summary>")
        w(f"    internal static bool Run{scaled}(IsaPath path, int rows, int panels, ref float a, ref {bt} b, nint panelStride, nint kc, ref float c, nint ldc, bool first, nint prefetch)")
        w("    {")
        w("        switch (path)")
        w("        {")
        for spec in ISAS:
            w(f"            case IsaPath.{spec[0]}: Run{spec[0]}{scaled}({args}); return true;")
        w("            default: return false;")
        w("        }")
        w("    }")
    w("}")
    return "\n".join(lines) + "\n"


out_dir = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else ROOT
files = [(f"SgemmKernels.{spec[0]}.g.cs", file_for(*spec)) for spec in ISAS] + [("SgemmKernels.Dispatch.g.cs", dispatch_file())]
for name, text in files:
    path = os.path.join(out_dir, name)
    with open(path, "w") as f:
        f.write(text)
    print("wrote", os.path.relpath(path))
