"""The composed app: probes, metrics, OpenAPI, security headers and JSON errors on every response."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leakline.web.app import SECURITY_HEADERS, create_app


def test_probes_metrics_openapi_and_headers() -> None:
    client = TestClient(create_app())
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    for name, value in SECURITY_HEADERS.items():
        assert health.headers[name] == value
    assert client.get("/readyz").json() == {"status": "ready"}
    assert client.get("/openapi.json").json()["info"]["title"] == "leakline"
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'leakline_http_requests_total{route="/healthz",status="200"} 1.0' in metrics.text


def test_unknown_route_is_a_json_error() -> None:
    response = TestClient(create_app()).get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": {"message": "Not Found", "type": "http_error", "code": 404}}
    assert response.headers["cache-control"] == "no-store"


def test_leakline_serve_runs_under_uvicorn(tmp_path: object) -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakline.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        cwd=str(tmp_path),
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
                    assert response.status == 200
                    assert response.headers["x-frame-options"] == "DENY"
                    assert "server" not in {k.lower() for k in response.headers}
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_with_a_missing_config_is_a_usage_error(tmp_path: object) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", "--config", "/nonexistent/leakline.toml"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and "/nonexistent/leakline.toml: no such file" in proc.stderr


def test_serve_workers_settle_the_heap_after_start_up(tmp_path: object, monkeypatch: object) -> None:
    import gc

    from leakline.web.app import CONFIG_ENV, GC_THRESHOLDS, create_app, create_app_from_env, settle_heap

    monkeypatch.setenv(CONFIG_ENV, "")  # type: ignore[attr-defined]
    monkeypatch.chdir(tmp_path)  # type: ignore[attr-defined]
    startup = create_app_from_env().router.on_startup
    assert startup[-1] is settle_heap  # after the domains' own start-up (the sanitizer is built by then)
    assert settle_heap not in create_app().router.on_startup  # process-wide: only for `leakline serve`
    saved = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_threshold() == GC_THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*saved)
