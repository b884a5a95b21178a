#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR Linux-OpenIB
"""Host test of bench/report.py on made-up data (no guest, no device).

Well-formed input of every part gives every table, plot and summary; a
malformed CSV (bad header, missing field, text for a number) and a part
without one successful measurement fail --check. Exit 0 pass, 1 fail,
77 skip (no gnuplot).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "..", "report.py")
PNG = b"\x89PNG"


def write(d, name, text):
    with open(os.path.join(d, name), "w") as f:
        f.write(text)


def fixture(d):
    rnd = random.Random(1)
    rows = ["repeat,backing,bytes,iterations,bw_peak_mbs,bw_avg_mbs,msg_rate_mpps"]
    runs = ["repeat,backing,status,seconds,server_rc,client_rc,rows,invalid_rows"]
    for r in range(3):
        for b in ("memalign", "huge", "contig"):
            runs.append(f"{r},{b},ok,40.0,0,0,23,0")
            for e in range(1, 24):
                bw = min(20.0, 2 ** e / 1000) * rnd.uniform(0.9, 1.1)
                rows.append(f"{r},{b},{2 ** e},20,{bw:.2f},{bw:.2f},0.010000")
    write(d, "readbw.csv", "\n".join(rows) + "\n")
    write(d, "readbw-runs.csv", "\n".join(runs) + "\n")
    setup_header = ("repeat,size,backing,status,map_length,pool_ns,alloc_ns,touch_ns,reg_ns,"
                    "setup_ns,dereg_ns,free_ns,release_ns,page_size,map_entries,pages_from,"
                    "setup_cpu_ns")
    rows = [setup_header]
    for r in range(2):
        for s in (2 << 20, 64 << 20, 1 << 30):
            for b in ("contig", "contig-buf", "memalign", "huge2m", "huge1g", "memset"):
                page = {"contig": s, "contig-buf": s, "memalign": 4096, "huge2m": 2 << 20,
                        "huge1g": min(s, 1 << 30)}.get(b, 0)
                status = "pool-short" if (b, s, r) == ("huge1g", 1 << 30, 1) else "ok"
                a, t, g = (rnd.randint(1000, 10 ** 8) for _ in range(3))
                src = "rdma" if r == 0 and b != "memset" else "none"
                if b == "contig":   # the library's numbers first, rdma's later
                    src = "lib" if r == 0 else "rdma"
                rows.append(f"{r},{s},{b},{status},{s},0,{a},{t},{g},{a + t + g},1,2,3,"
                            f"{page},{s // page if page else 0},{src},{2 * (a + t + g)}")
    write(d, "setup.csv", "\n".join(rows) + "\n")
    # Scale: CPU per GiB 1.0 s at 1 GiB and 1.5 s at 16 GiB (ratio 1.50).
    rows = [setup_header]
    for r in range(3):
        for s, cpu in ((1 << 30, 10 ** 9), (16 << 30, 24 * 10 ** 9)):
            for b in ("contig", "contig-buf", "huge1g"):
                st = "pool-short" if (b, s, r) == ("huge1g", 16 << 30, 2) else "ok"
                rows.append(f"{r},{s},{b},{st},{s},0,{cpu // 2},0,0,{cpu // 2},1,2,3,"
                            f"{1 << 30},{s >> 30},none,{cpu}")
    write(d, "scale.csv", "\n".join(rows) + "\n")
    rows = ["condition,attempt,size,method,status,ns,granted"]
    for c in ("clean", "movable", "pinned"):
        for a in range(2):
            for s in (2 << 20, 64 << 20, 1 << 30):
                for m in ("contig", "huge1g", "huge2m"):
                    ok = not (c == "pinned" and s >= 64 << 20)
                    st = "ok" if ok else ("ENOMEM" if m == "contig" else "short")
                    rows.append(f"{c},{a},{s},{m},{st},{rnd.randint(10 ** 5, 10 ** 9)},"
                                f"{s if ok else 0}")
    write(d, "frag.csv", "\n".join(rows) + "\n")
    write(d, "frag-workload.txt",
          "pinned: ready pinned_pages=61 pin_stride=33554432 pin_span=2046820352 "
          "pin_phys_lo=0x6a4a000 pin_phys_hi=0x13a6db000 pin_free_window=268435456 "
          "pin_free_windows=4 anon_resident=1 pagecache=1 (built in 9 s)\n")
    write(d, "conditions-setup.txt", "part=setup\naccel=tcg\nkernel=6.1.0\nsizes=2M,64M,1G\n")
    rows = ["repeat,size,method,held,status,windows,windows_unreserved,ns"]
    for r in range(3):
        for s, wins, clear in ((1 << 30, 6, 5), (2 << 30, 2, 1)):
            for m, held in (("contig", 4 + (r == 1)), ("contig-ext", 6), ("huge1g", 4)):
                held = held if s == 1 << 30 else held // 2
                st = "short" if m == "huge1g" else "ENOMEM"
                rows.append(f"{r},{s},{m},{held},{st},{wins},{clear},{rnd.randint(10 ** 9, 10 ** 11)}")
    write(d, "hold.csv", "\n".join(rows) + "\n")
    write(d, "conditions-hold.txt", "part=hold\nmem_total_mib=7963\nsizes=1G,2G\n")
    # Stacks: tag_bw's preload runs at 0.9, 1.0, 1.2 x its plain run
    # (median 1.00, 2 of 3 at least as fast); the third openmpi run failed.
    rows = ["repeat,thp,stack,test,backing,bytes,iterations,bw_mbs"]
    runs = ["repeat,thp,stack,status,seconds"]
    for r in range(1, 4):
        for thp in ("never", "always"):
            for st, tests, size in (("ucx", ("tag_bw", "ucp_put_bw"), 1 << 20),
                                    ("openmpi", ("send/recv", "put"), 8 << 20)):
                failed = st == "openmpi" and r == 3
                runs.append(f"{r},{thp},{st},{1 if failed else 0},60")
                if failed:
                    continue
                for t in tests:
                    plain = 10.0 * r if thp == "never" else 12.0 * r
                    pre = plain * (0.9, 1.0, 1.2)[r - 1] if t == "tag_bw" else plain
                    rows.append(f"{r},{thp},{st},{t},plain,{size},16,{plain:.2f}")
                    rows.append(f"{r},{thp},{st},{t},preload,{size},16,{pre:.2f}")
    write(d, "stacks.csv", "\n".join(rows) + "\n")
    write(d, "stacks-runs.csv", "\n".join(runs) + "\n")


def run(d):
    return subprocess.run([sys.executable, REPORT, d, "--check"], capture_output=True,
                          text=True)


def main():
    if not shutil.which("gnuplot"):
        print("skip - no gnuplot")
        return 77
    failures = 0

    def check(cond, what):
        nonlocal failures
        print(("ok - " if cond else "not ok - ") + what)
        failures += not cond

    with tempfile.TemporaryDirectory() as d:
        fixture(d)
        res = run(d)
        check(res.returncode == 0, f"well-formed data passes --check ({res.stderr.strip()})")
        for png in ("readbw", "readbw-ratio", "setup", "release", "translation", "frag"):
            p = os.path.join(d, png + ".png")
            with open(p, "rb") if os.path.exists(p) else open(os.devnull, "rb") as f:
                check(f.read(4) == PNG, f"{png}.png is a PNG")
        with open(os.path.join(d, "results.md")) as f:
            md = f.read()
        for sect in ("### 1.", "### 2.", "### 3.", "### 4.", "**pinned**", "### 5.", "### 6.",
                     "### 7."):
            check(sect in md, f"results.md has {sect}")
        check("| 1 GiB | memalign+touch+reg | 4 KiB | 262,144 | 4,202,496 |" in md,
              "rxe map bytes of 1 GiB of 4 KiB pages = 1024 x (4096 + 8)")
        check("0/2" in md and "ENOMEM" in md, "failed attempts are counted and named")
        split = md[md.find("Release in two parts"):]
        check(split.startswith("Release in two parts") and
              "| size | contiguous buffer+reg | memalign+touch+reg |" in split,
              "release split into deregistration and freeing, buffer calls first")
        check("| 64 MiB | contiguous MR | 64 MiB | 1 | 4,104 | 8 | rdma |" in md,
              "translation: rdma's report wins over the library's")
        # 64 KiB - 8 MiB: 8 sizes x 3 rounds paired with memalign.
        check(md.count("Paired with the memalign run of the same round") == 2 and
              "of 24 pairs" in md, "paired ratios over 24 pairs per backing")
        check("largest naturally aligned window of RAM without a pinned page: 256 MiB "
              "(4 of them)" in md, "where the pins landed")
        check("| 1 GiB | 6 (5 without reserved pages) | 4 [4–5] (ENOMEM) | 6 [6–6] (ENOMEM) | "
              "4 [4–4] (short) |" in md, "held at once: median [min–max] and why the next failed")
        check("CPU per GiB of the contiguous MR at 16 GiB relative to 1 GiB: 1.50" in md,
              "scale: CPU per GiB at the largest size relative to the smallest")
        check("| 16 GiB | 750.0 ms [750.0 ms–750.0 ms] | 1.50 s [1.50 s–1.50 s] |" in md,
              "scale: per-GiB set-up, CPU and release of one size")
        check("(1× pool-short)" in md, "scale: failed attempts counted")
        check("| ucx_perftest tag_bw | 1 MiB × 16 | 20 [10–30] | 20 [9–36] | "
              "1.00 [0.90–1.20] (2/3 ≥ 1) |" in md,
              "stacks: medians per backing, ratio paired by run")
        check("| Open MPI (pml ucx) put | 8 MiB × 16 | 15 [10–20] | 15 [10–20] | "
              "1.00 [1.00–1.00] (2/2 ≥ 1) | 18 [12–24] | 18 [12–24] | 1.00 [1.00–1.00] "
              "(2/2 ≥ 1) | 1.20 |" in md, "stacks: THP never and always, and their ratio")
        check("Script runs that passed: 10 of 12" in md, "stacks: failed runs counted")
        check("Over all 20 paired runs: geometric mean of the ratio 1.008, median 1.000, "
              "range 0.90 – 1.20; at least as fast with the preload in 18 of 20." in md,
              "stacks: every paired ratio summed up")
        for name in ("summary-readbw.csv", "summary-setup.csv", "summary-translation.csv",
                     "summary-frag.csv", "summary-hold.csv", "summary-scale.csv",
                     "summary-stacks.csv"):
            check(os.path.getsize(os.path.join(d, name)) > 0, f"{name} written")

    # A bandwidth of zero (a program whose clock saw no time) is left out
    # of the pairs, not a crash.
    with tempfile.TemporaryDirectory() as d:
        fixture(d)
        p = os.path.join(d, "stacks.csv")
        with open(p) as f:
            text = f.read()
        with open(p, "w") as f:
            f.write(text.replace("1,never,ucx,tag_bw,preload,1048576,16,9.00",
                                 "1,never,ucx,tag_bw,preload,1048576,16,0.00"))
        res = run(d)
        with open(os.path.join(d, "results.md")) as f:
            md = f.read()
        check(res.returncode == 0 and "Over all 19 paired runs" in md,
              f"stacks: a zero bandwidth is left out of the pairs ({res.stderr.strip()})")

    bad_cases = {
        "bad header": ("setup.csv", lambda t: t.replace("repeat,size", "repeat,sz", 1)),
        "missing field": ("frag.csv", lambda t: t.replace(",ok,", ",ok", 1)),
        "text for a number": ("readbw.csv", lambda t: t.replace(",20,", ",twenty,", 1)),
        "no success": ("frag.csv", lambda t: t.replace(",ok,", ",ENOMEM,")),
        "stacks with no pair": ("stacks.csv",
                                lambda t: "\n".join(l for l in t.splitlines()
                                                    if ",preload," not in l) + "\n"),
    }
    for what, (name, mangle) in bad_cases.items():
        with tempfile.TemporaryDirectory() as d:
            fixture(d)
            p = os.path.join(d, name)
            with open(p) as f:
                text = f.read()
            with open(p, "w") as f:
                f.write(mangle(text))
            res = run(d)
            check(res.returncode == 1, f"{what} in {name} fails --check: {res.stderr.strip()}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
