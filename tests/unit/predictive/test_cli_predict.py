"""``csp predict`` fit, score and backtest on files (no database)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA

POLICE = SHARED_DATA / "police"
JAN = POLICE / "2022-01-kent-street-medway.csv"
runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    from csp.cli import app

    res = runner.invoke(app, ["predict", *args])
    return res.exit_code, res.stdout, res.stderr


def _write_generic(
    path: Path,
    *,
    n_cells: int = 30,
    theta: float = 0.5,
    omega: float = 0.4,
    days: float = 400.0,
    seed: int = 1,
) -> list[list[str]]:
    """A generic CSV of a simulated grid ETAS process near Chatham; returns its rows."""
    from services.predictive.compute.simulate import simulate_grid_etas
    from shared.geometry import to_wgs84

    rng = np.random.default_rng(seed)
    mu = rng.uniform(0.01, 0.05, n_cells)
    t0 = datetime(2023, 1, 1, tzinfo=UTC).timestamp() / 86400
    cells, t = simulate_grid_etas(mu, theta, omega, t0 + days, rng, t_start_days=t0)
    cx = 576000 + 600 * (np.arange(n_cells) % 6) + 75
    cy = 167000 + 600 * (np.arange(n_cells) // 6) + 75
    lon, lat = to_wgs84(
        cx[cells] + rng.uniform(-50, 50, cells.size), cy[cells] + rng.uniform(-50, 50, cells.size)
    )
    rows = [["id", "timestamp", "longitude", "latitude", "category"]]
    for i in range(cells.size):
        ts = datetime.fromtimestamp(float(t[i]) * 86400, tz=UTC).isoformat()
        rows.append([f"e{i}", ts, f"{lon[i]:.7f}", f"{lat[i]:.7f}", "deliberate_fire"])
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return rows


def test_fit_on_month_only_police_file_falls_back_with_a_warning() -> None:
    code, out, err = _run("fit", "--input", str(JAN), "--format", "police", "--json")
    assert code == 0, err
    body = json.loads(out)
    assert body["requested_method"] == "auto"
    assert not body["method"].startswith("etas")
    assert any("month" in w for w in body["warnings"])
    assert "month" in err  # also told on stderr
    assert body["theta"] is None and body["omega_per_day"] is None
    with JAN.open() as f:
        n_rows = sum(1 for r in csv.DictReader(f) if r["Longitude"])
    assert body["n_events"] == n_rows
    if body["params"].get("chosen", body["method"]).startswith("naive"):
        window = body["params"]["window_days"]
        # Every event is on 1 Jan, inside the window: the daily rate is all events / window.
        assert body["background_per_day"] == pytest.approx(n_rows / window)


def test_fit_on_exact_times_recovers_the_branching_ratio(tmp_path: Path) -> None:
    path = tmp_path / "fires.csv"
    rows = _write_generic(path, theta=0.5, omega=0.4)
    code, out, err = _run(
        "fit",
        "--input",
        str(path),
        "--format",
        "generic",
        "--cell",
        "150",
        "--method",
        "etas",
        "--json",
    )
    assert code == 0, err
    body = json.loads(out)
    assert body["method"] == "etas" and body["n_events"] == len(rows) - 1
    assert body["theta"] == pytest.approx(0.5, abs=0.15)
    assert body["omega_per_day"] == pytest.approx(0.4, rel=0.5)
    assert body["background_per_day"] > 0


def _read_scores(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_score_writes_ranked_boxes_and_ignores_later_events(tmp_path: Path) -> None:
    src = tmp_path / "fires.csv"
    rows = _write_generic(src, days=200)
    args = [
        "--format",
        "generic",
        "--cell",
        "150",
        "--as-of",
        "2023-06-01",
        "--horizon-days",
        "7",
        "--method",
        "auto",
    ]
    out1 = tmp_path / "a.csv"
    code, _, err = _run("score", "--input", str(src), *args, "--out", str(out1))
    assert code == 0, err
    got = _read_scores(out1)
    assert list(got[0].keys()) == ["rank", "cell_id", "minx", "miny", "maxx", "maxy", "score"]
    assert [int(r["rank"]) for r in got] == list(range(1, len(got) + 1))
    s = [float(r["score"]) for r in got]
    assert all(a >= b for a, b in zip(s, s[1:], strict=False)) and s[0] > 0
    for r in got[:20]:
        size, e, n = r["cell_id"].split("_")
        assert (float(r["minx"]), float(r["miny"])) == (float(e), float(n))
        assert float(r["maxx"]) - float(r["minx"]) == 150 == float(size[:-1])
    # Add events on and after the as-of date in a far corner: nothing before it changes.
    with src.open("a", newline="") as f:
        w = csv.writer(f)
        for i in range(40):
            w.writerow(
                [
                    f"late{i}",
                    f"2023-06-0{1 + i % 5}T00:0{i % 10}:00+00:00",
                    "0.6500000",
                    "51.4500000",
                    "deliberate_fire",
                ]
            )
    out2 = tmp_path / "b.csv"
    code, _, err = _run("score", "--input", str(src), *args, "--out", str(out2))
    assert code == 0, err
    assert out2.read_text() == out1.read_text()
    assert len(rows) > 100


def test_score_top_box_of_naive_is_the_busiest_recent_box(tmp_path: Path) -> None:
    """Checked against an independent count of the last 28 days per 150 m box."""
    src = tmp_path / "fires.csv"
    rows = _write_generic(src, days=200)[1:]
    out = tmp_path / "n.csv"
    code, _, err = _run(
        "score",
        "--input",
        str(src),
        "--format",
        "generic",
        "--as-of",
        "2023-06-01",
        "--method",
        "naive",
        "--out",
        str(out),
    )
    assert code == 0, err
    from shared.geometry import to_bng

    as_of = datetime(2023, 6, 1, tzinfo=UTC).timestamp() - 3600  # midnight in London (BST)
    recent = [
        r for r in rows if as_of - 28 * 86400 <= datetime.fromisoformat(r[1]).timestamp() < as_of
    ]
    x, y = to_bng([float(r[2]) for r in recent], [float(r[3]) for r in recent])
    keys, counts = np.unique(np.floor(x / 150) * 1_000_000 + np.floor(y / 150), return_counts=True)
    top = _read_scores(out)[0]
    best = keys[counts == counts.max()]
    own = np.floor(float(top["minx"]) / 150) * 1_000_000 + np.floor(float(top["miny"]) / 150)
    assert own in best
    assert float(top["score"]) == pytest.approx(counts.max() * 1 / 28)


def test_backtest_on_the_real_police_months(tmp_path: Path) -> None:
    plot, table = tmp_path / "bt.png", tmp_path / "bt.json"
    code, out, err = _run(
        "backtest",
        "--input",
        str(POLICE),
        "--format",
        "police",
        "--from",
        "2022-04-01",
        "--to",
        "2022-10-01",
        "--step-days",
        "7",
        "--k",
        "20",
        "--methods",
        "auto,naive28,naive90",
        "--plot",
        str(plot),
        "--json-out",
        str(table),
    )
    assert code == 0, err
    assert "hit@20" in out and "auto (" in out and "naive90" in out
    assert "boxes chosen per ward" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = {r["method"].split(" ")[0]: r for r in json.loads(table.read_text())["table"]}
    assert rows["auto"]["origins"] >= 20
    best_naive = max(rows["naive28"]["hit_rate_at_k"], rows["naive90"]["hit_rate_at_k"])
    assert rows["auto"]["hit_rate_at_k"] >= best_naive - 1e-12


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["fit", "--input", "/nonexistent.csv", "--format", "police"], "no such file"),
        (["fit", "--input", str(JAN), "--format", "excel"], "unknown format"),
        (
            [
                "score",
                "--input",
                str(JAN),
                "--format",
                "police",
                "--as-of",
                "01/02/2022",
                "--out",
                "/tmp/x.csv",
            ],
            "--as-of must be a date",
        ),
        (
            [
                "score",
                "--input",
                str(JAN),
                "--format",
                "police",
                "--as-of",
                "2021-01-01",
                "--out",
                "/tmp/x.csv",
            ],
            "no events before",
        ),
        (
            [
                "score",
                "--input",
                str(JAN),
                "--format",
                "police",
                "--as-of",
                "2022-03-01",
                "--method",
                "magic",
                "--out",
                "/tmp/x.csv",
            ],
            "unknown method",
        ),
    ],
)
def test_errors_are_one_line_and_non_zero(args: list[str], needle: str) -> None:
    code, _, err = _run(*args)
    assert code != 0
    assert needle in err and len(err.strip().splitlines()) <= 2


@pytest.mark.parametrize("command", ["fit", "score", "backtest"])
def test_grids_over_the_cell_limit_are_refused_before_allocating(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A1: a month of Medway crimes at 8 m cells is over 4M cells: refused naming the limit."""
    import resource

    monkeypatch.setenv("CSP_MAX_GRID_CELLS", "4000000")
    from shared.settings import common_settings

    common_settings.cache_clear()
    extra = {
        "fit": [],
        "score": ["--as-of", "2022-02-01", "--out", str(tmp_path / "s.csv")],
        "backtest": ["--from", "2022-01-15", "--to", "2022-01-30"],
    }[command]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code, out, err = _run(command, "--input", str(JAN), "--cell", "8", *extra)
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert code == 1, out
    assert "the limit is 4,000,000 cells" in out + err
    assert grown_mb < 200
    common_settings.cache_clear()


def test_fit_says_what_auto_chose_and_why(tmp_path: Path) -> None:
    """The text output carries the choice, its reason and the held-out figures of --json."""
    path = tmp_path / "fires.csv"
    _write_generic(path, theta=0.5, omega=0.4, days=300.0, seed=3)
    args = ("fit", "--input", str(path), "--format", "generic", "--cell", "150")
    code, out, err = _run(*args, "--json")
    assert code == 0, err
    params = json.loads(out)["params"]
    assert params.get("choice") and params.get("choice_reason"), params
    code, text, err = _run(*args)
    assert code == 0, err
    assert f"choice: {params['choice']}" in text
    assert f"choice_reason: {params['choice_reason']}" in text
    held = params.get("heldout_hit_rate_at_k") or {}
    for name, value in held.items():
        assert f"{name} {value:.4g}" in text
