#!/bin/sh
# collect-runtime.sh OUT PROGRAM [DIR...]
# Copy into OUT what running PROGRAM needs and nothing else: the program, each DIR whole, every shared library the
# program and the .so files under the DIRs load (ldd), CA certificates, a world-writable /tmp and the app user
# (UID 1001). OUT then becomes an image FROM scratch: no shell, no package manager.
set -eu
out=$1 program=$2
shift 2
real=$(readlink -f "$program")
mkdir -p "$out$(dirname "$program")" "$out/tmp" "$out/etc/ssl/certs" "$out/app" "$out/lib64"
chmod 1777 "$out/tmp"
cp -a "$real" "$out$(dirname "$program")/"
[ "$(basename "$real")" = "$(basename "$program")" ] || ln -s "$(basename "$real")" "$out$program"
for dir in "$@"; do
    mkdir -p "$out$(dirname "$dir")"
    cp -aL "$dir" "$out$(dirname "$dir")/"
done
{ echo "$real"; for dir in "$@"; do find "$dir" -name '*.so*' -type f; done; } | while read -r file; do
    ldd "$file" 2>/dev/null | awk '/=>/ {print $3}'
done | sort -u | while read -r lib; do
    [ -e "$lib" ] || continue
    mkdir -p "$out$(dirname "$lib")"
    cp -L "$lib" "$out$lib"
done
# What the apps' own compiled extensions (pydantic-core, psycopg...) load beyond the interpreter's needs: the rest
# of glibc and the C/C++ runtime. They are installed later, so no ldd here can see them.
for lib in librt.so.1 libpthread.so.0 libdl.so.2 libutil.so.1 libresolv.so.2 libm.so.6 libgcc_s.so.1 \
    libstdc++.so.6 libz.so.1; do
    for dir in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu; do
        if [ -e "$dir/$lib" ]; then mkdir -p "$out$dir" && cp -L "$dir/$lib" "$out$dir/$lib" && break; fi
    done
done
cp -L /lib64/ld-linux-x86-64.so.2 "$out/lib64/"
cp -L /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\napp:x:1001:1001:app:/app:/sbin/nologin\n' > "$out/etc/passwd"
printf 'root:x:0:\napp:x:1001:\n' > "$out/etc/group"
