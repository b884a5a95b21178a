# The guest kernel: Debian's linux-source-6.1 with kernel/ applied.
# shellcheck shell=bash
#
# Layout under build/kernel:
#   src/      git tree of the pristine source (tag "pristine"); every build
#             checks out branch "series" at pristine (git rewrites only files
#             that differ, so make rebuilds only what the series touches) and
#             commits each step of kernel/series on it, with the patch's own
#             author and message: `./contig-mr series` exports that branch as
#             the series a maintainer reviews, new files included
#   out/      the O= build directory
#   bzImage   the result, with bzImage.inputs: the hash of every input
#
# Flavours (CMR_KFLAVOUR), each built in out-FLAVOUR/ into bzImage-FLAVOUR
# (the guest flavour in out/ into bzImage):
#   guest  the tests' kernel, configured by kernel/guest.config (lockdep,
#          kmemleak, DEBUG_VM);
#   bench  without the debugging options that tax every lock, allocation
#          and page operation: kernel/bench.config over guest.config;
#   debug  the guest kernel plus KASAN and DEBUG_PAGEALLOC:
#          kernel/debug.config over guest.config;
#   stock  guest.config without the series, the baseline that the peer
#          suites compare against; built from src-stock/, a git worktree of
#          src/ at the pristine tag, so that switching flavours makes
#          neither tree rebuild what the series touches.
#
# Inputs hashed: the flavour, the source package version, every file under
# kernel/ (for stock: guest.config only), this script and the compiler
# version. Same hash, no rebuild.

CMR_KFLAVOUR=${CMR_KFLAVOUR:-guest}

# kernel_suffix: "" for the guest flavour, "-FLAVOUR" for the others.
kernel_suffix() {
	[ "$CMR_KFLAVOUR" = guest ] || echo "-$CMR_KFLAVOUR"
}

kernel_check_flavour() {
	case $CMR_KFLAVOUR in
	guest | debug | stock | bench) ;;
	*) die "unknown kernel flavour '$CMR_KFLAVOUR' (guest, debug, stock or bench)" ;;
	esac
}

# kernel_has_series: true for the flavours built with kernel/series.
kernel_has_series() {
	[ "$CMR_KFLAVOUR" != stock ]
}

# kernel_srcdir: the flavour's source tree.
kernel_srcdir() {
	if kernel_has_series; then echo "$CMR_KBUILD/src"; else echo "$CMR_KBUILD/src-stock"; fi
}

# kernel_image: the path of the flavour's bzImage.
kernel_image() {
	echo "$CMR_KBUILD/bzImage$(kernel_suffix)"
}

# kernel_outdir: the flavour's O= build directory.
kernel_outdir() {
	echo "$CMR_KBUILD/out$(kernel_suffix)"
}

CMR_KSRC_TAR=/usr/src/linux-source-6.1.tar.xz

kernel_inputs_hash() {
	{
		echo "$CMR_KFLAVOUR"
		dpkg-query -W -f='${Version}\n' linux-source-6.1
		gcc --version | head -n1
		sha256sum <"$CMR_ROOT/scripts/lib/kernel.sh"
		if kernel_has_series; then
			(cd "$CMR_ROOT" && find kernel -type f -print0 | sort -z | xargs -0 sha256sum)
		else
			sha256sum <"$CMR_ROOT/kernel/guest.config"
		fi
	} | sha256sum | cut -d' ' -f1
}

# Extracts the source once per package version into a git tree.
kernel_prepare_pristine() {
	local version stamp
	version=$(dpkg-query -W -f='${Version}' linux-source-6.1)
	stamp=$CMR_KBUILD/src/.pristine-version
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] &&
		git -C "$CMR_KBUILD/src" rev-parse -q --verify pristine >/dev/null && return 0
	say "extracting linux-source-6.1 $version"
	rm -rf "$CMR_KBUILD/src" "$CMR_KBUILD/src-stock" "$CMR_KBUILD"/out "$CMR_KBUILD"/out-*
	mkdir -p "$CMR_KBUILD/src"
	tar -xf "$CMR_KSRC_TAR" -C "$CMR_KBUILD/src" --strip-components=1 ||
		die "cannot extract $CMR_KSRC_TAR"
	(
		cd "$CMR_KBUILD/src" &&
			git init -q &&
			git add -f -A . &&
			git -c user.name=contig-mr -c user.email=build@contig-mr.invalid \
				commit -q -m "pristine $version" &&
			git tag pristine
	) || die "cannot create the pristine git tree"
	echo "$version" >"$stamp"
}

# The stock flavour's tree: a worktree of src/ reset to the pristine tag.
kernel_prepare_stock() {
	local wt=$CMR_KBUILD/src-stock
	if [ -e "$wt/.git" ]; then
		git -C "$wt" checkout -q -f --detach pristine && git -C "$wt" clean -q -f -d -x ||
			die "cannot reset $wt"
		return 0
	fi
	rm -rf "$wt"
	git -C "$CMR_KBUILD/src" worktree prune &&
		git -C "$CMR_KBUILD/src" worktree add -q --detach "$wt" pristine ||
		die "cannot create the stock source tree $wt"
}

# Applies kernel/series to the tree: each step copies its new files in
# (they must not exist yet), applies its patch (any reject stops the build)
# and is committed with the patch's author and message.
kernel_apply_series() {
	local src=$CMR_KBUILD/src step patch f info
	(cd "$src" && git checkout -q -f -B series pristine &&
		git clean -q -f -d -x -e .pristine-version) || die "cannot reset $src"
	info=$(mktemp -d)
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
		git mailinfo "$info/msg" "$info/diff" <"$step" >"$info/head" ||
			die "kernel/patches/$patch: not in git format-patch form"
		{ sed -n 's/^Subject: //p' "$info/head" && echo && cat "$info/msg"; } >"$info/commit"
		(
			cd "$src" &&
				git add -f -A . -- ':!.pristine-version' &&
				GIT_AUTHOR_NAME=$(sed -n 's/^Author: //p' "$info/head") \
				GIT_AUTHOR_EMAIL=$(sed -n 's/^Email: //p' "$info/head") \
				git -c user.name=contig-mr -c user.email=build@contig-mr.invalid commit -q \
					-F "$info/commit" --cleanup=strip
		) || die "cannot commit kernel/patches/$patch"
	done <"$CMR_ROOT/kernel/series"
	rm -rf "$info"
}

# kernel_export_series DIR: the applied series as git format-patch files.
kernel_export_series() {
	mkdir -p "$1"
	git -C "$CMR_KBUILD/src" format-patch -q -o "$1" pristine..series ||
		die "cannot export the series"
}

# kernel_fragment FILE: writes the flavour's config fragment: guest.config,
# with every line naming a symbol that kernel/FLAVOUR.config sets replaced
# by that file's lines.
kernel_fragment() {
	local base=$CMR_ROOT/kernel/guest.config over syms
	over=$CMR_ROOT/kernel/$CMR_KFLAVOUR.config
	if [ "$CMR_KFLAVOUR" = guest ] || [ "$CMR_KFLAVOUR" = stock ]; then
		cp "$base" "$1"
		return
	fi
	[ -f "$over" ] || die "unknown kernel flavour '$CMR_KFLAVOUR' (no kernel/$CMR_KFLAVOUR.config)"
	syms=$(grep -oE 'CONFIG_[A-Za-z0-9_]+' "$over" | sort -u)
	{ grep -v -w -F "$syms" "$base" && cat "$over"; } >"$1"
}

# tinyconfig + the flavour's fragment; every symbol of the fragment must
# survive olddefconfig with the value written, or the build stops.
kernel_configure() {
	local src out tmp=$CMR_KBUILD/config.tmp
	local frag=$CMR_KBUILD/config.fragment line
	src=$(kernel_srcdir) out=$(kernel_outdir)
	rm -rf "$tmp" && mkdir -p "$tmp" "$out"
	kernel_fragment "$frag"
	make -s -C "$src" O="$tmp" tinyconfig >/dev/null || die "make tinyconfig failed"
	"$src/scripts/kconfig/merge_config.sh" -m -O "$tmp" "$tmp/.config" "$frag" >/dev/null ||
		die "merge_config.sh failed"
	make -s -C "$src" O="$tmp" olddefconfig >/dev/null || die "make olddefconfig failed"
	while IFS= read -r line; do
		case $line in
		CONFIG_*=*) grep -qxF "$line" "$tmp/.config" ||
			die "kernel config ($CMR_KFLAVOUR): '$line' did not stick (dependency missing?)" ;;
		'# CONFIG_'*' is not set')
			local sym=${line#\# } && sym=${sym%% *}
			grep -q "^$sym=" "$tmp/.config" &&
				die "kernel config ($CMR_KFLAVOUR): '$sym' should be unset" ;;
		esac
	done <"$frag"
	# Replace the config only when it changed, so that make sees no change.
	cmp -s "$tmp/.config" "$out/.config" || cp "$tmp/.config" "$out/.config"
	rm -rf "$tmp"
}

# kernel_build [--force]: builds the flavour's kernel; prints nothing when
# the cached one is current.
kernel_build() {
	local hash start out image log rc
	out=$(kernel_outdir) image=$(kernel_image) log=$CMR_KBUILD/build$(kernel_suffix).log
	hash=$(kernel_inputs_hash)
	if [ "${1:-}" != --force ] && [ -f "$image" ] &&
		[ "$(cat "$image.inputs" 2>/dev/null)" = "$hash" ]; then
		return 0
	fi
	start=$(now)
	mkdir -p "$CMR_KBUILD"
	kernel_prepare_pristine
	if kernel_has_series; then kernel_apply_series; else kernel_prepare_stock; fi
	kernel_configure
	say "building the $CMR_KFLAVOUR kernel (log: $log)"
	cmr_progress_start "$log" "building the $CMR_KFLAVOUR kernel"
	make -C "$(kernel_srcdir)" O="$out" -j"$(nproc)" bzImage >"$log" 2>&1
	rc=$?
	cmr_progress_stop "$log" $rc
	if [ $rc != 0 ]; then
		tail -n 40 "$log" >&2
		die "kernel build failed; full log in $log"
	fi
	cp "$out/arch/x86/boot/bzImage" "$image"
	echo "$hash" >"$image.inputs"
	say "$CMR_KFLAVOUR kernel built in $(($(now) - start)) s"
}
