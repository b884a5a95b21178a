# The peer suites (tests/peer: rdma-core's own tests, the stock perftest
# tools) on two kernels: the stock flavour (Debian's 6.1 and guest.config,
# without the series) and the project's test kernel. Each test compares
# its outcome with the stock set recorded in tests/peer/stock/; this puts
# the two kernels' sets side by side, as measured now.
# shellcheck shell=bash

PEER_TESTS="peer_rdma_core peer_perftest_loop peer_perftest_pair"

# peers_side_by_side STOCK PATCHED TABLE: a markdown table of every test
# with its outcome on each kernel; prints the differences and returns 1
# when there are any.
peers_side_by_side() {
	awk -v table="$3" '
		function id(line) { sub(/^[^ ]+ /, "", line); return line }
		FILENAME != prev { file++; prev = FILENAME }
		/^#/ { next }
		{ k = id($0); if (!(k in seen)) { seen[k] = 1; order[n++] = k } st[file, k] = $1 }
		END {
			print "| test | stock | patched |" > table
			print "| --- | --- | --- |" > table
			for (i = 0; i < n; i++) {
				k = order[i]; a = st[1, k]; b = st[2, k]
				if (a == "") a = "(absent)"
				if (b == "") b = "(absent)"
				printf "| %s | %s | %s |\n", k, a, b > table
				if (a != b) { printf "  differs: %s: stock %s, patched %s\n", k, a, b; bad = 1 }
			}
			exit bad
		}' "$1" "$2"
}

# peers_main [--record]: both kernels, then the comparison in
# build/peers/DATE/. --record stores the stock sets as the tests' reference.
peers_main() {
	local record=0 out flavour setup f name list=$CMR_UBUILD/tests/vm.list status=0
	case "$*" in
	"") ;;
	--record) record=1 ;;
	*) die "peers: unknown arguments '$*' (only --record)" ;;
	esac
	[ -z "${CMR_VM_KERNEL:-}" ] ||
		die "peers boots its own two kernels; --kernel does not apply"
	shopt -s nullglob
	out=$CMR_BUILD/peers/$(date +%Y%m%d-%H%M%S)
	for flavour in stock guest; do
		mkdir -p "$out/$flavour"
		CMR_KFLAVOUR=$flavour build_all
		say "peer suites on the $flavour kernel"
		CMR_KFLAVOUR=$flavour CMR_ONLY=$PEER_TESTS run_vm_tests "$list"
		# From this run's own directories: the last-tests-* links are
		# shared with every other guest run on the tree.
		for setup in loop pair; do
			[ -n "${VM_RUNS[$setup]:-}" ] || continue
			for f in "${VM_RUNS[$setup]}"/tests/*.txt; do
				cp "$f" "$out/$flavour/"
			done
		done
	done
	if [ $record = 1 ]; then
		for name in rdma-core perftest-loop perftest-pair; do
			[ -f "$out/stock/$name.txt" ] ||
				die "the stock run gave no $name set: nothing recorded"
		done
		for f in "$out"/stock/*.txt; do
			{
				echo "# The stock kernel's outcomes, recorded by ./contig-mr peers --record"
				echo "# on $(date +%F): $(basename "$(dirname "$f")") flavour of Debian's linux-source-6.1 $(dpkg-query -W -f='${Version}' linux-source-6.1), rdma-core $(dpkg-query -W -f='${Version}' rdma-core), perftest $(dpkg-query -W -f='${Version}' perftest)"
				cat "$f"
			} >"$CMR_ROOT/tests/peer/stock/$(basename "$f")"
		done
		say "recorded the stock sets in tests/peer/stock/"
	fi
	for f in "$out"/stock/*.txt; do
		name=$(basename "$f" .txt)
		if [ ! -f "$out/guest/$name.txt" ]; then
			say "$name: no result on the patched kernel"
			status=1
			continue
		fi
		printf '%s: stock %s; patched %s\n' "$name" \
			"$(peer_counts_of "$f")" "$(peer_counts_of "$out/guest/$name.txt")"
		peers_side_by_side "$f" "$out/guest/$name.txt" "$out/$name.md" || status=1
	done
	say "side by side: $out/*.md"
	return $status
}

# peer_counts_of FILE: "86 ok, 186 skip, 1 error".
peer_counts_of() { awk -f "$CMR_ROOT/tests/peer/counts.awk" "$1"; }
