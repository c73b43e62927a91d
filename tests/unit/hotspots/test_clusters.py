import numpy as np
import shapely

from services.hotspots.compute.clusters import cluster_sites


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
