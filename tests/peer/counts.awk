# Counts of a peer results file ("STATUS ID..." lines, "#" comments):
# prints e.g. "86 ok, 186 skip, 1 error", statuses in a fixed order.
!/^#/ && NF { n[$1]++ }
END {
	split("ok skip xfail xpass fail error", order)
	for (i = 1; i in order; i++)
		if (order[i] in n) {
			printf "%s%d %s", (out++ ? ", " : ""), n[order[i]], order[i]
			delete n[order[i]]
		}
	for (s in n)
		printf "%s%d %s", (out++ ? ", " : ""), n[s], s
	print ""
}
