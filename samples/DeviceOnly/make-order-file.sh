#!/usr/bin/env bash
# Regenerates DeviceOnly.order: the managed methods a first boot runs, in the order they first run. The native publish
# (IlcOrderFile in DeviceOnly.csproj) places them together at the start of the code, and their GC, unwind and EH data with
# them, so the boot touches about 1 MB of code pages instead of most of the binary's 4 MB (the kernel maps cached file
# pages 64 KB around each fault, so scattered code keeps nearly every page resident). See
# tests/Provisioning.Device.Benchmarks/README.md, "Small devices".
#
# A stale list only costs memory: names that no longer exist are skipped by the compiler and new methods land after the
# listed ones. Run it again after changing the code a first boot runs:
#
#     samples/DeviceOnly/make-order-file.sh            # RUNS=3 per DPS transport by default
#
# Needs valgrind (its exp-bbv tool records every basic block that runs), binutils (nm, objcopy, readelf) and perl, besides
# the .NET SDK.
# It publishes the sample native, starts the emulator with seed.json, boots the device under valgrind over HTTPS and over
# MQTT, and maps each block's address to its method through the binary's symbols.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
runs=${RUNS:-3}
key=RGV2aWNlT25seSBzYW1wbGUga2V5LCBlbXVsYXRvciBvbmx5IQ==

for tool in valgrind nm objcopy readelf perl dotnet; do
  command -v "$tool" > /dev/null || { echo "make-order-file: '$tool' is missing (apt-get install valgrind binutils perl)" >&2; exit 2; }
done

work=$(mktemp -d)
emulator=
cleanup() {
  if [ -n "$emulator" ]; then kill "$emulator" 2> /dev/null || true; wait "$emulator" 2> /dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "publishing DeviceOnly native into $work/publish"
dotnet publish "$here" -c Release -r linux-x64 -p:PublishAot=true -p:StripSymbols=false -p:NativeOutputPath="$work/native/" \
  -o "$work/publish" > "$work/publish.log" || { cat "$work/publish.log" >&2; exit 1; }
# The same code with its symbol table but without DWARF, which valgrind's reader gives up on.
mkdir "$work/bin"
objcopy --strip-debug "$work/publish/DeviceOnly" "$work/bin/DeviceOnly"

echo "starting the emulator"
dotnet build -c Release "$root/src/Provisioning.Emulator" > "$work/emulator-build.log" \
  || { cat "$work/emulator-build.log" >&2; exit 1; }
dotnet run --no-build -c Release --project "$root/src/Provisioning.Emulator" -- --data "$work/emulator" \
  --seed "$here/seed.json" --portal-port off > "$work/emulator.log" 2>&1 &
emulator=$!
for _ in $(seq 1 240); do
  [ -s "$work/emulator/emulator.json" ] && break
  kill -0 "$emulator" 2> /dev/null || { cat "$work/emulator.log" >&2; echo "make-order-file: the emulator exited" >&2; exit 1; }
  sleep 0.5
done
[ -s "$work/emulator/emulator.json" ] || { echo "make-order-file: no emulator.json after 120 s" >&2; exit 1; }

for transport in https mqtt; do
  for i in $(seq 1 "$runs"); do
    echo "first boot under valgrind: $transport, run $i of $runs"
    valgrind --tool=exp-bbv --bb-out-file="$work/bb.$transport.$i" --pc-out-file="$work/pc.$transport.$i" \
      "$work/bin/DeviceOnly" --emulator "$work/emulator/emulator.json" --registration-id device-only-01 \
      --symmetric-key "$key" --transport "$transport" --stats > "$work/run.$transport.$i.log" 2>&1 \
      || { cat "$work/run.$transport.$i.log" >&2; echo "make-order-file: the $transport boot failed" >&2; exit 1; }
  done
done

# The address range of the compiled managed code (and its unboxing stubs): only those methods can be ordered.
range=$(readelf -S -W "$work/bin/DeviceOnly" | perl -ne '
  if (/\s(__managedcode|__unbox)\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/) {
    my ($s, $e) = (hex $2, hex($2) + hex $3); $lo = $s if !defined $lo || $s < $lo; $hi = $e if !defined $hi || $e > $hi }
  END { die "no __managedcode section\n" unless defined $lo; print "$lo $hi" }')

nm -n -S --defined-only "$work/bin/DeviceOnly" > "$work/symbols"

# Each pc file lists "F:<block>:<address>:<function, when valgrind knows it>..." in the order blocks first ran. valgrind
# loads the executable at a base of its choosing: the first block whose function name is a known symbol gives it.
perl -e '
  my ($lo, $hi) = split / /, shift;
  my $symbols = shift;
  my (@start, @end, @name, %at);
  open my $s, "<", $symbols or die "$symbols: $!\n";
  while (<$s>) {
    my @f = split;
    next unless @f == 4 && $f[2] =~ /^[tTwW]$/;
    my $a = hex $f[0];
    $at{$f[3]} //= $a;
    next unless $a >= $lo && $a < $hi;
    # Identical bodies are folded into one, under several names: the compiler knows the body by one of them, so all go in.
    if (@start && $start[-1] == $a) { push @{$name[-1]}, $f[3]; my $e = $a + hex $f[1]; $end[-1] = $e if $e > $end[-1]; next }
    push @start, $a; push @end, $a + hex $f[1]; push @name, [$f[3]];
  }
  my (%seen, @order);
  for my $file (@ARGV) {
    open my $p, "<", $file or die "$file: $!\n";
    my @lines = <$p>;
    my $base;
    for (@lines) {
      my @f = split /:/;
      next unless @f >= 4;
      chomp $f[3];
      if (exists $at{$f[3]}) { $base = hex($f[2]) - $at{$f[3]}; last }
    }
    die "$file: no block names a known symbol, so the load address is unknown\n" unless defined $base;
    for (@lines) {
      my @f = split /:/;
      next unless @f >= 3;
      my $a = hex($f[2]) - $base;
      next unless $a >= $lo && $a < $hi;
      my ($l, $h) = (0, $#start);
      while ($l < $h) { my $m = ($l + $h + 1) >> 1; if ($start[$m] <= $a) { $l = $m } else { $h = $m - 1 } }
      next unless $start[$l] <= $a && $a < $end[$l];
      next if $seen{$start[$l]}++;
      push @order, @{$name[$l]};
    }
  }
  die "no managed method ran: is the binary the one the symbols come from?\n" if @order < 100;
  print "$_\n" for @order;
' "$range" "$work/symbols" "$work"/pc.* > "$work/DeviceOnly.order"

mv "$work/DeviceOnly.order" "$here/DeviceOnly.order"
echo "wrote $(wc -l < "$here/DeviceOnly.order") methods to $here/DeviceOnly.order"
