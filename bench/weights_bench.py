"""Benchmark of leakline weights against its baselines, side by side in one run.

Measures, on one file (default 2 GiB of random bytes):
  * `openssl speed -evp aes-256-gcm` (single core, 16 KiB and 64 KiB blocks) — the baseline;
  * raw `AESGCM.encrypt` over 1 MiB buffers in this process (the ceiling for any Python framing);
  * leakline `encrypt_file`, `decrypt_file`, `verify_file` and the random-access reader read end to end,
    each with its peak RSS (VmHWM, reset before each step through /proc/self/clear_refs);
  * `pull` over loopback TLS 1.3 (server in a child process) against `cat FILE > COPY` of the same container.
Results are printed as throughputs and as ratios to the baseline. Usage:

    python3 bench/weights_bench.py [--size-mib 2048] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.weights.pki (the throwaway CA)

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from leakline.weights.container import (  # noqa: E402
    EncryptedWeightsReader,
    decrypt_file,
    encrypt_file,
    verify_file,
)
from leakline.weights.keys import generate_key  # noqa: E402

MIB = 1 << 20


def openssl_speed(block: int, seconds: int) -> float:
    """Bytes per second of `openssl speed -evp aes-256-gcm` at one block size (single process).

    `-elapsed` divides by wall-clock time, as our own figures do: on a shared machine, dividing by CPU time
    (openssl's default) would flatter the baseline whenever the machine is busy.
    """
    out = subprocess.run(
        ["openssl", "speed", "-elapsed", "-evp", "aes-256-gcm", "-bytes", str(block), "-seconds", str(seconds)],
        capture_output=True, text=True, check=True,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.upper().startswith("AES-256-GCM"))
    figure = re.findall(r"([\d.]+)k", line)[-1]
    return float(figure) * 1000


def reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class Measured:
    rate: float
    """Bytes per second, wall clock."""
    rss_mib: float
    baseline: float
    """openssl's 16 KiB figure, averaged over runs just before and just after this step."""


def timed(label: str, size: int, fn, results: dict[str, Measured], seconds: int) -> None:  # type: ignore[no-untyped-def]
    before = openssl_speed(16384, seconds)
    reset_peak_rss()
    start = time.perf_counter()
    fn()
    elapsed = time.perf_counter() - start
    rss = peak_rss_mib()
    after = openssl_speed(16384, seconds)
    baseline = (before + after) / 2
    results[label] = Measured(size / elapsed, rss, baseline)
    print(
        f"  {label:<36} {size / elapsed / 1e9:6.2f} GB/s  peak RSS {rss:6.1f} MiB   "
        f"openssl@16KiB around it {before / 1e9:.2f}/{after / 1e9:.2f} GB/s -> {size / elapsed / baseline:5.0%}",
        flush=True,
    )


def raw_aesgcm(size: int) -> None:
    """AES-GCM alone over 1 MiB buffers, no allocation: the ceiling for any framing in Python."""
    aead = AESGCM(os.urandom(32))
    buf = os.urandom(MIB)
    out = bytearray(MIB + 16)
    nonce = bytes(12)
    for _ in range(size // MIB):
        aead.encrypt_into(nonce, buf, None, out)


def make_plaintext(path: Path, size: int) -> None:
    block = os.urandom(64 * MIB)  # AES does not care about compressibility; this keeps setup fast
    with path.open("wb") as f:
        written = 0
        while written < size:
            chunk = block[: min(len(block), size - written)]
            f.write(chunk)
            written += len(chunk)


def read_all(path: Path, key) -> None:  # type: ignore[no-untyped-def]
    with EncryptedWeightsReader(path, key) as reader:
        buf = bytearray(MIB)
        while reader.readinto(buf):
            pass


def serve_in_this_process(cert: Path, key_path: Path, container: Path, port_file: Path) -> None:
    """The server side of the TLS benchmark, run as a child process so it does not share our GIL."""
    from leakline.weights.refusals import JsonLinesRefusalLog
    from leakline.weights.transfer import WeightsServer, load_served_model, server_tls_context

    tls = server_tls_context(cert, key_path)
    model = load_served_model("bench", container, ["here"])
    server = WeightsServer([model], tls, JsonLinesRefusalLog(port_file.with_suffix(".refusals")))
    port_file.write_text(str(server.port))
    server.serve_forever()


def tls_vs_cat(work: Path, container: Path, key) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    from tests.weights.pki import ThrowawayCA

    from leakline.weights.transfer import client_tls_context, pull

    ca = ThrowawayCA(work)
    issued = ca.issue("server", server=True)
    port_file = work / "server.port"
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(issued.cert), str(issued.key), str(container), str(port_file)]
    )
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the benchmark server did not start")
            time.sleep(0.05)
        url = f"https://127.0.0.1:{port_file.read_text()}"
        size = container.stat().st_size
        dst = work / "pulled.llw"
        start = time.perf_counter()
        pull(url, "bench", dst, verify_key=key.verify_key, tls=client_tls_context(ca=ca.path), region="here")
        tls_rate = size / (time.perf_counter() - start)
        dst.unlink()
    finally:
        child.terminate()
        child.wait(timeout=30)
    copy = work / "cat-copy.llw"
    start = time.perf_counter()
    with copy.open("wb") as out:
        subprocess.run(["cat", str(container)], stdout=out, check=True)
    cat_rate = size / (time.perf_counter() - start)
    copy.unlink()
    return tls_rate, cat_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--openssl-seconds", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mib * MIB
    work = Path(tempfile.mkdtemp(prefix="weights-bench-", dir=args.dir))
    try:
        print(f"file: {args.size_mib} MiB in {work}; cpus: {os.cpu_count()}", flush=True)
        ssl64 = openssl_speed(65536, args.openssl_seconds)
        print(f"  openssl speed -elapsed aes-256-gcm 64 KiB: {ssl64 / 1e9:.2f} GB/s (single core)", flush=True)
        results: dict[str, Measured] = {}
        key = generate_key()
        plain, container, out = work / "model.bin", work / "model.llw", work / "model.out"
        make_plaintext(plain, size)
        sec = args.openssl_seconds
        timed("raw AESGCM.encrypt_into, 1 MiB", size, lambda: raw_aesgcm(size), results, sec)
        timed("leakline encrypt_file", size,
              lambda: encrypt_file(plain, container, key, model_id="bench", model_version="1"), results, sec)
        timed("leakline decrypt_file", size, lambda: decrypt_file(container, out, key), results, sec)
        out.unlink()
        timed("leakline verify_file (both digests)", size, lambda: verify_file(container, key), results, sec)
        timed("random-access reader, sequential", size, lambda: read_all(container, key), results, sec)
        plain.unlink()
        tls_rate, cat_rate = tls_vs_cat(work, container, key)
        print(f"  pull over loopback TLS 1.3           {tls_rate / 1e9:6.2f} GB/s")
        print(f"  cat FILE > COPY                      {cat_rate / 1e9:6.2f} GB/s")
        print("\nsummary (target: >= 80% of openssl@16KiB, RSS < 64 MiB):")
        for label, m in results.items():
            print(f"  {label:<38} {m.rate / m.baseline:5.0%} of openssl@16KiB  RSS {m.rss_mib:5.1f} MiB")
        print(f"  pull TLS 1.3 / cat                     {tls_rate / cat_rate:5.0%}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--serve":
        serve_in_this_process(*(Path(arg) for arg in sys.argv[2:]))
    else:
        main()
