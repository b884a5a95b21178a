#!/bin/sh
# host_valgrind_*: run a host test under valgrind; any memory error or leak
# (definite, indirect or possible) fails it. Skips when valgrind is missing.
command -v valgrind >/dev/null ||
	{ echo "1..0 # SKIP valgrind not installed"; exit 77; }
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect,possible \
	--show-leak-kinds=definite,indirect,possible \
	--track-fds=no "$@"
