#!/bin/sh
# asd from the source tree: builds the CLI (Release; restore included) when its sources changed, then runs it as its
# own process. Not `dotnet run`: the SDK's host process waits on the program with one core busy for as long as it
# runs (dotnet/sdk#21855; here 0.7-1.0 of a core, and DDPM's request on builtin:policy took 17 ms instead of 7 on the
# 2-core VM), so `asd sample` and `asd bench` would time the engine under a competing load.
set -e
root=$(CDPATH= cd -- "$(dirname -- "$0")" && pwd)
exe="$root/Asd.Cli/bin/Release/net10.0/asd"
[ -x "$exe" ] || echo "asd: building the CLI (Release; the first build restores packages, a minute or two)" >&2
if ! log=$(dotnet build "$root/Asd.Cli" -c Release -nologo -v quiet 2>&1); then
    printf '%s\n' "$log" >&2
    echo "asd: the build failed (above)" >&2
    exit 1
fi
exec "$exe" "$@"
