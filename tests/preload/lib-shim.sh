# Fake systems for the setup and doctor tests; sourced after tests/lib.sh.
# See tests/preload/README.
#
#   shim_init                  check the shim works here (or skip/bail out); call once
#   rootfs_make NAME           $ROOT: a writable copy of tests/rootfs/NAME, with
#                              its fake kernel modules built and indexed by depmod
#   shim_run STATUS ROOT ARGS  run x410-vsock under the shim on ROOT (like run_x:
#                              $OUT, $ERR; the shim's record in $SHIM_LOG)
#
# Every X410_SHIM_* variable set by the caller reaches the binary; shim_run
# sets X410_SHIM_ROOT and X410_SHIM_LOG itself.

: "${X410_SHIM:=${top_builddir:-.}/tests/preload/x410-shim.so}"
SHIM_LOG=$TEST_TMP/shim.log
SHIM_PRELOAD=
SHIM_MODULES=$TEST_TMP/fake-ko

# The ASan runtime must come first in the list of libraries; a binary built
# with -fsanitize=address gets it preloaded ahead of the shim.
shim_preload_list() {
	local asan
	asan=$(ldd "$X410_VSOCK" 2>/dev/null | awk '/lib(clang_rt\.)?asan/ { print $3; exit }')
	if [ -n "$asan" ]; then
		echo "$asan $X410_SHIM"
	else
		echo "$X410_SHIM"
	fi
}

# Refuse to run anything unless the shim is really in place: without it the
# binary would act on this machine's kernel and /etc.
shim_init() {
	[ -f "$X410_SHIM" ] || fatal "the shim '$X410_SHIM' is not built (make check builds it)"
	command -v ldd >/dev/null || skip "ldd is missing"
	SHIM_DEPMOD=$(command -v depmod || ls /usr/sbin/depmod /sbin/depmod 2>/dev/null | head -n1)
	[ -n "$SHIM_DEPMOD" ] || skip "depmod (kmod) is missing: it builds the fake module indexes"
	command -v "${CC:-cc}" >/dev/null || skip "no C compiler '${CC:-cc}' for the fake modules"
	SHIM_PRELOAD=$(shim_preload_list)
	mkdir -p "$TEST_TMP/preflight" "$SHIM_MODULES"
	: >"$SHIM_LOG"
	timeout 20 env LD_PRELOAD="$SHIM_PRELOAD" X410_SHIM_ROOT="$TEST_TMP/preflight" X410_SHIM_LOG="$SHIM_LOG" \
		"$X410_VSOCK" --version >/dev/null 2>"$TEST_TMP/preflight.err" ||
		fatal "x410-vsock --version fails under the shim: $(head -c 300 "$TEST_TMP/preflight.err")"
	grep -q '^active pid ' "$SHIM_LOG" ||
		fatal "the shim did not load (LD_PRELOAD='$SHIM_PRELOAD'): $(head -c 300 "$TEST_TMP/preflight.err")"
}

# A fake kernel module: an ELF object whose .modinfo names it and whose
# symbols make depmod derive the dependencies.  Echoes its path.
fake_module() {
	local name=$1; shift
	local key dep
	key=$(echo "$name $*" | tr ' ' '_')
	local out=$SHIM_MODULES/$key.ko
	if [ ! -f "$out" ]; then
		{
			printf 'const char x410_modinfo[] __attribute__((section(".modinfo"), used, aligned(1))) = "license=GPL\\0name=%s\\0";\n' "$name"
			printf 'const char x410_kstrtab[] __attribute__((section("__ksymtab_strings"), used, aligned(1))) = "x410_sym_%s";\n' "$name"
			printf 'void x410_sym_%s(void) {}\n' "$name"
			for dep; do printf 'extern void x410_sym_%s(void);\n' "$dep"; done
			printf 'void x410_use_%s(void) {\n' "$name"
			for dep; do printf '\tx410_sym_%s();\n' "$dep"; done
			printf '}\n'
		} >"$SHIM_MODULES/$key.c"
		"${CC:-cc}" -c -O0 -o "$out" "$SHIM_MODULES/$key.c" || return 1
	fi
	echo "$out"
}

# Copy tests/rootfs/NAME into dest: first the tree its x410-base file names
# (recursively), then its own files over it; then delete the paths its
# x410-remove file lists and make the links x410-symlinks lists ("PATH TARGET").
rootfs_copy() {
	local name=$1 dest=$2
	local src=$top_srcdir/tests/rootfs/$name
	[ -d "$src" ] || fatal "no fake root '$src'"
	if [ -f "$src/x410-base" ]; then
		rootfs_copy "$(cat "$src/x410-base")" "$dest"
	fi
	cp -R "$src/." "$dest/" || fatal "cannot copy '$src'"
	chmod -R u+w "$dest"
	if [ -f "$src/x410-remove" ]; then
		local p
		while read -r p; do
			[ -n "$p" ] && rm -rf "${dest:?}/$p"
		done <"$src/x410-remove"
	fi
	# Symbolic links are made here: 'make dist' (tar -h) would turn
	# committed ones into copies of their targets.
	if [ -f "$src/x410-symlinks" ]; then
		local l t
		while read -r l t; do
			[ -n "$l" ] || continue
			mkdir -p "$dest/$(dirname "$l")"
			rm -rf "${dest:?}/$l"
			ln -s "$t" "$dest/$l"
		done <"$src/x410-symlinks"
	fi
	rm -f "$dest/x410-base" "$dest/x410-remove" "$dest/x410-symlinks"
}

# rootfs_make NAME [DEST]: a writable copy of the fake root NAME in $ROOT
# (default $TEST_TMP/root-NAME).  Every lib/modules/RELEASE/modules.fake in
# it ("PATH.ko: DEPENDENCY ..." lines, '#' comments) becomes module files
# plus the indexes depmod makes of them.
rootfs_make() {
	local name=$1 dest=${2:-$TEST_TMP/root-$1}
	rm -rf "$dest"
	mkdir -p "$dest"
	rootfs_copy "$name" "$dest"
	local spec dir rel path deps ko f
	for spec in "$dest"/lib/modules/*/modules.fake; do
		[ -f "$spec" ] || continue
		dir=${spec%/modules.fake}
		rel=${dir##*/}
		while IFS=: read -r path deps; do
			case $path in ''|'#'*) continue ;; esac
			local base=${path##*/}
			ko=$(fake_module "${base%.ko}" $deps) || fatal "cannot build fake module '$path'"
			mkdir -p "$dir/$(dirname "$path")"
			cp "$ko" "$dir/$path"
		done <"$spec"
		for f in modules.order modules.builtin modules.builtin.modinfo; do
			[ -e "$dir/$f" ] || : >"$dir/$f"
		done
		"$SHIM_DEPMOD" -b "$dest" "$rel" 2>"$TEST_TMP/depmod.err" ||
			fatal "depmod failed for '$name': $(cat "$TEST_TMP/depmod.err")"
	done
	ROOT=$dest
}

# shim_run STATUS ROOT ARGS...
shim_run() {
	local expect=$1 root=$2; shift 2
	local status=0
	: >"$SHIM_LOG"
	# timeout outside: only x410-vsock runs with the shim.
	timeout 20 env LD_PRELOAD="$SHIM_PRELOAD" X410_SHIM_ROOT="$root" X410_SHIM_LOG="$SHIM_LOG" \
		"$X410_VSOCK" "$@" >"$OUT" 2>"$ERR" || status=$?
	if ! grep -q '^active pid ' "$SHIM_LOG"; then
		echo "# the shim was not active" >&2
		return 1
	fi
	expect_status "$expect" "$status" "$@"
}

# The modules the shim inserted, in order, one line: "vsock hv_vmbus hv_sock".
shim_inserted() {
	sed -n 's/^f\{0,1\}init_module \([^ ]*\) ok$/\1/p' "$SHIM_LOG" | tr '\n' ' ' | sed 's/ $//'
}
