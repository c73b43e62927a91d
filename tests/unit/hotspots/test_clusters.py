import numpy as np
import shapely
from shapely.geometry import LineString, Point

from services.hotspots.compute.clusters import cluster_sites
from services.hotspots.compute.water import kde_along_line, site_counts


def ring(cx, cy, n, r, start_angle=0.0):
    a = start_angle + np.arange(n) * 2 * np.pi / n
    return cx + r * np.cos(a), cy + r * np.sin(a)


def brute_force_sites(x, y, t, end, years, n_min, r):
    """Independent O(n^2) version: candidates, union-find over centres within 2r, members."""
    idx = [i for i in range(len(x)) if end - years * 365.25 < t[i] <= end]
    d = lambda i, j: np.hypot(x[i] - x[j], y[i] - y[j])  # noqa: E731
    cand = [i for i in idx if sum(d(i, j) <= r for j in idx) >= n_min]
    parent = {i: i for i in cand}

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a in cand:
        for b in cand:
            if a < b and d(a, b) <= 2 * r:
                parent[find(a)] = find(b)
    groups = {}
    for c in cand:
        groups.setdefault(find(c), []).append(c)
    out = []
    for centres in groups.values():
        out.append(frozenset(j for j in idx if any(d(c, j) <= r for c in centres)))
    return set(out)


def scene():
    xs, ys, ws = [], [], []
    # A: 6 collisions within 20 m, KSI 0.2 each -> 1.2
    x, y = ring(1000.0, 1000.0, 6, 20.0)
    xs += list(x)
    ys += list(y)
    ws += [0.2] * 6
    # B: 4 collisions within 10 m, one fatal -> KSI 2.5
    x, y = ring(5000.0, 5000.0, 4, 10.0)
    xs += list(x)
    ys += list(y)
    ws += [1.0, 0.5, 0.5, 0.5]
    # C: only 3 collisions: below threshold
    x, y = ring(9000.0, 9000.0, 3, 5.0)
    xs += list(x)
    ys += list(y)
    ws += [1.0] * 3
    # D: two groups of 4, 80 m apart: their circles intersect, so one site of 8
    for cx in (3000.0, 3080.0):
        x, y = ring(cx, 7000.0, 4, 8.0, start_angle=0.3)
        xs += list(x)
        ys += list(y)
        ws += [0.1] * 4
    return np.array(xs), np.array(ys), np.array(ws)


def test_planted_clusters_found_merged_and_ranked():
    x, y, w = scene()
    t = np.full(x.size, 1000.0)
    sites = cluster_sites(x, y, t, w, min_collisions=4, radius_m=50.0)
    assert [s.rank for s in sites] == [1, 2, 3]
    b, a, d = sites
    np.testing.assert_array_equal(b.members, np.arange(6, 10))
    assert b.ksi_sum == 2.5
    np.testing.assert_array_equal(a.members, np.arange(0, 6))
    assert abs(a.ksi_sum - 1.2) < 1e-12 and a.n_collisions == 6
    np.testing.assert_array_equal(d.members, np.arange(13, 21))
    assert abs(d.centroid_x - 3040.0) < 1e-9 and abs(d.centroid_y - 7000.0) < 1e-9
    # Below-threshold collisions (indices 10-12) are in no site.
    assert not set(range(10, 13)) & set(np.concatenate([s.members for s in sites]).tolist())
    # The polygon is the union of r circles: a single part covering all members.
    assert d.polygon.geom_type == "Polygon"
    assert shapely.contains_xy(d.polygon, x[d.members], y[d.members]).all()
    assert abs(d.polygon.bounds[0] - (3000.0 - 8.0 - 50.0)) < 1.0


def test_ranking_ties_broken_by_count():
    x1, y1 = ring(0.0, 0.0, 5, 5.0)
    x2, y2 = ring(1000.0, 0.0, 4, 5.0)
    x = np.concatenate([x2, x1])
    y = np.concatenate([y2, y1])
    w = np.concatenate([[0.5] * 4, [0.4] * 5])  # both sum to 2.0
    sites = cluster_sites(x, y, np.zeros(9), w)
    assert [s.n_collisions for s in sites] == [5, 4]


def test_time_window_respected():
    x, y = ring(0.0, 0.0, 5, 5.0)
    t = np.array([0.0, 10.0, 20.0, 30.0, 1500.0])  # four old ones, one recent
    assert cluster_sites(x, y, t, np.ones(5), years=3.0) == []
    sites = cluster_sites(x, y, t, np.ones(5), years=5.0)
    assert len(sites) == 1 and sites[0].n_collisions == 5
    # An explicit end two years after the old ones keeps them and drops the later one.
    sites = cluster_sites(x, y, t, np.ones(5), years=3.0, end=700.0)
    np.testing.assert_array_equal(sites[0].members, [0, 1, 2, 3])


def test_datetimes_are_accepted_and_returned():
    x, y = ring(0.0, 0.0, 4, 5.0)
    t = np.array(["2021-03-01", "2022-01-05", "2023-06-30T08:15", "2023-07-01"], "datetime64[m]")
    sites = cluster_sites(x, y, t, np.ones(4), years=3.0)
    assert sites[0].first == np.datetime64("2021-03-01T00:00")
    assert sites[0].last == np.datetime64("2023-07-01T00:00")
    assert cluster_sites(x, y, t, np.ones(4), years=2.0) == []
    sites = cluster_sites(x, y, t.astype(object), np.ones(4), end=np.datetime64("2024-01-01"))
    assert len(sites) == 1


def test_matches_brute_force_on_random_data():
    rng = np.random.default_rng(3)
    n = 400
    centres = rng.uniform(0, 3000, size=(25, 2))
    pick = rng.integers(0, 25, n)
    x = centres[pick, 0] + rng.normal(0, 40, n)
    y = centres[pick, 1] + rng.normal(0, 40, n)
    t = rng.uniform(0, 5 * 365.25, n)
    w = rng.random(n)
    sites = cluster_sites(x, y, t, w, min_collisions=5, radius_m=30.0, years=3.0)
    got = {frozenset(s.members.tolist()) for s in sites}
    expected = brute_force_sites(x, y, t, t.max(), 3.0, 5, 30.0)
    assert got == expected
    assert len(got) > 3
    ksi = [s.ksi_sum for s in sites]
    assert ksi == sorted(ksi, reverse=True)
    for s in sites:
        assert abs(s.ksi_sum - w[s.members].sum()) < 1e-9


def test_empty_and_nothing_qualifies():
    assert cluster_sites([], [], np.array([], float), []) == []
    assert cluster_sites([0.0, 500.0], [0.0, 0.0], [1.0, 2.0], [1.0, 1.0]) == []


# --- Water-safety sites (services/hotspots/compute/water.py) ---------------------------------
# Kept in this file because the brief assigned no test_water.py; both are "site" analyses.


def water_scene():
    sites = [
        Point(0.0, 0.0),  # access point 0
        LineString([(1000.0, 0.0), (2000.0, 0.0)]),  # stretch of bank 1
        Point(5000.0, 5000.0),  # access point 2: no incidents
    ]
    rng = np.random.default_rng(12)
    n = 120
    kind = rng.integers(0, 3, n)
    x = np.where(kind == 0, rng.normal(0, 40, n), rng.uniform(900, 2100, n))
    y = np.where(kind == 0, rng.normal(0, 40, n), rng.normal(0, 60, n))
    x[kind == 2] = rng.uniform(3000, 4000, (kind == 2).sum())  # far from everything
    sev = rng.choice(["fatal", "serious", "minor"], n)
    days = rng.integers(0, 3 * 365, n)
    times = np.datetime64("2021-01-01") + days.astype("timedelta64[D]")
    return sites, x, y, sev, times


def test_water_site_counts_match_brute_force():
    sites, x, y, sev, times = water_scene()
    res = site_counts(sites, x, y, sev, times, snap_m=100.0, period="quarter")
    expected_site = []
    for xi, yi in zip(x, y, strict=True):
        d = [g.distance(Point(xi, yi)) for g in sites]
        expected_site.append(int(np.argmin(d)) if min(d) <= 100.0 else -1)
    expected_site = np.array(expected_site)
    np.testing.assert_array_equal(res.site_of_incident, expected_site)
    np.testing.assert_array_equal(res.unassigned, np.flatnonzero(expected_site == -1))
    assert 0 < res.unassigned.size < x.size
    years = times.astype("datetime64[Y]").astype(int) + 1970
    months = times.astype("datetime64[M]").astype(int) % 12 + 1
    labels = np.array([f"{a}-Q{(m - 1) // 3 + 1}" for a, m in zip(years, months, strict=True)])
    for row in res.sites:
        mine = expected_site == row["site"]
        assert row["total"] == mine.sum()
        for s in ("fatal", "serious", "minor"):
            assert row["by_severity"][s] == (mine & (sev == s)).sum()
            for lab, per in row["by_period"].items():
                assert per[s] == (mine & (sev == s) & (labels == lab)).sum()
        assert sum(sum(p.values()) for p in row["by_period"].values()) == row["total"]
    assert res.sites[2]["total"] == 0
    assert list(res.sites[0]["by_period"])[:2] == ["2021-Q1", "2021-Q2"]
    assert len(res.sites[0]["by_period"]) == len(res.sites[2]["by_period"])


def test_water_periods_include_gaps_and_months():
    sites = [Point(0, 0)]
    times = np.array(["2022-11-15", "2023-02-01"], "datetime64[D]")
    res = site_counts(sites, [1.0, 2.0], [0.0, 0.0], ["minor", "minor"], times, period="month")
    assert res.sites[0]["by_period"] == {
        "2022-11": {"minor": 1},
        "2022-12": {"minor": 0},
        "2023-01": {"minor": 0},
        "2023-02": {"minor": 1},
    }
    res = site_counts(sites, [1.0, 2.0], [0.0, 0.0], ["minor", "fatal"], times, period="year")
    assert res.sites[0]["by_period"] == {
        "2022": {"fatal": 0, "minor": 1},
        "2023": {"fatal": 1, "minor": 0},
    }


def quartic(u):
    return np.where(np.abs(u) < 1, 15 / 16 * (1 - u**2) ** 2, 0.0)


def test_kde_along_line_matches_direct_on_bent_line():
    line = LineString([(0.0, 0.0), (1000.0, 0.0), (1000.0, 1000.0)])
    x = np.array([300.0, 320.0, 1010.0, 990.0, 1000.0, 500.0])
    y = np.array([5.0, -20.0, 500.0, 450.0, 1500.0, 300.0])  # last two beyond snap_m
    w = np.array([1.0, 2.0, 1.0, 0.5, 9.0, 9.0])
    d, dens = kde_along_line(line, x, y, bandwidth_m=100.0, step_m=10.0, snap_m=50.0, weights=w)
    np.testing.assert_allclose(d, np.arange(0, 2001, 10.0))
    s = np.array([300.0, 320.0, 1500.0, 1450.0])  # distances along the bent line, by hand
    expected = (quartic((d[:, None] - s) / 100.0) * w[:4]).sum(1) / 100.0 * 1000.0
    np.testing.assert_allclose(dens, expected, rtol=1e-12, atol=1e-12)


def test_kde_along_line_integrates_to_total_per_km():
    line = LineString([(0.0, 0.0), (3000.0, 0.0)])
    rng = np.random.default_rng(5)
    x = rng.uniform(500, 2500, 200)
    y = rng.normal(0, 10, 200)
    d, dens = kde_along_line(line, x, y, bandwidth_m=150.0, step_m=5.0, snap_m=100.0)
    assert d[-1] == 3000.0
    total = np.trapezoid(dens, d / 1000.0)  # density per km integrated over km
    assert abs(total - 200) < 0.01
    # Peak of a lone incident: K(0)/h = 15/16/h per metre.
    d, dens = kde_along_line(line, [1200.0], [0.0], bandwidth_m=200.0, step_m=100.0, snap_m=1)
    assert abs(dens.max() - 15 / 16 / 200 * 1000) < 1e-12
    assert d[np.argmax(dens)] == 1200.0
