# Shared by every part of ./contig-mr: paths, messages, package checks.
# shellcheck shell=bash

CMR_BUILD=${CMR_BUILD:-$CMR_ROOT/build}
CMR_KBUILD=$CMR_BUILD/kernel
CMR_UBUILD=$CMR_BUILD/user
CMR_VMDIR=$CMR_BUILD/vm

# Debian packages the project needs, and why.
CMR_PACKAGES=(
	linux-source-6.1                 # the guest kernel's source
	gcc make bc bison flex libelf-dev libssl-dev cpio xz-utils git # kernel build
	busybox-static qemu-system-x86   # the guest: initramfs and machine
	cmake pkg-config libibverbs-dev  # user space build
	rdma-core ibverbs-utils ibverbs-providers perftest iproute2 iputils-ping # in the guest
	python3-pyverbs                  # rdma-core's own test suite (tests/peer)
	ucx-utils                        # UCX over rxe (tests/stacks)
	openmpi-bin libopenmpi-dev       # Open MPI over UCX (tests/stacks)
	libfabric-bin libfabric-dev      # libfabric verbs (tests/stacks)
	pandoc man-db                    # man pages
	valgrind                         # leak checks of the library
	python3 python3-ply python3-git   # benchmark reports; checkpatch's SPDX check
	gnuplot-nox                      # benchmark plots
)

say() { printf '%s\n' "contig-mr: $*" >&2; }
die() { say "error: $*"; exit 1; }

# Installs what is missing when run as root; otherwise prints the exact
# command and stops, so that nothing is half-built.
cmr_require_packages() {
	local missing=() p
	for p in "${CMR_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
			grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		say "missing Debian packages; install them with:"
		printf '  sudo apt-get update && sudo apt-get install -y %s\n' "${missing[*]}" >&2
		exit 1
	fi
	say "installing ${missing[*]}"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}

# Prints the seconds since the epoch; used for timings shown to the user.
now() { date +%s; }

# cmr_progress_start LOG WHAT: until cmr_progress_stop, a reporter of how
# far along a build is: the steps make logged so far ("  CC  file" lines
# of LOG) against the most any complete build logged (LOG.steps), and the
# time elapsed. On a terminal one line rewritten in place, otherwise one
# line a minute. The build itself runs in the foreground, so that Ctrl-C
# stops it; the reporter also ends with the shell that started it.
cmr_progress_start() {
	local log=$1 what=$2 parent=$$ start n of= el last=0
	start=$(now)
	[ -s "$log.steps" ] && of=" of about $(cat "$log.steps")"
	(
		while sleep 5 && kill -0 "$parent" 2>/dev/null; do
			n=$(grep -c '^  [A-Z]' "$log" 2>/dev/null)
			el=$(($(now) - start))
			if [ -t 2 ]; then
				printf '\rcontig-mr: %s: %s steps%s, %d:%02d ' "$what" \
					"$n" "$of" $((el / 60)) $((el % 60)) >&2
			elif [ $((el - last)) -ge 60 ]; then
				say "$what: $n steps$of, $((el / 60)) min"
				last=$el
			fi
		done
	) 9>&- &
	CMR_PROGRESS_PID=$!
}

# cmr_progress_stop LOG OK: ends the reporter; after a build that
# succeeded (OK = 0) keeps its step count when it is the largest yet.
cmr_progress_stop() {
	local n
	kill "$CMR_PROGRESS_PID" 2>/dev/null
	wait "$CMR_PROGRESS_PID" 2>/dev/null
	[ -t 2 ] && printf '\n' >&2
	[ "$2" = 0 ] || return 0
	n=$(grep -c '^  [A-Z]' "$1")
	[ "$n" -gt "$(cat "$1.steps" 2>/dev/null || echo 0)" ] && echo "$n" >"$1.steps"
	return 0
}
