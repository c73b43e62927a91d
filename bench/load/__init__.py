"""The load bench's parts: support helpers, CPU meter, locust runs, the mix, pygeoapi comparison.

``bench/bench_load.py`` is the entry point; ``bench/locustfile.py`` holds the locust users and
``bench/bench_fuzz.py`` shares the scratch-database helpers of ``support``. Imported as ``load``
(the scripts' own folder, ``bench/``, is first on ``sys.path`` when they run).
"""
