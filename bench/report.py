#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
"""Turns a benchmark run directory into tables, plots and a Markdown report.

    report.py DIR [--check] [--image-prefix PREFIX]

Reads what the guest scripts wrote into DIR (readbw.csv, setup.csv,
frag.csv, hold.csv, scale.csv, stacks.csv, conditions-*.txt; any subset),
writes into DIR:

    summary-readbw.csv, summary-setup.csv, summary-translation.csv,
    summary-frag.csv, summary-hold.csv, summary-scale.csv,
    summary-stacks.csv
                         medians, minima, maxima per group
    *.png                plots (gnuplot, pngcairo)
    results.md           the report: conditions, tables, plots, ratios

--check validates the raw CSVs (header, field count, numbers) and fails
(status 1) on anything malformed or on a part with no successful
measurement. --image-prefix is put in front of the image names in
results.md (bench.sh uses it for the README copy).

Standard library only; gnuplot draws the plots.
"""
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys

HEADERS = {
    "readbw.csv": "repeat,backing,bytes,iterations,bw_peak_mbs,bw_avg_mbs,msg_rate_mpps",
    "readbw-runs.csv": "repeat,backing,status,seconds,server_rc,client_rc,rows,invalid_rows",
    "setup.csv": "repeat,size,backing,status,map_length,pool_ns,alloc_ns,touch_ns,"
                 "reg_ns,setup_ns,dereg_ns,free_ns,release_ns,page_size,map_entries,pages_from,"
                 "setup_cpu_ns",
    "frag.csv": "condition,attempt,size,method,status,ns,granted",
    "hold.csv": "repeat,size,method,held,status,windows,windows_unreserved,ns",
    "stacks.csv": "repeat,thp,stack,test,backing,bytes,iterations,bw_mbs",
    "stacks-runs.csv": "repeat,thp,stack,status,seconds",
}
HEADERS["scale.csv"] = HEADERS["setup.csv"]
TEXT_FIELDS = {"backing", "status", "pages_from", "condition", "method", "thp", "stack",
               "test"}

READBW_ORDER = ["memalign", "huge", "contig"]
READBW_LABEL = {"memalign": "memalign", "huge": "hugetlb 2M (--use_hugepages)",
                "contig": "contiguous (--contig)"}
SETUP_ORDER = ["contig", "contig-buf", "memalign", "huge2m", "huge1g", "memset"]
SETUP_LABEL = {"contig": "contiguous MR", "contig-buf": "contiguous buffer+reg",
               "memalign": "memalign+touch+reg",
               "huge2m": "hugetlb 2M+touch+reg", "huge1g": "hugetlb 1G+touch+reg",
               "memset": "memset (bound)"}
# Backings whose release is two timed calls (contig's is one).
RELEASE_SPLIT = ["contig-buf", "memalign", "huge2m", "huge1g"]
FRAG_ORDER = ["contig", "huge1g", "huge2m"]
FRAG_LABEL = {"contig": "contiguous MR", "huge1g": "hugetlb 1G pool growth",
              "huge2m": "hugetlb 2M pool growth"}
FRAG_CONDITIONS = ["clean", "movable", "pinned"]
SCALE_ORDER = ["contig", "contig-buf", "huge1g"]
HOLD_ORDER = ["contig", "contig-ext", "huge1g"]
STACKS_ORDER = [("ucx", "tag_bw"), ("ucx", "ucp_put_bw"), ("openmpi", "send/recv"),
                ("openmpi", "put"), ("libfabric", "read"), ("libfabric", "write")]
STACKS_LABEL = {"ucx": "ucx_perftest", "openmpi": "Open MPI (pml ucx)",
                "libfabric": "libfabric verbs (fi_rma)"}
HOLD_LABEL = {"contig": "contiguous MRs (one range)",
              "contig-ext": "contiguous MRs (extents of half the size)",
              "huge1g": "hugetlb 1G pool growth"}

# rxe (6.1, and with the series): an MR's map is an array of pointers to
# struct rxe_map, each holding RXE_BUF_PER_MAP = PAGE_SIZE /
# sizeof(struct rxe_phys_buf) = 4096 / 16 = 256 entries (u64 addr, u64
# size). See docs/benchmarks.md.
RXE_PHYS_BUF = 16
RXE_MAP = 4096
RXE_BUF_PER_MAP = RXE_MAP // RXE_PHYS_BUF
POINTER = 8
MTT_ENTRY = 8  # a hardware MTT entry (mlx5: one 64-bit address), for scale


def rxe_map_bytes(entries):
    maps = -(-entries // RXE_BUF_PER_MAP)
    return maps * (RXE_MAP + POINTER)


class Problems(Exception):
    pass


def read_csv(path, check):
    name = os.path.basename(path)
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    if not lines:
        raise Problems(f"{name}: empty")
    want = HEADERS[name]
    if lines[0] != want:
        raise Problems(f"{name}: header {lines[0]!r}, expected {want!r}")
    fields = want.split(",")
    rows = []
    for n, row in enumerate(csv.reader(lines[1:]), start=2):
        if len(row) != len(fields):
            raise Problems(f"{name}:{n}: {len(row)} fields, expected {len(fields)}")
        rec = {}
        for k, v in zip(fields, row):
            if k in TEXT_FIELDS:
                if not v:
                    raise Problems(f"{name}:{n}: empty {k}")
                rec[k] = v
            else:
                try:
                    rec[k] = float(v) if "." in v else int(v)
                except ValueError:
                    raise Problems(f"{name}:{n}: {k}={v!r} is not a number") from None
        rows.append(rec)
    return rows


def stats(values):
    values = sorted(values)
    if not values:
        return None
    return {"n": len(values), "median": statistics.median(values),
            "min": values[0], "max": values[-1]}


def size_label(b):
    b = int(b)
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if b >= 1 << shift and b % (1 << shift) == 0:
            return f"{b >> shift} {unit}"
    return f"{b} B"


def time_label(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.0f} µs"
    return f"{ns:.0f} ns"


def cell(st, fmt):
    if not st:
        return "–"
    if st["n"] == 1:
        return fmt(st["median"])
    return f"{fmt(st['median'])} [{fmt(st['min'])}–{fmt(st['max'])}]"


def md_table(header, rows, left=1):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(" --- " if i < left else " ---: " for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


# ---- plots ----------------------------------------------------------------

def gnuplot_available():
    return shutil.which("gnuplot") is not None


def plot(outdir, name, title, xlabel, ylabel, series, logx=2, logy=False,
         hline=None, xtics_bytes=True, with_err=True, panels=None, yrange=None):
    """series: list of (label, [(x, y, ymin, ymax)]). panels: instead of
    series, a list of (panel title, series), drawn side by side with the
    same axes. Returns the PNG name."""
    panels = panels or [(None, series)]
    every = [pts for _, ser in panels for _, pts in ser]
    if not gnuplot_available() or not any(every):
        return None
    png = f"{name}.png"
    width = 1000 if len(panels) == 1 else 420 * len(panels)
    lines = [
        f"set terminal pngcairo size {width},600 font ',10'",
        f"set output '{os.path.join(outdir, png)}'",
        f"set xlabel '{xlabel}'",
        f"set ylabel '{ylabel}'",
        "set termoption noenhanced",
        "set offsets graph 0.03, graph 0.03, 0, 0",
        "set grid",
    ]
    if logx:
        lines.append(f"set logscale x {logx}")
    if logy:
        lines.append("set logscale y 10")
    if yrange:
        lines.append(f"set yrange [{yrange[0]}:{yrange[1]}]")
    if xtics_bytes:
        xs = sorted({x for pts in every for x, *_ in pts})
        step = max(1, len(xs) // 12)
        tics = ", ".join(f"'{size_label(x)}' {x}" for x in xs[::step])
        lines.append(f"set xtics ({tics}) rotate by -45")
    if len(panels) == 1:
        lines += [f"set title '{title}'", "set key outside right top"]
    else:
        lines += [f"set multiplot layout 1,{len(panels)} title '{title}'",
                  "set key left center"]
    datfiles = []
    style = "with yerrorlines" if with_err else "with linespoints"
    cols = "1:2:3:4" if with_err else "1:2"
    for p, (ptitle, ser) in enumerate(panels):
        plots = []
        for i, (label, pts) in enumerate(ser):
            if not pts:
                continue
            dat = os.path.join(outdir, f".{name}.{p}.{i}.dat")
            with open(dat, "w") as f:
                for x, y, lo, hi in pts:
                    f.write(f"{x} {y} {lo} {hi}\n")
            datfiles.append(dat)
            plots.append(f"'{dat}' using {cols} {style} title '{label}'")
        if hline is not None:
            plots.append(f"{hline} with lines dashtype 2 lc 'gray' title ''")
        if ptitle is not None:
            lines.append(f"set title '{ptitle}'")
        if plots:
            lines.append("plot " + ", ".join(plots))
    if len(panels) > 1:
        lines.append("unset multiplot")
    script = os.path.join(outdir, f".{name}.gp")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    res = subprocess.run(["gnuplot", script], capture_output=True, text=True)
    for dat in datfiles:
        os.unlink(dat)
    os.unlink(script)
    if res.returncode != 0:
        sys.stderr.write(f"report: gnuplot {name}: {res.stderr}\n")
        return None
    return png


# ---- parts ----------------------------------------------------------------

def part_readbw(d, rows, runs, md, img):
    groups = {}
    for r in rows:
        groups.setdefault((r["bytes"], r["backing"]), []).append(r["bw_avg_mbs"])
    sizes = sorted({b for b, _ in groups})
    st = {k: stats(v) for k, v in groups.items()}
    summary, table = [], []
    ratios = {b: [] for b in READBW_ORDER}
    for s in sizes:
        base = st.get((s, "memalign"))
        line = [size_label(s)]
        for b in READBW_ORDER:
            x = st.get((s, b))
            ratio = x["median"] / base["median"] if x and base and base["median"] else None
            if ratio and b != "memalign":
                ratios[b].append((s, ratio))
            line.append(cell(x, lambda v: f"{v:.3g}"))
            if b != "memalign":
                line.append(f"{ratio:.2f}" if ratio else "–")
            if x:
                summary.append([s, b, x["n"], x["median"], x["min"], x["max"],
                                f"{ratio:.4f}" if ratio else ""])
        table.append(line)
    write_csv(os.path.join(d, "summary-readbw.csv"),
              ["bytes", "backing", "runs", "bw_avg_median", "bw_avg_min",
               "bw_avg_max", "ratio_vs_memalign"], summary)

    md.append("### 1. ib_read_bw -a: memalign vs --use_hugepages vs --contig\n")
    nruns = {}
    for r in runs:
        nruns.setdefault(r["backing"], [0, 0])
        nruns[r["backing"]][0 if r["status"] == "ok" else 1] += 1
    dropped = sum(int(r["invalid_rows"]) for r in runs)
    md.append("Average bandwidth (perftest's BW average column, MB/s, median [min–max] "
              "over the runs), and the ratio of the medians to memalign. Runs completed: " +
              ", ".join(f"{b} {v[0]}/{v[0] + v[1]}" for b, v in nruns.items()) +
              f"; result rows dropped because perftest's clock calibration failed: "
              f"{dropped}.\n")
    header = ["size", "memalign", "hugetlb", "ratio", "contig", "ratio"]
    md.append(md_table(header, table) + "\n")
    # Paired ratios: each run against the memalign run of the same round,
    # which ran next to it; drift over the run (host load, the guest's
    # state) cancels out of these, not out of the ratio of medians.
    by_round = {(r["repeat"], r["bytes"], r["backing"]): r["bw_avg_mbs"] for r in rows}
    for b in ("huge", "contig"):
        big = [r for s, r in ratios[b] if 65536 <= s <= 8 << 20]
        if big:
            gm = math.exp(sum(math.log(r) for r in big) / len(big))
            md.append(f"- {READBW_LABEL[b]}: geometric mean of the ratio over 64 KiB – 8 MiB "
                      f"= {gm:.3f} ({(gm - 1) * 100:+.1f} %), range "
                      f"{min(big):.2f} – {max(big):.2f}.")
        paired = [v / by_round[(rep, s, "memalign")]
                  for (rep, s, bk), v in by_round.items()
                  if bk == b and 65536 <= s <= 8 << 20 and by_round.get((rep, s, "memalign"))]
        if paired:
            ps = stats(paired)
            above = sum(1 for v in paired if v > 1)
            md.append(f"  Paired with the memalign run of the same round: median "
                      f"{ps['median']:.3f} [{ps['min']:.2f} – {ps['max']:.2f}], "
                      f"faster in {above} of {len(paired)} pairs.")
    md.append("")
    series = [(READBW_LABEL[b], [(s, st[(s, b)]["median"], st[(s, b)]["min"],
                                  st[(s, b)]["max"]) for s in sizes if (s, b) in st])
              for b in READBW_ORDER]
    png = plot(d, "readbw", "ib_read_bw -a on rxe: average bandwidth", "message size",
               "MB/s (perftest BW average)", series)
    if png:
        md.append(f"![ib_read_bw bandwidth]({img}{png})\n")
    series = [(READBW_LABEL[b], [(s, r, r, r) for s, r in ratios[b]])
              for b in ("huge", "contig")]
    png = plot(d, "readbw-ratio", "ib_read_bw: median bandwidth relative to memalign",
               "message size", "ratio to memalign", series, hline=1, with_err=False)
    if png:
        md.append(f"![ib_read_bw ratio]({img}{png})\n")
    return bool(rows)


def by_size_backing(rows):
    """setup.csv-shaped rows: the successful ones, the sizes, the successful
    rows per (size, backing), and every status per (size, backing)."""
    ok = [r for r in rows if r["status"] == "ok"]
    groups, tried = {}, {}
    for r in ok:
        groups.setdefault((r["size"], r["backing"]), []).append(r)
    for r in rows:
        tried.setdefault((r["size"], r["backing"]), []).append(r["status"])
    return ok, sorted({r["size"] for r in rows}), groups, tried


def fail_note(statuses):
    """' (2× ENOMEM,pool-short)' for the attempts that failed, else ''."""
    fails = [v for v in statuses if v != "ok"]
    return f" ({len(fails)}× {','.join(sorted(set(fails)))})" if fails else ""


def part_setup(d, rows, md, img):
    ok, sizes, groups, tried = by_size_backing(rows)

    def st(size, b, field):
        g = groups.get((size, b))
        return stats([r[field] for r in g]) if g else None

    summary, setup_t, release_t = [], [], []
    for s in sizes:
        sl, rl = [size_label(s)], [size_label(s)]
        for b in SETUP_ORDER:
            x = st(s, b, "setup_ns")
            y = st(s, b, "release_ns") if b != "memset" else None
            note = fail_note(tried.get((s, b), []))
            sl.append(cell(x, time_label) + note)
            if b != "memset":
                rl.append(cell(y, time_label))
            if x:
                summary.append([s, b, x["n"], len(tried.get((s, b), [])), x["median"],
                                x["min"], x["max"], y["median"] if y else "",
                                y["min"] if y else "", y["max"] if y else ""])
        m = st(s, "memset", "setup_ns")
        sl.append(f"{s / m['median']:.2f} GB/s" if m else "–")
        c, a = st(s, "contig", "setup_ns"), st(s, "memalign", "setup_ns")
        sl.append(f"{a['median'] / c['median']:.2f}" if c and a else "–")
        setup_t.append(sl)
        release_t.append(rl)
    write_csv(os.path.join(d, "summary-setup.csv"),
              ["size", "backing", "ok", "tried", "setup_ns_median", "setup_ns_min",
               "setup_ns_max", "release_ns_median", "release_ns_min", "release_ns_max"],
              summary)

    md.append("### 2. Set-up cost of a registered buffer\n")
    md.append("Time until a buffer of that size is allocated, zeroed (first touch), "
              "mapped and registered — median [min–max] over the repeats; memset is "
              "one pass of writes over an already present buffer of the same size in "
              "the same run, the physical bound for handing out zeroed memory. "
              "hugetlb times exclude reserving the pool (done beforehand, as hugetlb "
              "requires). The last column is memalign's time divided by the "
              "contiguous MR's: above 1 the contiguous MR is faster.\n")
    md.append(md_table(["size"] + [SETUP_LABEL[b] for b in SETUP_ORDER] +
                       ["memset bandwidth", "memalign ÷ contig"], setup_t) + "\n")
    md.append("Release (deregistration + freeing):\n")
    md.append(md_table(["size"] + [SETUP_LABEL[b] for b in SETUP_ORDER if b != "memset"],
                       release_t) + "\n")
    split = []
    for s in sizes:
        line = [size_label(s)]
        for b in RELEASE_SPLIT:
            d_, f_ = st(s, b, "dereg_ns"), st(s, b, "free_ns")
            line.append(f"{time_label(d_['median'])} + {time_label(f_['median'])}"
                        if d_ and f_ else "–")
        split.append(line)
    if any(c != "–" for line in split for c in line[1:]):
        md.append("Release in two parts, deregistration (the MR's unpin) + freeing (the "
                  "unmap, which also gives the pages back), medians:\n")
        md.append(md_table(["size"] + [SETUP_LABEL[b] for b in RELEASE_SPLIT], split) + "\n")
    if sizes:
        big = max(s for s in sizes if any((s, b) in groups for b in SETUP_ORDER))
        parts = []
        for b in ("contig", "contig-buf", "memalign", "huge2m", "huge1g"):
            if (big, b) not in groups:
                continue
            g = groups[(big, b)]
            med = {f: statistics.median(r[f] for r in g)
                   for f in ("alloc_ns", "touch_ns", "reg_ns", "pool_ns")}
            parts.append([SETUP_LABEL[b], time_label(med["alloc_ns"]),
                          time_label(med["touch_ns"]), time_label(med["reg_ns"]),
                          time_label(med["pool_ns"]) if med["pool_ns"] else "–"])
        md.append(f"Where the time goes at {size_label(big)} (medians; for the contiguous "
                  "MR allocation, zeroing, mapping and registration are one call):\n")
        md.append(md_table(["backing", "allocate", "first touch", "register",
                            "(pool reservation, untimed)"], parts) + "\n")
    series = []
    for b in SETUP_ORDER:
        pts = []
        for s in sizes:
            x = st(s, b, "setup_ns")
            if x:
                pts.append((s, x["median"] / 1e6, x["min"] / 1e6, x["max"] / 1e6))
        series.append((SETUP_LABEL[b], pts))
    png = plot(d, "setup", "Time to a usable registered buffer", "buffer size",
               "ms", series, logy=True)
    if png:
        md.append(f"![set-up cost]({img}{png})\n")
    series = []
    for b in SETUP_ORDER[:-1]:
        pts = []
        for s in sizes:
            x = st(s, b, "release_ns")
            if x:
                pts.append((s, x["median"] / 1e6, x["min"] / 1e6, x["max"] / 1e6))
        series.append((SETUP_LABEL[b], pts))
    png = plot(d, "release", "Release: deregister + free", "buffer size", "ms",
               series, logy=True)
    if png:
        md.append(f"![release cost]({img}{png})\n")
    return bool(ok)


def part_translation(d, rows, md, img):
    seen = {}
    for r in rows:
        if r["status"] == "ok" and r["pages_from"] != "none" and r["backing"] != "memset":
            # The kernel's own report (rdma) wins over the library's.
            key = (r["size"], r["backing"])
            if key not in seen or (r["pages_from"] == "rdma" and seen[key]["pages_from"] != "rdma"):
                seen[key] = r
    sizes = sorted({s for s, _ in seen})
    table, summary = [], []
    for s in sizes:
        for b in SETUP_ORDER[:-1]:
            r = seen.get((s, b))
            if not r:
                continue
            e = int(r["map_entries"])
            table.append([size_label(s), SETUP_LABEL[b], size_label(r["page_size"]), f"{e:,}",
                          f"{rxe_map_bytes(e):,}", f"{e * MTT_ENTRY:,}", r["pages_from"]])
            summary.append([s, b, r["page_size"], e, rxe_map_bytes(e), e * MTT_ENTRY,
                            r["pages_from"]])
    write_csv(os.path.join(d, "summary-translation.csv"),
              ["size", "backing", "device_page_size", "map_entries", "rxe_map_bytes",
               "mtt_bytes_at_8B", "from"], summary)
    md.append("### 3. Translation cost: device page size and map entries\n")
    if not table:
        md.append("No MR reported its device pages (a kernel without the rxe "
                  "restrack patch shows no page_size/map_entries).\n")
        return False
    md.append("Per MR, from `rdma resource show mr -dd` (rxe's driver attributes "
              "page_size and map_entries; `lib`: from ibv_query_contig_mr() when rdma "
              "showed nothing). rxe map bytes = ⌈entries / 256⌉ × (4096 + 8): rxe keeps "
              "256 16-byte {addr, size} entries per 4 KiB struct rxe_map plus one "
              "pointer per map (docs/benchmarks.md). The MTT column is what a NIC "
              "with 8-byte translation entries would hold, for scale.\n")
    md.append(md_table(["size", "backing", "device page", "map entries", "rxe map bytes",
                        "MTT bytes (8 B/entry)", "from"], table, left=2) + "\n")
    series = []
    for b in SETUP_ORDER[:-1]:
        pts = [(s, seen[(s, b)]["map_entries"], seen[(s, b)]["map_entries"],
                seen[(s, b)]["map_entries"]) for s in sizes if (s, b) in seen]
        series.append((SETUP_LABEL[b], pts))
    png = plot(d, "translation", "Translation entries per MR (rxe)", "buffer size",
               "map entries", series, logy=True, with_err=False)
    if png:
        md.append(f"![map entries]({img}{png})\n")
    return True


def part_frag(d, rows, md, img, conds):
    groups = {}
    for r in rows:
        groups.setdefault((r["condition"], r["size"], r["method"]), []).append(r)
    conditions = [c for c in FRAG_CONDITIONS if any(k[0] == c for k in groups)]
    conditions += sorted({k[0] for k in groups} - set(conditions))
    sizes = sorted({k[1] for k in groups})
    summary = []
    md.append("### 4. Fragmentation: contiguous MRs vs run-time hugetlb pages\n")
    w = conds
    md.append("Success rate and latency (median [min–max] of the successful "
              "attempts). clean: nothing else running; movable: "
              f"{w.get('workload_pagecache', '?')} of tmpfs page cache and "
              f"{w.get('workload_anon', '?')} of anonymous memory with every other "
              f"64 KiB released; pinned: the same plus one long-term pinned page "
              f"(an MR) every {w.get('workload_pin_stride', '?')} over "
              f"{w.get('workload_pin_span', '?')}. The pool growth only takes the "
              "pages (no zeroing, mapping or registration); the contiguous MR does "
              "all of it.\n")
    wl = os.path.join(d, "frag-workload.txt")
    if os.path.exists(wl):
        with open(wl) as f:
            for line in f:
                if not line.startswith("pinned:"):
                    continue
                kv = dict(w.split("=", 1) for w in line.split() if "=" in w)
                try:
                    lo, hi = int(kv["pin_phys_lo"], 0), int(kv["pin_phys_hi"], 0)
                    win, nwin = int(kv["pin_free_window"]), int(kv["pin_free_windows"])
                except (KeyError, ValueError):
                    continue
                if hi:
                    room = (f"the largest naturally aligned window of RAM without a pinned "
                            f"page: {size_label(win)} ({nwin} of them)" if win else
                            "no naturally aligned 2 MiB window of RAM is free of them")
                    md.append(f"Where the {kv.get('pinned_pages', '?')} pinned pages really "
                              f"were (/proc/self/pagemap): physical {lo:#x} – {hi:#x}; "
                              f"{room}. A contiguous allocation needs such a window "
                              "free of unmovable pages: the pins alone allow nothing larger.\n")
    for c in conditions:
        table = []
        for s in sizes:
            line = [size_label(s)]
            for m in FRAG_ORDER:
                g = groups.get((c, s, m))
                if not g:
                    line.append("–")
                    continue
                good = [r["ns"] for r in g if r["status"] == "ok"]
                x = stats(good)
                fails = sorted({r["status"] for r in g if r["status"] != "ok"})
                line.append(f"{len(good)}/{len(g)} " + (cell(x, time_label) if x else "") +
                            (f" ({','.join(fails)})" if fails else ""))
                summary.append([c, s, m, len(good), len(g), x["median"] if x else "",
                                x["min"] if x else "", x["max"] if x else ""])
            table.append(line)
        md.append(f"**{c}**\n")
        md.append(md_table(["size"] + [FRAG_LABEL[m] for m in FRAG_ORDER], table) + "\n")
    write_csv(os.path.join(d, "summary-frag.csv"),
              ["condition", "size", "method", "ok", "attempts", "ns_median", "ns_min",
               "ns_max"], summary)
    panels = []
    for c in conditions:
        series = []
        for m in FRAG_ORDER:
            pts = []
            for s in sizes:
                g = groups.get((c, s, m))
                if g:
                    rate = sum(r["status"] == "ok" for r in g) / len(g)
                    pts.append((s, rate * 100, rate * 100, rate * 100))
            series.append((FRAG_LABEL[m], pts))
        panels.append((c, series))
    png = plot(d, "frag", "Success rate under fragmentation", "size", "% successful",
               None, with_err=False, panels=panels, yrange=(-5, 105))
    if png:
        md.append(f"![fragmentation]({img}{png})\n")
    return any(r["status"] == "ok" for r in rows)


def part_hold(d, rows, md, conds):
    groups = {}
    for r in rows:
        groups.setdefault((r["size"], r["method"]), []).append(r)
    sizes = sorted({k[0] for k in groups})
    mem = conds.get("mem_total_mib", "?")
    md.append("### 5. Buffers held at once\n")
    md.append(f"In one guest ({mem} MiB): how many buffers of a size one process "
              "holds at the same time, allocated until the next one fails; "
              "median [min–max] over the repeats, and why the next one failed. "
              "Windows: naturally aligned ranges of the size inside one System RAM "
              "range of /proc/iomem, the most that single aligned ranges can give, "
              "and of them those without a reserved page (memblock allocations such "
              "as the memmap; /proc/kpageflags), which no allocator can take. "
              "The hugetlb pool is asked for one page more than there are 1 GiB "
              "windows; a buffer takes size / 1 GiB of its pages.\n")
    table, summary = [], []
    for s in sizes:
        wins = {(r["windows"], r["windows_unreserved"])
                for m in HOLD_ORDER for r in groups.get((s, m), [])}
        line = [size_label(s), "; ".join(f"{w} ({c} without reserved pages)" if c >= 0
                                         else str(w) for w, c in sorted(wins))]
        for m in HOLD_ORDER:
            g = groups.get((s, m))
            if not g or all(r["status"] == "n/a" for r in g):
                line.append("–")
                continue
            x = stats([r["held"] for r in g])
            why = sorted({r["status"] for r in g})
            line.append(cell(x, lambda v: f"{v:g}") + f" ({','.join(why)})")
            summary.append([s, m, len(g), x["median"], x["min"], x["max"], ",".join(why)])
        table.append(line)
    md.append(md_table(["size", "windows"] + [HOLD_LABEL[m] for m in HOLD_ORDER], table) +
              "\n")
    write_csv(os.path.join(d, "summary-hold.csv"),
              ["size", "method", "repeats", "held_median", "held_min", "held_max",
               "next_failed_with"], summary)
    return any(r["held"] > 0 for r in rows if r["method"] == "contig")


def part_scale(d, rows, md):
    """Part 6: set-up, CPU and release per GiB as the size grows."""
    ok, sizes, groups, tried = by_size_backing(rows)

    def per_gib(s, b, field):
        g = groups.get((s, b))
        if not g or (field == "setup_cpu_ns" and not all(r[field] for r in g)):
            return None
        return stats([r[field] * (1 << 30) / s for r in g])

    table, summary = [], []
    for s in sizes:
        line = [size_label(s)]
        for b in SCALE_ORDER:
            if (s, b) not in tried:
                line += ["–"] * 3
                continue
            x, c, y = (per_gib(s, b, f) for f in ("setup_ns", "setup_cpu_ns", "release_ns"))
            note = fail_note(tried[(s, b)])
            line += [cell(x, time_label) + note, cell(c, time_label), cell(y, time_label)]
            if x:
                summary.append([s, b, x["n"], len(tried[(s, b)]), x["median"],
                                c["median"] if c else "", y["median"] if y else ""])
        table.append(line)
    write_csv(os.path.join(d, "summary-scale.csv"),
              ["size", "backing", "ok", "tried", "setup_ns_per_gib_median",
               "setup_cpu_ns_per_gib_median", "release_ns_per_gib_median"], summary)
    md.append("### 6. Set-up and release per GiB, up to 16 GiB\n")
    md.append("Per GiB of buffer: wall time of the set-up, the CPU time all CPUs spent "
              "during it (/proc/stat: the zeroing helpers included), and the release — "
              "median [min–max] over the repeats. Contiguous MRs are one range up to "
              "2 GiB and 1 GiB extents above (one device page each); hugetlb 1G times "
              "exclude reserving the pool, as in part 2.\n")
    header = ["size"]
    for b in SCALE_ORDER:
        header += [f"{SETUP_LABEL[b]} set-up", "CPU", "release"]
    md.append(md_table(header, table) + "\n")
    cpu = [(s, per_gib(s, "contig", "setup_cpu_ns")) for s in sizes]
    cpu = [(s, c) for s, c in cpu if c]
    if len(cpu) >= 2:
        (s0, c0), (s1, c1) = cpu[0], cpu[-1]
        md.append(f"CPU per GiB of the contiguous MR at {size_label(s1)} relative to "
                  f"{size_label(s0)}: {c1['median'] / c0['median']:.2f} (medians).\n")
    return bool(ok)


def part_stacks(d, rows, runs, md):
    """Part 7: the stacks without and with the preload, paired by run."""
    bw = {}
    for r in rows:
        bw[(r["repeat"], r["thp"], r["stack"], r["test"], r["backing"])] = r["bw_mbs"]
    thps = [t for t in ("never", "always") if any(r["thp"] == t for r in rows)]
    tests = [k for k in STACKS_ORDER if any((r["stack"], r["test"]) == k for r in rows)]
    tests += sorted({(r["stack"], r["test"]) for r in rows} - set(tests))
    table, summary, every = [], [], []
    good = False

    def values(thp, k, backing):
        return {rep: v for (rep, t, st, te, b), v in bw.items()
                if (t, st, te, b) == (thp, *k, backing)}

    for k in tests:
        sz = {(r["bytes"], r["iterations"]) for r in rows if (r["stack"], r["test"]) == k}
        line = [f"{STACKS_LABEL.get(k[0], k[0])} {k[1]}",
                ", ".join(f"{size_label(b)} × {n}" for b, n in sorted(sz))]
        for thp in thps:
            plain, pre = values(thp, k, "plain"), values(thp, k, "preload")
            # Each ratio pairs the two halves of one script run, which ran
            # one right after the other.
            paired = [pre[rep] / plain[rep] for rep in plain
                      if plain[rep] > 0 and pre.get(rep, 0) > 0]
            xs, ys, rs = stats(list(plain.values())), stats(list(pre.values())), stats(paired)
            line += [cell(xs, lambda v: f"{v:.3g}"), cell(ys, lambda v: f"{v:.3g}"),
                     cell(rs, lambda v: f"{v:.2f}")]
            every += paired
            if rs:
                good = True
                faster = sum(1 for v in paired if v >= 1)
                line[-1] += f" ({faster}/{len(paired)} ≥ 1)"
                summary.append([k[0], k[1], thp, rs["n"], xs["median"], ys["median"],
                                f"{rs['median']:.4f}", f"{rs['min']:.4f}", f"{rs['max']:.4f}"])
        if len(thps) == 2:
            never, always = values("never", k, "plain"), values("always", k, "plain")
            a, b = stats(list(always.values())), stats(list(never.values()))
            line.append(f"{a['median'] / b['median']:.2f}" if a and b and b["median"] else "–")
        table.append(line)
    write_csv(os.path.join(d, "summary-stacks.csv"),
              ["stack", "test", "thp", "pairs", "plain_bw_median", "preload_bw_median",
               "ratio_median", "ratio_min", "ratio_max"], summary)
    md.append("### 7. Communication stacks across two rxe devices: plain vs the preload\n")
    nok = sum(1 for r in runs if r["status"] == "0")
    md.append("The stack tests of `tests/stacks/` (`docs/applications.md`) in the pair "
              "set-up, every word checked by Open MPI's and libfabric's programs (UCX's "
              "ucx_perftest checks none; its test counts the packets): each run moves the "
              "data without the allocator preload and then with it (`contig-mr-run --min "
              "1M`), in that order. Bandwidth in MB/s as "
              "the program reports it, median [min–max] over the rounds; the ratio is "
              "preload / plain of the same run, median [min–max] over the runs, and how "
              "many runs were at least as fast with the preload. THP is the guest's "
              "transparent huge pages setting during the run: with `never` the plain "
              "buffers are 4 KiB pages; with `always` THP may back them with 2 MiB pages, "
              "which an MR gets only where the buffer is 2 MiB aligned (the MRs are in "
              "the run's logs); the preload's buffers are one device page either way. Script runs that "
              f"passed: {nok} of {len(runs)} (a failed run's numbers are left out).\n")
    header = ["stack, test", "message × count"]
    for thp in thps:
        header += [f"plain (THP {thp})", f"preload (THP {thp})", "ratio"]
    if len(thps) == 2:
        header.append("plain THP always / never")
    md.append(md_table(header, table, left=2) + "\n")
    if every:
        gm = math.exp(sum(math.log(v) for v in every) / len(every))
        md.append(f"Over all {len(every)} paired runs: geometric mean of the ratio {gm:.3f}, "
                  f"median {statistics.median(every):.3f}, range {min(every):.2f} – "
                  f"{max(every):.2f}; at least as fast with the preload in "
                  f"{sum(1 for v in every if v >= 1)} of {len(every)}.\n")
    return good


def read_conditions(d):
    conds = {}
    for name in sorted(os.listdir(d)):
        if name.startswith("conditions-") and name.endswith(".txt"):
            part = name[len("conditions-"):-4]
            with open(os.path.join(d, name)) as f:
                for line in f:
                    if "=" in line:
                        k, v = line.rstrip("\n").split("=", 1)
                        conds.setdefault(part, {})[k] = v
    return conds


def conditions_md(conds, md):
    keys = ["date", "kernel", "accel", "cpus", "cpu_model", "mem_total_mib", "numa_nodes",
            "thp", "kernel_debug", "rdma_device", "perftest", "rdma_core", "repeats",
            "iterations", "sizes", "backings", "thp_settings", "ucx", "openmpi",
            "libfabric", "smoke", "host_cpus", "host_cpu_model",
            "host_load", "host_qemu_running", "git_commit"]
    parts = sorted(conds)
    rows = []
    for k in keys:
        vals = [conds[p].get(k, "") for p in parts]
        if any(vals):
            rows.append([k] + vals)
    md.append("Conditions (per part, as the guest recorded them; `host`: the host at "
              "the start):\n")
    md.append(md_table(["", *parts], rows, left=len(parts) + 1) + "\n")


def host_load_md(d, md):
    path = os.path.join(d, "host-load.csv")
    if not os.path.exists(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    try:
        load = [float(r["load1"]) for r in rows]
        guests = [int(r["qemu_guests"]) for r in rows]
    except (KeyError, ValueError):
        return
    if load:
        md.append(f"Host during the run (sampled every 30 s, {len(load)} samples): "
                  f"1-minute load median {statistics.median(load):.1f}, max "
                  f"{max(load):.1f} on {os.cpu_count()} CPUs; QEMU guests running "
                  f"(this one included) up to {max(guests)}. Other guests on the "
                  "same cores slow the emulated CPU down and widen the spread.\n")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    check = "--check" in argv
    img = ""
    if "--image-prefix" in argv:
        img = argv[argv.index("--image-prefix") + 1]
        args.remove(img)
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    d = args[0]
    data = {}
    try:
        for name in HEADERS:
            p = os.path.join(d, name)
            if os.path.exists(p):
                data[name] = read_csv(p, check)
    except Problems as e:
        sys.stderr.write(f"report: {e}\n")
        return 1
    if not data:
        sys.stderr.write(f"report: no benchmark data in {d}\n")
        return 1
    conds = read_conditions(d)
    md = ["## Benchmark results", ""]
    good = {}
    if conds:
        conditions_md(conds, md)
    host_load_md(d, md)
    md.append("How to read these numbers, and what rxe under TCG can and cannot show: "
              "[docs/benchmarks.md](docs/benchmarks.md).\n")
    if "readbw.csv" in data:
        good["readbw"] = part_readbw(d, data["readbw.csv"], data.get("readbw-runs.csv", []),
                                     md, img)
    if "setup.csv" in data:
        good["setup"] = part_setup(d, data["setup.csv"], md, img)
        part_translation(d, data["setup.csv"], md, img)
    if "frag.csv" in data:
        good["frag"] = part_frag(d, data["frag.csv"], md, img, conds.get("frag", {}))
    if "hold.csv" in data:
        good["hold"] = part_hold(d, data["hold.csv"], md, conds.get("hold", {}))
    if "scale.csv" in data:
        good["scale"] = part_scale(d, data["scale.csv"], md)
    if "stacks.csv" in data:
        good["stacks"] = part_stacks(d, data["stacks.csv"], data.get("stacks-runs.csv", []),
                                     md)
    with open(os.path.join(d, "results.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    bad = [p for p, ok in good.items() if not ok]
    if check and bad:
        sys.stderr.write(f"report: no successful measurement in: {', '.join(bad)}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
