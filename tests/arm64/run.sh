#!/usr/bin/env bash
# The linux-arm64 edge build, tested on this x64 machine under user-mode emulation (qemu-aarch64, Cortex-A72 CPU).
# Publishes libasd.so and asd for linux-arm64 once (Asd.Interop/publish.sh arm64, Asd.Cli/publish.sh arm64), then:
#   a. asd info: Native AOT armv8-a build, NEON kernels selected, ONNX Runtime arm64 loads;
#   b. asd selftest: every kernel family on NEON (and on portable Vector128) equals the scalar reference;
#   c. the C example, compiled with aarch64-linux-gnu-gcc against the arm64 libasd.so, runs on the NEON path;
#   d. the same seed gives the x64 samples: DDPM element by element, ASD by the share of identical chains;
#   e. the small ONNX UNet (tests/fixtures/onnx/unet16) samples a few DDPM steps through ONNX Runtime arm64;
#   f. asd draws a picture with the arm64 SkiaSharp beside it.
#   g. the native ConditionalUnet1D fixtures (float32 and float16 weights, local conditioning) give x64's DDPM samples.
#   (Plus a check that the binaries are AArch64 ELF with RUNPATH $ORIGIN; each publish counts as a check.)
# .ci/run calls it after the cli stage and reuses that stage's x64 executable (artifacts/asd/linux-x64-*) as the
# reference of (d); run alone it falls back to the Release build of Asd.Cli. Prints "ok"/"FAIL" per check and, last,
# "ARM64_SUMMARY <passed> <failed>". Logs: artifacts/ci/arm64 (or $ASD_CI_LOGS/arm64).
# ASD_ARM64_SKIP_PUBLISH=1 reuses artifacts/libasd/linux-arm64 and artifacts/asd/linux-arm64 (local iteration only).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
LOG=${ASD_CI_LOGS:-$ROOT/artifacts/ci}/arm64
LIB=$ROOT/artifacts/libasd/linux-arm64
EXE_DIR=$ROOT/artifacts/asd/linux-arm64
mkdir -p "$LOG"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/asd-arm64.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

passed=0
failed=0
t_all=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
ok() { passed=$((passed + 1)); echo "ok    $*"; }
bad() { failed=$((failed + 1)); echo "FAIL  $*"; }
# check "name" command...: one check; its output goes to $LOG/<n>.log and its last line is shown.
n_check=0
check() {
  local name=$1 t0 log rc; shift
  n_check=$((n_check + 1))
  log=$LOG/check-$n_check.log
  t0=$(date +%s.%N)
  "$@" >"$log" 2>&1; rc=$?
  if [ $rc -eq 0 ]; then ok "$name ($(since "$t0") s)"; else bad "$name (rc $rc, see $log)"; fi
  tail -n 1 "$log" | cut -c1-220 | sed 's/^/      /'
}
summary() { echo "--- arm64: total $(since "$t_all") s"; echo "ARM64_SUMMARY $passed $failed"; exit 0; }

# ------------------------------------------------------------------------------------------------ prerequisites
source "$ROOT/tests/lib/need_apt.sh"
need_apt "$LOG/apt.log" clang lld gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user python3

# ------------------------------------------------------------------------------------------------ publish (once)
if [ "${ASD_ARM64_SKIP_PUBLISH:-0}" = 1 ] && [ -f "$LIB/libasd.so" ] && [ -f "$EXE_DIR/asd" ]; then
  echo "reusing $LIB and $EXE_DIR (ASD_ARM64_SKIP_PUBLISH=1)"
else
  t0=$(date +%s.%N)
  if Asd.Interop/publish.sh arm64 >"$LOG/publish-libasd.log" 2>&1; then
    ok "publish libasd.so for linux-arm64 ($(since "$t0") s)"
  else
    bad "publish libasd.so for linux-arm64 (see $LOG/publish-libasd.log)"; tail -n 20 "$LOG/publish-libasd.log"
  fi
  t0=$(date +%s.%N)
  if Asd.Cli/publish.sh arm64 >"$LOG/publish-asd.log" 2>&1; then
    ok "publish asd for linux-arm64 ($(since "$t0") s)"
  else
    bad "publish asd for linux-arm64 (see $LOG/publish-asd.log)"; tail -n 20 "$LOG/publish-asd.log"
  fi
fi
if [ ! -f "$LIB/libasd.so" ] || [ ! -f "$EXE_DIR/asd" ]; then
  echo "nothing to test"
  failed=$((failed + 1))
  summary
fi
(cd "$ROOT/artifacts" && find libasd/linux-arm64 asd/linux-arm64 -type f -printf '%s\t%p\n' | sort -k2) | awk '{ printf "      %10d  %s\n", $1, $2 }'
elf_ok() {
  local f
  for f in "$LIB/libasd.so" "$LIB/libonnxruntime.so" "$EXE_DIR/asd" "$EXE_DIR/libonnxruntime.so" "$EXE_DIR/libSkiaSharp.so" "$EXE_DIR/libHarfBuzzSharp.so"; do
    readelf -h "$f" | grep 'Machine: *AArch64' >/dev/null || { echo "not AArch64: $f"; return 1; } # no -q: pipefail
  done
  readelf -d "$EXE_DIR/asd" | grep 'RUNPATH.*\[\$ORIGIN\]' >/dev/null && readelf -d "$LIB/libasd.so" | grep 'RUNPATH.*\$ORIGIN' >/dev/null \
    && echo "AArch64 ELF; RUNPATH of asd: $(readelf -d "$EXE_DIR/asd" | grep -o 'RUNPATH.*' | grep -o '\[.*\]')"
}
check "arm64 binaries are AArch64 ELF; asd and libasd.so find ONNX Runtime beside them (RUNPATH \$ORIGIN)" elf_ok

# ------------------------------------------------------------------------------------------------ emulation
# qemu-user 7.2 passes the host's x86 /proc/cpuinfo through; ONNX Runtime's cpuinfo library then dereferences NULL
# while loading (the process dies in dlopen). qemu looks paths up in its -L prefix first, so a prefix holding the
# arm64 libraries plus an arm64 /proc/cpuinfo for the emulated CPU (Cortex-A72, as on a Raspberry Pi 4) fixes it.
SYSROOT=$WORK/sysroot
mkdir -p "$SYSROOT/proc"
ln -s /usr/aarch64-linux-gnu/lib "$SYSROOT/lib"
for i in 0 1; do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\nCPU revision\t: 3\n\n' "$i"
done >"$SYSROOT/proc/cpuinfo"
QEMU=(qemu-aarch64 -cpu cortex-a72 -L "$SYSROOT")
ASD=("${QEMU[@]}" "$EXE_DIR/asd")

# ------------------------------------------------------------------------------------------------ a. asd info
info_ok() {
  local out
  out=$("${ASD[@]}" info) || return 1
  echo "$out"
  grep -q '^build      Native AOT, instruction set armv8-a, linux-arm64' <<<"$out" \
    && grep -q '^kernels    neon (supported: neon, vector128, scalar;' <<<"$out" \
    && grep -Eq '^  sgemm +neon +AdvSimd' <<<"$out" \
    && [ "$(grep -Ec '^  (sgemm|gemm epilogue|gaussian noise|row update|verifier reductions).* neon ' <<<"$out")" = 5 ] \
    && grep -q '^onnxruntime 1\.' <<<"$out" \
    && echo "NEON selected for sgemm, epilogue, noise, row update and reductions; $(grep '^onnxruntime' <<<"$out")"
}
check "a. asd info: armv8-a Native AOT build, NEON kernels selected, ONNX Runtime arm64 loads" info_ok

# ------------------------------------------------------------------------------------------------ b. selftest
selftest_ok() {
  local out
  out=$("${ASD[@]}" selftest --path all) || { echo "$out"; return 1; }
  echo "$out"
  grep -q 'selected path neon$' <<<"$out" && [ "$(grep -Ec ' neon +[0-9]+ .* pass$' <<<"$out")" = 7 ] && [ "$(grep -Ec ' vector128 +[0-9]+ .* pass$' <<<"$out")" = 7 ] \
    && grep -q '^selftest passed: 21 of 21 operations' <<<"$out" && grep '^selftest passed' <<<"$out"
}
check "b. asd selftest: every kernel family on neon and vector128 equals the scalar reference" selftest_ok

# ------------------------------------------------------------------------------------------------ c. C example
c_ok() {
  aarch64-linux-gnu-gcc -std=c99 -Wall -Wextra -Werror -O1 -I"$LIB/include" Asd.Interop/examples/sample.c \
    -o "$WORK/sample" -L"$LIB" -lasd -Wl,-rpath,"$LIB" -lm || return 1
  readelf -h "$WORK/sample" | grep 'Machine: *AArch64' >/dev/null || return 1
  local out
  out=$("${QEMU[@]}" "$WORK/sample") || { echo "$out"; return 1; }
  echo "$out"
  grep -q 'build=armv8-a active=neon supported=neon,vector128,scalar arch=arm64' <<<"$out" \
    && grep -q 'mean radius' <<<"$out" && grep -q '^stats {' <<<"$out" && grep '^first sample' <<<"$out"
}
check "c. C example: aarch64-linux-gnu-gcc against the arm64 libasd.so, runs on the NEON path" c_ok

# ------------------------------------------------------------------------------------------------ d. x64 agreement
# The x64 reference: the cli stage's AOT executable when present (best level this CPU runs), else the Release build.
X64=()
for level in v4 v3; do
  f=$ROOT/artifacts/asd/linux-x64-$level/asd
  if [ -x "$f" ] && "$f" info >/dev/null 2>&1; then X64=("$f"); break; fi
done
if [ ${#X64[@]} -eq 0 ]; then
  dll=$ROOT/Asd.Cli/bin/Release/net10.0/asd.dll
  [ -f "$dll" ] || dotnet build Asd.Cli -c Release -nologo -v:q >"$LOG/x64-build.log" 2>&1
  X64=(dotnet "$dll")
fi
echo "      x64 reference: ${X64[*]}"
# 256 chains of the 2-D mixture, 100 steps, one thread (the samples do not depend on threads; emulation is faster so).
SAMPLE=(sample --model builtin:mixture --steps 100 --samples 256 --seed 20240601 --threads 1 --no-plot)
# Tolerance 1e-4 (samples are O(4)): every kernel path gives the same bits on both architectures, and so do the RNG
# and the schedules; only libm's exp/log in double may round a last bit differently, which moves a float by an ulp
# (about 5e-7) now and then. Any real disagreement (a kernel, the RNG, a schedule) moves samples by O(0.1..1).
ATOL=1e-4
ddpm_ok() {
  "${ASD[@]}" "${SAMPLE[@]}" --sampler ddpm --out "$WORK/ddpm-arm64.npy" >/dev/null || return 1
  "${X64[@]}" "${SAMPLE[@]}" --sampler ddpm --out "$WORK/ddpm-x64.npy" >/dev/null || return 1
  python3 tests/arm64/compare_npy.py elements "$WORK/ddpm-arm64.npy" "$WORK/ddpm-x64.npy" --atol $ATOL
}
check "d. DDPM on builtin:mixture, same seed: arm64 equals x64 element by element (|diff| <= $ATOL)" ddpm_ok
# ASD: a chain is identical when all its elements agree within the DDPM tolerance (it took the same accept/reject
# decisions; a flipped decision moves it by O(1)). A flip needs a uniform within a last-bit difference of its
# acceptance ratio: about 1e-6 per decision, ~1e-4 per chain, so all 256 chains are expected identical. At least 90%
# must be: that tolerates a few such flips (each flipped chain is still an exact draw of the same law) while any
# systematic difference (kernel, RNG, verifier) makes nearly every chain depart.
asd_ok() {
  "${ASD[@]}" "${SAMPLE[@]}" --sampler asd --spec-len 8 --out "$WORK/asd-arm64.npy" >/dev/null || return 1
  "${X64[@]}" "${SAMPLE[@]}" --sampler asd --spec-len 8 --out "$WORK/asd-x64.npy" >/dev/null || return 1
  python3 tests/arm64/compare_npy.py chains "$WORK/asd-arm64.npy" "$WORK/asd-x64.npy" --atol $ATOL --min-share 0.9
}
check "d. ASD (L = 8) on builtin:mixture, same seed: >= 90% of chains identical to x64" asd_ok

# ------------------------------------------------------------------------------------------------ e. ONNX
# ONNX Runtime's own kernels differ per ISA (its arm64 GEMM sums in another order than its AVX-512 one), so the x64
# result is matched loosely: within 1e-3 after 4 steps on images in [-1, 1] (measured: about 1e-5).
UNET=(sample --model tests/fixtures/onnx/unet16/model.onnx --sampler ddpm --steps 4 --samples 2 --seed 5 --threads 1 --no-plot)
onnx_ok() {
  "${ASD[@]}" "${UNET[@]}" --out "$WORK/unet-arm64.npy" || return 1
  python3 tests/arm64/compare_npy.py finite "$WORK/unet-arm64.npy" --shape 2,1,16,16 || return 1
  "${X64[@]}" "${UNET[@]}" --out "$WORK/unet-x64.npy" >/dev/null || return 1
  python3 tests/arm64/compare_npy.py elements "$WORK/unet-arm64.npy" "$WORK/unet-x64.npy" --atol 1e-3
}
check "e. ONNX: the unet16 fixture samples 4 DDPM steps through ONNX Runtime arm64 (finite, within 1e-3 of x64)" onnx_ok

# ------------------------------------------------------------------------------------------------ f. picture
# The arm64 folder carries its own libSkiaSharp.so (AArch64), which ScottPlot draws the pictures with.
plot_ok() {
  (cd "$WORK" && "${ASD[@]}" sample --model builtin:mixture --steps 20 --samples 64 --threads 1 --plot "$WORK/arm64.png") || return 1
  python3 - "$WORK/arm64.png" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", b[16:24])
assert (w, h) == (800, 800) and len(b) > 20000, (w, h, len(b))
print("PNG", w, "x", h, len(b), "bytes")
PY
}
check "f. asd sample --plot: the arm64 SkiaSharp draws the scatter (800x800 PNG)" plot_ok

# ------------------------------------------------------------------------------------------------ g. ConditionalUnet1D
# The native ConditionalUnet1D (asd-unet1d) on NEON: float32, float16-weight and local-conditioning fixtures, 20 DDPM steps, compared with
# x64 element by element (the kernels give the same bits on every path; only libm's last bits may differ, as in d).
unet_ok() {
  local m
  for m in small small_f16 small_local; do
    local args=(sample --model "tests/fixtures/unet1d/$m.json" --sampler ddpm --steps 20 --samples 8 --seed 11 --threads 1 --no-plot)
    [ "$m" = small ] && args+=(--cond 0.5,-0.25,0.1,0.8,-0.6)
    # small_local: 3 global values, then 8 positions x 4 local values.
    [ "$m" = small_local ] && args+=(--cond "$(python3 -c "print(','.join('%.2f' % (0.1 * ((i % 9) - 4)) for i in range(35)))")")
    "${ASD[@]}" "${args[@]}" --out "$WORK/$m-arm64.npy" >/dev/null || return 1
    "${X64[@]}" "${args[@]}" --out "$WORK/$m-x64.npy" >/dev/null || return 1
    python3 tests/arm64/compare_npy.py elements "$WORK/$m-arm64.npy" "$WORK/$m-x64.npy" --atol $ATOL || return 1
  done
}
check "g. ConditionalUnet1D (float32 and float16 weights, local conditioning), DDPM, same seed: arm64 equals x64 element by element (|diff| <= $ATOL)" unet_ok

summary
