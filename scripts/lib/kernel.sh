# The guest kernel: Debian's linux-source-6.1 with kernel/ applied.
# shellcheck shell=bash
#
# Layout under build/kernel:
#   src/      git tree of the pristine source; every build resets it to the
#             pristine commit (git rewrites only files that differ, so make
#             rebuilds only what the series touches) and applies kernel/series
#   out/      the O= build directory
#   bzImage   the result, with bzImage.inputs: the hash of every input
#
# Inputs hashed: the source package version, every file under kernel/,
# this script and the compiler version. Same hash, no rebuild.

CMR_KSRC_TAR=/usr/src/linux-source-6.1.tar.xz

kernel_inputs_hash() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.1
		gcc --version | head -n1
		sha256sum "$CMR_ROOT/scripts/lib/kernel.sh"
		(cd "$CMR_ROOT" && find kernel -type f -print0 | sort -z | xargs -0 sha256sum)
	} | sha256sum | cut -d' ' -f1
}

# Extracts the source once per package version into a git tree.
kernel_prepare_pristine() {
	local version stamp
	version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	stamp=$CMR_KBUILD/src/.pristine-version
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && return 0
	say "extracting linux-source-6.1 $version"
	rm -rf "$CMR_KBUILD/src" "$CMR_KBUILD/out"
	mkdir -p "$CMR_KBUILD/src"
	tar -xf "$CMR_KSRC_TAR" -C "$CMR_KBUILD/src" --strip-components=1 ||
		die "cannot extract $CMR_KSRC_TAR"
	(
		cd "$CMR_KBUILD/src" &&
			git init -q &&
			git add -f -A . &&
			git -c user.name=contig-mr -c user.email=build@contig-mr.invalid \
				commit -q -m "pristine $version"
	) || die "cannot create the pristine git tree"
	echo "$version" >"$stamp"
}

# Applies kernel/series to the tree: each step copies its new files in
# (they must not exist yet) and applies its patch; any reject stops the build.
kernel_apply_series() {
	local src=$CMR_KBUILD/src step patch f
	(cd "$src" && git reset -q --hard && git clean -q -f -d -x -e .pristine-version) ||
		die "cannot reset $src"
	while read -r patch rest; do
		case $patch in '' | '#'*) continue ;; esac
		for f in $rest; do
			[ -e "$src/$f" ] && die "kernel/series: $f is not a new file"
			mkdir -p "$(dirname "$src/$f")"
			cp "$CMR_ROOT/kernel/$f" "$src/$f" || die "kernel/series: no kernel/$f"
		done
		step=$CMR_ROOT/kernel/patches/$patch
		[ -f "$step" ] || die "kernel/series: no kernel/patches/$patch"
		patch -s -p1 -d "$src" --forward --no-backup-if-mismatch -r - <"$step" ||
			die "kernel/patches/$patch does not apply"
	done <"$CMR_ROOT/kernel/series"
}

# tinyconfig + kernel/guest.config; every symbol of the fragment must
# survive olddefconfig with the value written, or the build stops.
kernel_configure() {
	local src=$CMR_KBUILD/src out=$CMR_KBUILD/out tmp=$CMR_KBUILD/config.tmp
	local frag=$CMR_ROOT/kernel/guest.config line
	rm -rf "$tmp" && mkdir -p "$tmp" "$out"
	make -s -C "$src" O="$tmp" tinyconfig >/dev/null || die "make tinyconfig failed"
	"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "$frag" >/dev/null ||
		die "merge_config.sh failed"
	make -s -C "$src" O="$tmp" olddefconfig >/dev/null || die "make olddefconfig failed"
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$tmp/.config" ||
			die "kernel/guest.config: '$line' did not stick (dependency missing?)" ;;
		'# CONFIG_'*' is not set')
			local sym=${line#\# } && sym=${sym%% *}
			grep -q "^$sym=" "$tmp/.config" &&
				die "kernel/guest.config: '$sym' should be unset" ;;
		esac
	done <"$frag"
	# Replace the config only when it changed, so that make sees no change.
	cmp -s "$tmp/.config" "$out/.config" || cp "$tmp/.config" "$out/.config"
	rm -rf "$tmp"
}

# kernel_build [--force]: prints nothing when the cached kernel is current.
kernel_build() {
	local hash start log=$CMR_KBUILD/build.log
	hash=$(kernel_inputs_hash)
	if [ "${1:-}" != --force ] && [ -f "$CMR_KBUILD/bzImage" ] &&
		[ "$(cat "$CMR_KBUILD/bzImage.inputs" 2>/dev/null)" = "$hash" ]; then
		return 0
	fi
	start=$(now)
	mkdir -p "$CMR_KBUILD"
	kernel_prepare_pristine
	kernel_apply_series
	kernel_configure
	say "building the guest kernel (log: $log)"
	if ! make -C "$CMR_KBUILD/src" O="$CMR_KBUILD/out" -j"$(nproc)" bzImage >"$log" 2>&1; then
		tail -n 40 "$log" >&2
		die "kernel build failed; full log in $log"
	fi
	cp "$CMR_KBUILD/out/arch/x86/boot/bzImage" "$CMR_KBUILD/bzImage"
	echo "$hash" >"$CMR_KBUILD/bzImage.inputs"
	say "guest kernel built in $(($(now) - start)) s"
}
